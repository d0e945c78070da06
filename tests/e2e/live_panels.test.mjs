// Browser tests of the live inspection panels (issue 7): the broker panel
// shows the new leader and the shrunk ISR after the Kafka leader is crashed
// from its context menu; the transactions panel shows one row per saga with
// its outcome; the event log filters by text, node and event kind.
//
// Build first:  PATH=$PWD/node_modules/.bin:$PATH trunk build
// Then run:     node --test tests/e2e/live_panels.test.mjs
//
// Screenshots go to tests/e2e/artifacts/panels-*.png.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ARTIFACTS, DIST, launchChromium, startStaticServer } from './support.mjs';

async function clockSeconds(page) {
  const text = await page.getByTestId('sim-now').textContent();
  const match = /([0-9]+\.[0-9]+) s/.exec(text ?? '');
  assert.ok(match, `clock text looks like "12.345 s", got ${JSON.stringify(text)}`);
  return Number(match[1]);
}

async function setSpeed(page, label) {
  const slider = page.getByTestId('speed');
  const max = Number(await slider.getAttribute('max'));
  for (let stop = 0; stop <= max; stop += 1) {
    await slider.fill(String(stop));
    if ((await page.getByTestId('speed-value').textContent()) === label) return;
  }
  assert.fail(`no speed stop labelled ${label}`);
}

async function shot(page, name) {
  await page.screenshot({ animations: 'disabled', fullPage: true, path: path.join(ARTIFACTS, `panels-${name}.png`) });
}

async function playUntil(page, predicate, arg, timeout = 60_000) {
  await page.getByRole('button', { name: 'Play', exact: true }).click();
  await page.waitForFunction(predicate, arg, { timeout, polling: 100 });
  const pause = page.getByRole('button', { name: 'Pause', exact: true });
  if (await pause.count()) await pause.click();
}

describe('live inspection panels in Chromium', () => {
  let server;
  let baseUrl;
  let userDataDir;
  let context;
  let page;
  const problems = [];

  before(async () => {
    await stat(path.join(DIST, 'index.html')).catch(() => {
      throw new Error('dist/index.html is missing: run `trunk build` first');
    });
    await mkdir(ARTIFACTS, { recursive: true });
    ({ server, baseUrl } = await startStaticServer(DIST));
    userDataDir = await mkdtemp(path.join(tmpdir(), 'faultline-panels-'));
    context = await launchChromium(userDataDir);
    page = await context.newPage();
    await page.setViewportSize({ width: 1600, height: 1000 });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
    });
    await page.goto(baseUrl);
    await page.getByTestId('node').first().waitFor({ timeout: 30_000 });
    await page.waitForFunction(
      () => document.querySelector('[data-testid="engine-location-value"]')?.dataset.location === 'worker',
      undefined,
      { timeout: 30_000 },
    );
  });

  after(async () => {
    await context?.close();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
    if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
    assert.deepEqual(problems, [], 'no page errors or console errors');
  });

  test('Kafka durability: after the leader crash the broker panel shows the new leader and the shrunk ISR', async () => {
    await page.getByTestId('example-picker').selectOption('kafka-durability-acks.json');
    await page.waitForFunction(() => document.querySelector('[data-testid="node"][data-node-id="broker-1"]'));
    await page.getByTestId('broker-toggle').click();
    // 1×: at 10× the pause after the predicate can overshoot past 2 s.
    await setSpeed(page, '1×');
    // Run to ~1 s, before the example's own faults (2 s): broker-1 leads with a full ISR.
    // (At t = 0 the controller has not yet published any partition, so the
    // panel has no rows to show before the run starts.)
    await playUntil(page, () => {
      const text = document.querySelector('[data-testid="sim-now"]')?.textContent ?? '';
      return Number((/([0-9.]+) s/.exec(text) ?? [])[1] ?? 0) >= 1;
    });
    const leader = page.getByTestId('kafka-leader').first();
    await leader.waitFor({ timeout: 10_000 });
    assert.ok((await clockSeconds(page)) < 2, 'paused before the scripted partition');
    await page.waitForFunction(() =>
      (document.querySelector('[data-testid="kafka-leader"]')?.textContent ?? '').startsWith('broker-1'),
    );
    assert.match(await page.getByTestId('kafka-isr').first().textContent(), /^broker-1, broker-2, broker-3 of 3/);
    await shot(page, '1-broker-before-crash');

    await page.locator('[data-testid="node"][data-node-id="broker-1"]').click({ button: 'right' });
    await page.getByTestId('context-menu').getByRole('menuitem', { name: /Crash now/ }).click();
    await page.getByTestId('live-fault').first().waitFor();
    // The controller fences broker-1 after its 6 s session timeout and elects a follower.
    await playUntil(
      page,
      () => /^broker-[23] \(epoch/.test(document.querySelector('[data-testid="kafka-leader"]')?.textContent ?? ''),
      undefined,
      90_000,
    );
    const newLeader = /^(broker-[23])/.exec(await leader.textContent())[1];
    const isr = await page.getByTestId('kafka-isr').first().textContent();
    assert.ok(!isr.includes('broker-1'), `broker-1 left the ISR: ${isr}`);
    assert.ok(isr.includes(newLeader), `the new leader is in the ISR: ${isr}`);
    assert.match(isr, / of 3/);
    assert.ok(
      (await page.locator('[data-testid="kafka-partition"] .inspection-replica.inspection-down').count()) === 1,
      'broker-1 replica drawn as down',
    );
    await shot(page, '1-broker-new-leader');
  });

  test('Saga example: the transactions panel shows one row per saga with its outcome', async () => {
    await page.getByTestId('example-picker').selectOption('saga-orchestrated-order.json');
    await page.waitForFunction(() => document.querySelector('[data-testid="node"][data-node-id="orchestrator"]'));
    await page.getByTestId('broker-toggle').click();
    await page.getByTestId('transactions-toggle').click();
    await setSpeed(page, '10×');
    await playUntil(
      page,
      () =>
        [...document.querySelectorAll('[data-testid="transaction-row"]')].filter(
          (row) => row.dataset.outcome === 'completed',
        ).length >= 3,
      undefined,
      60_000,
    );
    const outcomes = await page
      .getByTestId('transaction-row')
      .evaluateAll((rows) => rows.map((row) => row.dataset.outcome));
    assert.ok(outcomes.length >= 3, `rows: ${outcomes}`);
    for (const outcome of outcomes) {
      assert.ok(['running', 'completed', 'compensated', 'stuck'].includes(outcome), `saga outcome ${outcome}`);
    }
    const bars = await page.locator('[data-testid="transaction-row"] .gantt-step').count();
    assert.ok(bars >= outcomes.length, `each saga draws its steps (${bars} bars)`);
    await shot(page, '2-transactions');
  });

  test('Event log filters by text, node and event kind', async () => {
    const log = page.getByTestId('event-log');
    const lines = async () => ((await log.textContent()) ?? '').split('\n').filter((line) => line.length > 0);
    const all = await lines();
    assert.ok(all.length > 10, 'the log has lines');
    await page.getByTestId('event-log-kind-filter').selectOption('fact');
    await page.getByTestId('event-log-node-filter').selectOption('orchestrator');
    await page.waitForFunction(() =>
      (document.querySelector('[data-testid="event-log"]')?.textContent ?? '')
        .split('\n')
        .every((line) => / fact orchestrator /.test(line) || line.startsWith('No recent')),
    );
    const facts = await lines();
    assert.ok(facts.length > 0 && facts.length < all.length, `filtered ${facts.length} of ${all.length}`);
    for (const line of facts) assert.match(line, /^\S+ #\d+ fact orchestrator /);
    await page.getByTestId('event-log-text-filter').fill('saga_started');
    await page.waitForFunction(() =>
      (document.querySelector('[data-testid="event-log"]')?.textContent ?? '')
        .split('\n')
        .every((line) => line.includes('saga_started') || line.startsWith('No recent')),
    );
    await shot(page, '3-event-log-filtered');
    await page.getByTestId('event-log-text-filter').fill('');
    await page.getByTestId('event-log-kind-filter').selectOption('');
    await page.getByTestId('event-log-node-filter').selectOption('');
    await page.waitForFunction((count) => {
      const text = document.querySelector('[data-testid="event-log"]')?.textContent ?? '';
      return text.split('\n').filter((line) => line.length > 0).length >= count;
    }, all.length);
  });
});

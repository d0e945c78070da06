// Browser tests of the live simulation view (issue 7, tests 1–5), in order on
// one page: load the Kafka durability example (acks=1), crash the partition
// leader from its context menu, see the crown move and the lost-write
// violation appear, seek to it from the checker panel, and compare with
// acks=all where nothing is lost. The engine runs in its Web Worker.
//
// Build first:  PATH=$PWD/node_modules/.bin:$PATH trunk build --release
// Then run:     node --test tests/e2e/live_view.test.mjs
//
// Screenshots go to tests/e2e/artifacts/live-*.png.

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

async function waitForSeekDone(page, timeout = 60_000) {
  await page.waitForFunction(
    () => (document.querySelector('[data-testid="seek-status"]')?.textContent ?? '') === '',
    undefined,
    { timeout, polling: 100 },
  );
}

async function crowned(page) {
  return page.getByTestId('crown').evaluateAll((crowns) => crowns.map((crown) => crown.dataset.node));
}

async function shot(page, name) {
  await page.screenshot({ animations: 'disabled', path: path.join(ARTIFACTS, `live-${name}.png`) });
}

describe('live simulation view in Chromium', () => {
  let server;
  let baseUrl;
  let userDataDir;
  let context;
  let page;
  const problems = [];

  before(async () => {
    await stat(path.join(DIST, 'index.html')).catch(() => {
      throw new Error('dist/index.html is missing: run `trunk build --release` first');
    });
    await mkdir(ARTIFACTS, { recursive: true });
    ({ server, baseUrl } = await startStaticServer(DIST));
    userDataDir = await mkdtemp(path.join(tmpdir(), 'faultline-live-'));
    context = await launchChromium(userDataDir);
    page = await context.newPage();
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

  test('1. the Kafka durability example loads and runs to its first fault with the leader crowned', async () => {
    await page.getByTestId('example-picker').selectOption('kafka-durability-acks.json');
    await page.waitForFunction(() => document.querySelector('[data-testid="node"][data-node-id="broker-1"]'));
    // The plan's scripted faults are on the timeline before they happen (as
    // draggable plan markers: they belong to the document).
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="plan-fault"]').length === 4);
    await page.getByTestId('next-fault').click();
    await waitForSeekDone(page);
    assert.equal(await clockSeconds(page), 2, 'stopped at the one-way partition at 2 s');
    assert.deepEqual(await crowned(page), ['broker-1'], 'broker-1 leads orders-0');
    const isr = page.locator('[data-testid="live-badge"][data-node="broker-1"][data-badge^="isr"]');
    assert.match(await isr.textContent(), /^ISR [1-3]\/3$/);
    assert.equal(
      await page.locator('[data-testid="live-badge"][data-node="broker-1"][data-badge="partitioned"]').count(),
      1,
      'broker-1 shows it is cut off from its followers',
    );
    const applied = page.locator('[data-testid="timeline-mark"][data-kind="fault"]');
    assert.equal(await applied.count(), 1);
    await shot(page, '1-loaded-at-first-fault');
    // Messages spend ~1 ms on these links: at 0.1× a particle takes ~10 ms of
    // real time to cross, and some are on the wire within a few frames.
    await setSpeed(page, '0.1×');
    await page.getByRole('button', { name: 'Play', exact: true }).click();
    await page.waitForFunction(
      () => Number(document.querySelector('[data-testid="particles"]')?.dataset.drawn ?? 0) > 0,
      undefined,
      { timeout: 4_000, polling: 'raf' },
    );
    await page.getByRole('button', { name: 'Pause', exact: true }).click();
    assert.match(await page.getByTestId('particle-count').textContent(), /messages in flight/);
    await shot(page, '1-particles');
  });

  test('2. crashing the partition leader from its context menu records the fault', async () => {
    // The same menu opens from the keyboard (Shift+F10 on the focused node).
    await page.locator('[data-testid="node"][data-node-id="broker-1"]').focus();
    await page.keyboard.press('Shift+F10');
    await page.getByTestId('context-menu').getByRole('menuitem', { name: /Crash now/ }).waitFor();
    await page.keyboard.press('Escape');
    await page.getByTestId('context-menu').waitFor({ state: 'detached' });
    await page.locator('[data-testid="node"][data-node-id="broker-1"]').click({ button: 'right' });
    const menu = page.getByTestId('context-menu');
    await menu.waitFor();
    await shot(page, '2-node-context-menu');
    await menu.getByRole('menuitem', { name: /Crash now/ }).click();
    await page.getByTestId('live-fault').first().waitFor();
    const recorded = await page.getByTestId('live-fault').first().textContent();
    const at = /^(2\.[0-4][0-9][0-9]) s crash broker-1$/.exec(recorded ?? '');
    assert.ok(at, `recorded into the plan at the next millisecond: ${recorded}`);
    // Paused: the crash takes effect at the next millisecond, once the run moves.
    await page.getByTestId('next-fault').click();
    await waitForSeekDone(page);
    assert.equal(await clockSeconds(page), Number(at[1]), 'the live crash applied at its recorded time');
    await page.waitForFunction(
      () => document.querySelector('[data-testid="node"][data-node-id="broker-1"]')?.dataset.status === 'down',
      undefined,
      { timeout: 10_000 },
    );
    assert.equal(
      await page.locator('[data-testid="live-badge"][data-node="broker-1"][data-badge="down"]').count(),
      1,
    );
    await shot(page, '2-leader-crashed');
  });

  test('3. the crown moves to another broker and acks=1 loses acknowledged writes', async () => {
    await setSpeed(page, '2×');
    await page.getByRole('button', { name: 'Play', exact: true }).click();
    // The controller fences broker-1 after its 6 s session timeout and elects another leader.
    await page.waitForFunction(
      () => {
        const crowns = [...document.querySelectorAll('[data-testid="crown"]')].map((crown) => crown.dataset.node);
        return crowns.length === 1 && crowns[0] !== 'broker-1';
      },
      undefined,
      { timeout: 60_000, polling: 100 },
    );
    const newLeader = (await crowned(page))[0];
    assert.ok(['broker-2', 'broker-3'].includes(newLeader), `new leader ${newLeader}`);
    await page.getByRole('button', { name: 'Pause', exact: true }).click();
    await shot(page, '3-crown-moved');
    await setSpeed(page, '1000×');
    await page.getByTestId('next-violation').click();
    const check = page.locator('[data-testid="check"][data-check="lost_acknowledged_writes"]');
    await page.waitForFunction(
      () =>
        document.querySelector('[data-testid="check"][data-check="lost_acknowledged_writes"]')?.dataset.status ===
        'fail',
      undefined,
      { timeout: 60_000, polling: 100 },
    );
    await waitForSeekDone(page);
    assert.equal(await check.getAttribute('data-status'), 'fail');
    assert.ok(
      (await page.locator('[data-testid="timeline-mark"][data-kind="violation"]').count()) >= 1,
      'the violation is marked on the timeline',
    );
    await shot(page, '3-lost-write-violation');
  });

  test('4. the checker panel seeks back to the first moment and highlights the nodes involved', async () => {
    const check = page.locator('[data-testid="check"][data-check="lost_acknowledged_writes"]');
    const seek = check.getByTestId('seek-violation');
    const label = await seek.textContent();
    const match = /Seek to ([0-9.]+) s/.exec(label ?? '');
    assert.ok(match, `seek button names the time: ${label}`);
    const firstMoment = Number(match[1]);
    await seek.click();
    await waitForSeekDone(page);
    assert.equal(await clockSeconds(page), firstMoment, 'the run is at the violation\'s first moment');
    assert.ok(firstMoment < 30, 'it went back in time (re-run from t = 0)');
    assert.ok((await page.getByTestId('highlight-ring').count()) >= 1, 'the nodes involved are highlighted');
    assert.ok(
      (await page.locator('[data-testid="timeline-mark"][data-kind="violation"]').count()) >= 1,
      'the violation found later in this deterministic run stays on the timeline',
    );
    // The re-run keeps the live crash: broker-1 is still down at this moment.
    assert.equal(
      await page.locator('[data-testid="node"][data-node-id="broker-1"]').getAttribute('data-status'),
      'down',
    );
    await shot(page, '4-seeked-to-violation');
  });

  test('5. compared with acks=all under the same seed and fault plan, nothing is lost', async () => {
    await page.getByTestId('compare-node').selectOption('producer');
    await page.getByTestId('compare-key').selectOption('acks');
    await page.getByTestId('compare-value').fill('all');
    await page.getByTestId('compare-run').click();
    const row = page.locator('[data-testid="compare-row"][data-check="lost_acknowledged_writes"]');
    await page.waitForFunction(
      () => {
        const row = document.querySelector('[data-testid="compare-row"][data-check="lost_acknowledged_writes"]');
        return (
          row?.querySelector('[data-testid="compare-a"]')?.dataset.status === 'fail' &&
          row?.querySelector('[data-testid="compare-b"]')?.dataset.status === 'pass'
        );
      },
      undefined,
      { timeout: 120_000, polling: 200 },
    );
    assert.equal(await row.getAttribute('data-differs'), 'true');
    // The canvas shows B: its own checks agree.
    assert.equal(
      await page.locator('[data-testid="check"][data-check="lost_acknowledged_writes"]').getAttribute('data-status'),
      'pass',
    );
    await page.getByTestId('compare').scrollIntoViewIfNeeded();
    await shot(page, '5-compare-acks-all');
  });
});

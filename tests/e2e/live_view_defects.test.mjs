// Browser tests of four live-view defects (issue 7), each failing before its
// fix: end-of-run checks shown as "pass" after seeking back from a finished
// run; the compare table's column B clipped by the aside; no badges for the
// coordination, database, transaction, saga and cache components.
// (The fourth defect, facts naming nodes by index, is tested in the engine:
// engine/tests/live_view_status.rs.)
//
// Build first:  PATH=$PWD/node_modules/.bin:$PATH trunk build --release
// Then run:     node --test tests/e2e/live_view_defects.test.mjs
//
// Screenshots go to tests/e2e/artifacts/defects-*.png.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ARTIFACTS, DIST, launchChromium, startStaticServer } from './support.mjs';

async function setSpeed(page, label) {
  const slider = page.getByTestId('speed');
  const max = Number(await slider.getAttribute('max'));
  for (let stop = 0; stop <= max; stop += 1) {
    await slider.fill(String(stop));
    if ((await page.getByTestId('speed-value').textContent()) === label) return;
  }
  assert.fail(`no speed stop labelled ${label}`);
}

async function loadExample(page, file, firstNode) {
  await page.getByTestId('example-picker').selectOption(file);
  await page.waitForFunction(
    (id) => document.querySelector(`[data-testid="node"][data-node-id="${id}"]`),
    firstNode,
    { timeout: 30_000 },
  );
}

async function runToEnd(page) {
  await setSpeed(page, '10000×');
  await page.getByRole('button', { name: 'Play', exact: true }).click();
  await page.waitForFunction(
    () => document.querySelector('[data-testid="run-status"]')?.dataset.tone === 'finished',
    undefined,
    { timeout: 120_000, polling: 200 },
  );
}

async function waitForSeekDone(page, timeout = 60_000) {
  await page.waitForFunction(
    () => (document.querySelector('[data-testid="seek-status"]')?.textContent ?? '') === '',
    undefined,
    { timeout, polling: 100 },
  );
}

/** Plays at `speed` until `predicate` (evaluated in the page) holds, then pauses. */
async function playUntil(page, speed, predicate, argument) {
  await setSpeed(page, speed);
  await page.getByRole('button', { name: 'Play', exact: true }).click();
  await page.waitForFunction(predicate, argument, { timeout: 60_000, polling: 100 });
  await page.getByRole('button', { name: 'Pause', exact: true }).click();
}

async function badgeTexts(page, node) {
  return page
    .locator(`[data-testid="live-badge"][data-node="${node}"]`)
    .evaluateAll((badges) => badges.map((badge) => `${badge.dataset.badge}: ${badge.textContent}`));
}

async function shot(page, name) {
  await page.screenshot({ animations: 'disabled', path: path.join(ARTIFACTS, `defects-${name}.png`) });
}

describe('live view defects in Chromium', () => {
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
    userDataDir = await mkdtemp(path.join(tmpdir(), 'faultline-defects-'));
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

  test('after the run ends, seeking back shows end-of-run checks as pending, decided at the end', async () => {
    await loadExample(page, 'raft-election-under-partition.json', 's1');
    const check = page.locator('[data-testid="check"][data-check="raft_kv_linearizable"]');
    await runToEnd(page);
    assert.equal(await check.getAttribute('data-status'), 'pass', 'decided at the end of the run');
    // Seek back to the start of the run through the timeline's keyboard control.
    await page.getByTestId('timeline-track').focus();
    await page.keyboard.press('Home');
    await waitForSeekDone(page);
    await page.getByTestId('timeline-track').focus();
    await page.keyboard.press('ArrowRight');
    await waitForSeekDone(page);
    assert.equal(await page.getByTestId('run-status').getAttribute('data-tone'), 'normal', 'no longer finished');
    assert.equal(
      await check.getAttribute('data-status'),
      'pending',
      'a linearizability verdict over the whole history is not known before the end',
    );
    assert.match(await check.textContent(), /decided at the end/);
    // Always properties checked event by event still pass as they go.
    assert.equal(
      await page.locator('[data-testid="check"][data-check="raft_election_safety"]').getAttribute('data-status'),
      'pass',
    );
    await check.scrollIntoViewIfNeeded();
    await shot(page, '1-pending-after-seek-back');
  });

  test('the compare table keeps column B inside the aside', async () => {
    await loadExample(page, 'kafka-compacted-topic.json', 'broker-1');
    // Its compaction checks have the longest names of any example.
    await page.getByTestId('compare-node').selectOption('ledger');
    await page.getByTestId('compare-key').selectOption('acks');
    await page.getByTestId('compare-value').fill('"1"');
    await page.getByTestId('compare-run').click();
    await page.waitForFunction(
      () => [...document.querySelectorAll('[data-testid="compare-b"]')].some((cell) => cell.dataset.status !== '—'),
      undefined,
      { timeout: 120_000, polling: 200 },
    );
    const geometry = await page.evaluate(() => {
      const aside = document.querySelector('aside.panel').getBoundingClientRect();
      const card = document.querySelector('[data-testid="compare"]');
      const cells = [...document.querySelectorAll('[data-testid="compare-b"]')].map((cell) => cell.getBoundingClientRect());
      return {
        asideRight: aside.right,
        cardOverflow: card.scrollWidth - card.clientWidth,
        cellsRight: Math.max(...cells.map((cell) => cell.right)),
        cellsWidth: Math.min(...cells.map((cell) => cell.width)),
        rows: cells.length,
      };
    });
    assert.ok(geometry.rows > 3, `rows compared: ${geometry.rows}`);
    assert.ok(geometry.cardOverflow <= 0, `the compare card does not scroll sideways: ${JSON.stringify(geometry)}`);
    assert.ok(
      geometry.cellsRight <= geometry.asideRight,
      `column B ends inside the aside: ${JSON.stringify(geometry)}`,
    );
    assert.ok(geometry.cellsWidth >= 30, `column B is wide enough to read: ${JSON.stringify(geometry)}`);
    await page.getByTestId('compare').scrollIntoViewIfNeeded();
    await shot(page, '2-compare-column-b');
  });

  test('a coordination server leader wears the crown with its term', async () => {
    await loadExample(page, 'zookeeper-leader-election.json', 'z1');
    await playUntil(page, '10×', () =>
      [...document.querySelectorAll('[data-testid="crown"]')].some((crown) => /^z[1-5]$/.test(crown.dataset.node)),
    );
    const crowns = await page
      .getByTestId('crown')
      .evaluateAll((all) => all.map((crown) => ({ node: crown.dataset.node, text: crown.textContent })));
    const servers = crowns.filter((crown) => /^z[1-5]$/.test(crown.node));
    assert.equal(servers.length, 1, `one server leads: ${JSON.stringify(crowns)}`);
    assert.match(servers[0].text, /♛ t[1-9][0-9]*/, 'with its term');
    await shot(page, '3-coordination-crown');
  });

  test('a database primary wears the crown and every replica says its role', async () => {
    await loadExample(page, 'redis-sentinel-async-failover.json', 'n1');
    await playUntil(page, '1×', () =>
      document.querySelectorAll('[data-testid="live-badge"][data-badge="db-role"]').length >= 5,
    );
    const roles = [];
    for (const node of ['n1', 'n2', 'n3', 'n4', 'n5']) {
      const texts = await badgeTexts(page, node);
      roles.push(...texts.filter((text) => text.startsWith('db-role')));
    }
    assert.equal(roles.filter((text) => /primary e[0-9]+$/.test(text)).length, 1, `one primary: ${roles}`);
    assert.equal(roles.filter((text) => /replica e[0-9]+$/.test(text)).length, 4, `four replicas: ${roles}`);
    const crowned = await page.getByTestId('crown').evaluateAll((all) => all.map((crown) => crown.dataset.node));
    assert.equal(crowned.length, 1, `the primary is crowned: ${crowned}`);
    await shot(page, '4-database-roles');
  });

  test('transaction coordinators and saga orchestrators show what is in flight; caches their hit ratio', async () => {
    await loadExample(page, '2pc-coordinator-crash-blocks.json', 'coordinator');
    await playUntil(page, '1×', () => document.querySelector('[data-testid="live-badge"][data-badge="in-flight"]'));
    const coordinator = await badgeTexts(page, 'coordinator');
    assert.ok(
      coordinator.some((text) => /^in-flight: [0-9]+ in flight$/.test(text)),
      `coordinator badges: ${coordinator}`,
    );
    await shot(page, '5-transactions-in-flight');

    await loadExample(page, 'saga-orchestrated-order.json', 'orchestrator');
    await playUntil(page, '1×', () => document.querySelector('[data-testid="live-badge"][data-badge="in-flight"]'));
    const orchestrator = await badgeTexts(page, 'orchestrator');
    assert.ok(orchestrator.some((text) => /^in-flight: [0-9]+ in flight$/.test(text)), `${orchestrator}`);

    await loadExample(page, 'cache-stampede.json', 'plain-cache');
    await playUntil(page, '1×', () => document.querySelector('[data-testid="live-badge"][data-badge="cache-hits"]'));
    const cache = await badgeTexts(page, 'plain-cache');
    assert.ok(cache.some((text) => /^cache-hits: hits [0-9]{1,3}%$/.test(text)), `cache badges: ${cache}`);
    await shot(page, '5-cache-hit-ratio');
  });
});

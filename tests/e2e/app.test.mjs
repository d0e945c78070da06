// Browser end-to-end test of the built app (dist/): Playwright drives Debian's
// chromium against a tiny static server started by the test itself.
//
// Build first:  PATH=$PWD/node_modules/.bin:$PATH trunk build --release
// Then run:     node --test tests/e2e/
//
// Any page error or console error fails the test that caused it. Screenshots
// go to tests/e2e/artifacts/; the running state of the partition test is also
// written to docs/screenshot.png for the README.

import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ARTIFACTS, DIST, ROOT, launchChromium, startStaticServer } from './support.mjs';

const DOCS_SCREENSHOT = path.join(ROOT, 'docs', 'screenshot.png');

/** Seconds shown by the sim clock, e.g. "12.345 s" -> 12.345. */
async function clockSeconds(page) {
  const text = await page.getByTestId('sim-now').textContent();
  const match = /([0-9]+\.[0-9]+) s/.exec(text ?? '');
  assert.ok(match, `clock text looks like "12.345 s", got ${JSON.stringify(text)}`);
  return Number(match[1]);
}

async function eventCount(page) {
  const text = await page.getByTestId('event-count').textContent();
  return Number((text ?? '').replace(/[^0-9]/g, ''));
}

/** Picks the speed stop whose label is `label` (e.g. "10×"). */
async function setSpeed(page, label) {
  const slider = page.getByTestId('speed');
  const max = Number(await slider.getAttribute('max'));
  for (let stop = 0; stop <= max; stop += 1) {
    await slider.fill(String(stop));
    if ((await page.getByTestId('speed-value').textContent()) === label) return;
  }
  assert.fail(`no speed stop labelled ${label}`);
}

/** Waits until the engine worker has started and answers. */
async function waitForWorker(page) {
  await page.waitForFunction(
    () => document.querySelector('[data-testid="engine-location-value"]')?.dataset.location === 'worker',
    undefined,
    { timeout: 30_000 },
  );
}

/** Waits until the event counter shows exactly `expected`. */
async function waitForEventCount(page, expected) {
  await page.waitForFunction(
    (count) =>
      Number((document.querySelector('[data-testid="event-count"]')?.textContent ?? '').replace(/[^0-9]/g, '')) ===
      count,
    expected,
    { timeout: 10_000 },
  );
}

async function nodeIds(page) {
  return page.getByTestId('node').evaluateAll((nodes) => nodes.map((node) => node.dataset.nodeId));
}

describe('Faultline app in Chromium', () => {
  let server;
  let baseUrl;
  let userDataDir;
  let context;
  let page;
  let problems;

  before(async () => {
    await stat(path.join(DIST, 'index.html')).catch(() => {
      throw new Error('dist/index.html is missing: run `trunk build --release` first');
    });
    await mkdir(ARTIFACTS, { recursive: true });
    await mkdir(path.dirname(DOCS_SCREENSHOT), { recursive: true });
    ({ server, baseUrl } = await startStaticServer(DIST));
    userDataDir = await mkdtemp(path.join(tmpdir(), 'faultline-e2e-'));
    context = await launchChromium(userDataDir);
  });

  after(async () => {
    await context?.close();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
    if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    problems = [];
    page = await context.newPage();
    // Every test starts from the default example, not the previous test's
    // autosave; requests cut short by this reset are not the test's problem.
    await page.goto(baseUrl);
    await page.getByTestId('node').first().waitFor({ timeout: 30_000 });
    await page.waitForLoadState('networkidle');
    await page.evaluate(() => localStorage.clear());
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
    });
    page.on('requestfailed', (request) =>
      problems.push(`request failed: ${request.url()} ${request.failure()?.errorText}`),
    );
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`HTTP ${response.status()}: ${response.url()}`);
    });
    await page.reload();
    // The default example is drawn once the wasm has loaded and fetched it.
    await page.getByTestId('node').first().waitFor({ timeout: 30_000 });
  });

  afterEach(async () => {
    await page?.close();
    assert.deepEqual(problems, [], 'no page errors, console errors or failed requests');
  });

  test('loads the default example and draws one element per node', async () => {
    await assert.doesNotReject(page.getByTestId('scenario-title').waitFor());
    assert.match(await page.getByTestId('scenario-title').textContent(), /Three-node chain/);
    assert.deepEqual(await nodeIds(page), ['clients', 'api', 'db']);
    const labels = await page.getByTestId('node-label').allTextContents();
    assert.deepEqual(labels, ['Clients', 'API', 'Database']);
    for (const label of labels) {
      assert.ok(await page.getByText(label, { exact: true }).first().isVisible(), `${label} visible`);
    }
    assert.equal(await page.getByTestId('link').count(), 2);
    assert.equal(await page.locator('[data-testid="link"][data-state="cut"]').count(), 0);
    assert.equal(await clockSeconds(page), 0);
    await page.screenshot({ animations: 'disabled', path: path.join(ARTIFACTS, '1-loaded.png') });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ animations: 'disabled', path: path.join(ARTIFACTS, '1-loaded-dark.png') });
    await page.emulateMedia({ colorScheme: 'light' });
  });

  test('plays through the partition: the clock advances and the cut link is drawn', async () => {
    await setSpeed(page, '10×');
    await page.getByRole('button', { name: 'Play', exact: true }).click();
    // At 10× the partition (10 s to 20 s) lasts about a real second.
    await page.waitForFunction(
      () => {
        const match = /([0-9.]+) s/.exec(document.querySelector('[data-testid="sim-now"]')?.textContent ?? '');
        return match && Number(match[1]) > 11;
      },
      undefined,
      { timeout: 20_000, polling: 'raf' },
    );
    // The README's screenshot shows the app running, during the partition.
    await page.screenshot({ animations: 'disabled', path: DOCS_SCREENSHOT });
    await page.getByRole('button', { name: 'Pause', exact: true }).click();
    const pausedAt = await clockSeconds(page);
    assert.ok(pausedAt > 10 && pausedAt < 20, `paused inside the partition, at ${pausedAt} s`);

    const cut = page.locator('[data-testid="link"][data-state="cut"]');
    assert.equal(await cut.count(), 1, 'the API→DB link is cut');
    assert.equal(await cut.getAttribute('data-from'), 'api');
    assert.equal(await cut.getAttribute('data-to'), 'db');
    assert.equal(
      await page.locator('[data-testid="link"][data-from="clients"]').getAttribute('data-state'),
      'ok',
    );
    assert.ok((await eventCount(page)) > 1_000, 'many events were processed');

    const checks = page.getByTestId('check');
    assert.deepEqual(await checks.evaluateAll((items) => items.map((item) => item.dataset.check)), [
      'no_phantom_delivery',
      'no_unexpected_duplicate_delivery',
      'trace_time_monotonic',
      'requests_eventually_resolved',
    ]);
    const statuses = await checks.evaluateAll((items) => items.map((item) => item.dataset.status));
    for (const status of statuses) assert.match(status, /^(pass|fail|pending)$/);
    assert.ok((await page.getByTestId('event-log').textContent()).includes('#'), 'event log has lines');

    await page.screenshot({ animations: 'disabled', path: path.join(ARTIFACTS, '2-partition.png') });

    // Run to the end at full speed: the partition heals and every check settles.
    await setSpeed(page, '1000×');
    await page.getByRole('button', { name: 'Play', exact: true }).click();
    await page.waitForFunction(
      () => /finished/i.test(document.querySelector('[data-testid="run-status"]')?.textContent ?? ''),
      undefined,
      { timeout: 30_000 },
    );
    assert.equal(await clockSeconds(page), 30);
    assert.equal(await cut.count(), 0, 'healed at 20 s');
    const settled = await checks.evaluateAll((items) => items.map((item) => item.dataset.status));
    assert.ok(!settled.includes('pending'), `no check pending at the end: ${settled}`);
    await page.screenshot({ animations: 'disabled', path: path.join(ARTIFACTS, '2-finished.png') });
  });

  test('step advances exactly one event, pause stops the clock, reset returns to 0', async () => {
    const step = page.getByRole('button', { name: 'Step one event' });
    assert.equal(await eventCount(page), 0);
    // The engine answers from its worker, so each step shows up a moment later.
    await step.click();
    await waitForEventCount(page, 1);
    await step.click();
    await waitForEventCount(page, 2);

    await setSpeed(page, '1×');
    await page.getByRole('button', { name: 'Play', exact: true }).click();
    await page.waitForFunction(
      () => Number(/([0-9.]+) s/.exec(document.querySelector('[data-testid="sim-now"]').textContent)[1]) > 0.2,
      undefined,
      { timeout: 10_000, polling: 'raf' },
    );
    await page.getByRole('button', { name: 'Pause', exact: true }).click();
    // A request already in the worker when Pause was pressed still reports.
    await page.waitForTimeout(200);
    const pausedAt = await clockSeconds(page);
    const pausedEvents = await eventCount(page);
    await page.waitForTimeout(500);
    assert.equal(await clockSeconds(page), pausedAt, 'the clock stands still while paused');
    assert.equal(await eventCount(page), pausedEvents);

    await page.getByRole('button', { name: 'Reset to t = 0' }).click();
    assert.equal(await clockSeconds(page), 0);
    assert.equal(await eventCount(page), 0);
    await page.screenshot({ animations: 'disabled', path: path.join(ARTIFACTS, '3-reset.png') });
  });

  test('a broken upload shows the JSON path and keeps the current scenario', async () => {
    const scenario = JSON.parse(
      await readFile(path.join(ROOT, 'public', 'scenarios', 'three-node-chain-partition.json'), 'utf8'),
    );
    scenario.metadata.title = 'Broken copy';
    scenario.topology.nodes[1].properties.workers = 'many';
    await page.getByTestId('upload').setInputFiles({
      name: 'broken.json',
      mimeType: 'application/json',
      buffer: Buffer.from(JSON.stringify(scenario, null, 2)),
    });
    const failure = page.getByTestId('load-failure');
    await failure.waitFor();
    assert.match(await failure.textContent(), /topology\.nodes\[1\]\.properties\.workers/);
    assert.match(await failure.textContent(), /broken\.json/);
    assert.deepEqual(await nodeIds(page), ['clients', 'api', 'db'], 'the open scenario is still drawn');
    assert.match(await page.getByTestId('scenario-title').textContent(), /Three-node chain/);
    await page.screenshot({ animations: 'disabled', path: path.join(ARTIFACTS, '4-broken-upload.png') });

    // A good upload replaces the scenario and clears the error.
    scenario.topology.nodes[1].properties.workers = 8;
    scenario.topology.nodes[1].label = '<img src=x onerror=alert(1)>';
    await page.getByTestId('upload').setInputFiles({
      name: 'fixed.json',
      mimeType: 'application/json',
      buffer: Buffer.from(JSON.stringify(scenario)),
    });
    await page.getByText('Broken copy', { exact: true }).waitFor();
    assert.equal(await failure.count(), 0);
    assert.equal(await page.locator('.topology img').count(), 0, 'labels are text, never markup');
  });

  test('picking another built-in example draws its nodes', async () => {
    const picker = page.getByTestId('example-picker');
    const options = await picker.locator('option:not([disabled])').evaluateAll((items) =>
      items.map((item) => item.value),
    );
    assert.ok(options.includes('mm1-queue.json'), `examples offered: ${options}`);
    assert.equal(await picker.inputValue(), 'three-node-chain-partition.json');

    await picker.selectOption('mm1-queue.json');
    await page.waitForFunction(() =>
      document.querySelector('[data-testid="node"][data-node-id="server"]'),
    );
    assert.deepEqual(await nodeIds(page), ['clients', 'server']);
    assert.deepEqual(await page.getByTestId('node-label').allTextContents(), ['Clients', 'Server (M/M/1)']);
    assert.match(await page.getByTestId('scenario-title').textContent(), /M\/M\/1/);
    assert.equal(await clockSeconds(page), 0);
    await page.screenshot({ animations: 'disabled', path: path.join(ARTIFACTS, '5-mm1.png') });
  });

  // The engine runs in a Web Worker; the page only draws what it reports.
  test('the engine runs in a Web Worker and the run advances', async () => {
    const location = page.getByTestId('engine-location-value');
    await waitForWorker(page);
    assert.equal(await location.textContent(), 'worker');
    // 10×: the 30 s run stays far from its end (where Step is disabled) even if
    // Pause lands late on a loaded machine.
    await setSpeed(page, '10×');
    await page.getByRole('button', { name: 'Play', exact: true }).click();
    await page.waitForFunction(
      () => {
        const match = /([0-9.]+) s/.exec(document.querySelector('[data-testid="sim-now"]')?.textContent ?? '');
        return match && Number(match[1]) > 1;
      },
      undefined,
      { timeout: 20_000, polling: 'raf' },
    );
    await page.getByRole('button', { name: 'Pause', exact: true }).click();
    assert.ok((await eventCount(page)) > 0, 'the worker processed events');
    assert.equal(await page.getByTestId('engine-notice').count(), 0, 'no fallback notice');
    // Step asks the worker for exactly one event.
    await page.waitForTimeout(200);
    const before = await eventCount(page);
    await page.getByTestId('step').click();
    await waitForEventCount(page, before + 1);
    await page.screenshot({ animations: 'disabled', path: path.join(ARTIFACTS, '6-worker.png') });
  });

  test('?engine=page runs the engine on the page', async () => {
    // Leave only once this page's worker has loaded, or its aborted fetches
    // would count as failed requests.
    await waitForWorker(page);
    await page.goto(`${baseUrl}?engine=page`);
    await page.getByTestId('node').first().waitFor({ timeout: 30_000 });
    assert.equal(await page.getByTestId('engine-location-value').getAttribute('data-location'), 'page');
    // 10×: at 100× the 30 s run can end (and Pause disable itself) before
    // the click lands.
    await setSpeed(page, '10×');
    await page.getByRole('button', { name: 'Play', exact: true }).click();
    await page.waitForFunction(
      () => {
        const match = /([0-9.]+) s/.exec(document.querySelector('[data-testid="sim-now"]')?.textContent ?? '');
        return match && Number(match[1]) > 2;
      },
      undefined,
      { timeout: 20_000, polling: 'raf' },
    );
    await page.getByRole('button', { name: 'Pause', exact: true }).click();
  });

  test('the watchdog terminates a worker that answers too slowly and the run moves to the page', async () => {
    // A 5 ms watchdog is shorter than the worker's 30 ms work budget per
    // request, so the first busy request trips it: the same path a hung
    // worker takes.
    await waitForWorker(page);
    await page.goto(`${baseUrl}?watchdog_ms=5`);
    await page.getByTestId('node').first().waitFor({ timeout: 30_000 });
    // On a loaded machine even the load request can outlast 5 ms, so the
    // watchdog may fire before Play; either way it must fire and say so.
    const notice = page.getByTestId('engine-notice');
    if ((await notice.count()) === 0) {
      await setSpeed(page, '10000×');
      const play = page.getByRole('button', { name: 'Play', exact: true });
      if (await play.isEnabled()) await play.click();
    }
    await notice.waitFor({ timeout: 30_000 });
    assert.match(await notice.textContent(), /unanswered .* and was terminated.*runs on this page/s);
    await page.waitForFunction(
      () => document.querySelector('[data-testid="engine-location-value"]')?.dataset.location === 'page',
      undefined,
      { timeout: 10_000 },
    );
    await page.screenshot({ animations: 'disabled', path: path.join(ARTIFACTS, '7-watchdog.png') });
    // That the page engine then runs is the `?engine=page` test's job.
  });
});

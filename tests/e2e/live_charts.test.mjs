// Browser test of the live Charts panel (issue 7, "Charts drawn with plotters
// on canvas"): play the retry-storm example, see the whole-system charts draw
// real lines with a legend that names every series, select a node and a link
// and see the title follow, and switch between the last 30 s and the full run.
// The engine runs in its Web Worker and ships only the watched series' new
// samples.
//
// Build first:  PATH=$PWD/node_modules/.bin:$PATH trunk build
// Then run:     node --test tests/e2e/live_charts.test.mjs
//
// Screenshots go to tests/e2e/artifacts/charts-*.png. Timing: the run is
// played at the default 10× until the clock passes a threshold, so slower
// machines only take longer; no step depends on frame timing.

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

async function playUntil(page, seconds) {
  await page.getByRole('button', { name: 'Play', exact: true }).click();
  await page.waitForFunction(
    (target) => {
      const match = /([0-9]+\.[0-9]+) s/.exec(document.querySelector('[data-testid="sim-now"]')?.textContent ?? '');
      return match && Number(match[1]) >= target;
    },
    seconds,
    { timeout: 60_000, polling: 100 },
  );
  await page.getByRole('button', { name: 'Pause', exact: true }).click();
}

/** Pixels of the chart canvas: how many differ from its background, and how
 * many are close to each series colour named in `colourVars`. */
async function canvasPixels(page, colourVars) {
  return page.getByTestId('chart-canvas').evaluate((canvas, names) => {
    const style = getComputedStyle(canvas);
    const rgb = (name) => {
      const hex = style.getPropertyValue(name).trim().replace('#', '');
      return [0, 2, 4].map((offset) => parseInt(hex.slice(offset, offset + 2), 16));
    };
    const background = rgb('--chart-background');
    const targets = Object.fromEntries(names.map((name) => [name, rgb(name)]));
    const counts = Object.fromEntries(names.map((name) => [name, 0]));
    const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    let nonBackground = 0;
    const near = (index, [r, g, b], tolerance) =>
      Math.abs(data[index] - r) + Math.abs(data[index + 1] - g) + Math.abs(data[index + 2] - b) <= tolerance;
    for (let index = 0; index < data.length; index += 4) {
      if (!near(index, background, 6)) nonBackground += 1;
      for (const name of names) if (near(index, targets[name], 24)) counts[name] += 1;
    }
    return { width: canvas.width, height: canvas.height, nonBackground, counts };
  }, colourVars);
}

/** Waits for the throttled redraw to show a new title / data. */
async function waitForTitle(page, pattern) {
  await page.waitForFunction(
    (source) => new RegExp(source).test(document.querySelector('[data-testid="chart-title"]')?.textContent ?? ''),
    pattern.source,
    { timeout: 10_000, polling: 100 },
  );
}

async function shot(page, name) {
  await page.getByTestId('charts').scrollIntoViewIfNeeded();
  await page.screenshot({ animations: 'disabled', path: path.join(ARTIFACTS, `charts-${name}.png`) });
  await page
    .getByTestId('charts')
    .screenshot({ animations: 'disabled', path: path.join(ARTIFACTS, `charts-${name}-panel.png`) });
}

describe('live charts in Chromium', () => {
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
    userDataDir = await mkdtemp(path.join(tmpdir(), 'faultline-charts-'));
    context = await launchChromium(userDataDir);
    page = await context.newPage();
    await page.setViewportSize({ width: 1440, height: 1000 });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      const drawingWarning = message.type() === 'warning' && message.text().startsWith('charts:');
      if (message.type() === 'error' || drawingWarning) {
        problems.push(`console ${message.type()}: ${message.text()}`);
      }
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
    assert.deepEqual(problems, [], 'no page errors, console errors or drawing warnings');
  });

  test('playing the retry storm draws the whole-system charts with a full legend', async () => {
    await page.getByTestId('example-picker').selectOption('retry-storm.json');
    await page.waitForFunction(() => document.querySelector('[data-testid="node"][data-node-id="frontend"]'));
    await waitForTitle(page, /^Whole system$/);
    assert.match(await page.getByTestId('chart-span').textContent(), /no samples yet/);
    await playUntil(page, 36);
    await page.waitForFunction(
      () => /s of sim time/.test(document.querySelector('[data-testid="chart-span"]')?.textContent ?? ''),
      undefined,
      { timeout: 10_000 },
    );
    const legend = await page.getByTestId('chart-legend').textContent();
    for (const name of ['Throughput', 'Errors/s', 'Latency p50', 'Latency p99', 'Queue depth', 'Consumer lag']) {
      assert.ok(legend.includes(name), `legend names ${name}: ${legend}`);
    }
    // Give the throttled redraw (≤ 4/s) time to draw the last data.
    await page.waitForTimeout(400);
    const pixels = await canvasPixels(page, ['--chart-throughput', '--chart-p50', '--chart-p99', '--chart-queue']);
    assert.ok(pixels.width > 200 && pixels.height > 300, `canvas sized to its box: ${JSON.stringify(pixels)}`);
    assert.ok(pixels.nonBackground > 5_000, `axes, labels and lines drawn: ${JSON.stringify(pixels)}`);
    for (const [name, count] of Object.entries(pixels.counts)) {
      assert.ok(count > 100, `the ${name} line is visible (${count} pixels of its colour)`);
    }
    await shot(page, '1-system');
  });

  test('the rolling window shows the last 30 s and the full run starts at 0 s', async () => {
    const rolling = page.getByTestId('chart-window-rolling');
    const full = page.getByTestId('chart-window-full');
    assert.equal(await rolling.getAttribute('aria-pressed'), 'true');
    const spanOf = async () => {
      const text = await page.getByTestId('chart-span').textContent();
      const match = /^([0-9.]+)–([0-9.]+) s of sim time/.exec(text ?? '');
      assert.ok(match, `span text: ${text}`);
      return [Number(match[1]), Number(match[2])];
    };
    const [rollingFrom, rollingTo] = await spanOf();
    assert.ok(rollingTo >= 35, `rolling window ends at the newest sample: ${rollingTo}`);
    assert.ok(Math.abs(rollingTo - rollingFrom - 30) < 0.01, `30 s wide: ${rollingFrom}–${rollingTo}`);
    const before = await canvasPixels(page, []);
    await full.click();
    assert.equal(await full.getAttribute('aria-pressed'), 'true');
    assert.equal(await rolling.getAttribute('aria-pressed'), 'false');
    const [fullFrom, fullTo] = await spanOf();
    assert.equal(fullFrom, 0, 'the full run starts at t = 0');
    assert.equal(fullTo, rollingTo);
    await page.waitForTimeout(400);
    const after = await canvasPixels(page, []);
    assert.notEqual(after.nonBackground, before.nonBackground, 'the canvas was redrawn for the new window');
    await shot(page, '2-full-run');
    await rolling.click();
    assert.equal(await rolling.getAttribute('aria-pressed'), 'true');
  });

  test('selecting a node, then a link, retitles the charts and swaps the series', async () => {
    await page.locator('[data-testid="node"][data-node-id="frontend"]').click();
    await waitForTitle(page, /^Node frontend$/);
    await page.waitForTimeout(400);
    const node = await canvasPixels(page, ['--chart-throughput', '--chart-p99']);
    assert.ok(node.counts['--chart-throughput'] > 100, `frontend throughput drawn: ${JSON.stringify(node)}`);
    await shot(page, '3-node-frontend');

    const link = page.locator('[data-testid="link"][data-from="frontend"][data-to="backend-1"]');
    await link.focus();
    await link.press('Enter');
    await waitForTitle(page, /^Link frontend ↔ backend-1$/);
    const legend = await page.getByTestId('chart-legend').textContent();
    for (const name of ['Delivered/s', 'Dropped/s', 'Sent/s', 'Network delay mean']) {
      assert.ok(legend.includes(name), `link legend names ${name}: ${legend}`);
    }
    assert.equal(await page.getByTestId('chart-canvas').getAttribute('data-plots'), '2');
    await page.waitForTimeout(400);
    const linkPixels = await canvasPixels(page, ['--chart-throughput', '--chart-p50']);
    for (const [name, count] of Object.entries(linkPixels.counts)) {
      assert.ok(count > 100, `link ${name} line visible (${count} pixels)`);
    }
    await shot(page, '4-link');

    await page.keyboard.press('Escape');
    await waitForTitle(page, /^Whole system$/);
  });

  test('a Kafka consumer charts its consumer lag', async () => {
    await page.getByTestId('example-picker').selectOption('kafka-consumer-group-rebalance.json');
    await page.waitForFunction(() => document.querySelector('[data-testid="node"][data-node-id="consumer-1"]'));
    await page.locator('[data-testid="node"][data-node-id="consumer-1"]').click();
    await waitForTitle(page, /^Node consumer-1$/);
    await playUntil(page, 20);
    await page.waitForTimeout(400);
    const pixels = await canvasPixels(page, ['--chart-lag', '--chart-throughput']);
    assert.ok(pixels.counts['--chart-lag'] > 50, `consumer lag drawn: ${JSON.stringify(pixels)}`);
    await shot(page, '5-consumer-lag');
  });
});

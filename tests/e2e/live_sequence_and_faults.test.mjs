// Browser tests of the sequence diagram, drop flashes and draggable fault
// markers (issue 7), on the orchestrated saga example: its orchestrator →
// inventory link loses 20% of messages and its plan crashes the orchestrator
// at 8 s and restarts it at 9 s. The engine runs in its Web Worker.
//
// Build first:  PATH=$PWD/node_modules/.bin:$PATH trunk build
// Then run:     node --test tests/e2e/live_sequence_and_faults.test.mjs
//
// Screenshots go to tests/e2e/artifacts/sequence-*.png.
// Timing: the drop-flash test waits (up to 20 s) for a flash to be alive while
// the run plays at 1×; a flash lives 0.9 s of real time, so a very slow
// machine could miss the pixel read — the DOM count is checked first.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ARTIFACTS, DIST, launchChromium, startStaticServer } from './support.mjs';

async function shot(page, name, options = {}) {
  await page.screenshot({ animations: 'disabled', path: path.join(ARTIFACTS, `sequence-${name}.png`), ...options });
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

async function clockSeconds(page) {
  const text = await page.getByTestId('sim-now').textContent();
  const match = /([0-9]+\.[0-9]+) s/.exec(text ?? '');
  assert.ok(match, `clock text looks like "12.345 s", got ${JSON.stringify(text)}`);
  return Number(match[1]);
}

/** Red pixels (the flash colour, #d00000 with fading) in a PNG, counted in the page. */
async function redPixels(page, png) {
  return page.evaluate(async (base64) => {
    const image = new Image();
    image.src = `data:image/png;base64,${base64}`;
    await image.decode();
    const canvas = document.createElement('canvas');
    canvas.width = image.width;
    canvas.height = image.height;
    const context = canvas.getContext('2d');
    context.drawImage(image, 0, 0);
    const { data } = context.getImageData(0, 0, canvas.width, canvas.height);
    let red = 0;
    for (let index = 0; index < data.length; index += 4) {
      const [r, g, b] = [data[index], data[index + 1], data[index + 2]];
      if (r > 150 && g < 110 && b < 110 && r - g > 80) red += 1;
    }
    return red;
  }, png.toString('base64'));
}

describe('sequence diagram, drop flashes and fault dragging in Chromium', () => {
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
    userDataDir = await mkdtemp(path.join(tmpdir(), 'faultline-sequence-'));
    context = await launchChromium(userDataDir, { acceptDownloads: true });
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
    await page.getByTestId('example-picker').selectOption('saga-orchestrated-order.json');
    await page.waitForFunction(() => document.querySelector('[data-testid="node"][data-node-id="orchestrator"]'));
  });

  after(async () => {
    await context?.close();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
    if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
    assert.deepEqual(problems, [], 'no page errors or console errors');
  });

  test('a message lost on the lossy link flashes at its point of loss', async () => {
    await setSpeed(page, '1×');
    await page.getByRole('button', { name: 'Play', exact: true }).click();
    // A saga every ~100 ms, a fifth of its inventory commands lost: a flash
    // is alive within a few seconds.
    // A flash fades within 0.9 s of real time, so its shape is read in the
    // same animation frame that sees it alive, not after the screenshot.
    await page.waitForFunction(
      () =>
        Number(document.querySelector('[data-testid="drop-flashes"]')?.dataset.live ?? 0) > 0 &&
        [...document.querySelectorAll('[data-testid="drop-flashes"] path.drop-flash')].some(
          (path) => (path.getAttribute('d') ?? '').length > 0,
        ),
      undefined,
      { timeout: 20_000, polling: 'raf' },
    );
    const png = await page.screenshot({ animations: 'disabled' });
    await shot(page, 'drop-flash');
    await page.getByRole('button', { name: 'Pause', exact: true }).click();
    assert.ok(
      Number(await page.getByTestId('drop-flashes').getAttribute('data-total')) >= 1,
      'at least one drop was flashed',
    );
    assert.ok((await redPixels(page, png)) > 20, 'the flash is visible in the canvas pixels');
  });

  test('the sequence diagram of the latest saga shows lifelines and arrows and exports as SVG', async () => {
    const panel = page.getByTestId('sequence-panel');
    await panel.locator('summary').click();
    await page.getByTestId('sequence-show').click();
    const svg = page.locator('[data-testid="sequence-canvas"] svg');
    await svg.waitFor({ timeout: 10_000 });
    const lifelines = await svg.locator('[data-testid="lifeline"]').evaluateAll((lines) =>
      lines.map((line) => line.dataset.node),
    );
    assert.ok(lifelines.includes('shop'), `the client has a lifeline: ${lifelines}`);
    assert.ok(lifelines.includes('orchestrator'), `the orchestrator has a lifeline: ${lifelines}`);
    assert.ok(lifelines.length >= 3, `client, orchestrator and at least one service: ${lifelines}`);
    const arrows = await svg.locator('[data-testid="sequence-arrow"]').count();
    assert.ok(arrows >= 2, `request and saga commands drawn: ${arrows}`);
    // Every event carries its Lamport clock.
    assert.ok((await svg.locator('[data-lamport]').count()) >= arrows, 'Lamport clocks are drawn');
    const title = await page.getByTestId('sequence-title').textContent();
    assert.match(title, /request shop op [0-9]+ \(t0\.[0-9]+\)/);
    await panel.scrollIntoViewIfNeeded();
    await shot(page, 'diagram');
    await svg.screenshot({ path: path.join(ARTIFACTS, 'sequence-diagram-only.png') });

    // A saga from the quick picks, typed the way the trace names it.
    const pick = page.getByTestId('sequence-pick').nth(1);
    if ((await page.getByTestId('sequence-pick').count()) > 1) {
      await pick.click();
      await svg.waitFor();
    }
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByTestId('sequence-export').click(),
    ]);
    assert.match(download.suggestedFilename(), /^sequence-(t[0-9]+\.[0-9]+|m[0-9]+)\.svg$/);
    const text = await readFile(await download.path(), 'utf8');
    assert.ok(text.startsWith('<svg'), `the file starts with <svg: ${text.slice(0, 40)}`);
    assert.match(text, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.ok(text.trimEnd().endsWith('</svg>'));
    // It parses as XML on its own (no page CSS, no HTML entities).
    const parsed = await page.evaluate((source) => {
      const document = new DOMParser().parseFromString(source, 'image/svg+xml');
      const error = document.querySelector('parsererror');
      return {
        error: error ? error.textContent : null,
        root: document.documentElement.localName,
        namespace: document.documentElement.namespaceURI,
        arrows: document.querySelectorAll('[data-testid="sequence-arrow"]').length,
      };
    }, text);
    assert.equal(parsed.error, null, 'the exported SVG is well-formed XML');
    assert.equal(parsed.root, 'svg');
    assert.equal(parsed.namespace, 'http://www.w3.org/2000/svg');
    assert.ok(parsed.arrows >= 1);

    // A typed message id shows that message (and what it caused).
    await page.getByTestId('sequence-query').fill('m1');
    await page.getByTestId('sequence-show').click();
    await page.waitForFunction(() =>
      (document.querySelector('[data-testid="sequence-title"]')?.textContent ?? '').includes('message m1'),
    );
    assert.equal(await svg.locator('[data-testid="sequence-arrow"][data-message="1"]').count(), 1);
    // Nonsense is refused with a hint.
    await page.getByTestId('sequence-query').fill('what?');
    await page.getByTestId('sequence-show').click();
    await page.getByTestId('sequence-error').waitFor();
    assert.match(await page.getByTestId('sequence-error').textContent(), /m12/);
  });

  test('a saga spanning the orchestrator crash shows the crash on its lifeline', async (t) => {
    // Seek just past the restart at 9 s: sagas completed since then may have
    // been in flight at the crash at 8 s (the orchestrator's log is durable).
    const track = await page.getByTestId('timeline-track').boundingBox();
    await page.mouse.click(track.x + track.width * (9.4 / 25), track.y + track.height / 2);
    await page.waitForFunction(
      () => (document.querySelector('[data-testid="seek-status"]')?.textContent ?? '') === '',
      undefined,
      { timeout: 60_000, polling: 100 },
    );
    assert.ok((await clockSeconds(page)) > 9, 'past the restart');
    await page.getByTestId('sequence-query').fill('');
    await page.getByTestId('sequence-show').click();
    await page.getByTestId('sequence-pick').first().waitFor();
    const picks = await page.getByTestId('sequence-pick').count();
    let found = false;
    for (let index = 0; index < picks && !found; index += 1) {
      await page.getByTestId('sequence-pick').nth(index).click();
      await page.waitForTimeout(300);
      found = (await page.locator('[data-testid="sequence-canvas"] [data-testid="sequence-crash"]').count()) > 0;
    }
    await page.getByTestId('sequence-panel').scrollIntoViewIfNeeded();
    await shot(page, 'crash-on-lifeline');
    if (!found) t.diagnostic('none of the latest sagas spans the crash');
  });

  test('dragging a fault marker moves the fault in the plan, undoably', async () => {
    const markers = page.getByTestId('plan-fault');
    assert.equal(await markers.count(), 2, 'crash and restart are in the plan');
    const crash = markers.first();
    assert.equal(await crash.getAttribute('data-at-ms'), '8000');
    const track = await page.getByTestId('timeline-track').boundingBox();
    const box = await crash.boundingBox();
    const start = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
    await page.mouse.move(start.x, start.y);
    await page.mouse.down();
    // 25 s run: a tenth of the track is 2.5 s later.
    const target = start.x + track.width * 0.1;
    for (let step = 1; step <= 10; step += 1) {
      await page.mouse.move(start.x + ((target - start.x) * step) / 10, start.y);
    }
    await shot(page, 'dragging-fault');
    await page.mouse.up();
    await page.waitForFunction(
      () => document.querySelector('[data-testid="plan-fault"][data-index="0"]')?.dataset.atMs !== '8000',
    );
    const moved = Number(await page.locator('[data-testid="plan-fault"]').first().getAttribute('data-at-ms'));
    // The plan is kept in time order: moved past the restart at 9 s, the crash is now second.
    const times = await page.getByTestId('plan-fault').evaluateAll((all) => all.map((m) => Number(m.dataset.atMs)));
    assert.deepEqual([...times].sort((a, b) => a - b), times, 'the plan stays in time order');
    assert.ok(times.includes(9000), `the restart stayed at 9 s: ${times}`);
    const crashAt = times.find((time) => time !== 9000);
    assert.ok(crashAt > 10_000 && crashAt < 11_000, `crash moved by about 2.5 s: ${crashAt} (first marker ${moved})`);
    // The edit reloaded the run (paused at t = 0) with the new plan.
    assert.equal(await clockSeconds(page), 0);
    await shot(page, 'fault-moved');
    // Undo puts it back.
    await page.keyboard.press('Control+z');
    await page.waitForFunction(
      () => document.querySelector('[data-testid="plan-fault"][data-index="0"]')?.dataset.atMs === '8000',
    );
  });
});

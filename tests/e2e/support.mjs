// Shared by the browser test files: the built app's paths, a static server
// for dist/ on 127.0.0.1, and Debian chromium launched with the flags this
// machine needs (no background networking, fresh profile), and the usual
// set-up of a test file (`openAppInChromium`).

import { createServer } from 'node:http';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DIST = path.join(ROOT, 'dist');
export const ARTIFACTS = path.join(ROOT, 'tests', 'e2e', 'artifacts');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const MIME_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
};

/** Serves dist/ on 127.0.0.1 on a free port; unknown paths are 404. */
export async function startStaticServer(root) {
  const server = createServer(async (request, response) => {
    try {
      const url = new URL(request.url, 'http://127.0.0.1');
      let relative = decodeURIComponent(url.pathname);
      if (relative.endsWith('/')) relative += 'index.html';
      const file = path.resolve(root, '.' + relative);
      if (!file.startsWith(root + path.sep)) {
        response.writeHead(403).end();
        return;
      }
      const info = await stat(file).catch(() => null);
      if (!info || !info.isFile()) {
        response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
        return;
      }
      const body = await readFile(file);
      const type = MIME_TYPES[path.extname(file)] ?? 'application/octet-stream';
      response.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
    } catch (error) {
      response.writeHead(500, { 'content-type': 'text/plain' }).end(String(error));
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return { server, baseUrl: `http://127.0.0.1:${port}/` };
}

/** Launches headless chromium with a fresh profile in `userDataDir`. */
export async function launchChromium(userDataDir, extraOptions = {}) {
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1440, height: 900 },
    deviceScaleFactor: 1,
    colorScheme: 'light',
    ...extraOptions,
  });
}

/** Centre of an element on screen (it must be laid out). */
export async function centreOf(locator) {
  const box = await locator.boundingBox();
  assert.ok(box, 'element has a box');
  return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
}

/** Frame intervals while dragging node s0 by 90 pointer moves: the editor's drag benchmark (both 300-node tests use it, so their figures compare). */
export async function measureDrag(page) {
  const start = await centreOf(page.locator('[data-node-id="s0"] .node-box'));
  await page.evaluate(() => {
    window.__frames = [];
    const tick = (time) => {
      window.__frames.push(time);
      if (window.__frames.length < 100000) window.__raf = requestAnimationFrame(tick);
    };
    window.__raf = requestAnimationFrame(tick);
  });
  await page.mouse.move(start.x, start.y);
  await page.mouse.down();
  const steps = 90;
  const began = Date.now();
  for (let step = 1; step <= steps; step += 1) {
    await page.mouse.move(start.x + step * 3, start.y + Math.sin(step / 8) * 60);
  }
  const dragMs = Date.now() - began;
  await page.mouse.up();
  const frames = await page.evaluate(() => {
    cancelAnimationFrame(window.__raf);
    return window.__frames;
  });
  const intervals = frames.slice(1).map((time, index) => time - frames[index]).sort((a, b) => a - b);
  const pick = (q) => intervals[Math.min(intervals.length - 1, Math.floor(q * intervals.length))];
  return {
    pointer_moves: steps,
    drag_wall_ms: dragMs,
    frames: intervals.length,
    frame_ms_median: Number(pick(0.5).toFixed(2)),
    frame_ms_p95: Number(pick(0.95).toFixed(2)),
    frame_ms_max: Number(intervals[intervals.length - 1].toFixed(2)),
  };
}

/**
 * The usual browser-test set-up: a static server on `DIST`, a fresh Chromium
 * profile, a page that records page and console errors into `problems`, the
 * app loaded with its engine in the worker, and (if given) an example picked.
 * `close()` undoes it all.
 */
export async function openAppInChromium({ profilePrefix, example = null, contextOptions = {} }) {
  await stat(path.join(DIST, 'index.html')).catch(() => {
    throw new Error('dist/index.html is missing: run `trunk build` first');
  });
  await mkdir(ARTIFACTS, { recursive: true });
  const { server, baseUrl } = await startStaticServer(DIST);
  const userDataDir = await mkdtemp(path.join(tmpdir(), profilePrefix));
  const context = await launchChromium(userDataDir, contextOptions);
  const page = await context.newPage();
  const problems = [];
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
  if (example) await page.getByTestId('example-picker').selectOption(example);
  const close = async () => {
    await context.close();
    await new Promise((resolve) => server.close(resolve));
    await rm(userDataDir, { recursive: true, force: true });
  };
  return { page, context, baseUrl, problems, close };
}

// Browser tests of the editor canvas's routing and gestures (dist/):
// right-angle (orthogonal) links routed around node boxes, toggled per
// diagram and saved with the scenario; the 300-node drag measured with
// routing on and off; two-finger pinch zoom about the fingers' midpoint and
// ctrl+wheel zoom; and the live highlight of the zone a dragged node would
// join or leave.
//
// Build first:  PATH=$PWD/node_modules/.bin:$PATH trunk build --release
// Then run:     node --test tests/e2e/editor_canvas_gestures.test.mjs
// Screenshots:  tests/e2e/artifacts/editor-canvas-*.png; the 300-node figures
// are printed and written to tests/e2e/artifacts/editor-perf-routing.json.

import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ARTIFACTS, DIST, centreOf, launchChromium, measureDrag, startStaticServer } from './support.mjs';

const NODE_WIDTH = 176;
const NODE_HEIGHT = 94;

async function upload(page, name, scenario) {
  await page.getByTestId('upload').setInputFiles({
    name,
    mimeType: 'application/json',
    buffer: Buffer.from(JSON.stringify(scenario)),
  });
}

/** The corner points of an SVG path made of M/L commands; null if it has curves. */
function polyline(d) {
  if (/[CQSA]/i.test(d)) return null;
  const numbers = d.match(/-?\d+(\.\d+)?/g).map(Number);
  const points = [];
  for (let index = 0; index < numbers.length; index += 2) points.push([numbers[index], numbers[index + 1]]);
  return points;
}

function crossesBox(points, centre) {
  const [left, top, right, bottom] = [centre.x - NODE_WIDTH / 2, centre.y - NODE_HEIGHT / 2, centre.x + NODE_WIDTH / 2, centre.y + NODE_HEIGHT / 2];
  for (let index = 1; index < points.length; index += 1) {
    const [a, b] = [points[index - 1], points[index]];
    for (let step = 0; step <= 50; step += 1) {
      const t = step / 50;
      const x = a[0] + (b[0] - a[0]) * t;
      const y = a[1] + (b[1] - a[1]) * t;
      if (x > left && x < right && y > top && y < bottom) return true;
    }
  }
  return false;
}

/** (x, y, zoom) of the canvas's world transform. */
async function worldTransform(page) {
  const text = await page.locator('g.world').getAttribute('transform');
  const [x, y, zoom] = text.match(/-?\d+(\.\d+)?/g).map(Number);
  return { x, y, zoom };
}

function bigScenario(routing) {
  const nodes = [{ id: 'clients', kind: 'load_generator', position: { x: 0, y: 0 }, properties: {} }];
  const links = [];
  for (let index = 0; index < 299; index += 1) {
    nodes.push({
      id: `s${index}`,
      kind: 'sink',
      label: `Service ${index}`,
      position: { x: 240 + (index % 20) * 240, y: Math.floor(index / 20) * 160 },
      properties: { service_time: { exponential: { mean_ms: 5 } }, workers: 2 },
    });
    links.push({ from: index === 0 ? 'clients' : `s${index - 1}`, to: `s${index}` });
  }
  const scenario = { version: 1, metadata: { title: `300 nodes, ${routing}` }, topology: { nodes, links }, run: { seed: 1, duration_ms: 1000 } };
  if (routing !== 'curved') scenario.layout = { link_routing: routing };
  return scenario;
}

describe('Faultline editor canvas: routing and gestures', () => {
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
    ({ server, baseUrl } = await startStaticServer(DIST));
    userDataDir = await mkdtemp(path.join(tmpdir(), 'faultline-canvas-e2e-'));
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
    await page.goto(baseUrl);
    await page.getByTestId('node').first().waitFor({ timeout: 30_000 });
    await page.waitForLoadState('networkidle');
    await page.evaluate(() => localStorage.clear());
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
    });
    await page.reload();
    await page.getByTestId('node').first().waitFor({ timeout: 30_000 });
  });

  afterEach(async () => {
    await page?.close();
    assert.deepEqual(problems, [], 'no page errors or console errors');
  });

  test('right-angle links route around a box in the way; the choice is saved and undoable', async () => {
    const scenario = {
      version: 1,
      metadata: { title: 'A box in the way' },
      topology: {
        nodes: [
          { id: 'a', kind: 'load_generator', position: { x: 0, y: 0 }, properties: {} },
          { id: 'blocker', kind: 'sink', position: { x: 320, y: 0 }, properties: { service_time: { constant: { value_ms: 1 } } } },
          { id: 'b', kind: 'sink', position: { x: 640, y: 0 }, properties: { service_time: { constant: { value_ms: 1 } } } },
          { id: 'c', kind: 'sink', position: { x: 320, y: 260 }, properties: { service_time: { constant: { value_ms: 1 } } } },
        ],
        links: [{ from: 'a', to: 'b', label: 'around' }, { from: 'a', to: 'c' }, { from: 'blocker', to: 'c' }],
      },
      run: { seed: 1, duration_ms: 1000 },
    };
    await upload(page, 'blocker.json', scenario);
    await page.waitForFunction(() => document.querySelector('[data-node-id="blocker"]'));
    const path0 = () => page.locator('[data-testid="link"][data-from="a"][data-to="b"] .link-line').getAttribute('d');
    assert.equal(polyline(await path0()), null, 'curved by default');
    const toggle = page.getByTestId('orthogonal-links');
    assert.equal(await toggle.isChecked(), false);
    await toggle.check();
    await page.waitForFunction(() => !/C/.test(document.querySelector('[data-testid="link"][data-from="a"][data-to="b"] .link-line').getAttribute('d')));
    for (const [from, to] of [['a', 'b'], ['a', 'c'], ['blocker', 'c']]) {
      const d = await page.locator(`[data-testid="link"][data-from="${from}"][data-to="${to}"] .link-line`).getAttribute('d');
      const points = polyline(d);
      assert.ok(points, `${from}->${to} is a polyline: ${d}`);
      for (let index = 1; index < points.length; index += 1) {
        const [p, q] = [points[index - 1], points[index]];
        assert.ok(Math.abs(p[0] - q[0]) < 0.05 || Math.abs(p[1] - q[1]) < 0.05, `${from}->${to} has only right angles: ${d}`);
      }
      for (const node of scenario.topology.nodes) {
        assert.ok(!crossesBox(points, node.position), `${from}->${to} does not cross ${node.id}'s box: ${d}`);
      }
    }
    const around = polyline(await path0());
    assert.ok(around.length >= 4, `a→b bends around the blocker: ${around}`);
    await page.screenshot({ animations: 'disabled', path: path.join(ARTIFACTS, 'editor-canvas-1-orthogonal.png') });

    // Undo and redo switch the whole diagram back and forth.
    await page.getByTestId('undo').click();
    await page.waitForFunction(() => /C/.test(document.querySelector('[data-testid="link"][data-from="a"][data-to="b"] .link-line').getAttribute('d')));
    assert.equal(await toggle.isChecked(), false, 'undo turns routing back to curves');
    await page.getByTestId('redo').click();
    await page.waitForFunction(() => !/C/.test(document.querySelector('[data-testid="link"][data-from="a"][data-to="b"] .link-line').getAttribute('d')));

    // Saved in the scenario's layout (absent while links are curved, so
    // older documents and older builds are unaffected).
    const saved = await page.evaluate(async () => {
      for (let attempt = 0; attempt < 60; attempt += 1) {
        const record = JSON.parse(localStorage.getItem('faultline.autosave.v1') ?? 'null');
        const scenario = record ? JSON.parse(record.scenario_json) : null;
        if (scenario?.layout) return scenario;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return null;
    });
    assert.deepEqual(saved.layout, { link_routing: 'orthogonal' });
    await page.reload();
    await page.waitForFunction(() => document.querySelector('[data-node-id="blocker"]'));
    assert.equal(await page.getByTestId('orthogonal-links').isChecked(), true, 'restored with the document');
    assert.ok(polyline(await path0()));

    // Dragging b re-routes a→b live, while the button is still down.
    const beforeDrag = await path0();
    const b = await centreOf(page.locator('[data-node-id="b"] .node-box'));
    await page.mouse.move(b.x, b.y);
    await page.mouse.down();
    await page.mouse.move(b.x + 20, b.y + 150, { steps: 6 });
    const whileDragging = await path0();
    await page.screenshot({ animations: 'disabled', path: path.join(ARTIFACTS, 'editor-canvas-1b-orthogonal-drag.png') });
    await page.mouse.up();
    assert.notEqual(whileDragging, beforeDrag, 'the route follows the dragged box');
    const dragged = polyline(whileDragging);
    assert.ok(dragged, `still right-angled while dragging: ${whileDragging}`);
    assert.ok(!crossesBox(dragged, scenario.topology.nodes[1].position), `still around the blocker: ${whileDragging}`);
  });

  test('300 nodes: drag frame times with orthogonal routing and with curves (printed, not asserted)', async () => {
    const figures = { nodes: 300, links: 299 };
    for (const routing of ['curved', 'orthogonal']) {
      await upload(page, `big-${routing}.json`, bigScenario(routing));
      await page.waitForFunction((title) => document.querySelectorAll('[data-testid="node"]').length === 300 && document.querySelector('[data-testid="scenario-title"]')?.textContent === title, `300 nodes, ${routing}`, { timeout: 60_000 });
      await page.waitForTimeout(500);
      figures[routing] = await measureDrag(page);
      if (routing === 'orthogonal') {
        const d = await page.locator('[data-testid="link"][data-from="s0"] .link-line').getAttribute('d');
        assert.ok(polyline(d), `routed orthogonally: ${d}`);
        await page.screenshot({ animations: 'disabled', path: path.join(ARTIFACTS, 'editor-canvas-2-300-orthogonal.png') });
      }
    }
    // Switching all 299 links between curves and right angles: one full re-route.
    const toggleMs = await page.evaluate(async () => {
      const began = performance.now();
      document.querySelector('[data-testid="orthogonal-links"]').click();
      await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
      const off = performance.now() - began;
      const again = performance.now();
      document.querySelector('[data-testid="orthogonal-links"]').click();
      await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
      return { to_curved_ms: Number(off.toFixed(1)), to_orthogonal_ms: Number((performance.now() - again).toFixed(1)) };
    });
    figures.toggle_all_links = toggleMs;
    console.log('300-node drag frame times, curved vs orthogonal:', JSON.stringify(figures));
    await writeFile(path.join(ARTIFACTS, 'editor-perf-routing.json'), JSON.stringify(figures, null, 2));
    assert.ok(figures.orthogonal.frames > 10, 'frames were recorded during the drag');
  });

  test('two-finger pinch zooms about the fingers\' midpoint; ctrl+wheel zooms too', async () => {
    const svg = page.getByTestId('topology');
    const box = await svg.boundingBox();
    const centre = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
    const before = await worldTransform(page);
    // Touch pointers as a touch screen sends them (two ids, pointerType touch).
    const touch = (type, id, x, y) =>
      page.evaluate(({ type, id, x, y }) => {
        const target = document.querySelector('[data-testid="topology"] .canvas-background');
        target.dispatchEvent(new PointerEvent(type, { pointerId: id, pointerType: 'touch', isPrimary: id === 1, clientX: x, clientY: y, button: type === 'pointermove' ? -1 : 0, buttons: type === 'pointerup' ? 0 : 1, bubbles: true, cancelable: true }));
      }, { type, id, x, y });
    await touch('pointerdown', 1, centre.x - 40, centre.y);
    await touch('pointerdown', 2, centre.x + 40, centre.y);
    for (let step = 1; step <= 8; step += 1) {
      await touch('pointermove', 1, centre.x - 40 - step * 5, centre.y + step * 2);
      await touch('pointermove', 2, centre.x + 40 + step * 5, centre.y + step * 2);
    }
    // Fingers now 160 px apart (twice 80), their midpoint 16 px lower.
    await touch('pointerup', 1, centre.x - 80, centre.y + 16);
    await touch('pointerup', 2, centre.x + 80, centre.y + 16);
    const after = await worldTransform(page);
    assert.ok(Math.abs(after.zoom / before.zoom - 2) < 0.01, `zoom doubled: ${before.zoom} → ${after.zoom}`);
    // The world point under the first midpoint is under the last one.
    const local = { x: centre.x - box.x, y: centre.y - box.y };
    const worldBefore = { x: (local.x - before.x) / before.zoom, y: (local.y - before.y) / before.zoom };
    const worldAfter = { x: (local.x - after.x) / after.zoom, y: (local.y + 16 - after.y) / after.zoom };
    assert.ok(Math.abs(worldBefore.x - worldAfter.x) < 1 && Math.abs(worldBefore.y - worldAfter.y) < 1, `pinned: ${JSON.stringify(worldBefore)} vs ${JSON.stringify(worldAfter)}`);
    assert.equal(await page.getByTestId('node').count(), 3, 'a pinch neither moves nor adds nodes');
    assert.equal(await page.locator('[data-testid="node"][data-selected="true"]').count(), 0);
    await page.screenshot({ animations: 'disabled', path: path.join(ARTIFACTS, 'editor-canvas-3-pinched.png') });

    // Trackpad pinch arrives as ctrl+wheel: zoom out about the pointer.
    await page.mouse.move(centre.x, centre.y);
    await page.keyboard.down('Control');
    await page.mouse.wheel(0, 200);
    await page.keyboard.up('Control');
    await page.waitForFunction((zoom) => {
      const text = document.querySelector('g.world').getAttribute('transform');
      return Number(text.match(/scale\(([-\d.]+)\)/)[1]) < zoom;
    }, after.zoom);
  });

  test('dragging a node over a zone highlights the zone it would join and the one it would leave', async () => {
    const zoneA = page.locator('[data-zone-id="zone-a"]');
    const zoneB = page.locator('[data-zone-id="zone-b"]');
    const target = await zoneA.locator('.zone-box').boundingBox();
    const db = await centreOf(page.locator('[data-testid="node"][data-node-id="db"] .node-box'));
    await page.mouse.move(db.x, db.y);
    await page.mouse.down();
    await page.mouse.move(db.x, db.y + 30, { steps: 3 });
    assert.equal(await zoneA.getAttribute('data-drop'), '', 'nothing to preview yet');
    const inside = { x: target.x + target.width / 2, y: target.y + target.height * 0.6 };
    await page.mouse.move(inside.x, inside.y, { steps: 8 });
    await page.waitForFunction(() => document.querySelector('[data-zone-id="zone-a"]').dataset.drop === 'join');
    // db is zone-b's only member, so zone-b has no box of its own while db moves.
    assert.notEqual(await zoneB.getAttribute('data-drop'), 'join');
    await page.screenshot({ animations: 'disabled', path: path.join(ARTIFACTS, 'editor-canvas-4-zone-join.png') });
    await page.mouse.up();
    await page.waitForFunction(() => document.querySelector('[data-zone-id="zone-a"]').dataset.members === 'clients api db');
    assert.equal(await zoneA.getAttribute('data-drop'), '', 'the highlight ends with the drag');

    // Dragging api out of zone-a (which keeps clients and db) marks it as left.
    const api = await centreOf(page.locator('[data-testid="node"][data-node-id="api"] .node-box'));
    const canvas = await page.getByTestId('canvas').boundingBox();
    await page.mouse.move(api.x, api.y);
    await page.mouse.down();
    await page.mouse.move(api.x, canvas.y + canvas.height - 60, { steps: 10 });
    await page.waitForFunction(() => document.querySelector('[data-zone-id="zone-a"]').dataset.drop === 'leave');
    await page.screenshot({ animations: 'disabled', path: path.join(ARTIFACTS, 'editor-canvas-5-zone-leave.png') });
    await page.mouse.up();
    await page.waitForFunction(() => document.querySelector('[data-zone-id="zone-a"]').dataset.members === 'clients db');
  });
});

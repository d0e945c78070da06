// Browser test (issue 7, "draw a line across the canvas to partition"): on
// the three-node chain example (clients → api → db in a row), the "Cut to
// partition" button, then a drag between api and db, injects a live partition
// [clients, api] | [db] into the running engine (in its Web Worker). The
// fault appears in the timeline's live faults, db is badged partitioned and
// its incoming link is drawn cut. A second cut drawn with Alt-drag works too,
// and a slip of the pointer (a tiny drag) cuts nothing.
//
// Build first:  PATH=$PWD/node_modules/.bin:$PATH trunk build
// Then run:     node --test tests/e2e/partition_by_cut_line.test.mjs
// Screenshots:  tests/e2e/artifacts/cut-*.png

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ARTIFACTS, openAppInChromium } from './support.mjs';

async function shot(page, name) {
  await page.screenshot({ animations: 'disabled', path: path.join(ARTIFACTS, `cut-${name}.png`) });
}

/** A drag from (x1, y1) to (x2, y2) in page px, with intermediate moves. */
async function drag(page, from, to, { alt = false } = {}) {
  if (alt) await page.keyboard.down('Alt');
  await page.mouse.move(from.x, from.y);
  await page.mouse.down();
  for (let step = 1; step <= 8; step += 1) {
    await page.mouse.move(from.x + ((to.x - from.x) * step) / 8, from.y + ((to.y - from.y) * step) / 8);
  }
  await page.mouse.up();
  if (alt) await page.keyboard.up('Alt');
}

describe('partition by drawing a cut line in Chromium', () => {
  let app;
  let page;

  before(async () => {
    app = await openAppInChromium({ profilePrefix: 'faultline-cut-', example: 'three-node-chain-partition.json' });
    ({ page } = app);
    await page.waitForFunction(() => document.querySelector('[data-testid="node"][data-node-id="db"]'));
  });

  after(async () => {
    await app?.close();
    assert.deepEqual(app?.problems ?? [], [], 'no page errors or console errors');
  });

  test('a line drawn between api and db partitions [clients, api] from [db]', async () => {
    const api = await page.locator('[data-testid="node"][data-node-id="api"]').boundingBox();
    const db = await page.locator('[data-testid="node"][data-node-id="db"]').boundingBox();
    const x = (api.x + api.width + db.x) / 2;
    const cutButton = page.getByTestId('cut-mode');
    await cutButton.click();
    assert.equal(await cutButton.getAttribute('aria-pressed'), 'true');

    // A slip (shorter than the minimum cut) injects nothing and ends the mode.
    await drag(page, { x, y: api.y + 4 }, { x: x + 2, y: api.y + 6 });
    assert.equal(await page.getByTestId('live-fault').count(), 0, 'a slip of the pointer cuts nothing');
    assert.equal(await cutButton.getAttribute('aria-pressed'), 'false');

    await cutButton.click();
    // The preview line is drawn while dragging.
    await page.mouse.move(x, api.y - 60);
    await page.mouse.down();
    await page.mouse.move(x, api.y + api.height / 2, { steps: 4 });
    // A vertical line has a zero-width box, which Playwright calls hidden.
    await page.getByTestId('cut-line').waitFor({ state: 'attached' });
    await shot(page, '1-drawing');
    await page.mouse.move(x, api.y + api.height + 60, { steps: 4 });
    await page.mouse.up();

    const fault = page.getByTestId('live-fault').first();
    await fault.waitFor({ timeout: 10_000 });
    const text = await fault.textContent();
    assert.match(text, /partition \[clients, api\] \| \[db\]|partition \[db\] \| \[clients, api\]/, text);
    // A live fault takes effect 1 ms after the run's now: play to see it.
    await page.getByRole('button', { name: 'Play', exact: true }).click();
    await page.waitForFunction(
      () =>
        document.querySelector('[data-testid="live-badge"][data-badge="partitioned"][data-node="db"]') &&
        document.querySelector('[data-testid="link"][data-from="api"][data-to="db"]')?.dataset.cut !== 'none',
      undefined,
      { timeout: 10_000 },
    );
    await page.getByRole('button', { name: 'Pause', exact: true }).click();
    assert.equal(await page.getByTestId('cut-line').count(), 0, 'the preview is gone after the cut');
    await shot(page, '2-partitioned');
  });

  test('Alt-drag cuts too, and the run keeps playing under the new partition', async () => {
    const clients = await page.locator('[data-testid="node"][data-node-id="clients"]').boundingBox();
    const api = await page.locator('[data-testid="node"][data-node-id="api"]').boundingBox();
    const x = (clients.x + clients.width + api.x) / 2;
    await drag(page, { x, y: api.y - 40 }, { x, y: api.y + api.height + 40 }, { alt: true });
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="live-fault"]').length === 2, undefined, {
      timeout: 10_000,
    });
    const second = await page.getByTestId('live-fault').nth(1).textContent();
    assert.match(second, /partition \[clients\] \| \[api, db\]|partition \[api, db\] \| \[clients\]/, second);
    await page.getByRole('button', { name: 'Play', exact: true }).click();
    await page.waitForTimeout(1_500);
    await page.getByRole('button', { name: 'Pause', exact: true }).click();
    assert.ok(
      await page.locator('[data-testid="live-badge"][data-badge="partitioned"][data-node="clients"]').count(),
      'clients is partitioned after the second cut',
    );
    await shot(page, '3-second-cut');
  });
});

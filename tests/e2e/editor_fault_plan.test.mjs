// Browser tests of the editor's fault plan, expectations and list editing
// (dist/): every fault kind the scenario format has as a typed sub-form with
// node pickers and units, "Add fault…" from a node's and a link's context
// menu, expectations with the engine's checker names, and lists (rate
// profile, empirical points, partition groups) as typed rows with add,
// remove and reorder. Inline errors come from the engine's validator by JSON
// path; every edit is undoable.
//
// Build first:  PATH=$PWD/node_modules/.bin:$PATH trunk build --release
// Then run:     node --test tests/e2e/editor_fault_plan.test.mjs
// Screenshots:  tests/e2e/artifacts/editor-faults-*.png

import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ARTIFACTS, DIST, launchChromium, startStaticServer } from './support.mjs';

/** The autosaved document once `ready(scenario)` holds (the autosave is debounced). */
async function savedScenario(page, ready) {
  const source = ready.toString();
  return page.evaluate(async (text) => {
    const check = eval(`(${text})`);
    for (let attempt = 0; attempt < 60; attempt += 1) {
      const record = JSON.parse(localStorage.getItem('faultline.autosave.v1') ?? 'null');
      const scenario = record ? JSON.parse(record.scenario_json) : null;
      if (scenario && check(scenario)) return scenario;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return null;
  }, source);
}

describe('Faultline editor: faults, expectations and lists', () => {
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
    userDataDir = await mkdtemp(path.join(tmpdir(), 'faultline-faults-e2e-'));
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
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`HTTP ${response.status()}: ${response.url()}`);
    });
    await page.reload();
    await page.getByTestId('node').first().waitFor({ timeout: 30_000 });
  });

  afterEach(async () => {
    await page?.close();
    assert.deepEqual(problems, [], 'no page errors or console errors');
  });

  const timelineRows = () => page.locator('[data-testid="fault-plan"] [data-testid="array"][data-field="timeline"] > [data-testid="array-row"]');

  test('every fault kind is a typed sub-form with units and node pickers; errors inline; undoable', async () => {
    const plan = page.getByTestId('fault-plan');
    await plan.waitFor();
    // The example's plan: a partition of zone-a from zone-b at 10 s, then heal.
    assert.equal(await timelineRows().count(), 2);
    const first = timelineRows().nth(0);
    assert.equal(await first.locator('input[data-field="at_ms"]').inputValue(), '10000');
    assert.equal(await first.locator('[data-field="at_ms"] .field-unit').first().textContent(), 'ms');
    const kind = first.locator('[data-testid="variant-picker"]').first();
    assert.equal(await kind.inputValue(), 'partition');
    const groups = first.locator('[data-testid="array"][data-field="groups"] > [data-testid="array-row"]');
    assert.equal(await groups.count(), 2, 'two groups, each a list of node/zone pickers');
    assert.equal(await groups.nth(0).locator('select').first().inputValue(), 'zone-a');
    assert.equal(await groups.nth(1).locator('select').first().inputValue(), 'zone-b');

    // Every fault kind of the format is offered.
    const kinds = await kind.locator('option').evaluateAll((options) => options.map((option) => option.value));
    for (const wanted of ['crash', 'restart', 'pause', 'resume', 'slow', 'clock_skew', 'partition', 'partition_one_way', 'heal', 'hold_link', 'release_link', 'set_link']) {
      assert.ok(kinds.includes(wanted), `${wanted} in ${kinds}`);
    }

    // Add a fault (a copy of the last one: heal), then make it each kind in turn.
    await plan.locator('[data-testid="array"][data-field="timeline"] > [data-testid="row-add"]').click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="fault-plan"] [data-field="timeline"] > [data-testid="array-row"]').length === 3);
    const added = timelineRows().nth(2);
    const addedKind = added.locator('[data-testid="variant-picker"]').first();
    const subform = (tag) => added.locator(`[data-testid="subform"][data-variant="${tag}"]`);
    await addedKind.selectOption('crash');
    await subform('crash').waitFor();
    const nodeOptions = await subform('crash').locator('select[data-field="node"] option').evaluateAll((options) => options.map((option) => option.value));
    assert.deepEqual(nodeOptions, ['', 'clients', 'api', 'db'], 'a crash picks a node');
    await subform('crash').locator('select[data-field="node"]').selectOption('db');

    // A time past the run's end: the engine's validator says so, inline.
    const at = added.locator('input[data-field="at_ms"]');
    await at.fill('99000');
    await at.press('Enter');
    const atError = added.locator('[data-field="at_ms"] [data-testid="field-error"]').first();
    await page.waitForFunction((element) => /within the run/.test(element.textContent), await atError.elementHandle());
    await at.fill('15000');
    await at.press('Enter');
    await page.waitForFunction((element) => element.textContent === '', await atError.elementHandle());
    let saved = await savedScenario(page, (s) => s.faults.timeline[2]?.at_ms === 15000);
    assert.deepEqual(saved.faults.timeline[2], { at_ms: 15000, action: { crash: { node: 'db' } } });

    // Slow keeps the node and asks for a factor; clock skew has ms and ppm.
    await addedKind.selectOption('slow');
    await subform('slow').waitFor();
    assert.equal(await subform('slow').locator('select[data-field="node"]').inputValue(), 'db', 'the node is kept');
    const factor = subform('slow').locator('input[data-field="factor"]');
    await factor.fill('5000');
    await factor.press('Enter');
    await page.waitForFunction(() => /0\.01 to 1000/.test(document.querySelector('[data-testid="fault-plan"] [data-variant="slow"] [data-field="factor"] [data-testid="field-error"]')?.textContent ?? ''));
    await factor.fill('4');
    await factor.press('Enter');
    await addedKind.selectOption('clock_skew');
    await subform('clock_skew').waitFor();
    assert.equal(await subform('clock_skew').locator('[data-field="offset_ms"] .field-unit').textContent(), 'ms');
    assert.equal(await subform('clock_skew').locator('[data-field="drift_ppm"] .field-unit').textContent(), 'ppm');
    await subform('clock_skew').locator('input[data-field="offset_ms"]').fill('-250');
    await subform('clock_skew').locator('input[data-field="offset_ms"]').press('Enter');

    // A one-way partition: lists of nodes or zones on each side.
    await addedKind.selectOption('partition_one_way');
    await subform('partition_one_way').waitFor();
    const side = (name) => subform('partition_one_way').locator(`[data-testid="array"][data-field="${name}"]`);
    await side('from').locator(':scope > [data-testid="row-add"]').click();
    await side('from').locator(':scope > [data-testid="array-row"] select').first().selectOption('zone-a');
    await side('to').locator(':scope > [data-testid="row-add"]').click();
    await side('to').locator(':scope > [data-testid="array-row"] select').first().selectOption('db');
    saved = await savedScenario(page, (s) => s.faults.timeline[2]?.action?.partition_one_way?.to?.[0] === 'db');
    assert.deepEqual(saved.faults.timeline[2].action, { partition_one_way: { from: ['zone-a'], to: ['db'] } });

    // Latency, jitter, loss and duplication: a link change with a network sub-form.
    await addedKind.selectOption('set_link');
    await subform('set_link').waitFor();
    const link = subform('set_link');
    await link.locator('select[data-field="from"]').selectOption('api');
    await link.locator('select[data-field="to"]').selectOption('db');
    const network = link.locator('[data-field="network"] [data-testid="object-form"]');
    await network.locator('[data-testid="variant-picker"][data-field="latency"]').selectOption('exponential');
    await network.locator('[data-variant="exponential"] input[data-field="mean_ms"]').fill('40');
    await network.locator('[data-variant="exponential"] input[data-field="mean_ms"]').press('Enter');
    assert.equal(await network.locator('[data-field="jitter_ms"] .field-unit').textContent(), 'ms');
    await network.locator('input[data-field="jitter_ms"]').fill('10');
    await network.locator('input[data-field="jitter_ms"]').press('Enter');
    await network.locator('input[data-field="loss_probability"]').fill('0.2');
    await network.locator('input[data-field="loss_probability"]').press('Enter');
    await network.locator('input[data-field="duplicate_probability"]').fill('0.05');
    await network.locator('input[data-field="duplicate_probability"]').press('Enter');
    saved = await savedScenario(page, (s) => s.faults.timeline[2]?.action?.set_link?.network?.duplicate_probability === 0.05);
    assert.ok(saved, 'the set_link fault is saved');
    const netSaved = saved.faults.timeline[2].action.set_link;
    assert.equal(netSaved.from, 'api');
    assert.equal(netSaved.to, 'db');
    assert.deepEqual(netSaved.network.latency, { exponential: { mean_ms: 40 } });
    assert.equal(netSaved.network.jitter_ms, 10);
    assert.equal(netSaved.network.loss_probability, 0.2);
    await page.waitForFunction(() => document.querySelector('[data-testid="problems"]')?.dataset.count === '0');
    await added.scrollIntoViewIfNeeded();
    await page.screenshot({ animations: 'disabled', path: path.join(ARTIFACTS, 'editor-faults-1-set-link.png') });

    // Reorder: the new fault moves up one; then undo puts it back.
    await added.locator(':scope > .array-row-tools [data-testid="row-up"]').click();
    saved = await savedScenario(page, (s) => s.faults.timeline[1]?.action?.set_link);
    assert.ok(saved.faults.timeline[2].action.heal, 'heal moved down');
    assert.match(await page.getByTestId('undo').getAttribute('title'), /Undo Edit fault/);
    await page.getByTestId('undo').click();
    saved = await savedScenario(page, (s) => s.faults.timeline[2]?.action?.set_link);
    assert.ok(saved);
    // Remove it; undo brings it back.
    await timelineRows().nth(2).locator(':scope > .array-row-tools [data-testid="row-remove"]').click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="fault-plan"] [data-field="timeline"] > [data-testid="array-row"]').length === 2);
    assert.match(await page.getByTestId('undo').getAttribute('title'), /Remove fault/);
    await page.getByTestId('undo').click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="fault-plan"] [data-field="timeline"] > [data-testid="array-row"]').length === 3);

    // The nemesis is optional: switch it on and it gets its own sub-form.
    const nemesisToggle = plan.locator('[data-testid="object-toggle"][data-field="nemesis"]');
    await nemesisToggle.check();
    const nemesis = plan.locator('[data-field="nemesis"] [data-testid="object-form"]');
    await nemesis.locator('input[data-field="faults_per_minute"]').waitFor();
    assert.equal(await nemesis.locator('[data-field="mean_fault_duration_ms"] .field-unit').first().textContent(), 'ms');
    saved = await savedScenario(page, (s) => s.faults.nemesis);
    assert.ok(saved.faults.nemesis.faults_per_minute > 0);
    await page.screenshot({ animations: 'disabled', fullPage: true, path: path.join(ARTIFACTS, 'editor-faults-2-plan.png') });
    await page.getByTestId('undo').click();
    saved = await savedScenario(page, (s) => !s.faults.nemesis);
    assert.ok(saved, 'undo switched the nemesis off');
  });

  test('"Add fault…" from a node\'s and a link\'s context menu', async () => {
    await page.locator('[data-testid="node"][data-node-id="api"] .node-box').click({ button: 'right' });
    await page.getByRole('menuitem', { name: /Add fault/ }).click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="fault-plan"] [data-field="timeline"] > [data-testid="array-row"]').length === 3);
    const added = timelineRows().nth(2);
    assert.equal(await added.locator('[data-testid="variant-picker"]').first().inputValue(), 'crash');
    assert.equal(await added.locator('select[data-field="node"]').inputValue(), 'api');
    assert.equal(await added.locator('input[data-field="at_ms"]').inputValue(), '10000', 'a third of the way into the 30 s run');
    await page.waitForFunction(() => document.activeElement?.dataset?.testid === 'variant-picker', undefined, { timeout: 5_000 });
    await page.screenshot({ animations: 'disabled', path: path.join(ARTIFACTS, 'editor-faults-3-node-menu.png') });

    // A link's menu adds a change of that link's network (10% loss to start).
    await page.locator('[data-testid="link"][data-from="api"] .link-hit').click({ button: 'right', force: true });
    await page.getByRole('menuitem', { name: /Add fault/ }).click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="fault-plan"] [data-field="timeline"] > [data-testid="array-row"]').length === 4);
    const linkFault = timelineRows().nth(3);
    assert.equal(await linkFault.locator('[data-testid="variant-picker"]').first().inputValue(), 'set_link');
    assert.equal(await linkFault.locator('select[data-field="from"]').inputValue(), 'api');
    assert.equal(await linkFault.locator('select[data-field="to"]').inputValue(), 'db');
    assert.equal(Number(await linkFault.locator('input[data-field="loss_probability"]').inputValue()), 0.1);
    // The link's own latency was copied: uniform 0.5–1.5 ms.
    assert.equal(await linkFault.locator('[data-testid="variant-picker"][data-field="latency"]').inputValue(), 'uniform');
    await page.screenshot({ animations: 'disabled', path: path.join(ARTIFACTS, 'editor-faults-4-link-menu.png') });
    await page.getByTestId('undo').click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="fault-plan"] [data-field="timeline"] > [data-testid="array-row"]').length === 3);
  });

  test('expectations: checker names from the engine, metric bounds checked inline, undoable', async () => {
    const form = page.getByTestId('expectations');
    await form.waitFor();
    const rows = form.locator('[data-testid="array"][data-field="expectations"] > [data-testid="array-row"]');
    assert.equal(await rows.count(), 4);
    assert.equal(await rows.nth(0).locator('[data-testid="variant-picker"]').inputValue(), 'metric');
    assert.equal(await rows.nth(0).locator('input[data-field="name"]').inputValue(), 'api.errors');
    const check = rows.nth(2);
    assert.equal(await check.locator('[data-testid="variant-picker"]').inputValue(), 'check');
    const checkers = await check.locator('select[data-field="name"] option').evaluateAll((options) => options.map((option) => option.value));
    assert.ok(checkers.includes('requests_eventually_resolved') && checkers.includes('no_phantom_delivery'), `${checkers}`);
    assert.equal(await check.locator('select[data-field="name"]').inputValue(), 'requests_eventually_resolved');
    await check.locator('select[data-field="status"]').selectOption('fail');

    // A metric whose max is below its min: the validator names the field.
    const metric = rows.nth(0);
    await metric.locator('input[data-field="max"]').fill('50');
    await metric.locator('input[data-field="max"]').press('Enter');
    await page.waitForFunction(() => /max >= min/.test(document.querySelector('[data-testid="expectations"] [data-testid="array-row"][data-index="0"] [data-field="max"] [data-testid="field-error"]')?.textContent ?? ''));
    await metric.scrollIntoViewIfNeeded();
    await page.screenshot({ animations: 'disabled', path: path.join(ARTIFACTS, 'editor-faults-5-expectations.png') });

    // Add one (copies the last), make it a check of another checker.
    await form.locator('[data-testid="array"][data-field="expectations"] > [data-testid="row-add"]').click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="expectations"] [data-field="expectations"] > [data-testid="array-row"]').length === 5);
    await rows.nth(4).locator('select[data-field="name"]').selectOption('trace_time_monotonic');
    const saved = await savedScenario(page, (s) => s.expectations.length === 5 && s.expectations[4].check?.name === 'trace_time_monotonic');
    assert.deepEqual(saved.expectations[2], { check: { name: 'requests_eventually_resolved', status: 'fail' } });
    assert.equal(saved.expectations[0].metric.max, 50);
    // Undo four times: the checker of the new row, the add, the max, the status.
    for (let step = 0; step < 4; step += 1) await page.getByTestId('undo').click();
    const restored = await savedScenario(page, (s) => s.expectations.length === 4 && s.expectations[2].check.status === 'pass' && s.expectations[0].metric.max == null);
    assert.ok(restored, 'undo restores the expectations');
  });

  test('lists are typed rows: rate profile steps and empirical points with units, add/remove/reorder', async () => {
    // The stream's open-loop rate profile.
    const stream = page.getByTestId('stream').first();
    await stream.waitFor();
    const profile = stream.locator('[data-testid="array"][data-field="rate_profile"]');
    await profile.waitFor();
    assert.equal(await profile.locator(':scope > [data-testid="array-row"]').count(), 0);
    assert.equal(await stream.locator('textarea').count(), 0, 'no JSON text in the stream form');
    await profile.locator(':scope > [data-testid="row-add"]').click();
    await profile.locator(':scope > [data-testid="row-add"]').click();
    const steps = profile.locator(':scope > [data-testid="array-row"]');
    await page.waitForFunction(() => document.querySelectorAll('[data-field="rate_profile"] > [data-testid="array-row"]').length === 2);
    assert.equal(await steps.nth(0).locator('[data-field="at_ms"] .field-unit').textContent(), 'ms');
    await steps.nth(0).locator('input[data-field="at_ms"]').fill('5000');
    await steps.nth(0).locator('input[data-field="at_ms"]').press('Enter');
    await steps.nth(0).locator('input[data-field="multiplier"]').fill('3');
    await steps.nth(0).locator('input[data-field="multiplier"]').press('Enter');
    await steps.nth(1).locator('input[data-field="at_ms"]').fill('1000');
    await steps.nth(1).locator('input[data-field="at_ms"]').press('Enter');
    await steps.nth(1).locator('input[data-field="ramp"]').check();
    let saved = await savedScenario(page, (s) => s.workload.streams[0].pattern.open_loop.rate_profile?.[1]?.ramp === true);
    assert.deepEqual(saved.workload.streams[0].pattern.open_loop.rate_profile, [
      { at_ms: 5000, multiplier: 3, ramp: false },
      { at_ms: 1000, multiplier: 1, ramp: true },
    ]);
    // Reorder so the times ascend.
    await steps.nth(1).locator(':scope > .array-row-tools [data-testid="row-up"]').click();
    saved = await savedScenario(page, (s) => s.workload.streams[0].pattern.open_loop.rate_profile[0].at_ms === 1000);
    assert.ok(saved);
    await stream.scrollIntoViewIfNeeded();
    await page.screenshot({ animations: 'disabled', path: path.join(ARTIFACTS, 'editor-faults-6-rate-profile.png') });

    // An empirical service-time distribution: points with value (ms) and weight.
    await page.locator('[data-testid="node"][data-node-id="api"] .node-box').click();
    const field = page.locator('[data-testid="inspector"] [data-testid="field"][data-field="service_time"]');
    await field.locator('[data-testid="variant-picker"]').selectOption('empirical');
    const points = field.locator('[data-testid="array"][data-field="points"]');
    await points.waitFor();
    await points.locator(':scope > [data-testid="row-add"]').click();
    await points.locator(':scope > [data-testid="row-add"]').click();
    await page.waitForFunction(() => document.querySelectorAll('[data-field="points"] > [data-testid="array-row"]').length === 2);
    const point = (index) => points.locator(':scope > [data-testid="array-row"]').nth(index);
    assert.equal(await point(0).locator('[data-field="value_ms"] .field-unit').textContent(), 'ms');
    await point(0).locator('input[data-field="value_ms"]').fill('2');
    await point(0).locator('input[data-field="value_ms"]').press('Enter');
    await point(1).locator('input[data-field="value_ms"]').fill('50');
    await point(1).locator('input[data-field="value_ms"]').press('Enter');
    await point(1).locator('input[data-field="weight"]').fill('0.1');
    await point(1).locator('input[data-field="weight"]').press('Enter');
    saved = await savedScenario(page, (s) => s.topology.nodes[1].properties.service_time.empirical?.points?.[1]?.weight === 0.1);
    assert.deepEqual(saved.topology.nodes[1].properties.service_time.empirical.points, [
      { value_ms: 2, weight: 1 },
      { value_ms: 50, weight: 0.1 },
    ]);
    await page.screenshot({ animations: 'disabled', path: path.join(ARTIFACTS, 'editor-faults-7-empirical.png') });
    await point(0).locator(':scope > .array-row-tools [data-testid="row-remove"]').click();
    saved = await savedScenario(page, (s) => s.topology.nodes[1].properties.service_time.empirical?.points?.length === 1);
    assert.equal(saved.topology.nodes[1].properties.service_time.empirical.points[0].value_ms, 50);
    await page.getByTestId('undo').click();
    saved = await savedScenario(page, (s) => s.topology.nodes[1].properties.service_time.empirical?.points?.length === 2);
    assert.ok(saved, 'undo restores the removed point');
  });
});

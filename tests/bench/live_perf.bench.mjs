// Live view performance budget (issue 7), measured in headless Chromium on
// this machine against a built dist/ (use `trunk build --release`):
//   (a) frame times while 200 nodes and ~2,000 animated particles play;
//   (b) the sim-time / real-time ratio a 50-service topology at ~10,000
//       messages per simulated second reaches in the engine's Web Worker.
// It prints figures and asserts nothing: performance claims live here, never
// in timed tests. The scenarios are generated below (`particleScenario`,
// `serviceMeshScenario`) and written to tests/bench/artifacts/ for reuse.
//
// Run:   node tests/bench/live_perf.bench.mjs [--dist DIR] [--before DIR] [--seconds N]
//   --dist DIR     the build to measure (default: dist/)
//   --before DIR   a second build (e.g. of the parent commit) measured in the
//                  same run, interleaved, and reported as after/before ratios
//   --seconds N    real seconds measured per figure (default 6)

import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DIST, ROOT, launchChromium, startStaticServer } from '../e2e/support.mjs';

const ARTIFACTS = path.join(ROOT, 'tests', 'bench', 'artifacts');
/** One vsync at 60 Hz; a frame interval up to this (+1 ms of timer jitter) is on time. */
const FRAME_BUDGET_MS = 1000 / 60;
const ON_TIME_TOLERANCE_MS = 1.0;

function argument(name, fallback) {
  const index = process.argv.indexOf(name);
  return index >= 0 && index + 1 < process.argv.length ? process.argv[index + 1] : fallback;
}

/**
 * (a) 100 open-loop clients each calling their own sink over a 1 s link: at
 * 10 requests/s per pair about 2,000 messages are on the wire at any moment
 * (requests and responses), the budget's 2,000 particles. The engine lists up
 * to 2,500 (`MAX_IN_FLIGHT_MESSAGES_SHOWN`), so fluctuations stay dots.
 */
export function particleScenario() {
  const pairs = 100;
  const nodes = [];
  const links = [];
  const streams = [];
  for (let index = 0; index < pairs; index += 1) {
    const column = index % 10;
    const row = Math.floor(index / 10);
    nodes.push({
      id: `client-${index}`,
      kind: 'load_generator',
      position: { x: column * 190, y: row * 110 },
      properties: { request_timeout_ms: 10000, max_outstanding: 1000 },
    });
    nodes.push({
      id: `sink-${index}`,
      kind: 'sink',
      position: { x: 2300 + column * 190, y: row * 110 },
      properties: { workers: 64, queue_capacity: 1000, service_time: { constant: { value_ms: 1.0 } } },
    });
    links.push({
      from: `client-${index}`,
      to: `sink-${index}`,
      kind: 'sync_call',
      network: { latency: { constant: { value_ms: 1000.0 } } },
    });
    streams.push({
      id: `stream-${index}`,
      client: `client-${index}`,
      target: `sink-${index}`,
      pattern: { open_loop: { inter_arrival: { exponential: { mean_ms: 1000 / 10 } } } },
    });
  }
  return {
    version: 1,
    metadata: { title: 'Benchmark: 200 nodes, ~2,000 messages in flight' },
    topology: { nodes, links },
    workload: { streams },
    run: { seed: 1, duration_ms: 600000, sample_interval_ms: 1000 },
  };
}

/**
 * (b) 50 services in 5 chains of 10; each request walks its chain and back:
 * 5 entry streams × 100 requests/s × (10 calls + 10 responses) = 10,000
 * messages per simulated second.
 */
export function serviceMeshScenario() {
  const chains = 5;
  const depth = 10;
  const nodes = [{ id: 'clients', kind: 'load_generator', position: { x: 0, y: 400 },
    properties: { request_timeout_ms: 10000, max_outstanding: 100000 } }];
  const links = [];
  const streams = [];
  for (let chain = 0; chain < chains; chain += 1) {
    for (let hop = 0; hop < depth; hop += 1) {
      const id = `svc-${chain}-${hop}`;
      const steps = [{ compute: { service_time: { exponential: { mean_ms: 0.5 } } } }];
      if (hop + 1 < depth) steps.push({ call: { service: `svc-${chain}-${hop + 1}` } });
      nodes.push({
        id,
        kind: 'service',
        position: { x: 240 + hop * 220, y: chain * 180 },
        properties: { workers: 200, queue_capacity_requests: 2000, endpoints: [{ name: 'work', steps }] },
      });
      links.push({
        from: hop === 0 ? 'clients' : `svc-${chain}-${hop - 1}`,
        to: id,
        kind: 'sync_call',
        network: { latency: { constant: { value_ms: 1.0 } } },
      });
    }
    streams.push({
      id: `entry-${chain}`,
      client: 'clients',
      target: `svc-${chain}-0`,
      pattern: { open_loop: { inter_arrival: { exponential: { mean_ms: 10.0 } } } },
    });
  }
  return {
    version: 1,
    metadata: { title: 'Benchmark: 50 services, ~10,000 messages/s' },
    topology: { nodes, links },
    workload: { streams },
    run: { seed: 1, duration_ms: 3600000, sample_interval_ms: 1000 },
  };
}

function percentile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function openApp(context, baseUrl) {
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  await page.goto(baseUrl);
  await page.getByTestId('node').first().waitFor({ timeout: 60_000 });
  await page.waitForFunction(
    () => document.querySelector('[data-testid="engine-location-value"]')?.dataset.location === 'worker',
    undefined,
    { timeout: 60_000 },
  );
  return { page, problems };
}

async function upload(page, name, scenario, nodeCount) {
  await page.getByTestId('upload').setInputFiles({
    name,
    mimeType: 'application/json',
    buffer: Buffer.from(JSON.stringify(scenario)),
  });
  await page.waitForFunction(
    (count) => document.querySelectorAll('[data-testid="node"]').length === count,
    nodeCount,
    { timeout: 60_000 },
  );
}

async function setSpeed(page, label) {
  const slider = page.getByTestId('speed');
  const max = Number(await slider.getAttribute('max'));
  for (let stop = 0; stop <= max; stop += 1) {
    await slider.fill(String(stop));
    if ((await page.getByTestId('speed-value').textContent()) === label) return;
  }
  throw new Error(`no speed stop labelled ${label}`);
}

async function simSeconds(page) {
  const text = await page.getByTestId('sim-now').textContent();
  const match = /([0-9]+\.[0-9]+) s/.exec(text ?? '');
  if (!match) throw new Error(`unexpected clock text ${text}`);
  return Number(match[1]);
}

/** (a): frame intervals over `seconds` of play once ~2,000 particles are drawn. */
async function measureFrames(page, seconds) {
  await upload(page, 'bench-particles.json', particleScenario(), 200);
  await setSpeed(page, '1×');
  await page.getByRole('button', { name: 'Play', exact: true }).click();
  await page.waitForFunction(
    () => Number(document.querySelector('[data-testid="particles"]')?.dataset.drawn ?? 0) >= 1800,
    undefined,
    { timeout: 60_000, polling: 200 },
  );
  const sample = await page.evaluate(
    (durationMs) =>
      new Promise((resolve) => {
        const frames = [];
        const drawn = [];
        const started = performance.now();
        const tick = (time) => {
          frames.push(time);
          drawn.push(Number(document.querySelector('[data-testid="particles"]')?.dataset.drawn ?? 0));
          if (time - started < durationMs) requestAnimationFrame(tick);
          else resolve({ frames, drawn });
        };
        requestAnimationFrame(tick);
      }),
    seconds * 1000,
  );
  await page.getByRole('button', { name: 'Pause', exact: true }).click();
  const intervals = sample.frames.slice(1).map((time, index) => time - sample.frames[index]);
  const sorted = [...intervals].sort((a, b) => a - b);
  const onTime = intervals.filter((interval) => interval <= FRAME_BUDGET_MS + ON_TIME_TOLERANCE_MS).length;
  const meanDrawn = sample.drawn.reduce((sum, value) => sum + value, 0) / sample.drawn.length;
  return {
    frames: intervals.length,
    particles_drawn_mean: Math.round(meanDrawn),
    frame_ms_median: Number(percentile(sorted, 0.5).toFixed(2)),
    frame_ms_p95: Number(percentile(sorted, 0.95).toFixed(2)),
    frame_ms_max: Number(sorted[sorted.length - 1].toFixed(2)),
    share_on_time: Number((onTime / intervals.length).toFixed(3)),
    fps: Number(((intervals.length * 1000) / (sample.frames.at(-1) - sample.frames[0])).toFixed(1)),
  };
}

/** (b): simulated seconds per real second at the top speed, in the worker. */
async function measureSimRatio(page, seconds) {
  await upload(page, 'bench-services.json', serviceMeshScenario(), 51);
  await setSpeed(page, '10000×');
  await page.getByRole('button', { name: 'Play', exact: true }).click();
  // Let the worker warm up (first requests, JIT) before timing.
  await page.waitForTimeout(1000);
  const simStart = await simSeconds(page);
  const wallStart = Date.now();
  await page.waitForTimeout(seconds * 1000);
  const simEnd = await simSeconds(page);
  const wallMs = Date.now() - wallStart;
  const eventsPerSecond = await page.getByTestId('events-per-second').textContent().catch(() => null);
  await page.getByRole('button', { name: 'Pause', exact: true }).click();
  return {
    sim_seconds: Number((simEnd - simStart).toFixed(3)),
    wall_seconds: Number((wallMs / 1000).toFixed(3)),
    sim_per_real: Number(((simEnd - simStart) / (wallMs / 1000)).toFixed(2)),
    engine_events_per_second_shown: eventsPerSecond?.trim() ?? null,
  };
}

async function measureBuild(label, distDir, seconds) {
  const { server, baseUrl } = await startStaticServer(distDir);
  const userDataDir = await mkdtemp(path.join(tmpdir(), 'faultline-bench-'));
  const context = await launchChromium(userDataDir);
  try {
    const { page, problems } = await openApp(context, baseUrl);
    const frames = await measureFrames(page, seconds);
    await page.screenshot({ path: path.join(ARTIFACTS, `bench-${label}-particles.png`) });
    const simRatio = await measureSimRatio(page, seconds);
    if (problems.length > 0) console.error(`${label}: ${problems.join('; ')}`);
    return { frames, simRatio };
  } finally {
    await context.close();
    await new Promise((resolve) => server.close(resolve));
    await rm(userDataDir, { recursive: true, force: true });
  }
}

function ratio(after, before) {
  return before === 0 ? null : Number((after / before).toFixed(2));
}

async function main() {
  const distDir = path.resolve(argument('--dist', DIST));
  const beforeDir = argument('--before', null);
  const seconds = Number(argument('--seconds', '6'));
  await stat(path.join(distDir, 'index.html')).catch(() => {
    throw new Error(`${distDir}/index.html is missing: run \`trunk build --release\` first`);
  });
  await mkdir(ARTIFACTS, { recursive: true });
  await writeFile(path.join(ARTIFACTS, 'bench-particles.json'), JSON.stringify(particleScenario(), null, 1));
  await writeFile(path.join(ARTIFACTS, 'bench-services.json'), JSON.stringify(serviceMeshScenario(), null, 1));
  const results = {};
  if (beforeDir) {
    // Interleaved, twice each, so machine load affects both builds alike.
    const runs = { before: [], after: [] };
    for (let round = 0; round < 2; round += 1) {
      runs.before.push(await measureBuild('before', path.resolve(beforeDir), seconds));
      runs.after.push(await measureBuild('after', distDir, seconds));
    }
    const best = (list) => ({
      frames: list.map((run) => run.frames).sort((a, b) => b.share_on_time - a.share_on_time)[0],
      simRatio: list.map((run) => run.simRatio).sort((a, b) => b.sim_per_real - a.sim_per_real)[0],
    });
    results.before = best(runs.before);
    results.after = best(runs.after);
    results.all_runs = runs;
    results.after_over_before = {
      frame_ms_median: ratio(results.after.frames.frame_ms_median, results.before.frames.frame_ms_median),
      frame_ms_p95: ratio(results.after.frames.frame_ms_p95, results.before.frames.frame_ms_p95),
      share_on_time: ratio(results.after.frames.share_on_time, results.before.frames.share_on_time),
      sim_per_real: ratio(results.after.simRatio.sim_per_real, results.before.simRatio.sim_per_real),
    };
  } else {
    results.after = await measureBuild('current', distDir, seconds);
  }
  console.log(JSON.stringify(results, null, 2));
  await writeFile(path.join(ARTIFACTS, 'live-perf.json'), JSON.stringify(results, null, 2));
}

if (process.argv[1] && process.argv[1].endsWith("live_perf.bench.mjs")) await main();

#!/usr/bin/env node
/**
 * Which requests make the c=1 p99, and why: one client sends requests one at a time for a few
 * seconds, recording each one's start and latency, to the gateway (dist/, pinned to core 0), to
 * the bare proxy (bench/bare-proxy.mjs, core 0) and directly to the mock upstream (core 1, with
 * the client). The gateway and the bare proxy run with bench/lib/gc-log.mjs, which records their
 * garbage collections and event-loop gaps (the bare proxy's gaps are the machine's). A request
 * slower than the threshold (the direct run's p99 + 1 ms, issue 2's budget) counts against p99;
 * each slow request is put down to a GC that overlapped it, else to an event-loop gap, else to
 * neither (the machine, or a stall shorter than the gap detector sees).
 *
 * Each run's first --warmup seconds are left out (a new client connection, and a gateway idle
 * since its last run, are slow for a second or so; npm run bench warms up likewise).
 *
 * `npm run build && node bench/c1-tail.mjs [--seconds=10] [--rounds=2] [--warmup=2] [--gap-ms=2.5]
 *  [--dist=dist] [--b-dist=DIR] [--b-config=YAML] [--b-flags=...]`
 * - --b-dist: a second build, run as `switchyard-b` in the same rounds;
 * - --b-config: YAML at the top of `switchyard-b`'s config, e.g. `request_log: { enabled: false }`
 *   (each of its one-line top-level keys replaces the base config's line);
 * - --b-flags: node flags for `switchyard-b`, space-separated.
 * Either of the last two without --b-dist runs the same build as `switchyard-b`.
 */
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BENCH_MESSAGES } from './lib/bodies.mjs';
import { freePort, onJsonLines, pinningAvailable, spawnGateway, spawnNode, startListener, stopChild, waitForHttp } from './lib/proc.mjs';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, rounds: { type: 'string', default: '2' }, dist: { type: 'string', default: 'dist' }, 'b-dist': { type: 'string' }, 'b-config': { type: 'string', default: '' }, 'b-flags': { type: 'string', default: '' }, 'gap-ms': { type: 'string', default: '2.5' }, warmup: { type: 'string', default: '2' } } });
process.env.BENCH_GAP_MS = values['gap-ms'];
const SECONDS = Number(values.seconds);
const WARMUP_MS = Number(values.warmup) * 1000;
const ROUNDS = Number(values.rounds);
const REPO = fileURLToPath(new URL('..', import.meta.url));
const bench = (file) => fileURLToPath(new URL(file, import.meta.url));
const MASTER_KEY = 'sk-sy-bench-master-key-0123456789abcdef';
const MODEL = 'gpt-4o-mini';
const BODY = JSON.stringify({ model: MODEL, messages: BENCH_MESSAGES, temperature: 0.2, max_tokens: 256 });
const GATEWAY_CORE = 0;
const LOAD_CORE = 1;

const bBuild = values['b-dist'] ?? (values['b-config'] || values['b-flags'] ? values.dist : undefined);
const builds = { switchyard: values.dist, ...(bBuild ? { 'switchyard-b': bBuild } : {}) };
for (const build of Object.values(builds)) {
  if (!existsSync(resolve(REPO, build, 'main.js'))) throw new Error(`${resolve(REPO, build, 'main.js')} is missing: npm run build first`);
}
const pinning = pinningAvailable();
if (!pinning.ok) throw new Error(`this benchmark needs two cores to pin to (${pinning.why})`);

const dir = mkdtempSync(join(tmpdir(), 'switchyard-c1-tail-'));
const children = [];
try {
  const upstream = await startListener(children, LOAD_CORE, [bench('./upstream.mjs'), '--port=0'], 'the mock upstream');
  // The bare proxy records its GCs and loop gaps too: the gaps it sees are the machine's.
  const bareHome = join(dir, 'bare');
  mkdirSync(bareHome);
  process.env.BENCH_GC_LOG = join(bareHome, 'gc-log.json');
  const bare = await startListener(children, GATEWAY_CORE, ['--import', bench('./lib/gc-log.mjs'), bench('./bare-proxy.mjs'), `--upstream=${upstream.origin}`, '--port=0'], 'the bare proxy');
  delete process.env.BENCH_GC_LOG;
  const gateways = {};
  for (const [name, build] of Object.entries(builds)) gateways[name] = await startGateway(name, build, upstream.origin);

  const targets = { ...Object.fromEntries(Object.entries(gateways).map(([name, gateway]) => [name, gateway.origin])), bare: bare.origin, direct: upstream.origin };
  for (const origin of Object.values(targets)) await runClient(origin, 5, join(dir, 'warm-up.json'));
  console.log(`c=1 for ${SECONDS} s per run after ${values.warmup} s of warm-up, ${ROUNDS} round(s); gateway on core ${GATEWAY_CORE}, client and mock upstream on core ${LOAD_CORE}\n`);
  console.log('run            requests   p50 ms   p99 ms   over threshold   of which: GC   loop gap   neither');
  for (let round = 1; round <= ROUNDS; round++) {
    const runs = {};
    for (const [name, origin] of Object.entries(targets)) {
      const file = join(dir, `${name}-${round}.json`);
      await runClient(origin, SECONDS + WARMUP_MS / 1000, file);
      const samples = JSON.parse(readFileSync(file, 'utf8'));
      runs[name] = samples.filter(([start]) => start >= samples[0][0] + WARMUP_MS);
    }
    const threshold = quantile(runs.direct.map(([, ms]) => ms), 0.99) + 1;
    const events = {};
    for (const [name, gateway] of Object.entries({ ...gateways, bare: { child: bare.child, home: bareHome } })) {
      const samples = runs[name];
      events[name] = within(await gatewayEvents(gateway), [samples[0][0], samples.at(-1)[0] + samples.at(-1)[1]]);
    }
    for (const [name, samples] of Object.entries(runs)) console.log(row(`${name} ${round}`, samples, threshold, events[name]));
    console.log(`  threshold ${threshold.toFixed(3)} ms`);
    for (const [name, { gcs, gaps }] of Object.entries(events)) console.log(`  ${name}: ${gcs.length} GCs during its run (mean ${mean(gcs.map(([, ms]) => ms)).toFixed(3)} ms), ${gaps.length} loop gaps over ${values['gap-ms']} ms`);
    console.log('');
  }
} finally {
  for (const child of children.reverse()) await stopChild(child, 3000);
  rmSync(dir, { recursive: true, force: true });
}

async function startGateway(name, build, upstreamOrigin) {
  const home = join(dir, name);
  mkdirSync(home);
  const configPath = join(home, 'switchyard.yaml');
  const extra = name === 'switchyard-b' ? values['b-config'] : '';
  // A top-level key in --b-config replaces the base config's line for it.
  const replaced = new Set(extra.split('\n').map((line) => /^(\w+):/.exec(line)?.[1]).filter(Boolean));
  const base = `server: { host: 127.0.0.1, port: 8080, shutdown_grace_ms: 3000 }
auth: { master_key: ${MASTER_KEY} }
storage: { url: "sqlite://${home}/switchyard.db" }
logging: { level: info }
providers:
  mock-openai: { type: openai, api_key: sk-bench-upstream, base_url: "${upstreamOrigin}/v1" }
models:
  ${MODEL}:
    targets: [ { provider: mock-openai, model: ${MODEL} } ]
`;
  writeFileSync(configPath, `${extra}\n${base.split('\n').filter((line) => !replaced.has(/^(\w+):/.exec(line)?.[1])).join('\n')}`);
  const port = await freePort();
  const child = spawnGateway(GATEWAY_CORE, resolve(REPO, build, 'main.js'), ['start', '--config', configPath], {
    cwd: home,
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), BENCH_GC_LOG: join(home, 'gc-log.json') },
    stdio: ['ignore', 'ignore', openSync(join(home, 'gateway.stderr'), 'w')],
  }, ['--import', bench('./lib/gc-log.mjs'), ...(name === 'switchyard-b' ? values['b-flags'].split(' ').filter(Boolean) : [])]);
  children.push(child);
  const origin = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${origin}/health/ready`, { child });
  } catch (err) {
    throw new Error(`the gateway (${build}) did not start: ${err.message}\n${readFileSync(join(home, 'gateway.stderr'), 'utf8')}`);
  }
  return { child, origin, home };
}

function runClient(origin, seconds, out) {
  const spec = { origin, path: '/v1/chat/completions', headers: { authorization: `Bearer ${MASTER_KEY}`, 'content-type': 'application/json' }, body: BODY, seconds, out };
  const child = spawnNode(LOAD_CORE, [bench('./lib/c1-client.mjs'), JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let done = false;
    onJsonLines(child.stdout, (event) => (done ||= event.event === 'result'));
    child.once('exit', (code) => (code === 0 && done ? resolve() : reject(new Error(`the c=1 client failed against ${origin} (exit ${code})`))));
  });
}

/** The events that began within [from, to] (wall-clock ms). */
function within({ gcs, gaps }, [from, to]) {
  const inside = ([at]) => at >= from && at <= to;
  return { gcs: gcs.filter(inside), gaps: gaps.filter(inside) };
}

/** The GCs and loop gaps the gateway recorded since the last call (it writes them on SIGUSR2). */
async function gatewayEvents(gateway) {
  const file = join(gateway.home, 'gc-log.json');
  rmSync(file, { force: true });
  gateway.child.kill('SIGUSR2');
  for (let i = 0; i < 100 && !existsSync(file); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  return JSON.parse(readFileSync(file, 'utf8'));
}

function row(name, samples, threshold, events) {
  const latencies = samples.map(([, ms]) => ms);
  const slow = samples.filter(([, ms]) => ms > threshold);
  const share = (count) => `${((100 * count) / samples.length).toFixed(2)}%`;
  let cause = '';
  if (events) {
    const overlaps = (list, start, ms) => list.some(([at, length]) => at < start + ms && at + length > start);
    const gc = slow.filter(([start, ms]) => overlaps(events.gcs, start, ms));
    const gap = slow.filter(([start, ms]) => !overlaps(events.gcs, start, ms) && overlaps(events.gaps, start, ms));
    cause = `${share(gc.length).padStart(14)}${share(gap.length).padStart(11)}${share(slow.length - gc.length - gap.length).padStart(10)}`;
  }
  return `${name.padEnd(14)}${String(samples.length).padStart(9)}${quantile(latencies, 0.5).toFixed(3).padStart(9)}${quantile(latencies, 0.99).toFixed(3).padStart(9)}${share(slow.length).padStart(17)}${cause}`;
}


function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function mean(values) {
  return values.length === 0 ? 0 : values.reduce((sum, value) => sum + value, 0) / values.length;
}

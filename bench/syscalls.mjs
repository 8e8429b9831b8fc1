#!/usr/bin/env node
/**
 * What a gateway build asks of the kernel per request: system calls (SQLite's WAL writes, its
 * locks, checkpoint fsyncs, socket writes) and CPU, counted by `perf stat` on the gateway's pid
 * while a closed loop loads it, and optionally its garbage collections (`--gc`: V8's
 * --trace-gc-nvp lines). Counts of system calls are steady where timings on a shared VM are not,
 * which makes this the way to see an I/O change through the noise.
 *
 * `npm run build && node bench/syscalls.mjs [--a=dist] [--b=DIR] [--rounds=2] [--seconds=10]
 *  [--concurrency=64] [--stream] [--gc]`
 *
 * Each round starts a fresh gateway per build (core 0; the mock upstream and the load generator on
 * core 1, a database of its own), primes it for 5 s, then counts over `--seconds` of load. Needs
 * Linux `perf` with the syscalls tracepoints (root, or kernel.perf_event_paranoid <= 1).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BENCH_MESSAGES } from './lib/bodies.mjs';
import { freePort, median, onJsonLines, pinningAvailable, spawnGateway, spawnNode, startListener, stopChild, waitForHttp } from './lib/proc.mjs';

const { values } = parseArgs({
  options: {
    a: { type: 'string', default: 'dist' },
    b: { type: 'string' },
    rounds: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '64' },
    stream: { type: 'boolean', default: false },
    gc: { type: 'boolean', default: false },
  },
});
const REPO = fileURLToPath(new URL('..', import.meta.url));
const bench = (file) => fileURLToPath(new URL(file, import.meta.url));
const KEY = 'sk-sy-bench-master-key-0123456789abcdef';
const MODEL = 'gpt-4o-mini';
const SYSCALLS = ['pwrite64', 'pread64', 'fcntl', 'fsync', 'fdatasync', 'write', 'writev', 'read'];
const EVENTS = ['task-clock', ...SYSCALLS.map((name) => `syscalls:sys_enter_${name}`)];
const builds = { A: values.a, ...(values.b ? { B: values.b } : {}) };
for (const dir of Object.values(builds)) {
  if (!existsSync(resolve(REPO, dir, 'main.js'))) throw new Error(`${resolve(REPO, dir, 'main.js')} is missing: npm run build first`);
}
if (!pinningAvailable().ok) throw new Error('this benchmark needs two cores to pin to');
try {
  execFileSync('perf', ['stat', '-e', EVENTS.join(','), 'true'], { stdio: 'ignore' });
} catch {
  console.error('bench/syscalls.mjs needs `perf` with the syscalls tracepoints (run as root, or lower kernel.perf_event_paranoid)');
  process.exit(2);
}

const body = JSON.stringify({ model: MODEL, messages: BENCH_MESSAGES, temperature: 0.2, max_tokens: 256, ...(values.stream ? { stream: true } : {}) });
const dir = mkdtempSync(join(tmpdir(), 'switchyard-syscalls-'));
const children = [];
const results = Object.fromEntries(Object.keys(builds).map((name) => [name, []]));
try {
  const upstream = await startListener(children, 1, [bench('./upstream.mjs'), '--port=0'], 'the mock upstream');
  for (let round = 1; round <= Number(values.rounds); round++) {
    for (const [name, build] of Object.entries(builds)) {
      const run = await measure(`${name}-${round}`, build, upstream.origin);
      results[name].push(run);
      console.log(`round ${round} ${name} (${build}): ${format(run)}`);
    }
  }
  console.log(`\nmedians, per request (c=${values.concurrency}, ${values.stream ? 'streaming' : 'non-streaming'}, ${values.seconds} s counted per run):`);
  for (const [name, runs] of Object.entries(results)) {
    const medianRun = Object.fromEntries(Object.keys(runs[0]).map((key) => [key, median(runs.map((run) => run[key]))]));
    console.log(`${name} (${builds[name]}): ${format(medianRun)}`);
  }
} finally {
  for (const child of children.reverse()) await stopChild(child, 3000);
  rmSync(dir, { recursive: true, force: true });
}

async function measure(label, build, upstreamOrigin) {
  const home = join(dir, label);
  mkdirSync(home);
  writeFileSync(join(home, 'switchyard.yaml'), `auth: { master_key: ${KEY} }
storage: { url: "sqlite://${home}/switchyard.db" }
providers:
  mock-openai: { type: openai, api_key: sk-bench-upstream, base_url: "${upstreamOrigin}/v1" }
models:
  ${MODEL}: { targets: [ { provider: mock-openai, model: ${MODEL} } ] }
`);
  const port = await freePort();
  const log = join(home, 'gateway.log');
  const gateway = spawnGateway(0, resolve(REPO, build, 'main.js'), ['start', '--config', join(home, 'switchyard.yaml')], {
    cwd: home,
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port) },
    stdio: ['ignore', openSync(log, 'w'), 'inherit'],
  }, values.gc ? ['--trace-gc-nvp'] : []);
  try {
    const origin = `http://127.0.0.1:${port}`;
    await waitForHttp(`${origin}/health/ready`, { child: gateway });
    await load(origin, 5);
    const gcBefore = values.gc ? gcTotals(log) : null;
    const counts = join(home, 'perf.csv');
    const perf = spawn('perf', ['stat', '-x,', '-o', counts, '-e', EVENTS.join(','), '-p', String(gateway.pid)], { stdio: 'ignore' });
    await new Promise((done) => setTimeout(done, 300)); // perf attached
    const result = await load(origin, Number(values.seconds));
    perf.kill('SIGINT');
    await new Promise((done) => perf.once('exit', done));
    const requests = result.started;
    const run = { rps: result.rps };
    for (const line of readFileSync(counts, 'utf8').split('\n').filter((text) => /^[\d.]/.test(text))) {
      const [value, , event] = line.split(',');
      run[event === 'task-clock' ? 'cpuUs' : event.replace('syscalls:sys_enter_', '')] = (Number(value) * (event === 'task-clock' ? 1000 : 1)) / requests;
    }
    if (gcBefore) {
      const gcAfter = gcTotals(log);
      run.scavengesPer1k = ((gcAfter.scavenges - gcBefore.scavenges) * 1000) / requests;
      run.promotedKbPerRequest = (gcAfter.promoted - gcBefore.promoted) / 1024 / requests;
      run.markCompactsPer1k = ((gcAfter.markCompacts - gcBefore.markCompacts) * 1000) / requests;
    }
    return run;
  } finally {
    await stopChild(gateway, 3000);
  }
}

/** Closed-loop load for `seconds` (no warm-up window: every request counts). */
function load(origin, seconds) {
  const spec = { origin, path: '/v1/chat/completions', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body, stream: values.stream, concurrency: Number(values.concurrency), warmupMs: 0, durationMs: seconds * 1000 };
  const child = spawnNode(1, [bench('./load.mjs'), JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((done, fail) => {
    let result;
    onJsonLines(child.stdout, (event) => (result = event.event === 'result' ? event : result));
    child.once('exit', (code) => {
      if (code !== 0 || !result) return fail(new Error(`the load generator failed (exit ${code})`));
      if (result.errors > 0) return fail(new Error(`${result.errors} requests failed; first: ${JSON.stringify(result.errorSamples[0])}`));
      done(result);
    });
  });
}

/** Scavenges, mark-compacts and promoted bytes so far, from the gateway's --trace-gc-nvp lines. */
function gcTotals(log) {
  const totals = { scavenges: 0, markCompacts: 0, promoted: 0 };
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    const kind = / gc=(\w+)/.exec(line)?.[1];
    if (!kind) continue;
    if (kind === 's') totals.scavenges++;
    if (kind === 'mc') totals.markCompacts++;
    totals.promoted += Number(/[ ,]promoted=(\d+)/.exec(line)?.[1] ?? 0);
  }
  return totals;
}

function format(run) {
  // fsyncs are rare (SQLite's checkpoints): per thousand requests.
  const rare = new Set(['fsync', 'fdatasync']);
  const calls = SYSCALLS.map((name) => (rare.has(name) ? `${name}/1k ${(run[name] * 1000).toFixed(2)}` : `${name} ${run[name].toFixed(3)}`));
  const parts = [`${Math.round(run.rps)} req/s`, `CPU ${run.cpuUs.toFixed(0)} µs`, ...calls];
  if ('scavengesPer1k' in run) parts.push(`scavenges/1k ${run.scavengesPer1k.toFixed(1)}`, `promoted ${run.promotedKbPerRequest.toFixed(2)} KB`, `mark-compacts/1k ${run.markCompactsPer1k.toFixed(2)}`);
  return parts.join(', ');
}

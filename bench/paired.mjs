#!/usr/bin/env node
/**
 * Issue 6's ratio measured in pairs: the core benchmark's gateway (SQLite storage, metrics and the
 * request log on; pinned to core 0) under a closed loop of `--concurrency` requests, the key they
 * carry switching between the master key and the benchmarks' virtual key (a key in a team in an
 * org, each with RPM, TPM and a budget: 10 rules; bench/lib/governed-key.mjs) every `--slice`
 * seconds. Each slice gives the gateway's CPU time per request and the requests per second served
 * with its key; every virtual-key slice is set against the mean of the master-key slices on either
 * side of it, and the medians of those ratios are printed with their quartiles.
 *
 * Separate runs (bench/compare.mjs) put minutes between the two sides, and on a shared machine
 * the same build moves by ±5–15% in that time; here both sides of a pair are a second apart in one
 * process, so what the machine does moves them alike.
 *
 *   node bench/paired.mjs [--dist=dist] [--slices=30] [--slice=2] [--concurrency=64] [--stream]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { governedKey } from './lib/governed-key.mjs';
import { cpuSecondsOf, freePort, median, pinSelf, pinningAvailable, spawnNode, startListener, stopChild, waitForHttp } from './lib/proc.mjs';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const UPSTREAM = fileURLToPath(new URL('./upstream.mjs', import.meta.url));
const MASTER = 'sk-sy-bench-master-key-0123456789abcdef';
const MODEL = 'gpt-4o-mini';
const GATEWAY_CORE = 0;
const LOAD_CORE = 1;
/** After a switch, the requests still in flight carry the other key: left out of both slices. */
const SETTLE_MS = 100;

const { values } = parseArgs({
  options: {
    dist: { type: 'string', default: 'dist' },
    slices: { type: 'string', default: '30' },
    slice: { type: 'string', default: '2' },
    warmup: { type: 'string', default: '4' },
    concurrency: { type: 'string', default: '64' },
    stream: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log('Usage: node bench/paired.mjs [--dist=dist] [--slices=30] [--slice=2] [--warmup=4] [--concurrency=64] [--stream]');
  process.exit(0);
}
const slices = Math.max(3, Number(values.slices));
const sliceMs = Number(values.slice) * 1000;
const concurrency = Number(values.concurrency);
const stream = values.stream;

const body = JSON.stringify({
  model: MODEL,
  messages: [
    { role: 'system', content: 'You are a concise technical assistant. Answer in one short paragraph.' },
    { role: 'user', content: 'Explain what load balancing is, and why an LLM gateway in front of several model providers benefits from it.' },
  ],
  temperature: 0.2,
  max_tokens: 256,
  ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
});

const children = [];
const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-paired-'));
try {
  const pinning = pinningAvailable();
  if (!pinning.ok) console.error(`bench: not pinned to cores (${pinning.why}); the pairs still share the machine alike`);
  const core = (n) => (pinning.ok ? n : null);
  const upstream = await startListener(children, core(LOAD_CORE), [UPSTREAM, '--port=0'], 'the mock upstream');
  const configPath = join(dir, 'switchyard.yaml');
  writeFileSync(
    configPath,
    `auth: { master_key: ${MASTER} }
storage: { url: "sqlite://${dir}/switchyard.db" }
providers:
  mock-openai: { type: openai, api_key: sk-bench-upstream, base_url: "${upstream.origin}/v1" }
models:
  ${MODEL}: { targets: [ { provider: mock-openai, model: ${MODEL} } ] }
`,
  );
  const port = await freePort();
  const gateway = spawnNode(core(GATEWAY_CORE), [join(REPO, values.dist, 'main.js'), 'start', '--config', configPath], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info' },
  });
  children.push(gateway);
  const origin = `http://127.0.0.1:${port}`;
  await waitForHttp(`${origin}/health/ready`, { child: gateway });
  const virtualKey = await governedKey(origin, MASTER, MODEL);
  if (pinning.ok) pinSelf(LOAD_CORE);

  const keys = { master: MASTER, governed: virtualKey };
  const headersOf = {};
  for (const [name, secret] of Object.entries(keys)) {
    headersOf[name] = { 'content-type': 'application/json', authorization: `Bearer ${secret}`, 'content-length': String(Buffer.byteLength(body)) };
  }

  // The closed loop: each worker sends the current key; a completion counts for the slice it started in.
  const pool = new Pool(origin, { connections: concurrency, pipelining: 1, keepAliveTimeout: 120_000, headersTimeout: 30_000, bodyTimeout: 30_000 });
  let current = 'master';
  /** The slice being counted (null: between slices). */
  let counting = null;
  let running = true;
  let failures = 0;
  let firstFailure;
  const worker = async () => {
    while (running) {
      const key = current;
      const slice = counting;
      try {
        const res = await pool.request({ path: '/v1/chat/completions', method: 'POST', headers: headersOf[key], body });
        await res.body.dump({ limit: Number.POSITIVE_INFINITY });
        if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
        if (slice !== null && slice === counting && slice.key === key) slice.requests++;
      } catch (err) {
        failures++;
        firstFailure ??= err;
      }
    }
  };
  const workers = Array.from({ length: concurrency }, worker);

  // Warm both paths up, alternating as the measurement does.
  const warmupEnd = Date.now() + Number(values.warmup) * 1000;
  while (Date.now() < warmupEnd) {
    current = current === 'master' ? 'governed' : 'master';
    await sleep(500);
  }

  const measured = [];
  for (let i = 0; i < slices; i++) {
    current = i % 2 === 0 ? 'master' : 'governed';
    counting = null;
    await sleep(SETTLE_MS);
    const slice = { key: current, requests: 0, cpuSeconds: 0, ms: 0 };
    const cpuStart = cpuSecondsOf(gateway.pid);
    const start = performance.now();
    counting = slice;
    await sleep(sliceMs);
    counting = null;
    slice.ms = performance.now() - start;
    slice.cpuSeconds = cpuSecondsOf(gateway.pid) - cpuStart;
    measured.push(slice);
  }
  running = false;
  await Promise.all(workers);
  await pool.close();
  if (failures > 0) throw new Error(`${failures} requests failed; the first: ${firstFailure?.message}`);

  // Each virtual-key slice against the mean of the master-key slices either side of it.
  const rps = (slice) => (slice.requests * 1000) / slice.ms;
  const cpuUs = (slice) => (slice.cpuSeconds * 1e6) / Math.max(1, slice.requests);
  const pairs = [];
  for (let i = 1; i < measured.length - 1; i += 2) {
    const [before, governed, after] = [measured[i - 1], measured[i], measured[i + 1]];
    pairs.push({
      rps: rps(governed) / ((rps(before) + rps(after)) / 2),
      cpu: cpuUs(governed) / ((cpuUs(before) + cpuUs(after)) / 2),
    });
  }
  const quartiles = (list) => {
    const sorted = [...list].sort((a, b) => a - b);
    const at = (q) => sorted[Math.min(sorted.length - 1, Math.round(q * (sorted.length - 1)))];
    return { p25: at(0.25), p50: median(sorted), p75: at(0.75) };
  };
  const percent = (ratio) => `${((ratio - 1) * 100).toFixed(1)}%`;
  const masters = measured.filter((slice) => slice.key === 'master');
  const governed = measured.filter((slice) => slice.key === 'governed');
  const throughput = quartiles(pairs.map((pair) => pair.rps));
  const cpu = quartiles(pairs.map((pair) => pair.cpu));
  console.log(`paired: ${values.dist}, ${stream ? 'streaming' : 'non-streaming'}, c=${concurrency}, ${slices} slices of ${values.slice} s, ${pairs.length} pairs`);
  console.log(`  master key:  ${median(masters.map(rps)).toFixed(0)} req/s, ${median(masters.map(cpuUs)).toFixed(1)} µs CPU per request (medians of the slices)`);
  console.log(`  virtual key: ${median(governed.map(rps)).toFixed(0)} req/s, ${median(governed.map(cpuUs)).toFixed(1)} µs CPU per request`);
  console.log(`  virtual / master, median of the pairs [quartiles]: req/s ${percent(throughput.p50)} [${percent(throughput.p25)} .. ${percent(throughput.p75)}], CPU per request ${percent(cpu.p50)} [${percent(cpu.p25)} .. ${percent(cpu.p75)}]`);
} finally {
  for (const child of children) await stopChild(child);
  rmSync(dir, { recursive: true, force: true });
}

#!/usr/bin/env node
/**
 * The exact-cache hit path under load (`npm run bench:cache`): the gateway pinned to one core
 * answers one cached request over and over, from the memory store and from Redis, while the load
 * generator (bench/load.mjs) runs on the other core. Reports requests/s and latency percentiles
 * against the issue's figures (≥ 15,000 req/s; p99 < 1 ms memory, < 2 ms Redis), and — for scale —
 * the same gateway answering a miss from its built-in mock provider.
 *
 *   node bench/cache.mjs [--duration=S] [--warmup=S] [--concurrency=N] [--stores=memory,redis] [--markdown]
 *
 * Redis is REDIS_URL (default redis://127.0.0.1:6379); the Redis run is skipped if it is down.
 * Throughput (and the gateway's CPU per request) is measured at a concurrency that keeps its core
 * busy (default 8); latency also at concurrency 1, where it is the path's own and not queueing.
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { freePort, loadWithCpu, pinSelf, pinningAvailable, spawnGateway, stopChild, waitForHttp } from './lib/proc.mjs';

const HELP = `Usage: node bench/cache.mjs [OPTIONS]     (after npm run build)

Options:
  --duration=S       measured seconds per run          [BENCH_DURATION, 10]
  --warmup=S         warm-up seconds per run            [BENCH_WARMUP, 3]
  --concurrency=N    connections of the load generator  [BENCH_CONCURRENCY, 8]
  --stores=LIST      memory,redis,redis-near (Redis with a 5 s near cache)  [BENCH_STORES, memory,redis,redis-near]
  --log-level=L      the gateway's LOG_LEVEL (its log goes to a file) [BENCH_LOG_LEVEL, info]
  --dist=DIR         the gateway build to run           [BENCH_DIST, dist]
  --markdown         print the table as Markdown
  --help`;

const REPO = fileURLToPath(new URL('..', import.meta.url));
const LOAD = fileURLToPath(new URL('./load.mjs', import.meta.url));
const TARGET_RPS = 15_000;
const TARGET_P99_MS = { memory: 1, redis: 2, 'redis-near': 2 };

const { values: opts } = parseArgs({
  options: {
    duration: { type: 'string', default: process.env.BENCH_DURATION ?? '10' },
    warmup: { type: 'string', default: process.env.BENCH_WARMUP ?? '3' },
    concurrency: { type: 'string', default: process.env.BENCH_CONCURRENCY ?? '8' },
    stores: { type: 'string', default: process.env.BENCH_STORES ?? 'memory,redis,redis-near' },
    'log-level': { type: 'string', default: process.env.BENCH_LOG_LEVEL ?? 'info' },
    dist: { type: 'string', default: process.env.BENCH_DIST ?? 'dist' },
    markdown: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (opts.help) {
  console.log(HELP);
  process.exit(0);
}

const pinned = pinningAvailable();
const GATEWAY_CORE = pinned ? 0 : null;
const LOAD_CORE = pinned ? 1 : null;
if (pinned) pinSelf(1);
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

const BODY = JSON.stringify({
  model: 'cached',
  messages: [
    { role: 'system', content: 'You are a concise technical assistant. Answer in one short paragraph.' },
    { role: 'user', content: 'What does an LLM gateway do, and why would a team put one in front of its providers?' },
  ],
  temperature: 0,
});

function config(store, prefix) {
  return `
providers:
  demo: { type: mock }
${store.startsWith('redis') ? `redis: { url: "${REDIS_URL}" }\ncache: { store: redis, key_prefix: "${prefix}", near_ttl: ${store === 'redis-near' ? 5 : 0} }` : 'cache: { store: memory }'}
models:
  cached:
    targets: [ { provider: demo, model: mock } ]
    cache: { exact: true, ttl: 3600 }
  uncached:
    targets: [ { provider: demo, model: mock } ]
    coalesce: off
`;
}

async function startGateway(dir, store) {
  const main = join(REPO, opts.dist, 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: run npm run build first`);
  const configPath = join(dir, `${store}.yaml`);
  writeFileSync(configPath, config(store, `switchyard-bench-${process.pid}:`));
  const port = await freePort();
  const out = openSync(join(dir, `${store}.log`), 'w');
  const child = spawnGateway(GATEWAY_CORE, main, ['start', '--config', configPath], {
    cwd: dir,
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: opts['log-level'] },
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  const origin = `http://127.0.0.1:${port}`;
  await waitForHttp(`${origin}/health/ready`, { child });
  return { child, origin };
}

async function redisUp() {
  const { Redis } = await import('ioredis');
  const client = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 500 });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/** Throughput and CPU per request at `--concurrency`, then latency at concurrency 1. */
async function run(gateway, model, what) {
  const body = BODY.replace('"model":"cached"', `"model":"${model}"`);
  const spec = (concurrency) => ({ origin: gateway.origin, path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body, stream: false, concurrency, warmupMs: Number(opts.warmup) * 1000, durationMs: Number(opts.duration) * 1000 });
  const { rps, cpuUsPerRequest, result } = await loadWithCpu({ core: LOAD_CORE, loadScript: LOAD, spec: spec(Number(opts.concurrency)), pid: gateway.child.pid, what });
  const single = await loadWithCpu({ core: LOAD_CORE, loadScript: LOAD, spec: spec(1), pid: gateway.child.pid, what: `${what} (c=1)` });
  return { what, rps, cpuUsPerRequest, latency: result.total, single: single.result.total };
}

const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-cache-'));
const rows = [];
try {
  for (const store of opts.stores.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (store.startsWith('redis') && !(await redisUp())) {
      console.error(`Redis at ${REDIS_URL} is not reachable: the Redis run is skipped`);
      continue;
    }
    const gateway = await startGateway(dir, store);
    try {
      // Prime the cache; the store is written in the background after the answer.
      const primed = await request(`${gateway.origin}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY });
      await primed.body.text();
      await new Promise((resolve) => setTimeout(resolve, 200));
      const check = await request(`${gateway.origin}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY });
      await check.body.text();
      if (check.headers['x-switchyard-cache'] !== 'HIT') throw new Error(`${store}: the primed request is not a hit (${check.headers['x-switchyard-cache']})`);
      rows.push({ store, ...(await run(gateway, 'cached', `${store} hit`)) });
      if (store === 'memory') rows.push({ store: 'none', ...(await run(gateway, 'uncached', 'mock provider, no cache')) });
    } finally {
      await stopChild(gateway.child);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const ms = (us) => (us / 1000).toFixed(3);
const header = ['run', `req/s (c=${opts.concurrency})`, 'gateway CPU µs/req', `p50 / p99 ms (c=${opts.concurrency})`, 'p50 / p99 / p99.9 ms (c=1)', 'target'];
const lines = rows.map((row) => {
  const met = row.rps >= TARGET_RPS && row.single.p99 / 1000 < TARGET_P99_MS[row.store];
  const target = row.store === 'none' ? '(scale)' : `≥ ${TARGET_RPS.toLocaleString('en-US')} req/s, p99 < ${TARGET_P99_MS[row.store]} ms: ${met ? 'met' : 'MISSED'}`;
  return [row.what, Math.round(row.rps).toLocaleString('en-US'), row.cpuUsPerRequest.toFixed(1), `${ms(row.latency.p50)} / ${ms(row.latency.p99)}`, `${ms(row.single.p50)} / ${ms(row.single.p99)} / ${ms(row.single.p999)}`, target];
});
if (opts.markdown) {
  console.log(`| ${header.join(' | ')} |\n|${header.map(() => '---').join('|')}|`);
  for (const line of lines) console.log(`| ${line.join(' | ')} |`);
} else {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => String(l[i]).length)));
  for (const line of [header, ...lines]) console.log(line.map((cell, i) => String(cell).padEnd(widths[i])).join('  '));
}
console.log(`\n${opts.duration} s measured after ${opts.warmup} s warm-up per run; LOG_LEVEL ${opts['log-level']}; gateway on core ${GATEWAY_CORE ?? '(unpinned)'}, load on core ${LOAD_CORE ?? '(unpinned)'}. The p99 target is read at c=1.`);


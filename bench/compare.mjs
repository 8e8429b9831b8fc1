#!/usr/bin/env node
/**
 * A/B of two gateway builds (`node bench/compare.mjs --a=DIR --b=DIR`, see bench/README.md), for
 * "did this change cost anything" on a noisy machine: rounds alternate A and B (a fresh gateway
 * per run, pinned to core 0; load and mock upstream on core 1), and the figures are medians of
 * the gateway's CPU time per request (from /proc, far steadier than latency here) and throughput
 * at saturation, non-streaming and streaming.
 *
 * Scenarios: `simple` is the core benchmark's group (one target); `routed` a group of three
 * targets (three providers on the same mock) under `least-latency`, with breakers and limits on
 * every target — what routing costs when it has work to do. `observed` is the core benchmark's
 * gateway as `npm run bench` runs it (SQLite storage, metrics and the request log on),
 * `unobserved` the same with metrics and the request log off, and `governed` the observed one
 * called with a virtual key in a team in an org, each level with RPM, TPM and a budget. Each
 * gateway gets a fresh database. Same build, two scenarios: issue 7's and issue 6's ratios, e.g.
 * `--a=dist --b=dist --scenarios=unobserved --b-scenarios=observed`.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchMessages } from './lib/bodies.mjs';
import { governedKey } from './lib/governed-key.mjs';
import { freePort, loadWithCpu, median, memoryOf, pinSelf, pinningAvailable, spawnGateway, startListener, stopChild, waitForHttp } from './lib/proc.mjs';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const LOAD = fileURLToPath(new URL('./load.mjs', import.meta.url));
const UPSTREAM = fileURLToPath(new URL('./upstream.mjs', import.meta.url));
const KEY = 'sk-sy-bench-master-key-0123456789abcdef';
const MODEL = 'gpt-4o-mini';
const GATEWAY_CORE = 0;
const LOAD_CORE = 1;

const { values } = parseArgs({
  options: {
    a: { type: 'string', default: '.dist-base' },
    b: { type: 'string', default: 'dist' },
    scenarios: { type: 'string', default: 'simple' },
    'b-scenarios': { type: 'string' },
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '4' },
    warmup: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '64' },
    only: { type: 'string' },
    prefill: { type: 'string', default: '0' },
    'body-kb': { type: 'string', default: '0' },
    'a-flags': { type: 'string', default: '' },
    'b-flags': { type: 'string', default: '' },
    'a-env': { type: 'string', default: '' },
    'b-env': { type: 'string', default: '' },
    markdown: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log('Usage: node bench/compare.mjs --a=DIR --b=DIR [--scenarios=simple,routed,observed,unobserved,governed] [--b-scenarios=...] [--rounds=N] [--duration=S] [--warmup=S] [--concurrency=N] [--only=nonstream|stream] [--markdown]');
  console.log('  --b-scenarios: B runs these instead (same count), e.g. --a=dist --b=dist --scenarios=simple --b-scenarios=routed');
  console.log('  --a-flags="--x --y", --b-flags=...: node flags for that side\'s gateway (V8 heap settings, say)');
  console.log('  --a-env="NAME=value ...", --b-env=...: environment for that side\'s gateway, over the switchyard command\'s (MALLOC_ARENA_MAX=8, say)');
  console.log('  --body-kb=N: requests of eight messages adding up to about N KB instead of the core benchmark\'s two short ones');
  console.log('  --prefill=N: the observed, unobserved and governed gateways start on a database whose request log already holds N rows (a gateway that has run a while)');
  process.exit(0);
}
const rounds = Math.max(1, Number(values.rounds));
const durationMs = Number(values.duration) * 1000;
const warmupMs = Number(values.warmup) * 1000;
const concurrency = Number(values.concurrency);
const scenarios = values.scenarios.split(',').map((s) => s.trim());
const bScenarios = values['b-scenarios'] ? values['b-scenarios'].split(',').map((s) => s.trim()) : scenarios;
if (bScenarios.length !== scenarios.length) throw new Error('--b-scenarios needs as many scenarios as --scenarios');
const builds = { A: values.a, B: values.b };
const nodeFlags = { A: values['a-flags'].split(/\s+/).filter(Boolean), B: values['b-flags'].split(/\s+/).filter(Boolean) };
const sideEnv = (text) => Object.fromEntries(text.split(/\s+/).filter(Boolean).map((setting) => setting.split(/=(.*)/s, 2)));
const gatewayEnv = { A: sideEnv(values['a-env']), B: sideEnv(values['b-env']) };

const messages = benchMessages(Number(values['body-kb']));
const body = (stream) => JSON.stringify({ model: 'gpt-4o-mini', messages, temperature: 0.2, max_tokens: 256, ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}) });

/** The core benchmark's gateway (bench/run.mjs), storing in `dir`; `extra` is YAML put first. */
const coreConfig = (origin, dir, extra = '') => `${extra}
auth: { master_key: ${KEY} }
storage: { url: "sqlite://${dir}/switchyard.db" }
providers:
  mock-openai: { type: openai, api_key: sk-bench-upstream, base_url: "${origin}/v1" }
models:
  gpt-4o-mini: { targets: [ { provider: mock-openai, model: gpt-4o-mini } ] }
`;

/** Scenarios: the gateway's config (origin: the mock upstream; dir: the run's own directory), and optionally the key to call it with. */
const CONFIGS = {
  observed: (origin, dir) => coreConfig(origin, dir),
  unobserved: (origin, dir) => coreConfig(origin, dir, 'metrics: { enabled: false }\nrequest_log: { enabled: false }'),
  governed: (origin, dir) => coreConfig(origin, dir),
  simple: (origin) => `auth: { master_key: ${KEY} }
providers:
  oai: { type: openai, api_key: sk-bench-upstream, base_url: "${origin}/v1" }
models:
  gpt-4o-mini: { targets: [ { provider: oai, model: gpt-4o-mini } ] }
`,
  routed: (origin) => `auth: { master_key: ${KEY} }
providers:
  oai1: { type: openai, api_key: sk-bench-upstream, base_url: "${origin}/v1" }
  oai2: { type: openai, api_key: sk-bench-upstream, base_url: "${origin}/v1" }
  oai3: { type: openai, api_key: sk-bench-upstream, base_url: "${origin}/v1" }
models:
  gpt-4o-mini:
    strategy: least-latency
    targets:
      - { provider: oai1, model: gpt-4o-mini, max_concurrency: 1000, tpm: 100000000 }
      - { provider: oai2, model: gpt-4o-mini, max_concurrency: 1000, tpm: 100000000 }
      - { provider: oai3, model: gpt-4o-mini, max_concurrency: 1000, tpm: 100000000 }
`,
};

/** Scenarios whose gateway keeps a database (prefilled with --prefill). */
const STORED = new Set(['observed', 'unobserved', 'governed']);

/**
 * What runs once the gateway is up, and the key to call it with (default: the master key). The
 * core scenarios all create the governed key through the admin API, used or not, so that their
 * gateways have run the same code before the load (the admin routes share zod's and Fastify's
 * code with the API routes, and leave it warmed differently).
 */
const SETUP = {
  observed: async (origin) => void (await governedKey(origin, KEY, MODEL)),
  unobserved: async (origin) => void (await governedKey(origin, KEY, MODEL)),
  governed: (origin) => governedKey(origin, KEY, MODEL),
};


const children = [];

async function startGateway(dist, configPath, flags = [], env = {}) {
  const main = join(REPO, dist, 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing (build it first)`);
  const port = await freePort();
  const child = spawnGateway(GATEWAY_CORE, main, ['start', '--config', configPath], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info' },
  }, flags, env);
  children.push(child);
  const origin = `http://127.0.0.1:${port}`;
  await waitForHttp(`${origin}/health/ready`, { child });
  return { child, origin };
}

function runLoad(origin, pid, stream, key = KEY) {
  const spec = { origin, path: '/v1/chat/completions', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: body(stream), stream, concurrency, warmupMs, durationMs };
  return loadWithCpu({ core: LOAD_CORE, loadScript: LOAD, spec, pid, what: stream ? 'streaming run' : 'non-streaming run' }).then(({ rps, cpuUsPerRequest }) => ({ rps, cpuUs: cpuUsPerRequest }));
}

/**
 * A database file as a gateway that has served `count` requests leaves it: the schema from the
 * gateway's own migrations (a gateway of build A starts on it once), then `count` request-log rows,
 * 1 ms apart up to now, with time-ordered request ids as the gateway makes them. Each run gets a copy.
 */
async function prefilledDatabase(dir, count) {
  const templateDir = join(dir, 'template');
  mkdirSync(templateDir);
  const configPath = join(templateDir, 'switchyard.yaml');
  writeFileSync(configPath, coreConfig('http://127.0.0.1:9', templateDir));
  const gateway = await startGateway(builds.A, configPath);
  await stopChild(gateway.child, 5000);
  const { default: Sqlite } = await import('better-sqlite3');
  const db = new Sqlite(join(templateDir, 'switchyard.db'));
  const columns = ['request_id', 'at', 'key_id', 'team_id', 'org_id', 'model', 'provider', 'upstream_model', 'prompt_tokens', 'completion_tokens', 'cost_usd', 'latency_ms', 'status', 'cache', 'tags', 'route', 'stream', 'attempts', 'cached_tokens'];
  const insert = db.prepare(`insert into request_log (${columns.join(', ')}) values (${columns.map(() => '?').join(', ')})`);
  const start = Date.now() - count;
  const keys = [['master', null, null], ['key_a', 'team_a', 'org_a'], ['key_b', 'team_a', 'org_a'], ['key_c', 'team_b', 'org_a']];
  db.transaction(() => {
    for (let i = 0; i < count; i++) {
      const at = start + i;
      const [keyId, teamId, orgId] = keys[i % keys.length];
      const id = `${at.toString(16).padStart(12, '0').replace(/^(.{8})/, '$1-')}-7${Math.random().toString(16).slice(2, 5)}-8${Math.random().toString(16).slice(2, 5)}-${Math.random().toString(16).slice(2, 14).padEnd(12, '0')}`;
      insert.run(id, at, keyId, teamId, orgId, 'gpt-4o-mini', 'mock-openai', 'gpt-4o-mini', 31, 120, 0.0000765, 3, 200, null, '[]', 'chat', i % 3 === 0 ? 1 : 0, 1, 0);
    }
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return join(templateDir, 'switchyard.db');
}

async function main() {
  const pinning = pinningAvailable();
  if (!pinning.ok) throw new Error(`cannot pin the gateway to its own core: ${pinning.why}`);
  pinSelf(LOAD_CORE);
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-compare-'));
  const rows = [];
  try {
    const upstream = await startListener(children, LOAD_CORE, [UPSTREAM, '--port=0'], 'mock upstream');
    const prefill = Number(values.prefill);
    const template = prefill > 0 ? await prefilledDatabase(dir, prefill) : undefined;
    if (template) console.error(`bench: request log prefilled with ${prefill.toLocaleString('en-US')} rows`);
    let runs = 0;
    for (const [index, scenario] of scenarios.entries()) {
      const names = { A: scenario, B: bScenarios[index] };
      for (const name of Object.values(names)) if (!CONFIGS[name]) throw new Error(`unknown scenario "${name}" (${Object.keys(CONFIGS).join(', ')})`);
      for (const stream of [false, true].filter((s) => !values.only || values.only === (s ? 'stream' : 'nonstream'))) {
        const results = { A: [], B: [] };
        for (let round = 0; round < rounds; round++) {
          for (const build of round % 2 ? ['B', 'A'] : ['A', 'B']) {
            // A directory per run: every gateway starts on an empty (or the prefilled) database.
            const runDir = join(dir, `run-${++runs}`);
            mkdirSync(runDir);
            if (template && STORED.has(names[build])) copyFileSync(template, join(runDir, 'switchyard.db'));
            const configPath = join(runDir, 'switchyard.yaml');
            writeFileSync(configPath, CONFIGS[names[build]](upstream.origin, runDir));
            const gateway = await startGateway(builds[build], configPath, nodeFlags[build], gatewayEnv[build]);
            const key = await SETUP[names[build]]?.(gateway.origin);
            const run = await runLoad(gateway.origin, gateway.child.pid, stream, key);
            results[build].push({ ...run, peakMB: (memoryOf(gateway.child.pid)?.hwmKB ?? NaN) / 1024 });
            await stopChild(gateway.child, 5000);
            rmSync(runDir, { recursive: true, force: true });
          }
        }
        const kind = stream ? 'streaming' : 'non-streaming';
        const medians = (runs) => ({ rps: median(runs.map((r) => r.rps)), cpuUs: median(runs.map((r) => r.cpuUs)), peakMB: median(runs.map((r) => r.peakMB)) });
        const a = medians(results.A);
        const b = medians(results.B);
        const label = scenario === bScenarios[index] ? scenario : `${scenario} → ${bScenarios[index]}`;
        rows.push({ scenario: label, kind, a, b });
        console.error(`bench: ${label} ${kind}: A ${a.cpuUs.toFixed(0)} µs/req ${Math.round(a.rps)} req/s ${a.peakMB.toFixed(0)} MB; B ${b.cpuUs.toFixed(0)} µs/req ${Math.round(b.rps)} req/s ${b.peakMB.toFixed(0)} MB`);
      }
    }
  } finally {
    for (const child of children.reverse()) await stopChild(child, 5000);
    rmSync(dir, { recursive: true, force: true });
  }
  const head = ['scenario', 'kind', 'A CPU µs/req', 'B CPU µs/req', 'B/A CPU', 'A req/s', 'B req/s', 'B/A req/s', 'A peak MB', 'B peak MB'];
  const body = rows.map((r) => [r.scenario, r.kind, r.a.cpuUs.toFixed(0), r.b.cpuUs.toFixed(0), `${((r.b.cpuUs / r.a.cpuUs) * 100).toFixed(1)}%`, Math.round(r.a.rps).toLocaleString('en-US'), Math.round(r.b.rps).toLocaleString('en-US'), `${((r.b.rps / r.a.rps) * 100).toFixed(1)}%`, r.a.peakMB.toFixed(0), r.b.peakMB.toFixed(0)]);
  console.log(`\nA = ${builds.A}, B = ${builds.B}; c=${concurrency}, ${durationMs / 1000} s per run, medians of ${rounds} alternating round(s)\n`);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  console.log([head, ...body].map((row) => row.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ')).join('\n'));
  if (values.markdown) {
    console.log(`\n| ${head.join(' | ')} |\n| ${head.map((_, i) => (i < 2 ? '---' : '---:')).join(' | ')} |\n${body.map((row) => `| ${row.join(' | ')} |`).join('\n')}`);
  }
}

process.once('SIGINT', () => {
  for (const child of children) child.kill('SIGKILL');
  process.exit(130);
});

main().catch((err) => {
  console.error(`bench: ${err.message}`);
  for (const child of children) child.kill('SIGKILL');
  process.exit(1);
});

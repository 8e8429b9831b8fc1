#!/usr/bin/env node
/**
 * Issue 6's ratio measured in pairs (how: bench/lib/paired-keys.mjs): the core benchmark's gateway
 * (SQLite storage, metrics and the request log on; pinned to core 0), its requests switching
 * between the master key and the benchmarks' virtual key (10 rules; bench/lib/governed-key.mjs)
 * every `--slice` seconds.
 *
 *   node bench/paired.mjs [--dist=dist] [--slices=30] [--slice=2] [--concurrency=64] [--stream]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { governedKey } from './lib/governed-key.mjs';
import { pairedKeys, ratioText } from './lib/paired-keys.mjs';
import { freePort, pinSelf, pinningAvailable, spawnGateway, startListener, stopChild, waitForHttp } from './lib/proc.mjs';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const UPSTREAM = fileURLToPath(new URL('./upstream.mjs', import.meta.url));
const MASTER = 'sk-sy-bench-master-key-0123456789abcdef';
const MODEL = 'gpt-4o-mini';
const GATEWAY_CORE = 0;
const LOAD_CORE = 1;

const { values } = parseArgs({
  options: {
    dist: { type: 'string', default: 'dist' },
    slices: { type: 'string', default: '30' },
    slice: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '64' },
    stream: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log('Usage: node bench/paired.mjs [--dist=dist] [--slices=30] [--slice=2] [--concurrency=64] [--stream]');
  process.exit(0);
}
const slices = Number(values.slices);
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
  const main = join(REPO, values.dist, 'main.js');
  const gateway = spawnGateway(core(GATEWAY_CORE), main, ['start', '--config', configPath], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info' },
  });
  children.push(gateway);
  const origin = `http://127.0.0.1:${port}`;
  await waitForHttp(`${origin}/health/ready`, { child: gateway });
  const virtualKey = await governedKey(origin, MASTER, MODEL);
  if (pinning.ok) pinSelf(LOAD_CORE);

  const result = await pairedKeys({ origin, pid: gateway.pid, body, first: MASTER, second: virtualKey, concurrency, slices, sliceMs });
  console.log(`paired: ${values.dist}, ${stream ? 'streaming' : 'non-streaming'}, c=${concurrency}, ${result.slices} slices of ${values.slice} s, ${result.pairs} pairs`);
  console.log(`  master key:  ${result.first.rps.toFixed(0)} req/s, ${result.first.cpuUs.toFixed(1)} µs CPU per request (medians of the slices)`);
  console.log(`  virtual key: ${result.second.rps.toFixed(0)} req/s, ${result.second.cpuUs.toFixed(1)} µs CPU per request`);
  console.log(`  virtual / master, median of the pairs [quartiles]: req/s ${ratioText(result.ratio.rps)}, CPU per request ${ratioText(result.ratio.cpu)}`);
} finally {
  for (const child of children) await stopChild(child);
  rmSync(dir, { recursive: true, force: true });
}

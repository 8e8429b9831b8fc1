#!/usr/bin/env node
/**
 * The gateway's own per-request cost between HTTP decoding and the provider adapter — routing,
 * execution, attempt bookkeeping, routing metrics — measured in-process with an upstream that
 * answers at once: `node bench/pipeline.mjs [--dist=DIR] [--requests=N] [--rounds=N]`.
 * No sockets, no HTTP parsing, no other process: the figure is steady enough on a noisy machine to
 * compare two builds (A/B) within a few per cent, which the HTTP benchmarks cannot.
 */
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    dist: { type: 'string', default: 'dist' },
    requests: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '5' },
    scenario: { type: 'string', default: 'simple' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log('Usage: node bench/pipeline.mjs [--dist=DIR] [--requests=N] [--rounds=N] [--scenario=simple|routed]');
  process.exit(0);
}
const repo = fileURLToPath(new URL('..', import.meta.url));
const dist = resolve(repo, values.dist);
const load = (file) => import(pathToFileURL(join(dist, file)).href);

const { configSchema } = await load('config/schema.js');
const { ModelRegistry } = await load('routing/models.js');
const { Executor } = await load('routing/executor.js');
const { Pipeline } = await load('gateway/pipeline.js');
const { createRequestContext } = await load('gateway/context.js');
const { Metrics } = await load('observability/metrics.js');

const completion = {
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 1735689600,
  model: 'gpt-4o-mini',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Load balancing spreads requests.' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 31, completion_tokens: 5, total_tokens: 36 },
};
const adapter = {
  id: 'oai',
  type: 'openai',
  chat: async (_request, ctx) => {
    ctx.firstByte();
    return completion;
  },
  chatStream: async () => {
    throw new Error('not measured');
  },
  embeddings: async () => {
    throw new Error('not measured');
  },
};

const SCENARIOS = {
  simple: { providers: ['oai'], group: (ids) => ({ targets: ids.map((provider) => ({ provider, model: 'gpt-4o-mini' })) }) },
  routed: {
    providers: ['oai', 'oai2', 'oai3'],
    group: (ids) => ({ strategy: 'least-latency', targets: ids.map((provider) => ({ provider, model: 'gpt-4o-mini', max_concurrency: 1000, tpm: 100_000_000 })) }),
  },
};
const scenario = SCENARIOS[values.scenario];
if (!scenario) throw new Error(`unknown scenario ${values.scenario} (simple, routed)`);
const config = configSchema.parse({
  providers: Object.fromEntries(scenario.providers.map((id) => [id, { type: 'openai', api_key: 'sk-bench' }])),
  models: { 'gpt-4o-mini': scenario.group(scenario.providers) },
});
const providers = new Map(scenario.providers.map((id) => [id, { adapter, timeouts: { firstByteMs: 120_000, totalMs: 600_000 } }]));
const metrics = new Metrics();
const models = new ModelRegistry(config, providers);

let chat;
try {
  const { Router, NO_HINTS } = await load('routing/router.js');
  const { RoutingMetrics } = await load('routing/events.js');
  const pipeline = new Pipeline(new Router(models, config.routing?.rules ?? []), new Executor(new RoutingMetrics(metrics.registry)));
  // Builds with caching take the request's cache directive; earlier ones ignore the argument.
  const noDirective = await load('cache/directive.js').then((m) => m.NO_DIRECTIVE, () => undefined);
  chat = (body, rc) => pipeline.chat(body, rc, NO_HINTS, noDirective);
} catch {
  // A build from before routing (no router.js): its pipeline resolves models itself.
  const pipeline = new Pipeline(models, new Executor(metrics));
  chat = (body, rc) => pipeline.chat(body, rc);
}

const body = {
  model: 'gpt-4o-mini',
  messages: [
    { role: 'system', content: 'You are a concise technical assistant. Answer in one short paragraph.' },
    { role: 'user', content: 'Explain what load balancing is, and why an LLM gateway in front of several model providers benefits from it.' },
  ],
  temperature: 0.2,
  max_tokens: 256,
};

async function run(count) {
  for (let i = 0; i < count; i++) {
    const rc = createRequestContext('bench', 'chat', performance.now());
    await chat(body, rc);
    // What settle does with the outcome, so the request metrics are part of the figure.
    metrics.record({ route: rc.route, model: rc.model ?? '', provider: rc.providerId ?? '', status: 200, totalMs: 1, overheadMs: 0.1, usage: rc.usage });
  }
}

const requests = Number(values.requests);
await run(Math.min(50_000, requests));
const rounds = [];
for (let round = 0; round < Number(values.rounds); round++) {
  const start = process.hrtime.bigint();
  await run(requests);
  rounds.push(Number(process.hrtime.bigint() - start) / requests / 1000);
}
const sorted = [...rounds].sort((a, b) => a - b);
console.log(`${values.dist} ${values.scenario}: ${sorted[Math.floor(sorted.length / 2)].toFixed(2)} µs per request (median of ${rounds.length} rounds of ${requests}: ${rounds.map((r) => r.toFixed(2)).join(', ')})`);

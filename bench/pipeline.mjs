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
import { setImmediate } from 'node:timers';

const { values } = parseArgs({
  options: {
    dist: { type: 'string', default: 'build' },
    requests: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '5' },
    scenario: { type: 'string', default: 'simple' },
    // none: no governance stage (builds before it); master: the stage with the master key (spend rows
    // only); governed: a key in a team in an org, each with RPM, TPM and a budget.
    governance: { type: 'string', default: 'none' },
    // Requests in flight at once; above 1 the upstream answers on the next turn of the event loop,
    // so they interleave and live as long as a loaded server's (what the garbage collector sees).
    concurrency: { type: 'string', default: '1' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log('Usage: node bench/pipeline.mjs [--dist=DIR] [--requests=N] [--rounds=N] [--scenario=simple|routed] [--governance=none|master|governed] [--concurrency=N]');
  process.exit(0);
}
const repo = fileURLToPath(new URL('..', import.meta.url));
const dist = resolve(repo, values.dist);
const load = (file) => import(pathToFileURL(join(dist, file)).href);
const concurrency = Math.max(1, Number(values.concurrency));

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
    if (concurrency > 1) await new Promise(setImmediate);
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
let principal;
const observers = { metrics, recorder: undefined, sla: undefined, tracing: undefined };
try {
  const { Router, NO_HINTS } = await load('routing/router.js');
  const { RoutingMetrics } = await load('routing/events.js');
  const admission = values.governance === 'none' ? undefined : await governanceStage(models);
  const pipeline = new Pipeline(new Router(models, config.routing?.rules ?? []), new Executor(new RoutingMetrics(metrics.registry)), { admission: admission?.stage });
  principal = admission?.principal;
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

// The server's last stage (account, metrics, request log), so they are part of the figure; builds
// from before gateway/settle.js recorded metrics and the ledger's row directly.
const settleStage = await load('gateway/settle.js').catch(() => undefined);
const silent = { level: 'silent', isLevelEnabled: () => false };
function settleRequest(rc) {
  if (settleStage) return settleStage.settle(rc, observers, silent);
  metrics.record({ route: rc.route, model: rc.model ?? '', provider: rc.providerId ?? '', status: 200, totalMs: 1, overheadMs: 0.1, usage: rc.usage });
  rc.ledger?.record(rc, 200, 1);
}

async function run(count) {
  const worker = async (n) => {
    for (let i = 0; i < n; i++) {
      const rc = createRequestContext('bench', 'chat', performance.now());
      rc.principal = principal;
      await chat(body, rc);
      settleRequest(rc);
      // Let timers and I/O run now and then, as a server's event loop does (the spend writer flushes on them).
      if (concurrency === 1 && i % 256 === 255) await new Promise(setImmediate);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(Math.floor(count / concurrency) + (w < count % concurrency ? 1 : 0))));
}

/**
 * The admit stage as the server builds it, over an in-memory directory, the memory limiter, and a
 * spend writer into a real SQLite file (rows are written in the background, on this thread).
 */
async function governanceStage(models) {
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { AdmissionStage } = await load('gateway/admission-stage.js');
  const { Admitter } = await load('governance/admission.js');
  const { Directory } = await load('governance/directory.js');
  const { Ledger } = await load('governance/ledger.js');
  const { MemoryLimiter } = await load('governance/limits/memory-limiter.js');
  const { MASTER } = await load('governance/principal.js');
  const { openDatabase } = await load('storage/database.js');
  const { GovernanceStore } = await load('storage/governance-store.js');
  const { SpendWriter } = await load('storage/spend-writer.js');
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-pipeline-'));
  const store = new GovernanceStore(await openDatabase(`sqlite://${dir}/bench.db`));
  const open = { models: null, budget: null, limits: null, regions: null, metadata: null, expires_at: null, blocked: false, created_at: 0, updated_at: 0 };
  const generous = { rpm: 1e12, tpm: 1e15 };
  const budget = { usd: 1e9, period: 'monthly' };
  const org = { ...open, id: 'org_bench', name: 'bench-org', limits: generous, budget };
  const team = { ...open, id: 'team_bench', name: 'bench-team', org_id: org.id, limits: generous, budget };
  const key = { ...open, id: 'key_bench', name: 'bench-key', team_id: team.id, models: ['gpt-4o-mini'], limits: { ...generous, max_parallel: 1e6 }, budget: { ...budget, period: 'daily' }, key_hash: 'x', key_hint: 'x', previous_hash: null, previous_expires_at: null, revoked_at: null };
  const source = { listOrgs: async () => [org], listTeams: async () => [team], listKeys: async () => [key], listUsers: async () => [], revision: async () => 1, spendTotals: async () => new Map() };
  const directory = new Directory(source, { refreshIntervalMs: 3_600_000, onError: console.error });
  await directory.start();
  directory.stop();
  const writer = new SpendWriter({ write: (rows, batchId) => store.writeSpend(rows, batchId), spillPath: join(dir, 'spill.jsonl'), onError: console.error });
  const admitter = new Admitter(directory, new MemoryLimiter(), { unpricedModels: 'allow', defaultMaxTokens: 4096 });
  const ledger = new Ledger((providerId, model) => models.knownTarget(providerId, model)?.info.price, writer);
  const stage = new AdmissionStage(() => models, { admitter, ledger, drainMs: 30_000 });
  // The request log as the server keeps it by default (no bodies); builds before it: the ledger wrote the rows.
  const { RequestRecorder } = await load('observability/request-recorder.js').catch(() => ({}));
  if (RequestRecorder) observers.recorder = new RequestRecorder(writer, { enabled: true, bodies: false, maxBodyBytes: 16_384 });
  const governed = values.governance === 'governed' ? { master: false, key, team, org } : MASTER;
  return { stage, principal: governed };
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
console.log(`${values.dist} ${values.scenario} governance=${values.governance}: ${sorted[Math.floor(sorted.length / 2)].toFixed(2)} µs per request (median of ${rounds.length} rounds of ${requests}: ${rounds.map((r) => r.toFixed(2)).join(', ')})`);

#!/usr/bin/env node
/**
 * What observability costs per request, in-process (`npm run bench:observability`): the settle
 * stage of a served request with
 *   - off:    metrics.enabled false, request_log.enabled false (the spend rollup row is still written),
 *   - on:     metrics and the request log on (the defaults), an SLO on the model group,
 *   - traced: as `on`, plus a request span and an attempt span exported in batches to a sink,
 * counting the CPU of the batched writer too: each variant writes its rows into a real SQLite
 * database, and the figure is process CPU time (user + system) per request until the queue is
 * drained. No sockets, no HTTP: steady enough on a noisy machine to compare the variants.
 *
 * `node bench/observability.mjs [--dist=DIR] [--requests=N] [--rounds=N] [--parts]`
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { setImmediate } from 'node:timers';

const { values } = parseArgs({
  options: {
    dist: { type: 'string', default: 'build' },
    requests: { type: 'string', default: '50000' },
    rounds: { type: 'string', default: '5' },
    // Also each part alone: metrics, the request log, the SLO monitor.
    parts: { type: 'boolean', default: false },
  },
});
const repo = fileURLToPath(new URL('..', import.meta.url));
const load = (file) => import(pathToFileURL(join(resolve(repo, values.dist), file)).href);

const { configSchema } = await load('config/schema.js');
const { createRequestContext } = await load('gateway/context.js');
const { settle } = await load('gateway/settle.js');
const { newRequestId } = await load('http/request-id.js');
const { MASTER } = await load('governance/principal.js');
const { Ledger } = await load('governance/ledger.js');
const { Metrics } = await load('observability/metrics.js');
const { RequestRecorder } = await load('observability/request-recorder.js');
const { SlaMonitor } = await load('observability/sla/monitor.js');
const { createTracing } = await load('observability/tracing.js');
const { openDatabase } = await load('storage/database.js');
const { GovernanceStore } = await load('storage/governance-store.js');
const { SpendWriter } = await load('storage/spend-writer.js');

const silent = { isLevelEnabled: () => false, info() {}, warn() {}, error() {}, debug() {} };
const usage = { prompt_tokens: 42, completion_tokens: 256, total_tokens: 298, prompt_tokens_details: { cached_tokens: 0 } };
const ledger = new Ledger(() => ({ input: 0.15, output: 0.6 }));
const sink = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {} };

async function variant(name, { metrics: metricsOn, requestLog, sla: slaOn, tracing: tracingOn }) {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-obs-bench-'));
  const database = await openDatabase(`sqlite://${dir}/bench.db`, { onError: console.error });
  const store = new GovernanceStore(database, { requestLog });
  const writer = new SpendWriter({ write: (rows, batchId) => store.writeSpend(rows, batchId), spillPath: join(dir, 'spill.jsonl'), batchSize: 500, flushIntervalMs: 50, maxQueue: 1_000_000 });
  const config = configSchema.parse({ providers: { openai: { type: 'mock' } }, models: { 'gpt-4o-mini': { targets: [{ provider: 'openai', model: 'gpt-4o-mini' }] } }, sla: slaOn ? { objectives: [{ name: 'fast', model: 'gpt-4o-mini', availability: 99, p95_latency_ms: 2000 }] } : {} });
  const metrics = new Metrics({ enabled: metricsOn });
  const sla = new SlaMonitor(config.sla, { registry: metrics.registry, logger: silent });
  const tracing = tracingOn ? await createTracing({ ...config.tracing, enabled: true }, {}, { exporter: sink }) : undefined;
  const observers = { metrics, recorder: new RequestRecorder(writer, { enabled: requestLog, bodies: false, maxBodyBytes: 0 }), sla, tracing };

  const once = () => {
    const rc = createRequestContext(newRequestId(), 'chat', performance.now() - 1);
    metrics.begin('chat');
    rc.inFlight = true;
    if (tracing) rc.trace = tracing.startRequest({ route: 'chat', requestId: rc.requestId, startTime: Date.now() });
    rc.principal = MASTER;
    rc.ledger = ledger;
    rc.model = 'gpt-4o-mini';
    const attempt = rc.trace?.startAttempt({ providerId: 'openai', providerType: 'openai', model: 'gpt-4o-mini' });
    rc.providerId = 'openai';
    rc.providerType = 'openai';
    rc.upstreamModel = 'gpt-4o-mini';
    rc.attempts = 1;
    rc.upstreamMs = 0.5;
    rc.usage = usage;
    rc.finishReasons = ['stop'];
    rc.answerEmpty = false;
    rc.status = 200;
    attempt?.end({ responseModel: 'gpt-4o-mini', usage: { input_tokens: 42, output_tokens: 256 }, finishReasons: ['stop'] });
    settle(rc, observers, silent);
  };
  const drained = async () => {
    while (writer.stats().queued > 0) await new Promise((r) => setTimeout(r, 5));
  };
  const requests = Number(values.requests);
  for (let i = 0; i < 20_000; i++) once();
  await drained();
  const rounds = [];
  for (let round = 0; round < Number(values.rounds); round++) {
    const cpu = process.cpuUsage();
    // In slices, yielding between them, as a server would: the writer runs in between.
    for (let done = 0; done < requests; done += 500) {
      for (let i = 0; i < 500; i++) once();
      await new Promise((r) => setImmediate(r));
    }
    await drained();
    const used = process.cpuUsage(cpu);
    rounds.push((used.user + used.system) / requests);
  }
  await writer.close(5_000);
  await tracing?.shutdown();
  await sla.stop();
  await database.close();
  rmSync(dir, { recursive: true, force: true });
  const sorted = [...rounds].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  console.log(`${name.padEnd(8)} ${median.toFixed(2)} µs CPU per request (median of ${rounds.length} rounds of ${requests}: ${rounds.map((r) => r.toFixed(2)).join(', ')})`);
  return median;
}

const off = await variant('off', { metrics: false, requestLog: false, sla: false, tracing: false });
if (values.parts) {
  await variant('metrics', { metrics: true, requestLog: false, sla: false, tracing: false });
  await variant('log', { metrics: false, requestLog: true, sla: false, tracing: false });
  await variant('slo', { metrics: false, requestLog: false, sla: true, tracing: false });
}
const on = await variant('on', { metrics: true, requestLog: true, sla: true, tracing: false });
const traced = await variant('traced', { metrics: true, requestLog: true, sla: true, tracing: true });
console.log(`metrics + request log + SLO add ${(on - off).toFixed(2)} µs per request; tracing adds ${(traced - on).toFixed(2)} µs more`);

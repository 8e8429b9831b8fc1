#!/usr/bin/env node
/**
 * Micro-benchmark of routing decisions: µs per strategy `order()` call (src/routing/strategies.ts),
 * and per whole decision (Router.chat + the plan's first target), for a model group of 50 targets
 * (the figure: under 20 µs per selection) and of 5.
 * Run after `npm run build`: `node bench/routing.mjs [--calls=N] [--markdown]`.
 * ROUTING_DIST points at another compiled copy of the module's folder (default build/routing).
 *
 * Each strategy gets fresh candidates with varied weights, latency estimates, calls in flight and
 * prices (a few unknown, a few unmeasured), a warm-up so V8 optimises the code, then `calls` timed
 * calls with process.hrtime.bigint(). In-flight counts change as calls go, as they would under
 * traffic, so least-busy and least-latency do not see one frozen order.
 */
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const HELP = `Usage: node bench/routing.mjs [OPTIONS]     (after npm run build)

Options:
  --calls=N     timed order() calls per strategy and group size  [BENCH_ROUTING_CALLS, 200000]
  --warmup=N    untimed calls before each measurement           [BENCH_ROUTING_WARMUP, 20000]
  --markdown    print the table as Markdown
  --strict      exit 2 when a strategy misses the 50-target figure
  --help
Environment: ROUTING_DIST=DIR   folder holding strategies.js (default build/routing)`;

const STRATEGIES = ['fallback', 'round-robin', 'weighted', 'least-latency', 'least-busy', 'cost'];
const GROUP_SIZES = [50, 5];
const TARGET_US = 20;
const ESTIMATE = { promptTokens: 1_200, maxOutputTokens: 400 };

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: process.env.BENCH_ROUTING_CALLS ?? '200000' },
    warmup: { type: 'string', default: process.env.BENCH_ROUTING_WARMUP ?? '20000' },
    markdown: { type: 'boolean', default: false },
    strict: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(HELP);
  process.exit(0);
}
const calls = Number(values.calls);
const warmup = Number(values.warmup);
if (!(calls > 0) || !(warmup >= 0)) {
  console.error('--calls must be a positive number and --warmup a non-negative one');
  process.exit(1);
}

const repo = fileURLToPath(new URL('..', import.meta.url));
const distDir = resolve(process.env.ROUTING_DIST ?? join(repo, 'build', 'routing'));
let createStrategy;
try {
  ({ createStrategy } = await import(pathToFileURL(join(distDir, 'strategies.js')).href));
} catch (error) {
  console.error(`cannot load ${join(distDir, 'strategies.js')} (run npm run build first, or set ROUTING_DIST): ${error.message}`);
  process.exit(1);
}

/** A small deterministic PRNG, so every run benchmarks the same groups. */
function seeded(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Stand-in for the target statistics: the same shape as TargetStats (an `inFlight` getter, a method). */
class FakeStats {
  #inFlight;
  #latency;
  constructor(inFlight, latency) {
    this.#inFlight = inFlight;
    this.#latency = latency;
  }
  get inFlight() {
    return this.#inFlight;
  }
  set inFlight(value) {
    this.#inFlight = value;
  }
  latencyEstimate() {
    return this.#latency;
  }
}

function group(size, random) {
  return Array.from({ length: size }, (_, i) => ({
    id: `target-${i}`,
    weight: 1 + Math.floor(random() * 10),
    // One in ten unmeasured (estimate 0), the rest 200 ms to 5 s.
    stats: new FakeStats(Math.floor(random() * 8), random() < 0.1 ? 0 : 200 + random() * 4_800),
    // One in five with an unknown price.
    price: random() < 0.2 ? undefined : { input: 0.1 + random() * 15, output: 0.4 + random() * 60 },
  }));
}

/** Runs `count` calls; each call moves one target's in-flight count, so the load keeps changing. */
function run(strategy, candidates, count) {
  let sink = 0;
  const n = candidates.length;
  for (let i = 0; i < count; i++) {
    const stats = candidates[i % n].stats;
    stats.inFlight = (stats.inFlight + 1) % 8;
    sink += strategy.order(candidates, ESTIMATE)[0].weight;
  }
  return sink;
}

function measure(name, size) {
  const random = seeded(size * 7919 + STRATEGIES.indexOf(name));
  const strategy = createStrategy(name, { random: seeded(17) });
  const candidates = group(size, random);
  run(strategy, candidates, warmup);
  const start = process.hrtime.bigint();
  const sink = run(strategy, candidates, calls);
  const elapsedNs = Number(process.hrtime.bigint() - start);
  if (!(sink > 0)) throw new Error(`${name}: no result`);
  return elapsedNs / calls / 1_000;
}

/**
 * The whole routing decision as a request makes it: Router.chat (what the request needs, its
 * prompt size, the plan) and the first target of the plan's pass — eligibility of every target
 * (capabilities, context window, breaker) and the strategy's order — on a real registry.
 */
async function decisionCosts() {
  const load = (file) => import(pathToFileURL(join(distDir, file)).href);
  const { configSchema } = await import(pathToFileURL(join(distDir, '..', 'config', 'schema.js')).href);
  const { ModelRegistry } = await load('models.js');
  const { Router, NO_HINTS } = await load('router.js');
  const { createRequestContext } = await import(pathToFileURL(join(distDir, '..', 'gateway', 'context.js')).href);
  const adapter = { id: 'p', type: 'mock', chat: () => Promise.reject(new Error('not called')), chatStream: () => Promise.reject(new Error('not called')), embeddings: () => Promise.reject(new Error('not called')) };
  const request = {
    model: 'group',
    messages: [
      { role: 'system', content: 'You are a concise technical assistant. Answer in one short paragraph.' },
      { role: 'user', content: 'Explain what load balancing is, and why an LLM gateway in front of several model providers benefits from it.' },
    ],
    max_tokens: 256,
  };
  const costs = {};
  for (const name of STRATEGIES) {
    costs[name] = {};
    for (const size of GROUP_SIZES) {
      const random = seeded(size);
      const providers = Object.fromEntries(Array.from({ length: size }, (_, i) => [`p${i}`, { type: 'mock' }]));
      const targets = Array.from({ length: size }, (_, i) => ({
        provider: `p${i}`,
        model: 'm',
        weight: 1 + Math.floor(random() * 10),
        context_window: 128_000,
        price: { input: 0.1 + random() * 15, output: 0.4 + random() * 60 },
        capabilities: { tools: true, vision: true },
      }));
      const config = configSchema.parse({ providers, models: { group: { strategy: name, targets } } });
      const registry = new ModelRegistry(config, new Map(Object.keys(providers).map((id) => [id, { adapter, timeouts: { firstByteMs: 0, totalMs: 0 } }])));
      const router = new Router(registry, []);
      const decide = (count) => {
        let sink = 0;
        for (let i = 0; i < count; i++) {
          const rc = createRequestContext('r', 'chat', 0);
          const first = router.chat(request, rc, NO_HINTS).plan.pass().next().value;
          sink += first.target.model.length;
        }
        return sink;
      };
      decide(Math.min(warmup, 20_000));
      const count = Math.max(1, Math.floor(calls / 4));
      const start = process.hrtime.bigint();
      if (!(decide(count) > 0)) throw new Error(`${name}: no decision`);
      costs[name][size] = Number(process.hrtime.bigint() - start) / count / 1_000;
    }
  }
  return costs;
}

const decisions = await decisionCosts();
const rows = STRATEGIES.map((name) => ({ name, us: Object.fromEntries(GROUP_SIZES.map((size) => [size, measure(name, size)])), decision: decisions[name] }));

const header = ['strategy', ...GROUP_SIZES.map((size) => `order(), ${size} targets (µs)`), ...GROUP_SIZES.map((size) => `whole decision, ${size} targets (µs)`), 'result (50)'];
const body = rows.map((row) => [
  row.name,
  ...GROUP_SIZES.map((size) => row.us[size].toFixed(2)),
  ...GROUP_SIZES.map((size) => row.decision[size].toFixed(2)),
  row.decision[50] < TARGET_US ? 'PASS' : 'FAIL',
]);
const footer = `target: < ${TARGET_US} µs per selection with 50 targets (order(): ${calls} calls each after ${warmup} warm-up, changing one in-flight count per call; whole decision: Router.chat + the plan's first target, ${Math.max(1, Math.floor(calls / 4))} calls)`;

if (values.markdown) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  console.log([line(header), line(header.map((_, i) => (i === 0 ? '---' : '---:'))), ...body.map(line)].join('\n'));
  console.log(`\n${footer}`);
} else {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((cells) => cells[i].length)));
  const line = (cells) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  console.log([line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line), footer].join('\n'));
}
if (values.strict && !rows.every((row) => row.decision[50] < TARGET_US)) process.exitCode = 2;

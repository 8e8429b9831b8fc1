#!/usr/bin/env node
/**
 * The semantic cache's vector index (src/cache/vector-index.ts) at scale: one partition filled
 * with N embeddings, then timed lookups of paraphrases of stored ones (embedding time excluded).
 * `node bench/semantic.mjs [--dist=DIR] [--dims=384,1536] [--entries=100000] [--queries=2000]`
 * after `npm run build`; building 100k 1536-dim entries takes a few minutes (progress is shown).
 *
 * Vectors are clustered, which resembles real embeddings more than uniform noise does: 1000
 * random centroids, each entry a centroid plus noise (cosine ≈ 0.8 to its centroid, ≈ 0.64 to
 * its neighbours); a query is a stored entry plus less noise (cosine ≈ 0.97 to it: a paraphrase).
 * Recall is how often the lookup (threshold 0.9) returns that entry. Per dims it prints one
 * Markdown row: build time, single-add latency at size, lookup p50 / p99 / max, recall, an exact
 * partition's lookup at the default exactLimit, sweep time, and memory per entry (RSS and heap
 * growth after GC, against the index's own stats() estimate).
 */
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const HELP = `Usage: node bench/semantic.mjs [OPTIONS]     (after npm run build)

Options:
  --dist=DIR            tsc's output, one file per module (default build)
  --dims=LIST           vector sizes, comma-separated          [384,1536]
  --entries=N           entries in the partition               [100000]
  --queries=N           timed lookups                          [2000]
  --clusters=N          centroids the entries gather around    [1000]
  --threshold=X         minSimilarity of the lookups           [0.9]
  --connectivity=N --expansion-add=N --expansion-search=N --threads=N
                        HNSW parameters (default: the index's own)
  --seed=N              PRNG seed                              [1]`;

const { values } = parseArgs({
  options: {
    dist: { type: 'string', default: 'build' },
    dims: { type: 'string', default: '384,1536' },
    entries: { type: 'string', default: '100000' },
    queries: { type: 'string', default: '2000' },
    clusters: { type: 'string', default: '1000' },
    threshold: { type: 'string', default: '0.9' },
    connectivity: { type: 'string' },
    'expansion-add': { type: 'string' },
    'expansion-search': { type: 'string' },
    threads: { type: 'string' },
    seed: { type: 'string', default: '1' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(HELP);
  process.exit(0);
}
// Memory per entry is only meaningful after a full GC: re-run this script with --expose-gc.
if (typeof globalThis.gc !== 'function') {
  const child = spawnSync(process.execPath, ['--expose-gc', ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(child.status ?? 1);
}

const repo = fileURLToPath(new URL('..', import.meta.url));
const dist = resolve(repo, values.dist);
const compiled = (module) => import(pathToFileURL(join(dist, 'cache', module)).href);
const { VectorIndex } = await compiled('vector-index.js');
const { loadUsearch } = await compiled('hnsw.js');
const { defaultExactLimit } = await compiled('exact-rows.js');

const ENTRIES = Number(values.entries);
const QUERIES = Number(values.queries);
const CLUSTERS = Number(values.clusters);
const THRESHOLD = Number(values.threshold);
const WARMUP = 200;
/** Entries per addMany call: small, so the exact rows each call fills first stay small too (RSS). */
const CHUNK = 2_000;
const PROGRESS_EVERY = 10_000;
const ADDS_AT_SIZE = 500;
/** Noise norms relative to a unit vector: an entry around its centroid, a query around its entry. */
const ENTRY_SPREAD = 0.75;
const QUERY_SPREAD = 0.25;

const hnswParams = Object.fromEntries(
  Object.entries({
    connectivity: values.connectivity,
    expansionAdd: values['expansion-add'],
    expansionSearch: values['expansion-search'],
    threads: values.threads,
  })
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => [key, Number(value)]),
);

/** mulberry32 (as test/helpers/random.ts) and Box-Muller normals. */
function normals(seed) {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  return { random, normal: () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random()) };
}

/** `base` plus Gaussian noise of norm ≈ `spread` (base is unit length); not normalised: the index does that. */
function noisy(rng, base, spread) {
  const scale = spread / Math.sqrt(base.length);
  const out = new Float32Array(base.length);
  for (let i = 0; i < base.length; i++) out[i] = base[i] + scale * rng.normal();
  return out;
}

function unit(vector) {
  const norm = Math.hypot(...vector);
  return vector.map((x) => x / norm);
}

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const ms = (ns) => Number(ns) / 1e6;
const fmt = (value, digits = 3) => value.toFixed(digits);
const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

function memory() {
  globalThis.gc();
  globalThis.gc();
  const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage();
  return { rss, heap: heapUsed, external, arrayBuffers };
}

/** Latencies of `count` calls of `fn(i)`, in ms, sorted. */
function time(count, fn) {
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint();
    fn(i);
    out[i] = ms(process.hrtime.bigint() - start);
  }
  return out.sort();
}

/** p50 of lookups in an exact partition of the default exactLimit (the index built without HNSW). */
async function exactAtLimit(dimensions, rng) {
  const limit = defaultExactLimit(dimensions);
  const index = await VectorIndex.create({ dimensions, loadHnsw: () => Promise.reject(new Error('exact only')) });
  const expiresAt = Date.now() + 3_600_000;
  const stored = Array.from({ length: limit }, () => noisy(rng, new Float32Array(dimensions), 1));
  index.addMany(stored.map((vector, i) => ({ id: `x${i}`, namespace: 'bench', partition: 'p', vector, expiresAt })));
  const queries = Array.from({ length: 1000 }, (_, i) => noisy(rng, unit(stored[i % limit]), QUERY_SPREAD));
  time(WARMUP, (i) => index.search('p', queries[i], THRESHOLD));
  const latencies = time(queries.length, (i) => index.search('p', queries[i], THRESHOLD));
  return { limit, p50: quantile(latencies, 0.5) };
}

async function run(dimensions) {
  const rng = normals(Number(values.seed) * 7919 + dimensions);
  const centroids = Array.from({ length: CLUSTERS }, () => unit(noisy(rng, new Float32Array(dimensions), 1)));
  // The entries the lookups paraphrase: WARMUP + QUERIES distinct ones, spread over the whole fill;
  // their vectors are kept in a buffer allocated before the memory baseline.
  const wanted = new Map();
  while (wanted.size < Math.min(ENTRIES, WARMUP + QUERIES)) {
    const i = Math.floor(rng.random() * ENTRIES);
    if (!wanted.has(i)) wanted.set(i, wanted.size);
  }
  const kept = new Float32Array(wanted.size * dimensions);

  const before = memory();
  let fallback;
  const index = await VectorIndex.create({
    dimensions,
    maxEntries: ENTRIES + ADDS_AT_SIZE,
    loadHnsw: () => loadUsearch(hnswParams),
    onFallback: (error) => (fallback = error),
  });
  if (fallback !== undefined) console.error(`  usearch did not load, the index is exact only: ${fallback.message ?? fallback}`);
  const expiresAt = Date.now() + 24 * 3_600_000;
  const entry = (i) => {
    const vector = noisy(rng, centroids[i % CLUSTERS], ENTRY_SPREAD);
    const slot = wanted.get(i);
    if (slot !== undefined) kept.set(vector, slot * dimensions);
    return { id: `entry-${i}`, namespace: 'bench', partition: 'p', vector, expiresAt };
  };

  const buildStart = process.hrtime.bigint();
  for (let from = 0; from < ENTRIES; from += CHUNK) {
    const to = Math.min(ENTRIES, from + CHUNK);
    index.addMany(
      (function* () {
        for (let i = from; i < to; i++) yield entry(i);
      })(),
    );
    if (to % PROGRESS_EVERY !== 0 && to !== ENTRIES) continue;
    const elapsed = ms(process.hrtime.bigint() - buildStart) / 1000;
    process.stderr.write(`\r  ${dimensions} dims: ${to}/${ENTRIES} entries, ${elapsed.toFixed(0)} s   `);
  }
  const buildSeconds = ms(process.hrtime.bigint() - buildStart) / 1000;
  process.stderr.write('\n');
  const after = memory();
  const stats = index.stats();

  const targets = [...wanted.keys()];
  const queries = targets.map((_, slot) => noisy(rng, unit(kept.subarray(slot * dimensions, (slot + 1) * dimensions)), QUERY_SPREAD));
  time(WARMUP, (i) => index.search('p', queries[i], THRESHOLD));
  let found = 0;
  let missed = 0;
  const latencies = time(QUERIES, (i) => {
    const q = WARMUP + i;
    const match = index.search('p', queries[q], THRESHOLD);
    if (match?.id === `entry-${targets[q]}`) found++;
    else if (match === undefined) missed++;
  });

  const extra = Array.from({ length: ADDS_AT_SIZE }, (_, i) => noisy(rng, centroids[i % CLUSTERS], ENTRY_SPREAD));
  const adds = time(ADDS_AT_SIZE, (i) => index.add({ id: `late-${i}`, namespace: 'bench', partition: 'p', vector: extra[i], expiresAt }));
  const sweepStart = process.hrtime.bigint();
  index.sweep();
  const sweepMs = ms(process.hrtime.bigint() - sweepStart);
  const exact = await exactAtLimit(dimensions, rng);

  const perEntry = (bytes) => Math.round(bytes / ENTRIES);
  console.error(
    `  rss +${mib(after.rss - before.rss)}, heap +${mib(after.heap - before.heap)}, stats ${mib(stats.bytes)}; ` +
      `recall ${found}/${QUERIES}, ${missed} without match, ${QUERIES - found - missed} another entry`,
  );
  return (
    `| ${dimensions} | ${ENTRIES} | ${fmt(buildSeconds, 1)} | ${fmt(quantile(adds, 0.5))} | ${fmt(quantile(adds, 0.99))} ` +
    `| ${fmt(quantile(latencies, 0.5))} | ${fmt(quantile(latencies, 0.99))} | ${fmt(latencies[latencies.length - 1])} ` +
    `| ${fmt((100 * found) / QUERIES, 2)} % | ${fmt(exact.p50)} (${exact.limit}) | ${fmt(sweepMs, 1)} ` +
    `| ${perEntry(after.rss - before.rss)} | ${perEntry(after.heap - before.heap)} | ${perEntry(stats.bytes)} |`
  );
}

const rows = [];
for (const dimensions of values.dims.split(',').map(Number)) rows.push(await run(dimensions));
const params = Object.keys(hnswParams).length > 0 ? ` HNSW ${JSON.stringify(hnswParams)}` : '';
console.log(`\nsemantic index, one partition, ${QUERIES} lookups of paraphrases (threshold ${THRESHOLD}), Node ${process.version}${params}\n`);
console.log('| dims | entries | build s | add p50 ms | add p99 ms | lookup p50 ms | p99 ms | max ms | recall | exact lookup p50 ms (limit) | sweep ms | RSS B/entry | heap B/entry | stats() B/entry |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const row of rows) console.log(row);

import { describe, expect, it } from 'vitest';
import { seeded } from '../../test/helpers/random.js';
import { defaultExactLimit } from './exact-rows.js';
import { loadUsearch, type HnswFactory } from './hnsw.js';
import { VectorIndex, type VectorEntry, type VectorIndexOptions } from './vector-index.js';

const START = 1_700_000_000_000;
const HOUR = 3_600_000;

/** A clock that moves only when told to. */
function fakeClock(): { now: () => number; advance: (ms: number) => void } {
  let time = START;
  return { now: () => time, advance: (ms) => (time += ms) };
}

/** Seeded standard normal samples (Box-Muller). */
function gaussian(random: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

function randomVector(normal: () => number, dimensions: number): Float32Array {
  return Float32Array.from({ length: dimensions }, normal);
}

/** `vector` plus noise of `scale` times its norm, spread over the dimensions: a paraphrase. */
function nearCopy(normal: () => number, vector: Float32Array, scale: number): Float32Array {
  const norm = Math.hypot(...vector);
  const step = (scale * norm) / Math.sqrt(vector.length);
  return vector.map((x) => x + step * normal());
}

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i]! * b[i]!;
  return dot / (Math.hypot(...a) * Math.hypot(...b));
}

const entry = (id: string, vector: number[] | Float32Array, extra: Partial<VectorEntry> = {}): VectorEntry => ({
  id,
  namespace: 'tenant-a',
  partition: 'p',
  vector: Float32Array.from(vector),
  expiresAt: START + HOUR,
  ...extra,
});

/**
 * usearch with every add and search counted, to see which half of a partition answered. `create`
 * probes the library with one add and one search: zero the counts after it.
 */
async function countingUsearch(): Promise<{ load: () => Promise<HnswFactory>; counts: { added: number; searches: number } }> {
  const real = await loadUsearch();
  const counts = { added: 0, searches: 0 };
  const factory: HnswFactory = (dimensions) => {
    const graph = real(dimensions);
    return {
      add: (keys, vectors) => {
        counts.added += keys.length;
        graph.add(keys, vectors);
      },
      search: (vector, k) => {
        counts.searches++;
        return graph.search(vector, k);
      },
      remove: (key) => graph.remove(key),
      capacity: () => graph.capacity(),
    };
  };
  return { load: () => Promise.resolve(factory), counts };
}

describe('VectorIndex (exact partitions)', () => {
  const create = (options: Partial<VectorIndexOptions> = {}) => VectorIndex.create({ dimensions: 3, now: fakeClock().now, ...options });

  it('finds the nearest vector with its cosine similarity, whatever the vectors’ lengths', async () => {
    const index = await create();
    index.add(entry('x', [1, 0, 0]));
    index.add(entry('y', [0, 10, 0]));
    index.add(entry('xy', [3, 2, 0]));
    const query = Float32Array.of(5, 1, 0.5);
    const match = index.search('p', query, 0);
    expect(match?.id).toBe('x');
    expect(match?.similarity).toBeCloseTo(cosine(query, Float32Array.of(1, 0, 0)), 6);
    expect(index.search('p', Float32Array.of(0, 0.1, 0), 0)).toEqual({ id: 'y', similarity: 1 });
  });

  it('returns nothing below the threshold, and the match from the threshold up', async () => {
    const index = await create();
    index.add(entry('a', [1, 0, 0]));
    const query = Float32Array.of(1, 1, 0); // cosine 0.7071 to a
    expect(index.search('p', query, 0.71)).toBeUndefined();
    expect(index.search('p', query, 0.707)?.id).toBe('a');
  });

  it('never returns an entry of another partition', async () => {
    const index = await create();
    index.add(entry('near-in-q', [1, 0, 0], { partition: 'q' }));
    index.add(entry('far-in-p', [1, 1, 0], { partition: 'p' }));
    expect(index.search('p', Float32Array.of(1, 0, 0), 0)?.id).toBe('far-in-p');
    expect(index.search('r', Float32Array.of(1, 0, 0), -1)).toBeUndefined();
    expect(index.stats()).toMatchObject({ entries: 2, partitions: 2, approximatePartitions: 0 });
  });

  it('never returns an expired entry, removes it when met, and finds the live one behind it', async () => {
    const clock = fakeClock();
    const index = await create({ now: clock.now });
    index.add(entry('short', [1, 0, 0], { expiresAt: START + 1_000 }));
    index.add(entry('long', [1, 0.2, 0], { expiresAt: START + HOUR }));
    expect(index.search('p', Float32Array.of(1, 0, 0), 0.9)?.id).toBe('short');
    clock.advance(1_000);
    expect(index.search('p', Float32Array.of(1, 0, 0), 0.9)?.id).toBe('long');
    expect(index.size).toBe(1);
    clock.advance(HOUR);
    expect(index.search('p', Float32Array.of(1, 0, 0), 0.9)).toBeUndefined();
    expect(index.stats()).toMatchObject({ entries: 0, partitions: 0 });
  });

  it('does not store an entry that has already expired', async () => {
    const index = await create();
    expect(index.add(entry('old', [1, 0, 0], { expiresAt: START }))).toBe(false);
    expect(index.size).toBe(0);
  });

  it('sweep removes every expired entry and only those', async () => {
    const clock = fakeClock();
    const index = await create({ now: clock.now });
    for (let i = 0; i < 10; i++) index.add(entry(`e${i}`, [1, i, 0], { expiresAt: START + (i < 4 ? 1_000 : HOUR), partition: `p${i % 3}` }));
    expect(index.sweep()).toBe(0);
    clock.advance(1_000);
    expect(index.sweep()).toBe(4);
    expect(index.size).toBe(6);
    expect(index.search('p0', Float32Array.of(1, 0, 0), -1)?.id).not.toBe('e0');
  });

  it('re-adding an id replaces its vector', async () => {
    const index = await create();
    index.add(entry('a', [1, 0, 0]));
    index.add(entry('a', [0, 1, 0]));
    expect(index.size).toBe(1);
    expect(index.search('p', Float32Array.of(1, 0, 0), 0.5)).toBeUndefined();
    expect(index.search('p', Float32Array.of(0, 1, 0), 0.5)?.id).toBe('a');
  });

  it('re-adding an id can move it to another partition', async () => {
    const index = await create();
    index.add(entry('a', [1, 0, 0], { partition: 'p' }));
    index.add(entry('a', [1, 0, 0], { partition: 'q' }));
    expect(index.search('p', Float32Array.of(1, 0, 0), 0)).toBeUndefined();
    expect(index.search('q', Float32Array.of(1, 0, 0), 0)?.id).toBe('a');
    expect(index.stats().partitions).toBe(1);
  });

  it('remove deletes one entry and keeps the rows of the others right', async () => {
    const index = await create();
    index.add(entry('a', [1, 0, 0]));
    index.add(entry('b', [0, 1, 0]));
    index.add(entry('c', [0, 0, 1]));
    expect(index.remove('a')).toBe(true);
    expect(index.remove('a')).toBe(false);
    expect(index.search('p', Float32Array.of(1, 0, 0), 0.5)).toBeUndefined();
    // c was swapped into a's row: it must still be found as c
    expect(index.search('p', Float32Array.of(0, 0, 1), 0.99)?.id).toBe('c');
    expect(index.search('p', Float32Array.of(0, 1, 0), 0.99)?.id).toBe('b');
  });

  it('removeNamespace deletes a tenant’s entries in every partition and nothing else', async () => {
    const index = await create();
    index.add(entry('a1', [1, 0, 0], { namespace: 'a', partition: 'p' }));
    index.add(entry('a2', [1, 0, 0], { namespace: 'a', partition: 'q' }));
    index.add(entry('b1', [1, 0.1, 0], { namespace: 'b', partition: 'p' }));
    expect(index.removeNamespace('a')).toBe(2);
    expect(index.search('p', Float32Array.of(1, 0, 0), 0)?.id).toBe('b1');
    expect(index.search('q', Float32Array.of(1, 0, 0), 0)).toBeUndefined();
    expect(index.removeNamespace('a')).toBe(0);
  });

  it('evicts the oldest entries beyond maxEntries, a replaced id counting as new', async () => {
    const index = await create({ maxEntries: 3 });
    index.add(entry('a', [1, 0, 0]));
    index.add(entry('b', [0, 1, 0]));
    index.add(entry('c', [0, 0, 1]));
    index.add(entry('a', [1, 0, 0])); // a is now the newest
    index.add(entry('d', [1, 1, 0]));
    expect(index.size).toBe(3);
    expect(index.search('p', Float32Array.of(0, 1, 0), 0.99)).toBeUndefined();
    for (const [id, vector] of [['a', [1, 0, 0]], ['c', [0, 0, 1]], ['d', [1, 1, 0]]] as const) {
      expect(index.search('p', Float32Array.from(vector), 0.99)?.id, id).toBe(id);
    }
  });

  it('rejects a vector of the wrong length with a RangeError', async () => {
    const index = await create();
    expect(() => index.add(entry('a', [1, 0]))).toThrow(RangeError);
    expect(() => index.search('p', Float32Array.of(1, 0, 0, 0), 0)).toThrow(RangeError);
    expect(index.size).toBe(0);
  });

  it('does not store a vector without a direction, and such a query matches nothing', async () => {
    const index = await create();
    index.add(entry('a', [1, 0, 0]));
    expect(index.add(entry('zero', [0, 0, 0]))).toBe(false);
    expect(index.add(entry('nan', [1, Number.NaN, 0]))).toBe(false);
    expect(index.size).toBe(1);
    expect(index.search('p', Float32Array.of(0, 0, 0), -1)).toBeUndefined();
    expect(index.search('p', Float32Array.of(Number.NaN, 0, 0), -1)).toBeUndefined();
    const match = index.search('p', Float32Array.of(1e-30, 0, 0), 0);
    expect(match).toEqual({ id: 'a', similarity: 1 });
    // a zero vector for an existing id removes what the id held
    expect(index.add(entry('a', [0, 0, 0]))).toBe(false);
    expect(index.size).toBe(0);
  });

  it('keeps its own copy of the vector', async () => {
    const index = await create();
    const vector = Float32Array.of(1, 0, 0);
    index.add(entry('a', vector));
    vector.set([0, 1, 0]);
    expect(index.search('p', Float32Array.of(1, 0, 0), 0.99)?.id).toBe('a');
  });

  it('accounts memory for what it holds and frees it with clear', async () => {
    const index = await create();
    const empty = index.stats().bytes;
    for (let i = 0; i < 100; i++) index.add(entry(`e${i}`, [1, i, 0]));
    expect(index.stats().bytes).toBeGreaterThan(empty + 100 * 3 * 4);
    index.clear();
    expect(index.stats()).toEqual({ entries: 0, partitions: 0, approximatePartitions: 0, bytes: 0 });
    expect(index.search('p', Float32Array.of(1, 0, 0), -1)).toBeUndefined();
  });

  it('holds little for a one-entry partition, and gives memory back as a partition shrinks', async () => {
    const dimensions = 1536;
    const index = await VectorIndex.create({ dimensions, now: fakeClock().now });
    const vector = (i: number) => Float32Array.from({ length: dimensions }, (_, j) => (j === i % dimensions ? 1 : 0.01));
    index.add(entry('single', vector(0), { partition: 'tiny' }));
    const one = index.stats().bytes;
    expect(one).toBeLessThan(dimensions * 4 * 1.5);
    for (let i = 0; i < 600; i++) index.add(entry(`e${i}`, vector(i)));
    const full = index.stats().bytes;
    for (let i = 0; i < 590; i++) index.remove(`e${i}`);
    expect(index.stats().bytes - one).toBeLessThan((full - one) / 16);
    for (let i = 590; i < 600; i++) expect(index.search('p', vector(i), 0.999)?.id).toBe(`e${i}`);
  });
});

describe('VectorIndex (HNSW partitions)', () => {
  const DIMENSIONS = 48;
  const STORED = 1_000;
  const PLANTED = 40;

  /** STORED random vectors with ids v0.., and PLANTED of them (every 25th) with a paraphrase as query. */
  function dataset(seed: number) {
    const normal = gaussian(seeded(seed));
    const vectors = Array.from({ length: STORED }, () => randomVector(normal, DIMENSIONS));
    const planted = Array.from({ length: PLANTED }, (_, i) => {
      const at = i * (STORED / PLANTED);
      return { id: `v${at}`, query: nearCopy(normal, vectors[at]!, 0.1) };
    });
    return { vectors, planted };
  }

  it('moves a partition past exactLimit into the graph and still finds every paraphrase', async () => {
    const { load, counts } = await countingUsearch();
    const index = await VectorIndex.create({ dimensions: DIMENSIONS, exactLimit: 64, loadHnsw: load, now: fakeClock().now });
    Object.assign(counts, { added: 0, searches: 0 });
    const { vectors, planted } = dataset(1);
    vectors.forEach((vector, i) => index.add(entry(`v${i}`, vector)));
    index.add(entry('elsewhere', vectors[0]!, { partition: 'small' }));

    expect(index.stats()).toMatchObject({ entries: STORED + 1, partitions: 2, approximatePartitions: 1 });
    expect(counts.added).toBe(STORED); // every entry of p has moved into the graph
    for (const { id, query } of planted) {
      const match = index.search('p', query, 0.9);
      expect(match?.id).toBe(id);
      expect(match?.similarity).toBeCloseTo(cosine(query, vectors[Number(id.slice(1))]!), 4);
      expect(index.search('p', query, 0.9999)).toBeUndefined();
    }
    expect(counts.searches).toBeGreaterThanOrEqual(PLANTED);
    // the small partition stays exact and separate
    expect(index.search('small', planted[0]!.query, 0.9)?.id).toBe('elsewhere');
  });

  it('answers from both halves while entries are still moving into the graph', async () => {
    const { load, counts } = await countingUsearch();
    // a zero budget moves one batch of 4 per add: the move is still under way after a few adds
    const index = await VectorIndex.create({ dimensions: DIMENSIONS, exactLimit: 200, migrationBudgetMs: 0, loadHnsw: load, now: fakeClock().now });
    Object.assign(counts, { added: 0, searches: 0 });
    const { vectors, planted } = dataset(2);
    vectors.slice(0, 203).forEach((vector, i) => index.add(entry(`v${i}`, vector)));
    expect(index.stats().approximatePartitions).toBe(1);
    expect(counts.added).toBe(12);
    const reachable = planted.filter((p) => Number(p.id.slice(1)) < 203);
    expect(reachable.map((p) => p.id)).toContain('v200'); // moved to the graph first (rows leave from the end)
    for (const { id, query } of reachable) expect(index.search('p', query, 0.9)?.id).toBe(id);
    expect(counts.searches).toBe(reachable.length);
  });

  it('removes from a graph partition: by eviction, by id, by expiry and by namespace', async () => {
    const clock = fakeClock();
    const index = await VectorIndex.create({ dimensions: DIMENSIONS, exactLimit: 64, maxEntries: STORED, now: clock.now });
    const { vectors, planted } = dataset(3);
    vectors.forEach((vector, i) => {
      const namespace = i % 2 === 0 ? 'even' : 'odd';
      index.add(entry(`v${i}`, vector, { namespace, expiresAt: START + (i === 100 ? 1_000 : HOUR) }));
    });
    expect(index.stats().approximatePartitions).toBe(1);
    const query = (id: string) => planted.find((p) => p.id === id)!.query;

    // one more entry (a copy of v50, in the odd namespace) evicts v0, the oldest
    index.add(entry('copy-of-v50', vectors[50]!, { namespace: 'odd' }));
    expect(index.size).toBe(STORED);
    expect(index.search('p', query('v0'), 0.9)).toBeUndefined();
    expect(['v50', 'copy-of-v50']).toContain(index.search('p', query('v50'), 0.9)?.id);

    expect(index.remove('v25')).toBe(true);
    expect(index.search('p', query('v25'), 0.9)).toBeUndefined();

    expect(index.search('p', query('v100'), 0.9)?.id).toBe('v100');
    clock.advance(1_000);
    expect(index.search('p', query('v100'), 0.9)).toBeUndefined();
    expect(index.size).toBe(STORED - 2);

    // the even entries left: 500 less v0 (evicted) and v100 (expired)
    expect(index.removeNamespace('even')).toBe(498);
    for (const { id, query } of planted) {
      const at = Number(id.slice(1));
      const expected = at === 50 ? 'copy-of-v50' : at % 2 === 1 && at !== 25 ? id : undefined;
      expect(index.search('p', query, 0.9)?.id, id).toBe(expected);
    }
  });

  it('addMany builds the graph in bulk and finds every paraphrase', async () => {
    const { load, counts } = await countingUsearch();
    const index = await VectorIndex.create({ dimensions: DIMENSIONS, exactLimit: 64, loadHnsw: load, now: fakeClock().now });
    Object.assign(counts, { added: 0, searches: 0 });
    const { vectors, planted } = dataset(4);
    const stored = index.addMany([...vectors.map((vector, i) => entry(`v${i}`, vector)), entry('zero', new Float32Array(DIMENSIONS))]);
    expect(stored).toBe(STORED);
    expect(counts.added).toBe(STORED);
    expect(index.stats()).toMatchObject({ entries: STORED, approximatePartitions: 1 });
    for (const { id, query } of planted) expect(index.search('p', query, 0.9)?.id).toBe(id);
  });

  it('a graph partition that empties is dropped', async () => {
    const index = await VectorIndex.create({ dimensions: DIMENSIONS, exactLimit: 8, now: fakeClock().now });
    const { vectors } = dataset(5);
    vectors.slice(0, 20).forEach((vector, i) => index.add(entry(`v${i}`, vector)));
    expect(index.stats().approximatePartitions).toBe(1);
    expect(index.removeNamespace('tenant-a')).toBe(20);
    expect(index.stats()).toEqual({ entries: 0, partitions: 0, approximatePartitions: 0, bytes: 0 });
  });
});

describe('VectorIndex without the HNSW library', () => {
  it('reports the load failure once and stays exact, still correct past exactLimit', async () => {
    const failures: unknown[] = [];
    const cause = new Error('Cannot find module usearch');
    const index = await VectorIndex.create({
      dimensions: 16,
      exactLimit: 8,
      loadHnsw: () => Promise.reject(cause),
      onFallback: (error) => failures.push(error),
      now: fakeClock().now,
    });
    const normal = gaussian(seeded(7));
    const vectors = Array.from({ length: 100 }, () => randomVector(normal, 16));
    vectors.forEach((vector, i) => index.add(entry(`v${i}`, vector)));
    expect(failures).toEqual([cause]);
    expect(index.stats()).toMatchObject({ entries: 100, approximatePartitions: 0 });
    for (let i = 0; i < 100; i += 7) expect(index.search('p', nearCopy(normal, vectors[i]!, 0.05), 0.95)?.id).toBe(`v${i}`);
  });

  it('falls back when the library loads but does not work', async () => {
    const failures: unknown[] = [];
    const broken: HnswFactory = () => ({
      add: () => undefined,
      search: () => ({ keys: new BigUint64Array(0), distances: new Float32Array(0) }),
      remove: () => undefined,
      capacity: () => 0,
    });
    const index = await VectorIndex.create({
      dimensions: 4,
      exactLimit: 2,
      loadHnsw: () => Promise.resolve(broken),
      onFallback: (error) => failures.push(error),
      now: fakeClock().now,
    });
    for (let i = 0; i < 5; i++) index.add(entry(`v${i}`, [1, i, 0, 0]));
    expect(failures).toHaveLength(1);
    expect(index.stats().approximatePartitions).toBe(0);
    expect(index.search('p', Float32Array.of(1, 4, 0, 0), 0.999)?.id).toBe('v4');
  });
});

describe('VectorIndex options', () => {
  it('rejects options out of range before loading the library', async () => {
    let loaded = false;
    const loadHnsw = () => {
      loaded = true;
      return loadUsearch();
    };
    await expect(VectorIndex.create({ dimensions: 0, loadHnsw })).rejects.toThrow(RangeError);
    await expect(VectorIndex.create({ dimensions: 1.5, loadHnsw })).rejects.toThrow(RangeError);
    await expect(VectorIndex.create({ dimensions: 8, exactLimit: 0, loadHnsw })).rejects.toThrow(RangeError);
    await expect(VectorIndex.create({ dimensions: 8, maxEntries: 0, loadHnsw })).rejects.toThrow(RangeError);
    expect(loaded).toBe(false);
  });
});

describe('defaultExactLimit', () => {
  it('keeps an exact scan near 2^20 floats, with a floor for huge vectors', () => {
    expect(defaultExactLimit(1024)).toBe(1024);
    expect(defaultExactLimit(1536)).toBe(682);
    expect(defaultExactLimit(384)).toBe(2730);
    expect(defaultExactLimit(1 << 20)).toBe(64);
  });
});

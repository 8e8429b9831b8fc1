/**
 * The semantic cache's in-process vector index: the nearest stored embedding to a query, by cosine
 * similarity, within one partition (the caller hashes tenant + model group + system prompt + tools
 * into it, so a search never crosses tenants or prompts).
 *
 * A partition is scanned exactly while it is small: its vectors sit in one contiguous
 * Float32Array and a scan is a tight dot-product loop. Past `exactLimit` entries it moves to an
 * HNSW graph (usearch, native code): the graph is created at once, but the existing entries move
 * into it a few at a time on later adds (≈2 ms of work per add), because building a graph of a
 * thousand 1536-dim vectors in one go blocks the event loop for ~300 ms. Until the move is done a
 * search looks at both halves. A graph partition never goes back to exact (usearch cannot hand
 * its vectors back and keeping a copy would double the memory); it is dropped when it empties.
 * When usearch cannot be loaded every partition stays exact: correct, only slower.
 *
 * Vectors are stored normalised to unit length, so cosine similarity is a plain dot product and
 * the graph uses usearch's inner-product metric (distance = 1 − similarity).
 */
import { performance } from 'node:perf_hooks';
import { ExactRows, defaultExactLimit } from './exact-rows.js';
import { GraphPart, loadUsearch, probeHnsw, type HnswFactory } from './hnsw.js';

/** One embedding to store. */
export interface VectorEntry {
  /** The caller's handle for the cached answer; adding an id again replaces its entry. */
  id: string;
  /** What {@link VectorIndex.removeNamespace} deletes (a tenant). */
  namespace: string;
  /** Searches only ever see entries of their own partition. */
  partition: string;
  vector: Float32Array;
  /** epoch ms; the entry is never returned from then on */
  expiresAt: number;
}

/** The nearest live entry of a partition and its cosine similarity to the query. */
export interface VectorMatch {
  id: string;
  similarity: number;
}

/** What the index holds; `entries` and `bytes` include expired entries not yet removed. */
export interface VectorIndexStats {
  entries: number;
  partitions: number;
  /** Partitions searched through an HNSW graph (possibly still moving entries into it). */
  approximatePartitions: number;
  /** Estimate of the memory held, JavaScript and native (see the constants below). */
  bytes: number;
}

/** Options of {@link VectorIndex.create}. */
export interface VectorIndexOptions {
  dimensions: number;
  /**
   * Partitions up to this many entries are scanned exactly; larger ones move to HNSW. Default
   * {@link defaultExactLimit}: the size whose scan costs about as much as a graph search plus a
   * graph insert.
   */
  exactLimit?: number;
  /** Bound on entries across all partitions; adding beyond it evicts the oldest. Default 100_000. */
  maxEntries?: number;
  /** Clock in epoch ms; injected by tests. Default `Date.now`. */
  now?: () => number;
  /** Called once if the HNSW library cannot be loaded or fails; the index then stays exact. */
  onFallback?: (error: unknown) => void;
  /**
   * How long one add may spend moving a promoted partition's entries into its graph (at least one
   * batch of 4 moves per add, so the move always outpaces the adds). Default 2 ms.
   */
  migrationBudgetMs?: number;
  /** Loads the HNSW library. Default {@link loadUsearch}; tests inject a failing one. */
  loadHnsw?: () => Promise<HnswFactory>;
}

export const DEFAULT_MAX_ENTRIES = 100_000;

/**
 * Memory per entry beyond its vector (dimensions × 4 bytes), measured at 100k entries on Node 20.
 * JavaScript (the id → entry Map, the entry object, the graph's key → entry Map; not the id
 * string, which the caller holds anyway): the heap grew 195 bytes per entry with 11-character ids
 * (bench/semantic.mjs). A graph's native memory is estimated by {@link GraphPart.bytes}.
 */
export const ENTRY_OVERHEAD_BYTES = 170;

/** Graph results asked per search, so a few expired neighbours do not hide a live one. */
const SEARCH_K = 4;
/** Searches per lookup while every result found was expired (each round removes what it met). */
const SEARCH_ROUNDS = 4;
/** Entries moved into a graph per native call from {@link VectorIndex.add}. */
const MIGRATION_BATCH = 4;
const DEFAULT_MIGRATION_BUDGET_MS = 2;
/** Rows moved per native call by {@link VectorIndex.addMany}, which is not time-bound. */
const BULK_MIGRATION_BATCH = 1024;

/** Where an entry lives: a row of its partition's exact rows, or a key of its graph. */
interface Slot {
  readonly id: string;
  readonly namespace: string;
  readonly partition: Partition;
  readonly expiresAt: number;
  /** Row in the exact rows; -1 once in the graph. */
  row: number;
  /** Graph key (usearch keys are integers); 0 while in the exact rows. */
  key: number;
}

interface Candidate {
  slot: Slot;
  similarity: number;
}

class Partition {
  readonly rows: ExactRows<Slot>;
  graph: GraphPart<Slot> | undefined;

  constructor(
    readonly name: string,
    dimensions: number,
  ) {
    this.rows = new ExactRows<Slot>(dimensions);
  }

  get size(): number {
    return this.rows.count + (this.graph?.size ?? 0);
  }
}

/**
 * Copies `vector` scaled to unit length into `into`; undefined when it has no direction (all
 * zeros) or holds a NaN or an infinity.
 */
function normaliseInto(vector: Float32Array, into: Float32Array): Float32Array | undefined {
  let squares = 0;
  for (let i = 0; i < vector.length; i++) squares += vector[i]! * vector[i]!;
  const norm = Math.sqrt(squares);
  if (!(norm > 0) || !Number.isFinite(norm)) return undefined;
  for (let i = 0; i < vector.length; i++) into[i] = vector[i]! / norm;
  return into;
}

/** Float rounding can put a unit vector's self-similarity a hair above 1. */
function clampSimilarity(similarity: number): number {
  return Math.min(1, Math.max(-1, similarity));
}

/** The semantic cache's vector index; see the file comment for how it searches. */
export class VectorIndex {
  private readonly entries = new Map<string, Slot>();
  private readonly partitions = new Map<string, Partition>();
  private readonly dimensions: number;
  private readonly exactLimit: number;
  private readonly maxEntries: number;
  private readonly migrationBudgetMs: number;
  private readonly now: () => number;
  private readonly onFallback: ((error: unknown) => void) | undefined;
  /** Makes graphs; undefined when the library did not load or failed (the index is then exact). */
  private hnsw: HnswFactory | undefined;
  private nextKey = 1;
  /** Every add and search normalises into this one buffer (nothing keeps it). */
  private readonly scratch: Float32Array;

  /**
   * Loads the HNSW library (dynamic import) and probes it; on failure the index is exact only.
   * @throws RangeError for options out of range (before loading anything)
   */
  static async create(options: VectorIndexOptions): Promise<VectorIndex> {
    const index = new VectorIndex(options);
    try {
      const hnsw = await (options.loadHnsw ?? loadUsearch)();
      probeHnsw(hnsw, index.dimensions);
      index.hnsw = hnsw;
    } catch (error) {
      options.onFallback?.(error);
    }
    return index;
  }

  private constructor(options: VectorIndexOptions) {
    const { dimensions } = options;
    if (!Number.isInteger(dimensions) || dimensions <= 0) throw new RangeError(`dimensions must be a positive integer, got ${dimensions}`);
    this.dimensions = dimensions;
    this.exactLimit = options.exactLimit ?? defaultExactLimit(dimensions);
    this.maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    if (!(this.exactLimit >= 1)) throw new RangeError(`exactLimit must be at least 1, got ${this.exactLimit}`);
    if (!(this.maxEntries >= 1)) throw new RangeError(`maxEntries must be at least 1, got ${this.maxEntries}`);
    this.migrationBudgetMs = options.migrationBudgetMs ?? DEFAULT_MIGRATION_BUDGET_MS;
    this.now = options.now ?? Date.now;
    this.onFallback = options.onFallback;
    this.scratch = new Float32Array(dimensions);
  }

  /**
   * Stores a copy of the vector, normalised. Whatever the id held before is removed first. Returns
   * false, storing nothing, for a vector without a direction (zero, NaN) or an entry already expired.
   * @throws RangeError when the vector's length is not the index's dimensions
   */
  add(entry: VectorEntry): boolean {
    const partition = this.insert(entry);
    if (partition === undefined) return false;
    if (partition.graph !== undefined && partition.rows.count > 0) this.migrate(partition, this.migrationBudgetMs, MIGRATION_BATCH);
    this.evictOverflow();
    return true;
  }

  /**
   * Adds many entries at once (warm-up, bulk load): each partition that ends up in a graph gets
   * them in batches of 1024 (threaded if `HnswParams.threads` (hnsw.ts) allows). Blocks until done.
   * Returns how many were stored.
   */
  addMany(entries: Iterable<VectorEntry>): number {
    let stored = 0;
    const touched = new Set<Partition>();
    for (const entry of entries) {
      const partition = this.insert(entry);
      if (partition === undefined) continue;
      stored++;
      touched.add(partition);
      this.evictOverflow();
    }
    for (const partition of touched) {
      if (partition.graph !== undefined && this.partitions.get(partition.name) === partition) {
        this.migrate(partition, Infinity, BULK_MIGRATION_BATCH);
      }
    }
    return stored;
  }

  /**
   * The nearest live entry of `partition` whose cosine similarity to `vector` is at least
   * `minSimilarity`, or undefined. Expired entries it meets are removed. A query without a
   * direction (zero, NaN) matches nothing.
   * @throws RangeError when the vector's length is not the index's dimensions
   */
  search(partition: string, vector: Float32Array, minSimilarity: number): VectorMatch | undefined {
    this.checkDimensions(vector);
    const part = this.partitions.get(partition);
    if (part === undefined) return undefined;
    const query = normaliseInto(vector, this.scratch);
    if (query === undefined) return undefined;
    const now = this.now();
    let best: Candidate | undefined;
    if (part.rows.count > 0) {
      const expired: Slot[] = [];
      best = part.rows.nearest(query, minSimilarity, now, expired);
      for (const slot of expired) this.drop(slot);
    }
    if (part.graph !== undefined) {
      const approximate = this.nearestInGraph(part.graph, query, best?.similarity ?? minSimilarity, now);
      if (approximate !== undefined && (best === undefined || approximate.similarity > best.similarity)) best = approximate;
    }
    return best === undefined ? undefined : { id: best.slot.id, similarity: clampSimilarity(best.similarity) };
  }

  /** Removes an id's entry; true when there was one (expired or not). */
  remove(id: string): boolean {
    const slot = this.entries.get(id);
    if (slot === undefined) return false;
    this.drop(slot);
    return true;
  }

  /** Removes every entry of a namespace (O(entries)); returns how many. */
  removeNamespace(namespace: string): number {
    let removed = 0;
    for (const slot of this.entries.values()) {
      if (slot.namespace !== namespace) continue;
      this.drop(slot);
      removed++;
    }
    return removed;
  }

  /** Removes every entry expired at `now` (O(entries): 6–25 ms per 100k here, fine once a minute); returns how many. */
  sweep(now: number = this.now()): number {
    let removed = 0;
    for (const slot of this.entries.values()) {
      if (now < slot.expiresAt) continue;
      this.drop(slot);
      removed++;
    }
    return removed;
  }

  clear(): void {
    this.entries.clear();
    this.partitions.clear();
  }

  /** Entries held, expired ones not yet removed included. */
  get size(): number {
    return this.entries.size;
  }

  /** O(partitions). */
  stats(): VectorIndexStats {
    let bytes = this.entries.size * ENTRY_OVERHEAD_BYTES;
    let approximatePartitions = 0;
    for (const partition of this.partitions.values()) {
      bytes += partition.rows.bytes();
      if (partition.graph === undefined) continue;
      approximatePartitions++;
      bytes += partition.graph.bytes(this.dimensions);
    }
    return { entries: this.entries.size, partitions: this.partitions.size, approximatePartitions, bytes };
  }

  /** Records an entry in its partition's exact rows (promoting the partition when it outgrows them). */
  private insert(entry: VectorEntry): Partition | undefined {
    this.checkDimensions(entry.vector);
    this.remove(entry.id);
    const vector = normaliseInto(entry.vector, this.scratch);
    if (vector === undefined || this.now() >= entry.expiresAt) return undefined;
    let partition = this.partitions.get(entry.partition);
    if (partition === undefined) {
      partition = new Partition(entry.partition, this.dimensions);
      this.partitions.set(entry.partition, partition);
    }
    const slot: Slot = { id: entry.id, namespace: entry.namespace, partition, expiresAt: entry.expiresAt, row: -1, key: 0 };
    this.entries.set(entry.id, slot);
    partition.rows.push(slot, vector);
    if (partition.graph === undefined && this.hnsw !== undefined && partition.rows.count > this.exactLimit) {
      try {
        partition.graph = new GraphPart(this.hnsw(this.dimensions));
      } catch (error) {
        this.abandonHnsw(error);
      }
    }
    return partition;
  }

  /** Moves rows from the end of the exact rows into the graph, `batch` per call, until `budgetMs` is spent. */
  private migrate(partition: Partition, budgetMs: number, batch: number): void {
    const { rows, graph } = partition;
    if (graph === undefined || this.hnsw === undefined) return;
    const deadline = performance.now() + budgetMs;
    while (rows.count > 0) {
      const start = Math.max(0, rows.count - batch);
      const slots = rows.slots.slice(start, rows.count) as Slot[];
      try {
        graph.add(slots, rows.vectors.subarray(start * this.dimensions, rows.count * this.dimensions), this.nextKey);
      } catch (error) {
        this.abandonHnsw(error);
        return;
      }
      this.nextKey += slots.length;
      rows.truncate(start);
      if (performance.now() >= deadline) return;
    }
  }

  /** Walks the graph's nearest results; expired ones met are removed, and if all were, it searches again. */
  private nearestInGraph(graph: GraphPart<Slot>, query: Float32Array, minSimilarity: number, now: number): Candidate | undefined {
    for (let round = 0; round < SEARCH_ROUNDS && graph.size > 0; round++) {
      const { keys, distances } = graph.native.search(query, SEARCH_K);
      for (let i = 0; i < keys.length; i++) {
        const similarity = 1 - distances[i]!;
        if (similarity < minSimilarity) return undefined;
        const slot = graph.slots.get(Number(keys[i]));
        if (slot === undefined) continue;
        if (now < slot.expiresAt) return { slot, similarity };
        this.drop(slot);
      }
      if (keys.length < SEARCH_K) return undefined;
    }
    return undefined;
  }

  private drop(slot: Slot): void {
    this.entries.delete(slot.id);
    const { partition } = slot;
    if (slot.row >= 0) partition.rows.remove(slot.row);
    else partition.graph?.remove(slot);
    if (partition.size === 0 && this.partitions.get(partition.name) === partition) this.partitions.delete(partition.name);
  }

  /** Drops the oldest entries (insertion order) beyond `maxEntries`. */
  private evictOverflow(): void {
    for (const slot of this.entries.values()) {
      if (this.entries.size <= this.maxEntries) return;
      this.drop(slot);
    }
  }

  /** A graph operation failed (out of memory): no more graphs; partitions without one stay exact. */
  private abandonHnsw(error: unknown): void {
    this.hnsw = undefined;
    this.onFallback?.(error);
  }

  private checkDimensions(vector: Float32Array): void {
    if (vector.length !== this.dimensions) {
      throw new RangeError(`vector has ${vector.length} dimensions, the index ${this.dimensions}`);
    }
  }
}

/**
 * The HNSW library behind the vector index's large partitions: the few graph operations the index
 * uses ({@link HnswGraph}), loading usearch as a factory of such graphs ({@link loadUsearch}), a
 * start-up probe that a broken native addon fails, and the graph half of a partition
 * ({@link GraphPart}: the native graph, its key → entry map and its memory estimate).
 *
 * Vectors are unit length and the graph uses usearch's inner-product metric, so a distance is
 * 1 − cosine similarity.
 */

/** The few operations of an HNSW library the index uses; vectors are unit length. */
export interface HnswGraph {
  /** Adds the rows of `vectors` (concatenated, `keys.length` of them) under `keys`. */
  add(keys: BigUint64Array, vectors: Float32Array): void;
  /** Up to `k` nearest, nearest first; a distance is 1 − cosine similarity. */
  search(vector: Float32Array, k: number): { keys: BigUint64Array; distances: Float32Array };
  remove(key: bigint): void;
  /** Slots reserved (usearch grows by powers of two). */
  capacity(): number;
}

/** Makes an empty graph for vectors of `dimensions`. */
export type HnswFactory = (dimensions: number) => HnswGraph;

/** usearch's graph parameters (its own defaults); bench/semantic.mjs measures recall with them. */
export interface HnswParams {
  connectivity: number;
  expansionAdd: number;
  expansionSearch: number;
  /**
   * Threads of a batch add (0: every core). 1 by default: the graph is then the same on every run
   * (concurrent inserts land in a different order each time; in 1200 near-duplicate queries a
   * threaded build missed one, serial builds none), and the other cores stay free.
   */
  threads: number;
}

export const DEFAULT_HNSW_PARAMS: Readonly<HnswParams> = { connectivity: 16, expansionAdd: 128, expansionSearch: 64, threads: 1 };

/**
 * Native memory per graph entry beyond its vector (dimensions × 4 bytes), measured on Node 20.
 * usearch's graph node (neighbour lists of 2 × connectivity at level 0, fewer above, key, level):
 * RSS grew dimensions × 4 + 250 bytes per entry at 64k, 100k and 128k entries, of which ≈48 per
 * reserved slot (capacity doubles). The JavaScript side is in the index's ENTRY_OVERHEAD_BYTES.
 */
export const GRAPH_NODE_BYTES = 200;
/** usearch's per-slot tables sized by capacity (vector pointer, node pointer, key hash slot). */
export const GRAPH_SLOT_BYTES = 48;

/**
 * Loads usearch (a native addon: prebuilt for linux, macOS and Windows) and returns a factory of
 * inner-product graphs over f32 vectors. Every call passes the same thread count: usearch sizes
 * its per-thread contexts by the count of the add that grows the graph.
 */
export async function loadUsearch(params: Partial<HnswParams> = {}): Promise<HnswFactory> {
  const { default: usearch } = await import('usearch');
  const { connectivity, expansionAdd, expansionSearch, threads } = { ...DEFAULT_HNSW_PARAMS, ...params };
  return (dimensions) => {
    const index = new usearch.Index({
      dimensions,
      metric: usearch.MetricKind.IP,
      quantization: usearch.ScalarKind.F32,
      connectivity,
      expansion_add: expansionAdd,
      expansion_search: expansionSearch,
      multi: false,
    });
    return {
      add: (keys, vectors) => index.add(keys, vectors, threads),
      search: (vector, k) => index.search(vector, k, threads),
      remove: (key) => void index.remove(key),
      capacity: () => index.capacity(),
    };
  };
}

/** Builds a one-vector graph and finds the vector again, so a broken native addon shows at start. */
export function probeHnsw(factory: HnswFactory, dimensions: number): void {
  const vector = new Float32Array(dimensions);
  vector[0] = 1;
  const graph = factory(dimensions);
  graph.add(BigUint64Array.of(1n), vector);
  if (graph.search(vector, 1).keys[0] !== 1n) throw new Error('the HNSW library did not find the vector it was given');
}

/** What a {@link GraphPart} holds per key; it sets both members when an entry moves in. */
export interface GraphEntry {
  /** Row in the partition's exact rows; set to -1 on moving into the graph. */
  row: number;
  /** Graph key (usearch keys are integers). */
  key: number;
}

/** Graph half of a partition: the native graph and its key → entry map. */
export class GraphPart<T extends GraphEntry> {
  readonly slots = new Map<number, T>();
  /** usearch reuses the nodes of removed keys, so the nodes allocated are the most ever held. */
  private mostHeld = 0;

  constructor(readonly native: HnswGraph) {}

  get size(): number {
    return this.slots.size;
  }

  /** Adds `slots` with their vectors (concatenated, in the same order) under keys from `firstKey`. */
  add(slots: readonly T[], vectors: Float32Array, firstKey: number): void {
    const keys = new BigUint64Array(slots.length);
    for (let i = 0; i < slots.length; i++) keys[i] = BigInt(firstKey + i);
    this.native.add(keys, vectors);
    slots.forEach((slot, i) => {
      slot.row = -1;
      slot.key = firstKey + i;
      this.slots.set(slot.key, slot);
    });
    this.mostHeld = Math.max(this.mostHeld, this.slots.size);
  }

  remove(slot: T): void {
    this.slots.delete(slot.key);
    this.native.remove(BigInt(slot.key));
  }

  bytes(dimensions: number): number {
    return this.mostHeld * (dimensions * 4 + GRAPH_NODE_BYTES) + this.native.capacity() * GRAPH_SLOT_BYTES;
  }
}

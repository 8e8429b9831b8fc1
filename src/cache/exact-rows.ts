/**
 * The exact half of a vector-index partition: its vectors in one contiguous Float32Array, scanned
 * with a tight dot-product loop, and how large a partition may grow before an HNSW graph is
 * cheaper ({@link defaultExactLimit}). Vectors are unit length, so a dot product is the cosine
 * similarity.
 */

/**
 * An exact scan costs ≈0.7 ns per stored float here (bench/semantic.mjs: 0.75 ms for 2730×384 and
 * for 682×1536). A graph search of a few thousand entries costs 0.1–0.3 ms, but every graph insert
 * 0.3–1.3 ms (0.9 and 2.1 ms at 100k entries) and promotion moves the whole partition, so the
 * exact scan stays cheaper overall until it costs about a search plus an insert: 2^20 floats.
 */
export const EXACT_SCAN_FLOATS = 1 << 20;

/** 2730 entries at 384 dimensions, 1024 at 1024, 682 at 1536, 341 at 3072. */
export function defaultExactLimit(dimensions: number): number {
  return Math.max(64, Math.floor(EXACT_SCAN_FLOATS / dimensions));
}

/** What a row holds; {@link ExactRows} keeps `row` current as rows move. */
export interface RowEntry {
  /** epoch ms; a scan never returns the entry from then on */
  readonly expiresAt: number;
  /** Row in the exact rows. */
  row: number;
}

/**
 * Exact half of a partition: vectors in one Float32Array that doubles when full and halves when a
 * quarter full (many partitions hold a single entry); removal swaps the last row in.
 */
export class ExactRows<T extends RowEntry> {
  count = 0;
  vectors: Float32Array;
  slots: (T | undefined)[] = [];

  constructor(private readonly dimensions: number) {
    this.vectors = new Float32Array(dimensions);
  }

  get capacity(): number {
    return this.vectors.length / this.dimensions;
  }

  push(slot: T, vector: Float32Array): void {
    if (this.count === this.capacity) this.resize(this.capacity * 2);
    this.vectors.set(vector, this.count * this.dimensions);
    this.slots[this.count] = slot;
    slot.row = this.count++;
  }

  remove(row: number): void {
    const last = --this.count;
    if (row !== last) {
      const moved = this.slots[last]!;
      this.vectors.copyWithin(row * this.dimensions, last * this.dimensions, (last + 1) * this.dimensions);
      this.slots[row] = moved;
      moved.row = row;
    }
    this.slots[last] = undefined;
    this.shrinkIfSparse();
  }

  /** Drops the rows from `count` on (they have moved elsewhere). */
  truncate(count: number): void {
    this.slots.length = count;
    this.count = count;
    this.shrinkIfSparse();
  }

  /**
   * The nearest row with similarity ≥ `minSimilarity` that has not expired; the expired rows that
   * would have won are pushed onto `expired` (the caller removes them after the scan).
   */
  nearest(query: Float32Array, minSimilarity: number, now: number, expired: T[]): { slot: T; similarity: number } | undefined {
    const { vectors, dimensions } = this;
    const unrolled = dimensions - (dimensions % 4);
    let best: T | undefined;
    let bestSimilarity = minSimilarity;
    for (let row = 0, offset = 0; row < this.count; row++, offset += dimensions) {
      let a = 0;
      let b = 0;
      let c = 0;
      let d = 0;
      let i = 0;
      for (; i < unrolled; i += 4) {
        a += vectors[offset + i]! * query[i]!;
        b += vectors[offset + i + 1]! * query[i + 1]!;
        c += vectors[offset + i + 2]! * query[i + 2]!;
        d += vectors[offset + i + 3]! * query[i + 3]!;
      }
      for (; i < dimensions; i++) a += vectors[offset + i]! * query[i]!;
      const similarity = a + b + c + d;
      if (similarity < bestSimilarity || (best !== undefined && similarity === bestSimilarity)) continue;
      const slot = this.slots[row]!;
      if (now >= slot.expiresAt) {
        expired.push(slot);
        continue;
      }
      best = slot;
      bestSimilarity = similarity;
    }
    return best === undefined ? undefined : { slot: best, similarity: bestSimilarity };
  }

  bytes(): number {
    return this.vectors.byteLength + this.capacity * 4;
  }

  private shrinkIfSparse(): void {
    let capacity = this.capacity;
    while (capacity > 1 && this.count < capacity / 4) capacity /= 2;
    if (capacity !== this.capacity) this.resize(capacity);
  }

  private resize(capacity: number): void {
    const vectors = new Float32Array(capacity * this.dimensions);
    vectors.set(this.vectors.subarray(0, this.count * this.dimensions));
    this.vectors = vectors;
  }
}

/**
 * The embedded cache store: an in-process LRU bounded by bytes, with per-entry TTL. A Map keeps
 * insertion order, so re-inserting on read makes the first key the least recently used one and
 * get/set are O(1).
 */
import { isKeyInNamespace, isStorableTtl, type CacheEntry, type CacheStore, type CacheStoreStats } from './store.js';

/** An entry as held: `until` is when this store stops serving it (its expiry, or sooner for a near copy). */
interface HeldEntry extends CacheEntry {
  readonly until: number;
}

const isGone = (entry: HeldEntry, now: number): boolean => now >= entry.until;

/**
 * Bytes charged per entry on top of its key length and value length: V8's cost of the Map slot,
 * the entry object with its two numbers, and the Buffer view with its ArrayBuffer. Measured on
 * Node 20 with 200k entries: ≈ 310 heap bytes per entry beyond the key's characters.
 */
export const ENTRY_OVERHEAD_BYTES = 320;

/** 64 MiB: room for tens of thousands of typical chat completions without crowding the process. */
export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /** Upper bound of the accounted size of all entries (see {@link entrySize}). Default 64 MiB. */
  maxBytes?: number;
  /** Clock in epoch ms; injected by tests. Default `Date.now`. */
  now?: () => number;
}

/** What one entry counts against `maxBytes`: key characters + value bytes + the fixed overhead. */
export function entrySize(key: string, value: Buffer): number {
  return key.length + value.length + ENTRY_OVERHEAD_BYTES;
}

/**
 * In-process LRU cache store. Values are copied on `set` (the caller may reuse its buffer, and a
 * slice of a pooled buffer would otherwise pin the whole pool) and returned without a copy.
 * `evictions` counts live entries removed to make room; expired entries dropped are not counted.
 */
export class MemoryStore implements CacheStore {
  readonly kind = 'memory';
  private readonly entries = new Map<string, HeldEntry>();
  private readonly maxBytes: number;
  private readonly now: () => number;
  private bytes = 0;
  private evictions = 0;
  /** A lower bound of the earliest expiry among the entries: no sweep can find anything before it. */
  private earliestExpiry = Infinity;
  /** Writes since the last sweep; a sweep waits for size/4 of them so its O(n) cost stays amortised O(1). */
  private writesSinceSweep = 0;

  constructor(options: MemoryStoreOptions = {}) {
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    if (!(this.maxBytes > 0)) throw new RangeError(`maxBytes must be positive, got ${this.maxBytes}`);
    this.now = options.now ?? Date.now;
  }

  get(key: string): Promise<CacheEntry | undefined> {
    return Promise.resolve(this.read(key));
  }

  /** `get` without a promise (a near cache in front of Redis answers from it synchronously). */
  peek(key: string): CacheEntry | undefined {
    return this.read(key);
  }

  set(key: string, value: Buffer, ttlMs: number): Promise<void> {
    if (isStorableTtl(ttlMs)) {
      const now = this.now();
      this.write(key, value, now, now + ttlMs, now + ttlMs);
    } else {
      this.remove(key);
    }
    return Promise.resolve();
  }

  /**
   * Keeps a copy of an entry held elsewhere (a near cache), as it is (value, storedAt, expiresAt),
   * served for at most `serveMs` from now.
   */
  setEntry(key: string, entry: CacheEntry, serveMs: number): void {
    if (!isStorableTtl(serveMs)) return;
    this.write(key, entry.value, entry.storedAt, entry.expiresAt, Math.min(entry.expiresAt, this.now() + serveMs));
  }

  /** Resolves true when a live entry was deleted (an expired one is dropped but reported as absent). */
  delete(key: string): Promise<boolean> {
    const entry = this.entries.get(key);
    if (entry !== undefined) this.remove(key);
    return Promise.resolve(entry !== undefined && !isGone(entry, this.now()));
  }

  /** O(entries): walks every key. Counts the live entries deleted, like {@link delete}. */
  deleteNamespace(namespace: string): Promise<number> {
    const now = this.now();
    let deleted = 0;
    for (const [key, entry] of this.entries) {
      if (!isKeyInNamespace(key, namespace)) continue;
      this.remove(key);
      if (!isGone(entry, now)) deleted++;
    }
    return Promise.resolve(deleted);
  }

  clear(): Promise<void> {
    this.entries.clear();
    this.bytes = 0;
    this.earliestExpiry = Infinity;
    return Promise.resolve();
  }

  /** O(1). `entries` and `bytes` include expired entries not yet dropped (by a read, a sweep or the LRU). */
  stats(): Promise<CacheStoreStats> {
    return Promise.resolve({ entries: this.entries.size, bytes: this.bytes, evictions: this.evictions });
  }

  close(): Promise<void> {
    return this.clear();
  }

  private read(key: string): CacheEntry | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (isGone(entry, this.now())) {
      this.remove(key);
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry;
  }

  private write(key: string, value: Buffer, storedAt: number, expiresAt: number, until: number): void {
    this.remove(key);
    const size = entrySize(key, value);
    if (size > this.maxBytes || until <= this.now()) return;
    this.makeRoom(size, this.now());
    const copy = Buffer.allocUnsafeSlow(value.length);
    value.copy(copy);
    const entry: HeldEntry = Object.freeze({ value: copy, storedAt, expiresAt, until });
    this.entries.set(key, entry);
    this.bytes += size;
    if (until < this.earliestExpiry) this.earliestExpiry = until;
    this.writesSinceSweep++;
  }

  /** Frees `size` bytes: expired entries first (when a sweep is due), then least recently used ones. */
  private makeRoom(size: number, now: number): void {
    if (this.bytes + size <= this.maxBytes) return;
    this.sweepExpired(now);
    for (const key of this.entries.keys()) {
      if (this.bytes + size <= this.maxBytes) return;
      this.remove(key);
      this.evictions++;
    }
  }

  private sweepExpired(now: number): void {
    if (now < this.earliestExpiry || this.writesSinceSweep < this.entries.size >>> 2) return;
    let earliest = Infinity;
    for (const [key, entry] of this.entries) {
      if (isGone(entry, now)) this.remove(key);
      else if (entry.until < earliest) earliest = entry.until;
    }
    this.earliestExpiry = earliest;
    this.writesSinceSweep = 0;
  }

  private remove(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.entries.delete(key);
    this.bytes -= entrySize(key, entry.value);
  }
}

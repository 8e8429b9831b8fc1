/**
 * The cache store contract: a byte-valued key/value store with per-entry TTL, implemented by an
 * in-process LRU (memory-store.ts) and by Redis (redis-store.ts). Both pass store-suite.ts.
 */

/** One cached value with the times that bound its life. */
export interface CacheEntry {
  /** The stored bytes. Shared with the store: treat as read-only. */
  value: Buffer;
  /** epoch ms when stored */
  storedAt: number;
  /** epoch ms; entries past it are never returned */
  expiresAt: number;
}

/** What a store holds, as cheaply as the store can tell (see each implementation for its cost). */
export interface CacheStoreStats {
  entries: number;
  bytes: number;
  evictions: number;
}

/**
 * A cache store. Keys are `<namespace>:<hash>`: the namespace is everything before the key's last
 * `:`, so namespace `a` holds `a:1` but neither `ab:1` nor `a:b:1` (which is namespace `a:b`).
 */
export interface CacheStore {
  readonly kind: 'memory' | 'redis';
  get(key: string): Promise<CacheEntry | undefined>;
  /** Stores `value` for `ttlMs`. A TTL that is not a positive finite number removes the key instead. */
  set(key: string, value: Buffer, ttlMs: number): Promise<void>;
  delete(key: string): Promise<boolean>;
  /** Deletes every key of a namespace (keys are `<namespace>:<hash>`); returns how many. */
  deleteNamespace(namespace: string): Promise<number>;
  clear(): Promise<void>;
  stats(): Promise<CacheStoreStats>;
  close(): Promise<void>;
}

/** Whether an entry has reached its expiry at `now` (an entry lives for [storedAt, expiresAt)). */
export function isExpired(entry: CacheEntry, now: number): boolean {
  return now >= entry.expiresAt;
}

/** Whether `ttlMs` can be stored: a positive finite number of milliseconds. */
export function isStorableTtl(ttlMs: number): boolean {
  return ttlMs > 0 && Number.isFinite(ttlMs);
}

const COLON = 58;

/** Whether `key` is `<namespace>:<hash>` for exactly this namespace (the hash holds no `:`). */
export function isKeyInNamespace(key: string, namespace: string): boolean {
  return (
    key.length > namespace.length &&
    key.charCodeAt(namespace.length) === COLON &&
    key.startsWith(namespace) &&
    key.indexOf(':', namespace.length + 1) === -1
  );
}

/**
 * A near cache in front of the shared store: answers read from (or written to) Redis are also
 * kept in this process for a few seconds, so a hot entry is served without a Redis round trip.
 * Deletions made through this instance apply to both tiers at once; those made through another
 * instance reach the near copies through the Redis stream (semantic-sync.ts). What remains is a
 * bounded window: an entry replaced through another instance may be served here in its old form
 * until its near copy expires (`cache.near_ttl`).
 */
import type { MemoryStore } from './memory-store.js';
import { isStorableTtl, type CacheEntry, type CacheStore, type CacheStoreStats } from './store.js';

export class TieredStore implements CacheStore {
  readonly kind = 'redis';

  constructor(
    private readonly near: MemoryStore,
    private readonly shared: CacheStore,
    /** How long a near copy lives (never longer than the entry itself). */
    private readonly nearTtlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async get(key: string): Promise<CacheEntry | undefined> {
    const near = this.near.peek(key);
    if (near) return near;
    const entry = await this.shared.get(key);
    // The copy keeps the entry's own times (its age stays true) and is served until the earlier of
    // its expiry and the near window.
    if (entry) this.near.setEntry(key, entry, this.nearTtlMs);
    return entry;
  }

  async set(key: string, value: Buffer, ttlMs: number): Promise<void> {
    await this.shared.set(key, value, ttlMs);
    if (!isStorableTtl(ttlMs)) {
      await this.near.delete(key);
      return;
    }
    const now = this.now();
    this.near.setEntry(key, { value, storedAt: now, expiresAt: now + ttlMs }, this.nearTtlMs);
  }

  async delete(key: string): Promise<boolean> {
    await this.near.delete(key);
    return this.shared.delete(key);
  }

  async deleteNamespace(namespace: string): Promise<number> {
    await this.near.deleteNamespace(namespace);
    return this.shared.deleteNamespace(namespace);
  }

  async clear(): Promise<void> {
    await this.near.clear();
    await this.shared.clear();
  }

  /** Drops a near copy (another instance deleted the entry). */
  forgetNear(key: string): void {
    void this.near.delete(key);
  }

  forgetNearNamespace(namespace: string): void {
    void this.near.deleteNamespace(namespace);
  }

  clearNear(): void {
    void this.near.clear();
  }

  /** The shared store's figures: what every instance sees. */
  stats(): Promise<CacheStoreStats> {
    return this.shared.stats();
  }

  async close(): Promise<void> {
    await this.near.close();
    await this.shared.close();
  }
}

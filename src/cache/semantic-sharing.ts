/**
 * Whether a gateway shares semantic-cache entries with other instances through Redis: a Redis
 * cache store, and a group with a semantic cache (or a near cache, which needs the deletions).
 * Decided at start-up (cache/setup.ts); a reload that would turn it on waits for a restart.
 */
import type { Config } from '../config/schema.js';

export function sharesSemanticEntries(config: Config): boolean {
  const redisUrl = config.redis.url || undefined;
  const kind = config.cache.store ?? (redisUrl ? 'redis' : 'memory');
  if (kind !== 'redis' || !redisUrl) return false;
  return config.cache.near_ttl > 0 || Object.values(config.models).some((group) => group.cache?.semantic);
}

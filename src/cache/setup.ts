/**
 * Builds the response cache from the config: the store (memory, or Redis when `redis.url` is set
 * or `cache.store: redis`), its metrics, the semantic cache with its embedders, and — with Redis —
 * the sharing of semantic vectors between instances. Failures are logged once per kind per minute.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import { CacheMetrics } from './cache-metrics.js';
import type { Embedder } from './embedders/embedder.js';
import { LocalEmbedder } from './embedders/local.js';
import { ModelEmbedder, type EmbedCall } from './embedders/model.js';
import { MemoryStore } from './memory-store.js';
import { ResponseCache } from './response-cache.js';
import { sharesSemanticEntries } from './semantic-sharing.js';
import { TieredStore } from './tiered-store.js';
import { SemanticCache } from './semantic.js';
import type { CacheStore } from './store.js';

export interface CacheSetupOptions {
  registry: Registry;
  logger: FastifyBaseLogger;
  /** Embeds one text with a model the gateway serves (bound to the pipeline once it exists). */
  embedWith: (model: string) => EmbedCall;
}

/** How often expired vectors are swept from the semantic index. */
const SWEEP_INTERVAL_MS = 60_000;

/** Redis modules (and ioredis, several MB) are loaded only when the cache uses Redis. */
export async function createResponseCache(config: Config, options: CacheSetupOptions): Promise<ResponseCache> {
  const onError = throttledLog(options.logger);
  const redisUrl = config.redis.url || undefined;
  const kind = config.cache.store ?? (redisUrl ? 'redis' : 'memory');
  const memory = new MemoryStore({ maxBytes: config.cache.max_bytes });
  let store: CacheStore = memory;
  let near: TieredStore | undefined;
  if (kind === 'redis' && redisUrl) {
    const { RedisStore } = await import('./redis-store.js');
    const redis = new RedisStore({ url: redisUrl, keyPrefix: config.cache.key_prefix, onError: (err) => onError(err, 'the Redis cache store failed; requests are answered without the cache') });
    // With near_ttl, the memory store (bounded by max_bytes) is a near cache in front of Redis.
    if (config.cache.near_ttl > 0) near = new TieredStore(memory, redis, config.cache.near_ttl * 1000);
    store = near ?? redis;
  }

  const semanticConfig = config.cache.semantic;
  const embedders = new Map<string, Embedder>();
  const embedder = (name: string): Embedder => {
    let found = embedders.get(name);
    if (!found) {
      found = name === 'local' ? localEmbedder(semanticConfig.local_dimensions) : new ModelEmbedder(name, options.embedWith(name), semanticConfig.embedding_cache_entries);
      embedders.set(name, found);
    }
    return found;
  };
  const semantic = new SemanticCache({ embedder, defaultEmbedder: semanticConfig.embedder, maxEntries: semanticConfig.max_entries, onError });
  semantic.sweepEvery(SWEEP_INTERVAL_MS);
  // The stream shares vectors and deletions; a near cache needs the deletions even without vectors.
  if (redisUrl && sharesSemanticEntries(config)) {
    const { startSemanticSync } = await import('./semantic-sync.js');
    semantic.publisher = startSemanticSync(semantic, { url: redisUrl, key: semanticStreamKey(config.cache.key_prefix), maxLength: semanticConfig.max_entries, onError, near });
  }
  return new ResponseCache({ store, config: config.cache, metrics: new CacheMetrics(options.registry, store), semantic, onError });
}

/** Beside the store's keys, not among them (a namespace deletion or clear must not remove it). */
export function semanticStreamKey(keyPrefix: string): string {
  return `${keyPrefix.replace(/:+$/, '')}-semantic-log`;
}

function localEmbedder(dimensions: number): Embedder {
  const local = new LocalEmbedder({ dimensions });
  return { id: `local-v1#${dimensions}`, embed: (text) => Promise.resolve(local.embed(text)) };
}

/** Logs a failure the first time, then at most once a minute per kind, with how many were held back. */
function throttledLog(logger: FastifyBaseLogger): (err: unknown, what: string) => void {
  const last = new Map<string, { at: number; suppressed: number }>();
  return (err, what) => {
    const now = Date.now();
    const seen = last.get(what);
    if (seen && now - seen.at < 60_000) {
      seen.suppressed++;
      return;
    }
    logger.warn({ err, suppressed: seen?.suppressed ?? 0 }, what);
    last.set(what, { at: now, suppressed: 0 });
  };
}

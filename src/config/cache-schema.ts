/**
 * Response caching and request coalescing settings (docs/caching.md): `cache:` at the top level
 * (the store, its bounds, the semantic index) and `cache:` / `coalesce:` per model group (whether
 * and how long that group's answers are cached). Caching is off unless a group or a request asks.
 */
import { z } from 'zod';
import { boolean, byteSize, numeric } from './values.js';

/** A cache lifetime in seconds (as HTTP's max-age): a positive number, or "30s", "5m", "1h", "1d". */
export const ttlSeconds = z
  .union([
    z.number().positive(),
    z.string().regex(/^\s*\d+(\.\d+)?\s*(s|m|h|d)?\s*$/i, 'expected a number of seconds such as 3600, or "30s", "5m", "1h", "1d"'),
  ])
  .transform((value) => {
    if (typeof value === 'number') return value;
    const match = /^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$/i.exec(value);
    const units: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };
    return Number(match?.[1]) * (units[(match?.[2] ?? 's').toLowerCase()] ?? 1);
  })
  .refine((seconds) => seconds > 0, 'a TTL must be more than 0 seconds');

/** Namespaces frame store keys (`<namespace>:<hash>`), so they cannot hold a colon. */
const namespace = z.string().regex(/^[^:\s]{1,128}$/, 'a cache namespace is 1-128 characters without ":" or spaces');

/** `local` (the built-in offline embedder) or a model group / `<provider>/<model>` serving embeddings. */
const embedder = z.string().min(1);

export const COALESCE_MODES = ['auto', 'always', 'off'] as const;

const groupSemanticSchema = z.strictObject({
  /** Cosine similarity at or above which a cached answer is served for a similar request. */
  threshold: numeric(z.number().gt(0).max(1)).default(0.95),
  /** Overrides cache.semantic.embedder for this group. */
  embedder: embedder.optional(),
  /** How many of the conversation's last messages (system prompt aside) are embedded. */
  max_messages: numeric(z.number().int().positive().max(64)).default(4),
});

export const groupCacheSchema = z.strictObject({
  /** Serve identical requests from the cache. */
  exact: boolean().default(false),
  /** Serve similar requests from the cache (implies storing answers); `true` takes the defaults. */
  semantic: z.union([boolean(), groupSemanticSchema]).optional().transform((value) => (value === true ? groupSemanticSchema.parse({}) : value || undefined)),
  /** How long an answer stays cached; default cache.default_ttl. */
  ttl: ttlSeconds.optional(),
  /** The tenant namespace this group's entries live in; default cache.namespace. */
  namespace: namespace.optional(),
});

const semanticSchema = z.strictObject({
  /** The default embedder of groups with semantic caching. */
  embedder: embedder.default('local'),
  /** Dimensions of the built-in `local` embedder. */
  local_dimensions: numeric(z.number().int().min(64).max(4096)).default(384),
  /** Entries in the in-process vector index (all namespaces); the oldest go first. */
  max_entries: numeric(z.number().int().positive()).default(100_000),
  /** Embeddings kept in process so a repeated text is not embedded twice. */
  embedding_cache_entries: numeric(z.number().int().nonnegative()).default(10_000),
});

export const cacheSchema = z
  .strictObject({
    /** Where answers are kept: `memory` (this process) or `redis` (shared; needs redis.url). Default: redis when redis.url is set. */
    store: z.enum(['memory', 'redis']).optional(),
    /** Bound of the memory store; the least recently used answers go first. */
    max_bytes: byteSize.default(256 * 1024 * 1024),
    /** Answers larger than this (serialized) are not stored. */
    max_entry_bytes: byteSize.default(4 * 1024 * 1024),
    /** TTL of groups without one, and of requests that opt in with `x-switchyard-cache: on`. */
    default_ttl: ttlSeconds.default(3600),
    /** The shared namespace of entries (per-key and per-team namespaces come with virtual keys). */
    namespace: namespace.default('shared'),
    /**
     * With the redis store: seconds an answer read from or written to Redis is also kept in this
     * process (a near cache: hot entries without a round trip; deletions reach it through the
     * Redis stream, but an entry replaced through another instance may be served here that long).
     * 0 (default): off.
     */
    near_ttl: numeric(z.number().min(0).max(3600)).default(0),
    /** Redis key prefix of the redis store and of the shared semantic index. */
    key_prefix: z.string().default('switchyard:cache:'),
    semantic: semanticSchema.prefault({}),
  })
  .prefault({});

export type CacheConfig = z.output<typeof cacheSchema>;
export type GroupCacheConfig = z.output<typeof groupCacheSchema>;
export type GroupSemanticConfig = z.output<typeof groupSemanticSchema>;
export type CoalesceMode = (typeof COALESCE_MODES)[number];

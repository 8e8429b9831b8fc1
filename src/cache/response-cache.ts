/**
 * The response cache as the pipeline uses it: decides per request whether caching applies (the
 * group's `cache:` settings, or the request opting in) and where the answer lives, looks a request
 * up (exact key, then semantic neighbours), and stores complete answers in the background.
 * Lookups never fail a request: a store that errs is a miss.
 */
import type { CacheConfig } from '../config/cache-schema.js';
import type { ChatRequest, EmbeddingsRequest, Usage } from '../gateway/types.js';
import type { ModelGroup } from '../routing/models.js';
import type { CacheMetrics } from './cache-metrics.js';
import type { CacheDirective } from './directive.js';
import { decodeEntry, encodeEntry, type DecodedEntry, type EntryMeta } from './entry.js';
import { chatCacheKey, embeddingsCacheKey, messagesCacheKey } from './key.js';
import { KeyMemo } from './key-memo.js';
import type { SemanticCache, SemanticQuery } from './semantic.js';
import type { CacheEntry, CacheStore } from './store.js';

export type CacheStatus = 'HIT' | 'SEMANTIC_HIT' | 'MISS' | 'REFRESH' | 'BYPASS';

/** What caching does for one request, decided once before the lookup. */
export interface CachePlan {
  /** The store key, `<namespace>:<hash>`; also the key of identical requests in flight. */
  readonly key: string;
  readonly namespace: string;
  readonly read: boolean;
  readonly write: boolean;
  readonly maxAgeMs: number;
  readonly ttlMs: number;
  /** Set when the group has semantic caching (chat only). */
  readonly semantic: SemanticQuery | undefined;
}

/** An answer served from the cache. */
export interface CacheHit {
  status: 'HIT' | 'SEMANTIC_HIT';
  meta: EntryMeta;
  /** The answer's JSON text as first sent. */
  json: string;
  /** Whole seconds since it was stored (the `age` header). */
  ageSeconds: number;
  /** Cosine similarity of a semantic hit. */
  similarity?: number;
}

export interface ResponseCacheOptions {
  store: CacheStore;
  config: CacheConfig;
  metrics: CacheMetrics;
  semantic?: SemanticCache;
  /** Logged once per kind of failure (a store that is down would otherwise log per request). */
  onError: (err: unknown, what: string) => void;
  now?: () => number;
}

export class ResponseCache {
  readonly store: CacheStore;
  readonly metrics: CacheMetrics;
  readonly semantic: SemanticCache | undefined;
  private readonly config: CacheConfig;
  private readonly onError: (err: unknown, what: string) => void;
  private readonly now: () => number;
  /**
   * Entries already decoded, by their stored bytes: the memory store hands out the same Buffer on
   * every hit, so a hot entry is decoded once (Redis gives new bytes each time; nothing is kept).
   */
  private readonly decoded = new WeakMap<Buffer, DecodedEntry>();
  /** Keys remembered per body bytes (also used for the coalescing key of requests that are not cached). */
  readonly memo = new KeyMemo();

  constructor(options: ResponseCacheOptions) {
    this.store = options.store;
    this.config = options.config;
    this.metrics = options.metrics;
    this.semantic = options.semantic;
    this.onError = options.onError;
    this.now = options.now ?? Date.now;
  }

  /** The plan for a chat request, or undefined when caching does not apply to it. */
  planChat(request: ChatRequest, group: ModelGroup, directive: CacheDirective, rawBody?: Buffer): CachePlan | undefined {
    const settings = group.cache;
    const semanticSettings = settings?.semantic;
    if (!settings?.exact && !semanticSettings && !directive.optIn) return undefined;
    const namespace = settings?.namespace ?? this.config.namespace;
    const input = { namespace, group: group.name, kind: 'chat' } as const;
    const key = `${namespace}:${this.memo.key(`chat\u0000${namespace}\u0000${group.name}`, rawBody, () => chatCacheKey(request, input))}`;
    const semantic = semanticSettings && this.semantic ? this.semantic.query(request, namespace, group.name, semanticSettings) : undefined;
    return this.plan(key, namespace, settings?.ttl, directive, semantic);
  }

  /**
   * The plan for an Anthropic Messages request: the exact key from the body as sent (and the
   * anthropic-beta header); the semantic query from its canonical form, partitioned by the body's
   * other fields too.
   */
  planMessages(body: object, beta: string | undefined, canonical: () => ChatRequest, group: ModelGroup, directive: CacheDirective, rawBody?: Buffer): CachePlan | undefined {
    const settings = group.cache;
    const semanticSettings = settings?.semantic;
    if (!settings?.exact && !semanticSettings && !directive.optIn) return undefined;
    const namespace = settings?.namespace ?? this.config.namespace;
    const input = { namespace, group: group.name, kind: 'messages' } as const;
    const scope = `messages\u0000${namespace}\u0000${group.name}\u0000${beta ?? ''}`;
    const key = `${namespace}:${this.memo.key(scope, rawBody, () => messagesCacheKey(body, beta, input))}`;
    let semantic: SemanticQuery | undefined;
    if (semanticSettings && this.semantic) {
      const others = messagesCacheKey({ ...body, messages: [] }, beta, input);
      semantic = this.semantic.query(canonical(), namespace, `${group.name}\u0000messages\u0000${others}`, semanticSettings);
    }
    return this.plan(key, namespace, settings?.ttl, directive, semantic);
  }

  /** The plan for an embeddings request (exact caching only), or undefined. */
  planEmbeddings(request: EmbeddingsRequest, group: ModelGroup, directive: CacheDirective, rawBody?: Buffer): CachePlan | undefined {
    const settings = group.cache;
    if (!settings?.exact && !settings?.semantic && !directive.optIn) return undefined;
    const namespace = settings?.namespace ?? this.config.namespace;
    const input = { namespace, group: group.name, kind: 'embeddings' } as const;
    const key = `${namespace}:${this.memo.key(`embeddings\u0000${namespace}\u0000${group.name}`, rawBody, () => embeddingsCacheKey(request, input))}`;
    return this.plan(key, namespace, settings?.ttl, directive, undefined);
  }

  private plan(key: string, namespace: string, ttlSeconds: number | undefined, directive: CacheDirective, semantic: SemanticQuery | undefined): CachePlan {
    const ttlMs = (ttlSeconds ?? this.config.default_ttl) * 1000;
    return { key, namespace, read: directive.read, write: directive.write, maxAgeMs: directive.maxAgeMs, ttlMs, semantic };
  }

  /**
   * A stored answer for the plan: the exact key first, then (semantic groups) the nearest similar
   * request. An exact hit on an entry held in this process (`peek`: the memory store, a near
   * cache) comes back at once, not as a promise, so the hit path takes no asynchronous turn.
   */
  lookup(plan: CachePlan): CacheHit | undefined | Promise<CacheHit | undefined> {
    if (!plan.read) return undefined;
    const started = performance.now();
    const held = this.store.peek?.(plan.key);
    const exact = held === undefined ? undefined : this.entryHit(held, plan.maxAgeMs);
    if (exact === undefined) return this.lookupAsync(plan, started);
    this.metrics.lookup('exact', true, (performance.now() - started) / 1000);
    return this.served({ ...exact, status: 'HIT' });
  }

  private async lookupAsync(plan: CachePlan, started: number): Promise<CacheHit | undefined> {
    const exact = await this.read(plan.key, plan.maxAgeMs);
    this.metrics.lookup('exact', exact !== undefined, (performance.now() - started) / 1000);
    if (exact) return this.served({ ...exact, status: 'HIT' });
    return plan.semantic && this.semantic ? this.semanticLookup(plan, plan.semantic, this.semantic) : undefined;
  }

  private async semanticLookup(plan: CachePlan, query: SemanticQuery, semantic: SemanticCache): Promise<CacheHit | undefined> {
    const started = performance.now();
    let hit: CacheHit | undefined;
    try {
      const match = await semantic.search(query);
      if (match) {
        const entry = await this.read(match.key, plan.maxAgeMs);
        if (entry) hit = { ...entry, status: 'SEMANTIC_HIT', similarity: match.similarity };
        else semantic.forget(match.key);
      }
    } catch (err) {
      this.onError(err, 'semantic cache lookup failed; answering from the upstream');
    }
    this.metrics.lookup('semantic', hit !== undefined, (performance.now() - started) / 1000);
    return hit ? this.served(hit) : undefined;
  }

  /**
   * Stores an answer in the background (its JSON text as sent, with who made it and its cost).
   * Answers over `max_entry_bytes` are not kept.
   */
  save(plan: CachePlan, meta: EntryMeta, json: string): void {
    if (!plan.write) return;
    const value = encodeEntry(meta, json);
    if (value.length > this.config.max_entry_bytes) return;
    const expiresAt = this.now() + plan.ttlMs;
    this.store.set(plan.key, value, plan.ttlMs).then(
      () => {
        this.metrics.stored();
        if (plan.semantic) this.semantic?.add(plan.semantic, plan.key, expiresAt);
      },
      (err: unknown) => this.onError(err, 'storing an answer in the cache failed'),
    );
  }

  /** Deletes one key, one namespace, or everything; also from the semantic index. */
  async delete(target: { namespace?: string; key?: string }): Promise<number> {
    if (target.key !== undefined) {
      this.semantic?.forget(target.key, true);
      return (await this.store.delete(target.key)) ? 1 : 0;
    }
    if (target.namespace !== undefined) {
      this.semantic?.forgetNamespace(target.namespace);
      return this.store.deleteNamespace(target.namespace);
    }
    this.semantic?.clear();
    const { entries } = await this.store.stats();
    await this.store.clear();
    return entries;
  }

  async close(): Promise<void> {
    await this.semantic?.close();
    await this.store.close();
  }

  private async read(key: string, maxAgeMs: number): Promise<Omit<CacheHit, 'status'> | undefined> {
    let entry;
    try {
      entry = await this.store.get(key);
    } catch (err) {
      this.onError(err, 'cache lookup failed; answering from the upstream');
      return undefined;
    }
    return this.entryHit(entry, maxAgeMs);
  }

  /** A stored entry as a hit, if it is young enough and readable. */
  private entryHit(entry: CacheEntry | undefined, maxAgeMs: number): Omit<CacheHit, 'status'> | undefined {
    if (!entry) return undefined;
    const ageMs = Math.max(0, this.now() - entry.storedAt);
    if (ageMs > maxAgeMs) return undefined;
    let decoded = this.decoded.get(entry.value);
    if (decoded === undefined) {
      decoded = decodeEntry(entry.value);
      if (decoded) this.decoded.set(entry.value, decoded);
    }
    if (!decoded) return undefined;
    return { meta: decoded.meta, json: decoded.json, ageSeconds: Math.floor(ageMs / 1000) };
  }

  private served(hit: CacheHit): CacheHit {
    this.metrics.saved(tokensOf(hit.meta.usage), hit.meta.cost_usd ?? 0);
    return hit;
  }
}

function tokensOf(usage: Usage | undefined): number {
  if (!usage) return 0;
  return (usage.prompt_tokens || 0) + (usage.completion_tokens || 0);
}

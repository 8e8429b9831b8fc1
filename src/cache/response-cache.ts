/**
 * The response cache as the pipeline uses it: decides per request whether caching applies (the
 * group's `cache:` settings, or the request opting in) and where the answer lives, looks a request
 * up (exact key, then semantic neighbours), and stores complete answers in the background.
 * Lookups never fail a request: a store that errs is a miss.
 */
import type { CacheConfig, GroupSemanticConfig } from '../config/cache-schema.js';
import type { ChatRequest, EmbeddingsRequest, Usage } from '../gateway/types.js';
import type { ModelGroup } from '../routing/models.js';
import type { CacheMetrics } from './cache-metrics.js';
import type { CacheDirective } from './directive.js';
import { decodeEntry, encodeEntry, type DecodedEntry, type EntryMeta } from './entry.js';
import { chatCacheKey, embeddingsCacheKey, messagesCacheKey, type CacheKeyInput } from './key.js';
import { KeyMemo } from './key-memo.js';
import type { SemanticCache, SemanticQuery } from './semantic.js';
import type { CacheStore } from './store.js';

export type CacheStatus = 'HIT' | 'SEMANTIC_HIT' | 'MISS' | 'REFRESH' | 'BYPASS';

/** What caching does for one request, decided once before the lookup. */
export interface CachePlan {
  /** The store key, `<namespace>:<hash>`; also the key of identical requests in flight. */
  readonly key: string;
  readonly read: boolean;
  readonly write: boolean;
  readonly maxAgeMs: number;
  readonly ttlMs: number;
  /**
   * Set when the group has semantic caching (chat and Messages): the request's semantic query,
   * built on first use (an exact hit never needs it), undefined when it has no text to compare.
   */
  readonly semantic: (() => SemanticQuery | undefined) | undefined;
}

/** Where a request's entries live and for how long. */
interface CacheScope {
  group: string;
  namespace: string;
  ttlSeconds: number;
  semantic: GroupSemanticConfig | undefined;
  /** Restrictions on which targets may answer: requests with other ones keep entries apart. */
  restrictions: string;
}

/** An answer served from the cache. */
export interface CacheHit {
  status: 'HIT' | 'SEMANTIC_HIT';
  /** The served entry's key: the request's own for an exact hit, the similar request's for a semantic one. */
  key: string;
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
  planChat(request: ChatRequest, group: ModelGroup, directive: CacheDirective, rawBody?: Buffer, restrictions = ''): CachePlan | undefined {
    const scope = this.scope(group, directive, restrictions);
    if (!scope) return undefined;
    const key = this.key(scope, 'chat', '', rawBody, (input) => chatCacheKey(request, input));
    const settings = scope.semantic;
    const semantic = settings && this.semantic;
    return this.plan(key, scope, directive, semantic ? once(() => semantic.query(request, scope.namespace, partition(group.name, restrictions), settings)) : undefined);
  }

  /**
   * The plan for an Anthropic Messages request: the exact key from the body as sent (and the
   * anthropic-beta header); the semantic query from its canonical form, partitioned by the body's
   * other fields too.
   */
  planMessages(body: object, beta: string | undefined, canonical: () => ChatRequest, group: ModelGroup, directive: CacheDirective, rawBody?: Buffer, restrictions = ''): CachePlan | undefined {
    const scope = this.scope(group, directive, restrictions);
    if (!scope) return undefined;
    const key = this.key(scope, 'messages', beta ?? '', rawBody, (input) => messagesCacheKey(body, beta, input));
    const settings = scope.semantic;
    const semantic = settings && this.semantic;
    if (!semantic) return this.plan(key, scope, directive, undefined);
    return this.plan(key, scope, directive, once(() => {
      const others = messagesCacheKey({ ...body, messages: [] }, beta, { namespace: scope.namespace, group: group.name, kind: 'messages' });
      return semantic.query(canonical(), scope.namespace, partition(`${group.name}\u0000messages\u0000${others}`, restrictions), settings);
    }));
  }

  /** The plan for an embeddings request (exact caching only), or undefined. */
  planEmbeddings(request: EmbeddingsRequest, group: ModelGroup, directive: CacheDirective, rawBody?: Buffer, restrictions = ''): CachePlan | undefined {
    const scope = this.scope(group, directive, restrictions);
    if (!scope) return undefined;
    return this.plan(this.key(scope, 'embeddings', '', rawBody, (input) => embeddingsCacheKey(request, input)), scope, directive, undefined);
  }

  /** Where a request's entries live, when caching applies to it (its group caches, or it opted in). */
  private scope(group: ModelGroup, directive: CacheDirective, restrictions: string): CacheScope | undefined {
    const settings = group.cache;
    if (!settings?.exact && !settings?.semantic && !directive.optIn) return undefined;
    return { group: group.name, namespace: settings?.namespace ?? this.config.namespace, ttlSeconds: settings?.ttl ?? this.config.default_ttl, semantic: settings?.semantic, restrictions };
  }

  /** `<namespace>:<hash>`, the hash remembered per body bytes (`extra`: anything else the key covers, e.g. a header). */
  private key(scope: CacheScope, kind: CacheKeyInput['kind'], extra: string, rawBody: Buffer | undefined, hash: (input: CacheKeyInput) => string): string {
    const input: CacheKeyInput = { namespace: scope.namespace, group: scope.group, kind, restrictions: scope.restrictions };
    const memoScope = `${kind}\u0000${scope.namespace}\u0000${scope.group}\u0000${extra}\u0000${scope.restrictions}`;
    return `${scope.namespace}:${this.memo.key(memoScope, rawBody, () => hash(input))}`;
  }

  private plan(key: string, scope: CacheScope, directive: CacheDirective, semantic: CachePlan['semantic']): CachePlan {
    return { key, read: directive.read, write: directive.write, maxAgeMs: directive.maxAgeMs, ttlMs: scope.ttlSeconds * 1000, semantic };
  }

  /** A stored answer for the plan: the exact key first, then (semantic groups) the nearest similar request. */
  async lookup(plan: CachePlan): Promise<CacheHit | undefined> {
    if (!plan.read) return undefined;
    const started = performance.now();
    const exact = await this.read(plan.key, plan.maxAgeMs);
    this.metrics.lookup('exact', exact !== undefined, (performance.now() - started) / 1000);
    if (exact) return this.served({ ...exact, status: 'HIT', key: plan.key });
    const query = plan.semantic?.();
    return query && this.semantic ? this.semanticLookup(plan, query, this.semantic) : undefined;
  }

  private async semanticLookup(plan: CachePlan, query: SemanticQuery, semantic: SemanticCache): Promise<CacheHit | undefined> {
    const started = performance.now();
    let hit: CacheHit | undefined;
    try {
      const match = await semantic.search(query);
      if (match) {
        const entry = await this.read(match.key, plan.maxAgeMs);
        if (entry) hit = { ...entry, status: 'SEMANTIC_HIT', key: match.key, similarity: match.similarity };
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
        const query = plan.semantic?.();
        if (query) this.semantic?.add(query, plan.key, expiresAt);
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
      this.semantic?.forgetNamespace(target.namespace, true);
      return this.store.deleteNamespace(target.namespace);
    }
    this.semantic?.clear(true);
    const { entries } = await this.store.stats();
    await this.store.clear();
    return entries;
  }

  async close(): Promise<void> {
    await this.semantic?.close();
    await this.store.close();
  }

  /** The entry under `key` as a hit, if it is there, young enough and readable. */
  private async read(key: string, maxAgeMs: number): Promise<Omit<CacheHit, 'status' | 'key'> | undefined> {
    let entry;
    try {
      entry = await this.store.get(key);
    } catch (err) {
      this.onError(err, 'cache lookup failed; answering from the upstream');
      return undefined;
    }
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

/** `make()` on the first call, that result afterwards. */
function once<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => (made ??= { value: make() }).value;
}

function tokensOf(usage: Usage | undefined): number {
  if (!usage) return 0;
  return (usage.prompt_tokens || 0) + (usage.completion_tokens || 0);
}

/** A semantic partition, narrowed by the request's restrictions on which targets may answer. */
function partition(name: string, restrictions: string): string {
  return restrictions === '' ? name : `${name}\u0000restricted\u0000${restrictions}`;
}

/**
 * Cache operations: `GET /v1/cache/stats` (what the store holds, this instance's hits and misses
 * and what they saved) and `DELETE /v1/cache` (everything, `?namespace=`, or `?key=`). They act on
 * every tenant's entries, so with a master key set they take the master key, not a virtual key.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ResponseCache } from '../../cache/response-cache.js';
import { GatewayError } from '../../gateway/errors.js';

interface CacheRoutesOptions {
  cache: ResponseCache;
  inFlight: () => number;
  /** A master key is configured: only it may use these endpoints. */
  masterKeySet: boolean;
}

export function cacheRoutes(app: FastifyInstance, { cache, inFlight, masterKeySet }: CacheRoutesOptions): void {
  const stats = async () => {
    const store = await storeCall(() => cache.store.stats());
    const semantic = cache.semantic ? await cache.semantic.stats() : { entries: 0, bytes: 0 };
    const { hits, misses, stores, coalesced, tokensSaved, usdSaved } = cache.metrics.counts;
    const lookups = hits.exact + misses.exact;
    return {
      object: 'cache.stats',
      store: cache.store.kind,
      entries: store.entries,
      bytes: store.bytes,
      evictions: store.evictions,
      hits: { exact: hits.exact, semantic: hits.semantic, total: hits.exact + hits.semantic },
      misses: { exact: misses.exact, semantic: misses.semantic, total: lookups - hits.exact - hits.semantic },
      hit_rate: lookups === 0 ? 0 : (hits.exact + hits.semantic) / lookups,
      stores,
      coalesced_requests: coalesced,
      in_flight: inFlight(),
      tokens_saved: tokensSaved,
      usd_saved: Math.round(usdSaved * 1e6) / 1e6,
      semantic: { entries: semantic.entries, bytes: semantic.bytes },
    };
  };

  const remove = async (request: FastifyRequest<{ Querystring: Record<string, unknown> }>) => {
    // A misspelt parameter must not widen the deletion to the whole cache.
    const unknown = Object.keys(request.query).find((name) => name !== 'namespace' && name !== 'key');
    if (unknown !== undefined) throw new GatewayError('invalid_request', `Unknown query parameter "${unknown}": DELETE /v1/cache takes namespace or key (or neither, to clear everything).`, { param: unknown });
    const { namespace, key } = request.query;
    for (const [name, value] of [['namespace', namespace], ['key', key]] as const) {
      if (value !== undefined && (typeof value !== 'string' || value === '')) {
        throw new GatewayError('invalid_request', `The ${name} query parameter must be given once, and not be empty.`, { param: name });
      }
    }
    if (namespace !== undefined && key !== undefined) throw new GatewayError('invalid_request', 'Give either namespace or key, not both.');
    if (typeof namespace === 'string' && namespace.includes(':')) throw new GatewayError('invalid_request', 'A cache namespace has no ":".', { param: 'namespace' });
    if (typeof key === 'string' && !key.includes(':')) {
      throw new GatewayError('invalid_request', 'A cache key is "<namespace>:<hash>", as the x-switchyard-cache-key response header gives it.', { param: 'key' });
    }
    const deleted = await storeCall(() => cache.delete({ namespace: namespace as string | undefined, key: key as string | undefined }));
    return { object: 'cache.deletion', deleted, ...(namespace !== undefined ? { namespace } : {}), ...(key !== undefined ? { key } : {}) };
  };

  // After the enclosing scope's client-key check, which set request.principal.
  const masterOnly = {
    preHandler: (request: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void) => {
      done(masterKeySet && !request.principal?.master ? new GatewayError('access_denied', NOT_MASTER_MESSAGE) : undefined);
    },
  };
  for (const prefix of ['/v1', '']) {
    app.get(`${prefix}/cache/stats`, masterOnly, stats);
    app.delete<{ Querystring: Record<string, unknown> }>(`${prefix}/cache`, masterOnly, remove);
  }
}

const NOT_MASTER_MESSAGE = 'The cache endpoints act on every tenant\'s entries and take the master key, not a virtual key. Send it as "Authorization: Bearer <master key>".';

/** A maintenance call the store could not make (Redis down) is a 503 the caller can retry. */
async function storeCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw new GatewayError('service_unavailable', `The cache store is unavailable: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Response headers that tell the client how the gateway served a request (DESIGN.md §4), and the cache request headers. */
import type { FastifyRequest } from 'fastify';
import { cacheDirective, type CacheDirective } from '../cache/directive.js';
import type { RequestContext } from '../gateway/context.js';

export function gatewayHeaders(rc: RequestContext): Record<string, string> {
  const headers: Record<string, string> = { 'x-switchyard-attempts': String(rc.attempts) };
  if (rc.providerId !== undefined) headers['x-switchyard-provider'] = rc.providerId;
  if (rc.upstreamModel !== undefined) headers['x-switchyard-model'] = headerSafe(rc.upstreamModel);
  if (rc.fallbackGroup !== undefined) headers['x-switchyard-fallback-group'] = headerSafe(rc.fallbackGroup);
  if (rc.routeRule !== undefined) headers['x-switchyard-route-rule'] = headerSafe(rc.routeRule);
  if (rc.cache !== undefined) {
    headers['x-switchyard-cache'] = rc.cache;
    if (rc.cacheKey !== undefined) headers['x-switchyard-cache-key'] = rc.cacheKey;
    if (rc.cacheAgeSeconds !== undefined) headers.age = String(rc.cacheAgeSeconds);
    if (rc.cacheSimilarity !== undefined) headers['x-switchyard-cache-similarity'] = rc.cacheSimilarity.toFixed(4);
  }
  if (rc.coalesced) headers['x-switchyard-coalesced'] = 'true';
  rc.ticket?.headers(headers);
  // A stream's cost is known only at its end: it goes out as a trailer (streamTrailers).
  if (!rc.stream && rc.ledger && rc.error === undefined) {
    const cost = rc.ledger.cost(rc);
    if (cost !== null) headers['x-switchyard-cost-usd'] = costText(cost);
  }
  return headers;
}

/** The HTTP trailers of a stream: its cost, once known. */
export function streamTrailers(rc: RequestContext): { names: string[]; values: () => Record<string, string> } | undefined {
  const ledger = rc.ledger;
  if (!ledger) return undefined;
  return {
    names: ['x-switchyard-cost-usd'],
    values: (): Record<string, string> => {
      const cost = ledger.cost(rc);
      return cost === null ? {} : { 'x-switchyard-cost-usd': costText(cost) };
    },
  };
}

/** USD in plain decimal notation to the nano-dollar (a cheap request costs a few millionths), no exponent. */
export function costText(usd: number): string {
  // toFixed(9) always has the point: trailing zeros go, then the point if nothing follows it.
  const text = usd.toFixed(9);
  let end = text.length;
  while (text.charCodeAt(end - 1) === 48) end--;
  if (text.charCodeAt(end - 1) === 46) end--;
  return end === text.length ? text : text.slice(0, end);
}

/** `x-switchyard-cache` and `Cache-Control` of a request (a bad x-switchyard-cache value is a 400). */
export function requestCacheDirective(request: FastifyRequest): CacheDirective {
  return cacheDirective(request.headers['x-switchyard-cache'], request.headers['cache-control']);
}

/**
 * Model names can come from the client (direct addressing): keep header values printable ASCII.
 * A lone surrogate (which JSON allows) would make encodeURIComponent throw: it becomes U+FFFD first.
 */
function headerSafe(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value.replace(LONE_SURROGATE, '\uFFFD'));
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

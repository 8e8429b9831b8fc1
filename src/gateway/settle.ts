/** The last stage: one metrics update and one log line per request, whatever its outcome. */
import type { FastifyBaseLogger } from 'fastify';
import type { Metrics } from '../observability/metrics.js';
import type { RequestContext } from './context.js';

export function settle(rc: RequestContext, metrics: Metrics, log: FastifyBaseLogger): void {
  if (rc.settled) return;
  rc.settled = true;
  const status = rc.status ?? 200;
  const totalMs = performance.now() - rc.startedAt;
  const fromCache = rc.cache === 'HIT' || rc.cache === 'SEMANTIC_HIT';
  metrics.record({
    route: rc.route,
    model: rc.model ?? '',
    // A hit is the cache's answer; its tokens were counted when the upstream made it.
    provider: fromCache ? 'cache' : (rc.providerId ?? ''),
    status,
    totalMs,
    overheadMs: rc.attempts > 0 ? Math.max(0, totalMs - rc.upstreamMs) : undefined,
    firstByteMs: rc.firstByteMs,
    usage: fromCache || rc.coalesced ? undefined : rc.usage,
  });

  const entry = {
    route: rc.route,
    model: rc.model,
    provider: rc.providerId,
    upstream_model: rc.upstreamModel,
    stream: rc.stream,
    status,
    attempts: rc.attempts,
    latency_ms: round(totalMs),
    upstream_ms: round(rc.upstreamMs),
    first_byte_ms: rc.firstByteMs === undefined ? undefined : round(rc.firstByteMs),
    prompt_tokens: rc.usage?.prompt_tokens,
    completion_tokens: rc.usage?.completion_tokens,
    error: rc.error ? { code: rc.error.code, message: rc.error.message } : undefined,
    cache: rc.cache,
    cache_similarity: rc.cacheSimilarity,
    coalesced: rc.coalesced,
    route_rule: rc.routeRule,
    fallback_group: rc.fallbackGroup,
    failed_attempts: rc.failedAttempts,
  };
  if (status >= 500) log.error(entry, 'request failed');
  else if (status >= 400) log.warn(entry, 'request failed');
  else log.info(entry, 'request completed');
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

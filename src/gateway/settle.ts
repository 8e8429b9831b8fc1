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
  rc.ledger?.record(rc, status, totalMs);
  const level = status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info';
  // Building the line costs more than the metrics; skip it when the level is off (e.g. LOG_LEVEL=warn).
  if (!isEnabled(log, level)) return;

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
    cost_usd: rc.costUsd ?? undefined,
    key_id: rc.principal?.key?.id,
    end_user: rc.endUser,
    error: rc.error ? { code: rc.error.code, message: rc.error.message } : undefined,
    cache: rc.cache,
    cache_similarity: rc.cacheSimilarity,
    coalesced: rc.coalesced,
    route_rule: rc.routeRule,
    fallback_group: rc.fallbackGroup,
    failed_attempts: rc.failedAttempts,
  };
  log[level](entry, level === 'info' ? 'request completed' : 'request failed');
}

/** pino's level check (Fastify's logger type does not declare it); other loggers always log. */
function isEnabled(log: FastifyBaseLogger, level: 'error' | 'warn' | 'info'): boolean {
  const check = (log as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled;
  return check === undefined || check.call(log, level);
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

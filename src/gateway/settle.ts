/**
 * The last stage, once per request whatever its outcome: the account settled (cost, reservation),
 * then metrics, the request-log row, SLA samples, the trace span and the log line.
 */
import type { FastifyBaseLogger } from 'fastify';
import { REFUSAL_CODES } from '../observability/metrics.js';
import type { Observers } from '../observability/observers.js';
import { checkJsonSchema } from '../observability/sla/json-schema-check.js';
import type { SlaMonitor } from '../observability/sla/monitor.js';
import type { RequestSummary } from '../observability/tracing.js';
import type { CacheStatus } from '../cache/response-cache.js';
import type { RequestContext } from './context.js';
import type { GatewayError } from './errors.js';
import { redactKeys } from './redact-secrets.js';

const NO_REASONS: readonly string[] = [];

/** The cache's part as a metric label (lower case, per Prometheus usage). */
const CACHE_LABEL: Record<CacheStatus, string> = { HIT: 'hit', SEMANTIC_HIT: 'semantic_hit', MISS: 'miss', REFRESH: 'refresh', BYPASS: 'bypass' };

export function settle(rc: RequestContext, observers: Observers, log: FastifyBaseLogger): void {
  if (rc.settled) return;
  rc.settled = true;
  const status = rc.status ?? 200;
  const totalMs = performance.now() - rc.startedAt;
  const fromCache = rc.cache === 'HIT' || rc.cache === 'SEMANTIC_HIT';
  rc.ledger?.settle(rc);
  const model = rc.model ?? '';
  // A hit is the cache's answer; its tokens were counted when the upstream made it.
  const provider = fromCache ? 'cache' : (rc.providerId ?? '');
  const errorCode = rc.error?.code;
  observers.metrics.record(
    {
      route: rc.route,
      model,
      provider,
      // Direct <provider>/<model> addressing names any model: one series for all of them.
      upstreamModel: model.endsWith('/*') ? '*' : (rc.upstreamModel ?? ''),
      status,
      cache: rc.cache === undefined ? 'none' : CACHE_LABEL[rc.cache],
      totalMs,
      overheadMs: rc.attempts > 0 ? Math.max(0, totalMs - rc.upstreamMs) : undefined,
      firstTokenMs: rc.firstByteMs,
      usage: fromCache || rc.coalesced ? undefined : rc.usage,
      costUsd: rc.costUsd,
      team: rc.principal?.team?.id,
      refusal: errorCode !== undefined && REFUSAL_CODES.has(errorCode) ? errorCode : undefined,
      streamError: errorCode !== undefined && status === 200 ? errorCode : undefined,
    },
    rc.inFlight,
  );
  observers.recorder?.record(rc, status, totalMs);
  if (observers.sla) observeSla(rc, observers.sla, model, provider, status, totalMs);
  rc.trace?.end(traceSummary(rc, status));
  // A stream that failed after its 200 went out carries the error: its level is the error's.
  const severity = rc.error && status === 200 ? rc.error.status : status;
  // A 504 not_cached (Cache-Control: only-if-cached and nothing stored) is the client's own ask, not a failure of the gateway's.
  const level = severity >= 500 && rc.error?.code !== 'not_cached' ? 'error' : severity >= 400 ? 'warn' : 'info';
  // Building the line costs more than the metrics; skip it when the level is off (e.g. LOG_LEVEL=warn).
  if (!isEnabled(log, level)) return;

  // Provider and tokens as the metrics and the request log have them: a hit is the cache's, and a
  // hit's or a coalesced request's tokens were counted when the upstream made the answer.
  const usage = fromCache || rc.coalesced ? undefined : rc.usage;
  const entry = {
    route: rc.route,
    model: rc.model,
    provider: provider || undefined,
    upstream_model: rc.upstreamModel,
    stream: rc.stream,
    status,
    attempts: rc.attempts,
    latency_ms: round(totalMs),
    upstream_ms: round(rc.upstreamMs),
    first_byte_ms: rc.firstByteMs === undefined ? undefined : round(rc.firstByteMs),
    prompt_tokens: usage?.prompt_tokens,
    completion_tokens: usage?.completion_tokens,
    cost_usd: rc.costUsd ?? undefined,
    key_id: keyIdOf(rc),
    end_user: rc.endUser,
    error: rc.error ? { code: rc.error.code, message: rc.error.message, cause: transportCause(rc.error) } : undefined,
    cache: rc.cache,
    cache_similarity: rc.cacheSimilarity,
    coalesced: rc.coalesced,
    route_rule: rc.routeRule,
    fallback_group: rc.fallbackGroup,
    failed_attempts: rc.failedAttempts,
    trace_id: rc.trace?.traceId,
  };
  log[level](entry, level === 'info' ? 'request completed' : 'request failed');
}

/**
 * For the operator: what kept the gateway from an upstream, in the system's or undici's words
 * (`ECONNREFUSED: connect ECONNREFUSED 10.0.0.7:8000`, `UND_ERR_INVALID_ARG: invalid header
 * value`), which the client's message ("could not be reached") leaves out. Only errors with a
 * code: a parse error's message may quote the upstream's text.
 */
function transportCause(error: GatewayError): string | undefined {
  if (error.code !== 'upstream_error' && error.code !== 'upstream_timeout') return undefined;
  const cause = error.cause;
  const code = (cause as { code?: unknown } | null | undefined)?.code;
  if (!(cause instanceof Error) || typeof code !== 'string') return undefined;
  return redactKeys(`${code}: ${cause.message}`).slice(0, 300);
}

/** pino's level check (Fastify's logger type does not declare it); other loggers always log. */
function isEnabled(log: FastifyBaseLogger, level: 'error' | 'warn' | 'info'): boolean {
  const check = (log as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled;
  return check === undefined || check.call(log, level);
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/** The request span's closing attributes (GenAI conventions: tracing.ts). */
function traceSummary(rc: RequestContext, status: number): RequestSummary {
  const usage = rc.usage;
  return {
    requestModel: rc.model,
    modelGroup: rc.fallbackGroup ?? rc.model,
    providerId: rc.providerId,
    providerType: rc.providerType,
    responseModel: rc.upstreamModel,
    status,
    error: rc.error ? { code: rc.error.code, message: rc.error.message } : undefined,
    usage: usage ? { input_tokens: usage.prompt_tokens, output_tokens: usage.completion_tokens, cached_input_tokens: usage.prompt_tokens_details?.cached_tokens ?? undefined } : undefined,
    finishReasons: rc.finishReasons,
    cache: rc.cache,
    stream: rc.stream,
    attempts: rc.attempts,
    costUsd: rc.costUsd,
    keyId: keyIdOf(rc),
  };
}

/** The SLA monitor's sample, and for answers its quality signals (truncated, empty, schema). */
function observeSla(rc: RequestContext, sla: SlaMonitor, model: string, provider: string, status: number, totalMs: number): void {
  sla.observe({ model, provider, status, totalMs, firstTokenMs: rc.firstByteMs, stream: rc.stream, errorCode: rc.error?.code });
  // Quality is the upstream's: answers from the cache or another request's call were counted when made.
  if (status !== 200 || rc.error || rc.cache === 'HIT' || rc.cache === 'SEMANTIC_HIT' || rc.coalesced || rc.route === 'embeddings' || rc.route === 'count_tokens') return;
  const finishReasons = rc.finishReasons ?? NO_REASONS;
  const empty = rc.stream ? rc.streamedChars === 0 : rc.answerEmpty === true;
  const schema = rc.answerSchema ? checkJsonSchema(rc.answerSchema, rc.answerText ?? '') : undefined;
  sla.observeAnswer({ model, finishReasons, empty, schema: schema === undefined ? undefined : { valid: schema } });
}

/** Who sent the request, as the request log and spend name it: a virtual key's id, or `master`. */
function keyIdOf(rc: RequestContext): string | undefined {
  return rc.principal?.key?.id ?? (rc.principal?.master ? 'master' : undefined);
}

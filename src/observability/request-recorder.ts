/**
 * The request log's producer: one row per request — served, refused, failed or answered from the
 * cache — built at settle and queued on the batched writer (storage/spend-writer.ts), so logging
 * never waits on the database and never fails a request. Bodies are kept only when
 * request_log.bodies is on, redacted and capped.
 */
import type { RequestContext } from '../gateway/context.js';
import { billedUsage } from '../governance/ledger.js';
import type { SpendRow } from '../governance/types.js';
import { bodyForLog } from './redact.js';

export interface RowQueue {
  enqueue(row: SpendRow): void;
}

export interface RecorderOptions {
  /** Write rows to the request log (off: only the rows that count in the spend rollups are queued). */
  enabled: boolean;
  /** Keep request and response bodies (redacted, capped at maxBodyBytes each). */
  bodies: boolean;
  maxBodyBytes: number;
}

export class RequestRecorder {
  constructor(
    private readonly queue: RowQueue,
    private readonly options: RecorderOptions,
  ) {}

  /** Whether answers' text must be kept for their logged bodies (streams have no JSON to keep). */
  get keepsBodies(): boolean {
    return this.options.enabled && this.options.bodies;
  }

  /** At settle, once per request. Requests not on an API route (route `other`) are not logged. */
  record(rc: RequestContext, status: number, latencyMs: number): void {
    if (rc.route === 'other') return;
    // The ledger is armed once the request reached admission: from there on it counts as spend.
    const spend = rc.ledger !== undefined;
    if (!spend && !this.options.enabled) return;
    this.queue.enqueue(requestRow(rc, status, latencyMs, spend, this.options));
  }
}

/** The request's row; `spend` says whether the spend rollups count it. */
function requestRow(rc: RequestContext, status: number, latencyMs: number, spend: boolean, bodies?: Pick<RecorderOptions, 'bodies' | 'maxBodyBytes'>): SpendRow {
  const usage = billedUsage(rc);
  const principal = rc.principal;
  const fromCache = rc.cache === 'HIT' || rc.cache === 'SEMANTIC_HIT';
  return {
    request_id: rc.requestId,
    at: Date.now() - Math.round(latencyMs),
    key_id: principal?.key?.id ?? (principal?.master ? 'master' : null),
    team_id: principal?.team?.id ?? null,
    org_id: principal?.org?.id ?? null,
    end_user: rc.endUser ?? null,
    model: rc.model ?? null,
    provider: fromCache ? 'cache' : (rc.providerId ?? null),
    upstream_model: rc.upstreamModel ?? null,
    prompt_tokens: usage?.prompt_tokens ?? 0,
    completion_tokens: usage?.completion_tokens ?? 0,
    // Unset: the request never reached an upstream, so it cost nothing.
    cost_usd: rc.costUsd === undefined ? 0 : rc.costUsd,
    latency_ms: Math.round(latencyMs * 100) / 100,
    status,
    cache: rc.cache ?? null,
    tags: tagsOf(rc),
    route: rc.route,
    stream: rc.stream,
    error_code: rc.error?.code ?? null,
    ttft_ms: rc.firstByteMs === undefined ? null : Math.round(rc.firstByteMs),
    cached_tokens: usage?.prompt_tokens_details?.cached_tokens ?? 0,
    attempts: rc.attempts,
    trace_id: rc.trace?.traceId ?? null,
    request_body: bodies?.bodies && rc.rawBody ? loggedBody(rc.rawBody.toString('utf8'), bodies.maxBodyBytes) : null,
    response_body: bodies?.bodies ? responseBody(rc, bodies.maxBodyBytes) : null,
    spend,
  };
}

/** The JSON answer as sent; for a stream, the text it streamed (its first choice's). */
function responseBody(rc: RequestContext, maxBytes: number): string | null {
  if (rc.responseJson !== undefined) return loggedBody(rc.responseJson, maxBytes);
  if (rc.stream && rc.answerText !== undefined) return bodyForLog({ stream: true, text: rc.answerText }, maxBytes);
  return null;
}

/** A JSON body's text, parsed so redaction sees its keys (a secret-named key's value goes too) and it is stored as JSON, not as a string of it. */
function loggedBody(text: string, maxBytes: number): string {
  let value: unknown = text;
  try {
    value = JSON.parse(text);
  } catch {
    // Not JSON: redacted as text.
  }
  return bodyForLog(value, maxBytes);
}

/** `name:value` tags: the key's, team's and org's metadata, then the request's own. */
function tagsOf(rc: RequestContext): string[] {
  const tags: string[] = [];
  const principal = rc.principal;
  for (const metadata of [principal?.org?.metadata, principal?.team?.metadata, principal?.key?.metadata, rc.tags]) {
    if (metadata) for (const name in metadata) tags.push(`${name}:${metadata[name]}`);
  }
  return tags;
}

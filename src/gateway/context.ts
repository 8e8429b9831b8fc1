/**
 * Per-request state that the pipeline's stages fill in as the request moves forward, and that
 * `settle` reads once at the end for metrics and the request log.
 */
import { GatewayError } from './errors.js';
import type { CacheStatus } from '../cache/response-cache.js';
import type { Ticket } from '../governance/ticket.js';
import type { Ledger } from '../governance/ledger.js';
import type { Principal } from '../governance/principal.js';
import type { RequestSpan } from '../observability/tracing.js';
import type { Usage } from './types.js';

export type RouteName = 'chat' | 'embeddings' | 'messages' | 'count_tokens' | 'other';

export interface RequestContext {
  readonly requestId: string;
  readonly route: RouteName;
  /** performance.now() when the request arrived. */
  readonly startedAt: number;
  /** Set when the client disconnected before the answer was complete. */
  clientClosed?: GatewayError;
  /** Aborts the running upstream attempt, if any; called once when the client disconnects. */
  onClientClose?: (reason: GatewayError) => void;
  /** The request body as received, when it came over HTTP (the cache keys identical bytes cheaply). */
  rawBody: Buffer | undefined;
  /** Whether the caller gave `stream: true`. */
  stream: boolean;
  /** The model group asked for, once it resolved (so metric labels stay bounded). */
  model?: string;
  providerId?: string;
  /** The provider's type (openai, anthropic, ...), for the trace's gen_ai.provider.name. */
  providerType?: string;
  upstreamModel?: string;
  /** Attempts made against upstream targets. */
  attempts: number;
  /** Attempts that failed (failover, retries), for the request's log line. */
  failedAttempts?: { provider: string; model: string; code: string; status: number }[];
  /** The model group that finally served, when a fallback group did. */
  fallbackGroup?: string;
  /** The routing rule that chose the group, if one did. */
  routeRule?: string;
  /** Time spent waiting on the upstream, summed over attempts (ms). */
  upstreamMs: number;
  /** Time to first byte of a stream's body (ms since startedAt). */
  firstByteMs?: number;
  usage?: Usage;
  /** What the cache did, when caching applied to the request or the client asked for something. */
  cache?: CacheStatus;
  /** The cache key (`<namespace>:<hash>`) when caching applied, for `DELETE /v1/cache?key=`. */
  cacheKey?: string;
  /** A cache hit's age in whole seconds. */
  cacheAgeSeconds?: number;
  /** A semantic hit's cosine similarity. */
  cacheSimilarity?: number;
  /** The answer came from another identical request's upstream call (request coalescing). */
  coalesced?: boolean;
  /** Who sent it (virtual key, master key, or nobody on an open gateway). */
  principal: Principal | undefined;
  /** The end user the request names (`user`, or Anthropic's `metadata.user_id`). */
  endUser: string | undefined;
  /** Tags from x-switchyard-metadata, for attribution. */
  tags: Record<string, string> | undefined;
  /** The limits and budgets reserved for it, reconciled at settle. */
  ticket: Ticket | undefined;
  /** Answer text streamed so far (characters), to bill a stream cut off before its usage arrived. */
  streamedChars: number;
  /** The prompt's estimated tokens, for the same purpose (set when the request was admitted). */
  estimatePrompt: (() => number) | undefined;
  /** Settles its account (cost, reservation, spend row) once the request is over. */
  ledger: Ledger | undefined;
  /** What the answer cost in USD (0 from the cache); null when the model has no known price. */
  costUsd: number | null | undefined;
  /**
   * When the client disconnects, how long the upstream call may still run so its real usage can
   * be billed (0: it is aborted at once).
   */
  drainMs: number;
  /** The gateway's drains, which shutdown ends (set with drainMs). */
  drains: Drains | undefined;
  /** Counted in switchyard_in_flight_requests until settled. */
  inFlight: boolean;
  /** The request's span, when tracing is on. */
  trace: RequestSpan | undefined;
  /** A JSON answer's text as sent (the request log keeps it when request_log.bodies is on). */
  responseJson: string | undefined;
  /** OpenAI-style finish reasons of the answer's choices (stop, length, tool_calls, ...). */
  finishReasons: string[] | undefined;
  /** A whole answer had no text and no tool call (streams: see streamedChars). */
  answerEmpty: boolean | undefined;
  /** The JSON schema the answer must follow (response_format: json_schema), to check it. */
  answerSchema: object | undefined;
  /** Keep the answer's text (answerText): for the schema check, or as a streamed answer's logged body. */
  keepText: boolean;
  /** The answer's text (the first choice's), kept only with keepText. */
  answerText: string | undefined;
  status?: number;
  error?: GatewayError;
  settled: boolean;
}

/**
 * Every member is created here, in one order, so all contexts share one V8 shape: stages fill
 * them in different orders, and members added later would give each order a shape of its own
 * (slower property access on every stage).
 */
export function createRequestContext(requestId: string, route: RouteName, startedAt: number): RequestContext {
  return {
    requestId,
    route,
    startedAt,
    clientClosed: undefined,
    onClientClose: undefined,
    rawBody: undefined,
    stream: false,
    model: undefined,
    providerId: undefined,
    providerType: undefined,
    upstreamModel: undefined,
    attempts: 0,
    failedAttempts: undefined,
    fallbackGroup: undefined,
    routeRule: undefined,
    upstreamMs: 0,
    firstByteMs: undefined,
    usage: undefined,
    cache: undefined,
    cacheKey: undefined,
    cacheAgeSeconds: undefined,
    cacheSimilarity: undefined,
    coalesced: undefined,
    principal: undefined,
    endUser: undefined,
    tags: undefined,
    ticket: undefined,
    streamedChars: 0,
    estimatePrompt: undefined,
    ledger: undefined,
    costUsd: undefined,
    drainMs: 0,
    drains: undefined,
    inFlight: false,
    trace: undefined,
    responseJson: undefined,
    finishReasons: undefined,
    answerEmpty: undefined,
    answerSchema: undefined,
    keepText: false,
    answerText: undefined,
    status: undefined,
    error: undefined,
    settled: false,
  };
}

/**
 * Marks the client as gone and aborts the running attempt. A plain callback rather than an
 * AbortSignal per request: signals are costly to create, and only the attempt needs one.
 */
export function closeClient(rc: RequestContext, reason?: GatewayError): void {
  if (rc.clientClosed) return;
  const closed = (rc.clientClosed = reason ?? new GatewayError('client_closed_request', 'The client closed the connection before the answer was complete.'));
  if (rc.drainMs > 0 && rc.drains?.over !== true) {
    // Billed requests run on to their real usage (the stream is read without being sent), within bounds.
    const end = (): void => {
      clearTimeout(timer);
      rc.drains?.delete(end);
      rc.drainMs = 0;
      rc.onClientClose?.(closed);
    };
    const timer = setTimeout(end, rc.drainMs);
    timer.unref();
    rc.drains?.add(end);
    return;
  }
  rc.drainMs = 0;
  rc.onClientClose?.(closed);
}

/**
 * One gateway's drains: billed requests whose client left, still reading their upstream for the
 * usage. Shutdown ends them once its grace period is over (billed on what they read), and a client
 * leaving after that aborts its request at once, so the process exits within the grace period
 * rather than up to governance.drain_timeout_ms after it.
 */
export class Drains {
  readonly #running = new Set<() => void>();
  #over = false;

  /** Whether shutdown has ended the drains. */
  get over(): boolean {
    return this.#over;
  }

  add(end: () => void): void {
    this.#running.add(end);
  }

  delete(end: () => void): void {
    this.#running.delete(end);
  }

  endAll(): void {
    this.#over = true;
    for (const end of this.#running) end();
  }
}

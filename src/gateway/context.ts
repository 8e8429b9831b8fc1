/**
 * Per-request state that the pipeline's stages fill in as the request moves forward, and that
 * `settle` reads once at the end for metrics and the request log.
 */
import { GatewayError } from './errors.js';
import type { CacheStatus } from '../cache/response-cache.js';
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
  rc.clientClosed = reason ?? new GatewayError('client_closed_request', 'The client closed the connection before the answer was complete.');
  rc.onClientClose?.(rc.clientClosed);
}

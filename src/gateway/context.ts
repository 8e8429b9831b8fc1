/**
 * Per-request state that the pipeline's stages fill in as the request moves forward, and that
 * `settle` reads once at the end for metrics and the request log.
 */
import type { GatewayError } from './errors.js';
import type { Usage } from './types.js';

export type RouteName = 'chat' | 'embeddings' | 'other';

export interface RequestContext {
  readonly requestId: string;
  readonly route: RouteName;
  /** performance.now() when the request arrived. */
  readonly startedAt: number;
  /** Aborted when the client disconnects before the answer is complete. */
  readonly signal: AbortSignal;
  /** Whether the caller gave `stream: true`. */
  stream: boolean;
  /** The model group asked for, once it resolved (so metric labels stay bounded). */
  model?: string;
  providerId?: string;
  upstreamModel?: string;
  /** Attempts made against upstream targets. */
  attempts: number;
  /** Time spent waiting on the upstream, summed over attempts (ms). */
  upstreamMs: number;
  /** Time to first byte of a stream's body (ms since startedAt). */
  firstByteMs?: number;
  usage?: Usage;
  status?: number;
  error?: GatewayError;
  settled: boolean;
}

export function createRequestContext(requestId: string, route: RouteName, signal: AbortSignal, startedAt: number): RequestContext {
  return { requestId, route, startedAt, signal, stream: false, attempts: 0, upstreamMs: 0, settled: false };
}

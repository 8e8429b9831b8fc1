/** The interface every provider adapter implements (DESIGN.md §3.1). */
import type { ChatCompletion, ChatCompletionChunk, ChatRequest, EmbeddingsRequest, EmbeddingsResponse } from '../gateway/types.js';

export interface AttemptTimeouts {
  /** Until the upstream's response headers (a stream's first byte); 0 = none. */
  firstByteMs: number;
  /** The whole attempt; 0 = none. */
  totalMs: number;
}

/** What an adapter gets for one attempt against one target. */
export interface AttemptContext {
  /** The upstream model name from the target (the client's `model` is the group name). */
  upstreamModel: string;
  /** Aborted when the client goes away or the attempt's total timeout fires. */
  signal: AbortSignal;
  requestId: string;
  /** Adapters call this when the upstream's response headers arrived: the first-byte timeout stops. */
  firstByte(): void;
}

export interface ProviderAdapter {
  readonly id: string;
  readonly type: string;
  chat(request: ChatRequest, ctx: AttemptContext): Promise<ChatCompletion>;
  /**
   * Starts a stream. Resolves once the upstream accepted the request (status 200), with the
   * chunks in OpenAI's chunk shape; upstream failures before that reject with a GatewayError,
   * failures later throw from the iterator.
   */
  chatStream(request: ChatRequest, ctx: AttemptContext): Promise<AsyncIterable<ChatCompletionChunk>>;
  embeddings(request: EmbeddingsRequest, ctx: AttemptContext): Promise<EmbeddingsResponse>;
}

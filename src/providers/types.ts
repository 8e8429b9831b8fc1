/** The interface every provider adapter implements (DESIGN.md §3.1). */
import type { ChatCompletion, ChatCompletionChunk, ChatRequest, EmbeddingsRequest, EmbeddingsResponse, Usage } from '../gateway/types.js';
import type { CallSignal } from './call-signal.js';
import type { CountTokensRequest, CountTokensResponse, Message, MessagesRequest } from './anthropic/api.js';

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
  signal: CallSignal;
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
  /**
   * Present when the upstream speaks Anthropic's Messages API: `/v1/messages` then sends the
   * client's request as it is instead of going through the canonical format.
   */
  readonly messages?: NativeMessages;
}

/** A client's Anthropic Messages (or count_tokens) request, for an upstream that speaks the same API. */
export interface NativeMessagesRequest<Body = MessagesRequest> {
  /** The body as the client sent it; never changed (a retry sends it again). Only `model` is replaced upstream. */
  body: Body;
  /** The client's `anthropic-beta` header, passed on (after any configured betas). */
  beta?: string;
}

/** A non-streaming native answer. */
export interface NativeMessage {
  /** The upstream's message, with its own JSON text attached (`gateway/raw-json.ts`): sent on as it came. */
  message: Message;
  /** The message's usage in canonical terms (for settle). */
  usage?: Usage;
}

/** One server-sent event of a native stream, forwarded to the client as `event: <name>\ndata: <data>`. */
export interface NativeStreamEvent {
  /** The event name (Anthropic's `type`). */
  name: string;
  /** The event's `data` text as the upstream sent it. */
  data: string;
  /** `data`, parsed. */
  value: Record<string, unknown>;
  /** Usage so far in canonical terms, on message_start and message_delta. */
  usage?: Usage;
}

/**
 * Anthropic's Messages API spoken natively. Same contract as chat / chatStream: failures before
 * the answer (or a stream's first output event) reject or throw retryable GatewayErrors, so the
 * executor can fail over; a stream holds message_start, pings and content_block_start back until
 * the first output, so an in-stream error before it still fails over.
 */
export interface NativeMessages {
  create(request: NativeMessagesRequest, ctx: AttemptContext): Promise<NativeMessage>;
  stream(request: NativeMessagesRequest, ctx: AttemptContext): Promise<AsyncIterable<NativeStreamEvent>>;
  /** The upstream's own count, with its JSON text attached. */
  countTokens(request: NativeMessagesRequest<CountTokensRequest>, ctx: AttemptContext): Promise<CountTokensResponse>;
}

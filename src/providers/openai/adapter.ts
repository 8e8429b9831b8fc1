/** The adapter for OpenAI and every OpenAI-compatible server (vLLM, Ollama, Together, Groq, ...). */
import { completionChunks } from '../../cache/replay.js';
import { GatewayError } from '../../gateway/errors.js';
import type { ChatCompletion, ChatCompletionChunk, ChatRequest, EmbeddingsRequest, EmbeddingsResponse } from '../../gateway/types.js';
import { sendForText, sendStreaming } from '../transport.js';
import type { AttemptContext, ProviderAdapter } from '../types.js';
import { withoutExtensions } from './extensions.js';
import { buildChatBody, buildEmbeddingsBody, buildHeaders, withReasoningTokenLimit } from './request.js';
import { parseJsonBody, upstreamHttpError } from './response.js';
import { decodeChatStream } from './stream.js';

export interface OpenAIAdapterOptions {
  id: string;
  type: 'openai' | 'openai-compatible' | 'azure';
  baseUrl: string;
  /** Builds the URL per operation and upstream model when it is not `<baseUrl>/<operation>` (Azure deployments). */
  urlFor?: (operation: 'chat/completions' | 'embeddings', model: string) => string;
  apiKey?: string;
  /** How the key is sent: `Authorization: Bearer` (default) or Azure's `api-key` header. */
  authHeader?: 'bearer' | 'api-key';
  headers?: Record<string, string>;
  /** Ask for `stream_options.include_usage` upstream (some older servers reject it). */
  streamUsage: boolean;
}

export class OpenAIAdapter implements ProviderAdapter {
  readonly id: string;
  readonly type: string;
  readonly #options: OpenAIAdapterOptions;
  readonly #chatUrl: (model: string) => string;
  readonly #embeddingsUrl: (model: string) => string;

  constructor(options: OpenAIAdapterOptions) {
    this.id = options.id;
    this.type = options.type;
    this.#options = options;
    const base = options.baseUrl.replace(/\/+$/, '');
    const { urlFor } = options;
    const chatUrl = `${base}/chat/completions`;
    const embeddingsUrl = `${base}/embeddings`;
    this.#chatUrl = urlFor ? (model) => urlFor('chat/completions', model) : () => chatUrl;
    this.#embeddingsUrl = urlFor ? (model) => urlFor('embeddings', model) : () => embeddingsUrl;
  }

  async chat(request: ChatRequest, ctx: AttemptContext): Promise<ChatCompletion> {
    const text = await this.#post(this.#chatUrl(ctx.upstreamModel), buildChatBody(this.#forUpstream(request, ctx.upstreamModel), ctx.upstreamModel, false), ctx);
    return parseJsonBody<ChatCompletion>(text, this.id, 'choices');
  }

  async chatStream(request: ChatRequest, ctx: AttemptContext): Promise<AsyncIterable<ChatCompletionChunk>> {
    const res = await sendStreaming({
      url: this.#chatUrl(ctx.upstreamModel),
      headers: this.#headers(ctx),
      body: buildChatBody(this.#forUpstream(request, ctx.upstreamModel), ctx.upstreamModel, this.#options.streamUsage),
      signal: ctx.signal,
      onFirstByte: ctx.firstByte,
      provider: this.id,
    });
    if (res.statusCode !== 200) throw upstreamHttpError(res.statusCode, await res.body.text(), res.headers, this.id);
    const type = res.headers['content-type'];
    if (typeof type === 'string' && type !== '' && !type.includes('text/event-stream')) return this.#notAStream(type, await res.body.text());
    return decodeChatStream(res.body, this.id);
  }

  /**
   * A 200 to a streaming request that is not an event stream. Servers without streaming answer
   * the whole completion as JSON: it is streamed on as the chunks it would have been sent in (the
   * cache's replay). Anything else is a 502 that says what came instead.
   */
  #notAStream(type: string, text: string): AsyncIterable<ChatCompletionChunk> {
    if (!type.includes('json')) {
      throw new GatewayError('upstream_error', `The upstream provider "${this.id}" answered a streaming request with ${type.split(';')[0]!.trim()} instead of an event stream.`, { provider: this.id });
    }
    const chunks = completionChunks(parseJsonBody<ChatCompletion>(text, this.id, 'choices'), { includeUsage: true });
    return (async function* () {
      yield* chunks;
    })();
  }

  async embeddings(request: EmbeddingsRequest, ctx: AttemptContext): Promise<EmbeddingsResponse> {
    const text = await this.#post(this.#embeddingsUrl(ctx.upstreamModel), buildEmbeddingsBody(request, ctx.upstreamModel), ctx);
    return parseJsonBody<EmbeddingsResponse>(text, this.id, 'data');
  }

  async #post(url: string, body: string | Buffer, ctx: AttemptContext): Promise<string> {
    const res = await sendForText({ url, headers: this.#headers(ctx), body, signal: ctx.signal, onFirstByte: ctx.firstByte, provider: this.id });
    if (res.statusCode < 200 || res.statusCode >= 300) throw upstreamHttpError(res.statusCode, res.text, res.headers, this.id);
    return res.text;
  }

  /**
   * OpenAI and Azure reject the gateway's canonical extensions; compatible servers get all
   * (extensions.ts). OpenAI's reasoning models get `max_completion_tokens` for `max_tokens`.
   */
  #forUpstream(request: ChatRequest, upstreamModel: string): ChatRequest {
    if (this.type === 'openai-compatible') return request;
    const cleaned = withoutExtensions(request);
    return this.type === 'openai' ? withReasoningTokenLimit(cleaned, upstreamModel) : cleaned;
  }

  #headers(ctx: AttemptContext): Record<string, string> {
    return buildHeaders(this.#options.apiKey, this.#options.headers ?? {}, ctx.requestId, this.#options.authHeader);
  }
}

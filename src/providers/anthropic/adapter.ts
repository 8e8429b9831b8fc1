/**
 * The adapter for Anthropic's Messages API (POST {base}/v1/messages): behind the OpenAI-shaped core
 * (chat, chatStream), and natively for `/v1/messages` clients (`messages`, native.ts).
 */
import { GatewayError } from '../../gateway/errors.js';
import type { ChatCompletion, ChatCompletionChunk, ChatRequest, EmbeddingsResponse } from '../../gateway/types.js';
import { sendForText, sendStreaming } from '../transport.js';
import type { AttemptContext, ProviderAdapter } from '../types.js';
import { AnthropicNativeMessages } from './native.js';
import { buildMessagesRequest } from './request.js';
import { parseMessage, toChatCompletion, upstreamHttpError } from './response.js';
import { decodeMessagesStream } from './stream.js';

export interface AnthropicAdapterOptions {
  id: string;
  baseUrl: string;
  apiKey?: string;
  anthropicVersion: string;
  defaultMaxTokens: number;
  headers: Record<string, string>;
}

export class AnthropicAdapter implements ProviderAdapter {
  readonly id: string;
  readonly type = 'anthropic';
  readonly #url: string;
  /** The same for every request: built once. */
  readonly #headers: Record<string, string>;
  readonly #defaultMaxTokens: number;
  readonly messages: AnthropicNativeMessages;

  constructor(options: AnthropicAdapterOptions) {
    this.id = options.id;
    this.#defaultMaxTokens = options.defaultMaxTokens;
    const base = options.baseUrl.replace(/\/+$/, '');
    // The SDKs' base URL has no /v1; one copied with it still works.
    this.#url = base.endsWith('/v1') ? `${base}/messages` : `${base}/v1/messages`;
    this.#headers = { 'content-type': 'application/json', 'anthropic-version': options.anthropicVersion, ...options.headers };
    if (options.apiKey) this.#headers['x-api-key'] = options.apiKey;
    this.messages = new AnthropicNativeMessages({ provider: this.id, messagesUrl: this.#url, countTokensUrl: `${this.#url}/count_tokens`, headers: this.#headers });
  }

  async chat(request: ChatRequest, ctx: AttemptContext): Promise<ChatCompletion> {
    const { body, jsonTool } = buildMessagesRequest(request, { upstreamModel: ctx.upstreamModel, stream: false, defaultMaxTokens: this.#defaultMaxTokens });
    const res = await sendForText({ url: this.#url, headers: this.#headers, body: JSON.stringify(body), signal: ctx.signal, onFirstByte: ctx.firstByte, provider: this.id });
    if (res.statusCode < 200 || res.statusCode >= 300) throw upstreamHttpError(res.statusCode, res.text, res.headers, this.id);
    return toChatCompletion(parseMessage(res.text, this.id), jsonTool, this.id);
  }

  async chatStream(request: ChatRequest, ctx: AttemptContext): Promise<AsyncIterable<ChatCompletionChunk>> {
    const { body, jsonTool } = buildMessagesRequest(request, { upstreamModel: ctx.upstreamModel, stream: true, defaultMaxTokens: this.#defaultMaxTokens });
    const res = await sendStreaming({ url: this.#url, headers: this.#headers, body: JSON.stringify(body), signal: ctx.signal, onFirstByte: ctx.firstByte, provider: this.id });
    if (res.statusCode !== 200) throw upstreamHttpError(res.statusCode, await res.body.text(), res.headers, this.id);
    return decodeMessagesStream(res.body, this.id, jsonTool);
  }

  embeddings(): Promise<EmbeddingsResponse> {
    return Promise.reject(
      new GatewayError('invalid_request', `The provider "${this.id}" is Anthropic, which has no embeddings API: route embeddings to a provider that has one.`, { param: 'model' }),
    );
  }
}

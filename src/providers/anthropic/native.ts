/**
 * Anthropic's Messages API spoken natively, for `/v1/messages` clients: the client's body goes
 * upstream as it is — its own bytes (gateway/client-json.ts), only `model` becomes the target's
 * upstream model — and the answer comes back
 * with its own JSON text, or as the upstream's own events. Errors go through the same mapping as
 * the canonical path (response.ts), so statuses and retryability are identical.
 */
import { clientJsonWithModel } from '../../gateway/client-json.js';
import { GatewayError } from '../../gateway/errors.js';
import { withRawJson } from '../../gateway/raw-json.js';
import { sendForText, sendStreaming } from '../transport.js';
import type { AttemptContext, NativeMessage, NativeMessages, NativeMessagesRequest, NativeStreamEvent } from '../types.js';
import type { CountTokensRequest, CountTokensResponse } from './api.js';
import { readNativeStream } from './native-stream.js';
import { parseMessage, toUsage, upstreamHttpError } from './response.js';
import { isJsonObject as isObject } from '../upstream-json.js';

export interface NativeEndpoints {
  provider: string;
  messagesUrl: string;
  countTokensUrl: string;
  /** The adapter's headers (key, version, configured ones); never changed here. */
  headers: Record<string, string>;
}

export class AnthropicNativeMessages implements NativeMessages {
  readonly #endpoints: NativeEndpoints;
  /** The configured `anthropic-beta` header's name as written in the config, if any. */
  readonly #betaHeader: string | undefined;

  constructor(endpoints: NativeEndpoints) {
    this.#endpoints = endpoints;
    this.#betaHeader = Object.keys(endpoints.headers).find((name) => name.toLowerCase() === 'anthropic-beta');
  }

  async create(request: NativeMessagesRequest, ctx: AttemptContext): Promise<NativeMessage> {
    const { provider, messagesUrl } = this.#endpoints;
    const body = clientJsonWithModel(request.body, ctx.upstreamModel) ?? JSON.stringify({ ...request.body, model: ctx.upstreamModel });
    const res = await sendForText({ url: messagesUrl, headers: this.#headers(request.beta), body, signal: ctx.signal, onFirstByte: ctx.firstByte, provider });
    if (res.statusCode < 200 || res.statusCode >= 300) throw upstreamHttpError(res.statusCode, res.text, res.headers, provider);
    const message = withRawJson(parseMessage(res.text, provider), res.text);
    return { message, usage: isObject(message.usage) ? toUsage(message.usage) : undefined };
  }

  async stream(request: NativeMessagesRequest, ctx: AttemptContext): Promise<AsyncIterable<NativeStreamEvent>> {
    const { provider, messagesUrl } = this.#endpoints;
    // Only a stream request is streamed natively: its bytes say "stream": true already.
    const bytes = request.body.stream === true ? clientJsonWithModel(request.body, ctx.upstreamModel) : undefined;
    const body = bytes ?? JSON.stringify({ ...request.body, model: ctx.upstreamModel, stream: true });
    const res = await sendStreaming({ url: messagesUrl, headers: this.#headers(request.beta), body, signal: ctx.signal, onFirstByte: ctx.firstByte, provider });
    if (res.statusCode !== 200) throw upstreamHttpError(res.statusCode, await res.body.text(), res.headers, provider);
    return readNativeStream(res.body, provider);
  }

  async countTokens(request: NativeMessagesRequest<CountTokensRequest>, ctx: AttemptContext): Promise<CountTokensResponse> {
    const { provider, countTokensUrl } = this.#endpoints;
    const body = clientJsonWithModel(request.body, ctx.upstreamModel) ?? JSON.stringify({ ...request.body, model: ctx.upstreamModel });
    const res = await sendForText({ url: countTokensUrl, headers: this.#headers(request.beta), body, signal: ctx.signal, onFirstByte: ctx.firstByte, provider });
    if (res.statusCode < 200 || res.statusCode >= 300) throw upstreamHttpError(res.statusCode, res.text, res.headers, provider);
    return withRawJson(parseCount(res.text, provider), res.text);
  }

  /** The client's betas are added to the configured ones (Anthropic takes a comma-separated list). */
  #headers(beta: string | undefined): Record<string, string> {
    const { headers } = this.#endpoints;
    if (beta === undefined || beta === '') return headers;
    const merged = { ...headers };
    const configured = this.#betaHeader === undefined ? '' : merged[this.#betaHeader];
    if (this.#betaHeader !== undefined) delete merged[this.#betaHeader];
    merged['anthropic-beta'] = configured ? `${configured},${beta}` : beta;
    return merged;
  }
}


function parseCount(text: string, provider: string): CountTokensResponse {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  if (!isObject(value) || typeof value.input_tokens !== 'number') {
    throw new GatewayError('upstream_error', `The upstream provider "${provider}" returned a token count that is not {"input_tokens": N}.`, { provider });
  }
  return value as unknown as CountTokensResponse;
}

/** Canonical → OpenAI request. Decoding OpenAI is the identity: only `model` (and usage) change. */
import { clientJsonWithModel } from '../../gateway/client-json.js';
import type { ChatRequest, EmbeddingsRequest } from '../../gateway/types.js';

/** The upstream's request body: the client's own bytes, edited, while the request is the one it sent. */
export function buildChatBody(request: ChatRequest, upstreamModel: string, streamUsage: boolean): string | Buffer {
  // Always ask for the usage trailer so usage is captured; it is stripped if the client did not ask.
  const askUsage = request.stream === true && streamUsage && request.stream_options?.include_usage !== true;
  const edited = clientJsonWithModel(request, upstreamModel, askUsage ? ASK_USAGE : undefined);
  if (edited) return edited;
  if (!request.stream) return JSON.stringify({ ...request, model: upstreamModel });
  const streamOptions = streamUsage ? { ...request.stream_options, include_usage: true } : request.stream_options;
  return JSON.stringify({ ...request, model: upstreamModel, stream: true, stream_options: streamOptions });
}

/** Added to a stream's bytes that must ask for usage; sent `stream_options` without it are serialised instead. */
const ASK_USAGE = { name: 'stream_options', json: '{"include_usage":true}' };

export function buildEmbeddingsBody(request: EmbeddingsRequest, upstreamModel: string): string | Buffer {
  return clientJsonWithModel(request, upstreamModel) ?? JSON.stringify({ ...request, model: upstreamModel });
}

export function buildHeaders(apiKey: string | undefined, extra: Record<string, string>, requestId: string, auth: 'bearer' | 'api-key' = 'bearer'): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': requestId, ...extra };
  if (apiKey) {
    if (auth === 'api-key') headers['api-key'] = apiKey;
    else headers.authorization = `Bearer ${apiKey}`;
  }
  return headers;
}

/** OpenAI's reasoning models: o1, o3, o4-mini, gpt-5 and their dated / sized variants. */
const REASONING_MODEL = /^(?:o\d|gpt-5)(?:[-.]|$)/;

/**
 * OpenAI's reasoning models reject `max_tokens` ("use max_completion_tokens instead"), where it
 * means what `max_completion_tokens` means. A request that sets only `max_tokens` (older clients,
 * or /v1/messages, whose `max_tokens` is required) is sent with the field those models accept.
 */
export function withReasoningTokenLimit(request: ChatRequest, upstreamModel: string): ChatRequest {
  if (request.max_tokens == null || request.max_completion_tokens != null || !REASONING_MODEL.test(upstreamModel)) return request;
  const { max_tokens: limit, ...rest } = request;
  return { ...rest, max_completion_tokens: limit };
}

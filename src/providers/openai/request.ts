/** Canonical → OpenAI request. Decoding OpenAI is the identity: only `model` (and usage) change. */
import type { ChatRequest, EmbeddingsRequest } from '../../gateway/types.js';

export function buildChatBody(request: ChatRequest, upstreamModel: string, streamUsage: boolean): string {
  if (!request.stream) return JSON.stringify({ ...request, model: upstreamModel });
  // Always ask for the usage trailer so usage is captured; it is stripped if the client did not ask.
  const streamOptions = streamUsage ? { ...request.stream_options, include_usage: true } : request.stream_options;
  return JSON.stringify({ ...request, model: upstreamModel, stream: true, stream_options: streamOptions });
}

export function buildEmbeddingsBody(request: EmbeddingsRequest, upstreamModel: string): string {
  return JSON.stringify({ ...request, model: upstreamModel });
}

export function buildHeaders(apiKey: string | undefined, extra: Record<string, string>, requestId: string, auth: 'bearer' | 'api-key' = 'bearer'): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': requestId, ...extra };
  if (apiKey) {
    if (auth === 'api-key') headers['api-key'] = apiKey;
    else headers.authorization = `Bearer ${apiKey}`;
  }
  return headers;
}

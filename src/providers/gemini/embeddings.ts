/**
 * OpenAI embeddings ↔ Gemini embedContent / batchEmbedContents.
 *
 * One input goes to `:embedContent`, several to `:batchEmbedContents` (at most 100 per call, the
 * API's limit, so larger inputs are split). `dimensions` → `outputDimensionality`. Gemini embeds
 * text only: token-array inputs are a 400. `base64` encoding is little-endian float32, as OpenAI
 * sends it. Gemini reports no usage for embeddings: prompt_tokens is an estimate from the
 * gateway's tokenizer (o200k_base), not Google's count.
 */
import { GatewayError } from '../../gateway/errors.js';
import type { EmbeddingsRequest, EmbeddingsResponse } from '../../gateway/types.js';
import { countTokens } from '../../governance/tokens.js';
import type { GeminiContentEmbedding, GeminiEmbedContentRequest, GeminiEmbedResponse } from './api.js';
import { malformed } from './response.js';
import { encodeEmbedding } from '../embedding-vector.js';

export const MAX_BATCH = 100;

/** The texts to embed; anything but a string or a list of strings is refused. */
export function embeddingInputs(request: EmbeddingsRequest): string[] {
  const input = request.input;
  if (typeof input === 'string') return [input];
  if (Array.isArray(input) && input.length > 0 && input.every((item) => typeof item === 'string')) return input as string[];
  throw new GatewayError('invalid_request', "Invalid request: 'input' must be a string or an array of strings for a Gemini embedding model (token arrays are not supported).", { param: 'input' });
}

export function embedContentRequest(text: string, modelPath: string, dimensions: number | undefined): GeminiEmbedContentRequest {
  const request: GeminiEmbedContentRequest = { model: modelPath, content: { parts: [{ text }] } };
  if (dimensions !== undefined) request.outputDimensionality = dimensions;
  return request;
}

/** The vectors of one embedContent (`embedding`) or batchEmbedContents (`embeddings`) answer. */
export function vectorsOf(response: GeminiEmbedResponse, expected: number, provider: string): number[][] {
  const embeddings: unknown = response.embeddings ?? (response.embedding ? [response.embedding] : undefined);
  if (!Array.isArray(embeddings) || embeddings.length !== expected) throw malformed(provider, `an embeddings answer with ${Array.isArray(embeddings) ? embeddings.length : 'no'} vectors for ${expected} inputs`);
  return embeddings.map((embedding: GeminiContentEmbedding | null) => {
    const values = embedding?.values;
    if (!Array.isArray(values) || !values.every((v) => typeof v === 'number')) throw malformed(provider, 'an embedding that is not a list of numbers');
    return values as number[];
  });
}

export function toEmbeddingsResponse(request: EmbeddingsRequest, inputs: string[], vectors: number[][], model: string, reportedTokens: number | undefined): EmbeddingsResponse {
  const tokens = reportedTokens ?? inputs.reduce((sum, text) => sum + countTokens(text), 0);
  return {
    object: 'list',
    data: vectors.map((vector, index) => ({ object: 'embedding', index, embedding: encodeEmbedding(vector, request.encoding_format) })),
    model,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  };
}

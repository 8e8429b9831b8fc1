/**
 * OpenAI embeddings ↔ Bedrock InvokeModel bodies of the embedding families Bedrock serves:
 * Amazon Titan (one text per call; `dimensions` → `dimensions`, or `embeddingConfig` for the
 * multimodal model) and Cohere Embed (texts batched, `input_type` from the request's extension
 * field of that name, default `search_document`). Token usage comes from Bedrock's
 * `x-amzn-bedrock-input-token-count` header, then the body (Titan), then an estimate.
 */
import { GatewayError } from '../../gateway/errors.js';
import type { EmbeddingsRequest } from '../../gateway/types.js';
import { countTokens } from '../../governance/tokens.js';
import type { HeaderValue } from '../upstream-errors.js';
import type {
  CohereEmbeddingRequest,
  TitanEmbeddingRequest,
  TitanMultimodalEmbeddingRequest,
  WireCohereEmbeddingResponse,
  WireTitanEmbeddingResponse,
} from './api.js';

export type EmbeddingFamily = 'titan' | 'titan-multimodal' | 'cohere';

/** Cohere Embed on Bedrock takes at most 96 texts per call. */
export const COHERE_BATCH_SIZE = 96;

/** The family of an embedding model id (plain, cross-region profile `us.…`, or ARN); undefined when unsupported. */
export function embeddingFamily(model: string): EmbeddingFamily | undefined {
  if (model.includes('amazon.titan-embed-image')) return 'titan-multimodal';
  if (model.includes('amazon.titan-embed')) return 'titan';
  if (model.includes('cohere.embed')) return 'cohere';
  return undefined;
}

/** One InvokeModel body per upstream call, with the input indexes each call covers. */
export interface EmbeddingCall {
  body: string;
  inputs: string[];
  /** Index of the call's first input in the request. */
  offset: number;
}

export function buildEmbeddingCalls(request: EmbeddingsRequest, model: string): EmbeddingCall[] {
  const family = embeddingFamily(model);
  if (!family) {
    throw new GatewayError(
      'invalid_request',
      `Amazon Bedrock embeddings are supported for the Amazon Titan (amazon.titan-embed-*) and Cohere (cohere.embed-*) models; "${model}" is neither.`,
      { param: 'model' },
    );
  }
  const inputs = textInputs(request.input);
  if (family === 'cohere') {
    const calls: EmbeddingCall[] = [];
    const inputType = typeof request.input_type === 'string' ? request.input_type : 'search_document';
    for (let offset = 0; offset < inputs.length; offset += COHERE_BATCH_SIZE) {
      const texts = inputs.slice(offset, offset + COHERE_BATCH_SIZE);
      const body: CohereEmbeddingRequest = { texts, input_type: inputType };
      if (request.dimensions != null) body.output_dimension = request.dimensions;
      if (typeof request.truncate === 'string') body.truncate = request.truncate;
      calls.push({ body: JSON.stringify(body), inputs: texts, offset });
    }
    return calls;
  }
  return inputs.map((inputText, offset) => {
    let body: TitanEmbeddingRequest | TitanMultimodalEmbeddingRequest;
    if (family === 'titan-multimodal') {
      body = request.dimensions != null ? { inputText, embeddingConfig: { outputEmbeddingLength: request.dimensions } } : { inputText };
    } else {
      body = request.dimensions != null ? { inputText, dimensions: request.dimensions } : { inputText };
    }
    return { body: JSON.stringify(body), inputs: [inputText], offset };
  });
}

function textInputs(input: EmbeddingsRequest['input']): string[] {
  const list = typeof input === 'string' ? [input] : input;
  if (!Array.isArray(list) || list.length === 0) throw new GatewayError('invalid_request', "'input' must not be empty.", { param: 'input' });
  if (!list.every((item): item is string => typeof item === 'string')) {
    throw new GatewayError('invalid_request', 'Amazon Bedrock embedding models take text input, not token arrays.', { param: 'input' });
  }
  return list;
}

export interface EmbeddingCallResult {
  vectors: number[][];
  tokens: number;
}

/** One InvokeModel answer → its vectors (in input order) and the tokens it used. */
export function parseEmbeddingResponse(text: string, call: EmbeddingCall, family: EmbeddingFamily, headers: Record<string, HeaderValue>, provider: string): EmbeddingCallResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid(provider, 'is not valid JSON');
  }
  if (value === null || typeof value !== 'object') throw invalid(provider, 'is not a JSON object');
  let vectors: unknown[];
  let bodyTokens: number | undefined;
  if (family === 'cohere') {
    const embeddings = (value as WireCohereEmbeddingResponse).embeddings;
    // A list of vectors, or `{float: [...]}` (embeddings by type).
    const list = Array.isArray(embeddings) ? embeddings : (embeddings as { float?: unknown } | null | undefined)?.float;
    if (!Array.isArray(list)) throw invalid(provider, 'has no embeddings');
    vectors = list;
  } else {
    const titan = value as WireTitanEmbeddingResponse;
    vectors = [titan.embedding];
    if (typeof titan.inputTextTokenCount === 'number') bodyTokens = titan.inputTextTokenCount;
  }
  if (vectors.length !== call.inputs.length || !vectors.every(isVector)) throw invalid(provider, `does not hold ${call.inputs.length} numeric embedding(s)`);
  const headerTokens = Number(firstHeader(headers['x-amzn-bedrock-input-token-count']));
  const tokens = Number.isFinite(headerTokens) && headerTokens >= 0 && firstHeader(headers['x-amzn-bedrock-input-token-count']) !== undefined
    ? headerTokens
    : bodyTokens ?? call.inputs.reduce((sum, input) => sum + countTokens(input), 0);
  return { vectors: vectors as number[][], tokens };
}

function isVector(value: unknown): value is number[] {
  return Array.isArray(value) && value.length > 0 && value.every((n) => typeof n === 'number');
}

/** OpenAI's base64 encoding: the little-endian float32 bytes. */

function firstHeader(value: HeaderValue): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function invalid(provider: string, what: string): GatewayError {
  return new GatewayError('upstream_error', `The upstream provider "${provider}" returned an embedding response that ${what}.`, { provider });
}

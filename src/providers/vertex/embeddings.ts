/**
 * OpenAI embeddings ↔ Vertex AI text embeddings (`:predict`, the Text embeddings API).
 *
 * Texts go as `instances[].content`, several per call: up to 250 (the API's limit) for the
 * text-embedding-* and text-multilingual-embedding-* models, one for gemini-embedding-* models,
 * which take a single instance per request. `dimensions` → `parameters.outputDimensionality`.
 * Usage is Google's own count (each prediction's `statistics.token_count`); the gateway's
 * tokenizer estimates it only when an answer lacks it. Inputs are checked and vectors encoded as
 * the Gemini provider does (../gemini/embeddings.ts).
 */
import { malformed } from '../gemini/response.js';
import type { VertexPredictRequest, VertexPredictResponse } from './api.js';

export const MAX_INSTANCES = 250;

/** How many texts one `:predict` call may carry for `model`. */
export function instancesPerCall(model: string): number {
  return model.includes('gemini-embedding') ? 1 : MAX_INSTANCES;
}

export function predictRequest(texts: string[], dimensions: number | undefined): VertexPredictRequest {
  const request: VertexPredictRequest = { instances: texts.map((content) => ({ content })) };
  if (dimensions !== undefined) request.parameters = { outputDimensionality: dimensions };
  return request;
}

/** The vectors of one answer, in input order, and Google's token count (undefined when any prediction lacks it). */
export function readPredictions(response: VertexPredictResponse, expected: number, provider: string): { vectors: number[][]; tokens: number | undefined } {
  const predictions: unknown = response.predictions;
  if (!Array.isArray(predictions) || predictions.length !== expected) {
    throw malformed(provider, `an embeddings answer with ${Array.isArray(predictions) ? predictions.length : 'no'} predictions for ${expected} inputs`);
  }
  const vectors: number[][] = [];
  let tokens: number | undefined = 0;
  for (const prediction of response.predictions!) {
    const embeddings = prediction?.embeddings;
    const values = embeddings?.values;
    if (!Array.isArray(values) || values.length === 0 || !values.every((v) => typeof v === 'number')) throw malformed(provider, 'an embedding that is not a list of numbers');
    vectors.push(values as number[]);
    const count = embeddings?.statistics?.token_count ?? embeddings?.statistics?.tokenCount;
    tokens = tokens !== undefined && typeof count === 'number' && Number.isFinite(count) && count >= 0 ? tokens + count : undefined;
  }
  return { vectors, tokens };
}

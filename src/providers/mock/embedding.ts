/** Deterministic mock embeddings: a unit vector seeded by the input's hash. */
import { createHash } from 'node:crypto';
import { countTokens } from '../../governance/tokens.js';
import { GatewayError } from '../../gateway/errors.js';
import type { EmbeddingsRequest, EmbeddingsResponse } from '../../gateway/types.js';
import { encodeEmbedding } from '../embedding-vector.js';

export const DEFAULT_DIMENSIONS = 1536;
/** The longest vector the mock makes: above any real model's (text-embedding-3-large: 3072). */
export const MAX_DIMENSIONS = 8192;
/**
 * The most numbers one mock answer holds (inputs × dimensions; 2,048 inputs at 2,048 dimensions,
 * ~80 MB of JSON): the mock runs in the gateway's own process, so one request must not hold it
 * for long or fill its memory.
 */
export const MAX_VALUES = 4_194_304;

export function mockEmbeddings(request: EmbeddingsRequest, model: string): EmbeddingsResponse {
  const inputs = normalizeInputs(request.input);
  const dimensions = request.dimensions ?? DEFAULT_DIMENSIONS;
  if (dimensions > MAX_DIMENSIONS) {
    throw new GatewayError('invalid_request', `'dimensions' must be at most ${MAX_DIMENSIONS} for the mock provider, got ${dimensions}.`, { param: 'dimensions' });
  }
  if (inputs.length * dimensions > MAX_VALUES) {
    throw new GatewayError(
      'invalid_request',
      `The mock provider answers at most ${MAX_VALUES.toLocaleString('en-US')} numbers per request (inputs × dimensions); this one asks for ${inputs.length} × ${dimensions}. Send fewer inputs or fewer dimensions.`,
      { param: 'input' },
    );
  }
  let tokens = 0;
  const data = inputs.map((input, index) => {
    const text = typeof input === 'string' ? input : input.join(',');
    tokens += typeof input === 'string' ? countTokens(input) : input.length;
    const vector = unitVector(text, dimensions);
    const embedding = encodeEmbedding(vector, request.encoding_format);
    return { object: 'embedding' as const, index, embedding };
  });
  return { object: 'list', data, model, usage: { prompt_tokens: tokens, total_tokens: tokens } };
}

function normalizeInputs(input: EmbeddingsRequest['input']): (string | number[])[] {
  if (typeof input === 'string') return [input];
  if (input.length === 0) throw new GatewayError('invalid_request', "'input' must not be empty.", { param: 'input' });
  if (typeof input[0] === 'number') return [input as number[]];
  return input as (string | number[])[];
}

function unitVector(text: string, dimensions: number): number[] {
  // xorshift32 seeded from the hash: cheap, deterministic, well spread.
  let state = createHash('sha256').update(text).digest().readUInt32LE(0) || 1;
  const vector = new Array<number>(dimensions);
  let norm = 0;
  for (let i = 0; i < dimensions; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const value = (state >>> 0) / 0xffffffff - 0.5;
    vector[i] = value;
    norm += value * value;
  }
  const scale = 1 / Math.sqrt(norm);
  // float32 values, as a real model's are: the float and base64 answers then hold the same numbers.
  for (let i = 0; i < dimensions; i++) vector[i] = Math.fround(vector[i]! * scale);
  return vector;
}

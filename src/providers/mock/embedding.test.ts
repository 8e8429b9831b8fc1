import { countTokens } from 'gpt-tokenizer';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../gateway/errors.js';
import { DEFAULT_DIMENSIONS, MAX_DIMENSIONS, MAX_VALUES, mockEmbeddings } from './embedding.js';

const norm = (vector: number[]): number => Math.sqrt(vector.reduce((sum, x) => sum + x * x, 0));
const floats = (embedding: number[] | string): number[] => {
  if (typeof embedding === 'string') throw new Error('expected a float embedding');
  return embedding;
};

describe('mockEmbeddings', () => {
  it('returns an OpenAI-shaped list with one embedding per input, in order', () => {
    const response = mockEmbeddings({ model: 'embed', input: ['first', 'second', 'third'] }, 'text-embedding-3-small');
    expect(response.object).toBe('list');
    expect(response.model).toBe('text-embedding-3-small');
    expect(response.data.map((d) => [d.object, d.index])).toEqual([
      ['embedding', 0],
      ['embedding', 1],
      ['embedding', 2],
    ]);
  });

  it('is deterministic: the same text always gets the same vector, independent of its position', () => {
    const a = mockEmbeddings({ model: 'e', input: 'The food was delicious.' }, 'm');
    const b = mockEmbeddings({ model: 'e', input: ['other', 'The food was delicious.'] }, 'm');
    expect(b.data[1]!.embedding).toEqual(a.data[0]!.embedding);
  });

  it('gives different texts different vectors', () => {
    const { data } = mockEmbeddings({ model: 'e', input: ['cat', 'dog'] }, 'm');
    expect(data[0]!.embedding).not.toEqual(data[1]!.embedding);
  });

  it('returns unit-length vectors of 1536 dimensions by default', () => {
    const { data } = mockEmbeddings({ model: 'e', input: ['a', 'a longer sentence with more words in it', ''] }, 'm');
    expect(DEFAULT_DIMENSIONS).toBe(1536);
    for (const item of data) {
      const vector = floats(item.embedding);
      expect(vector).toHaveLength(1536);
      expect(norm(vector)).toBeCloseTo(1, 6);
      expect(vector.every(Number.isFinite)).toBe(true);
    }
  });

  it('honours `dimensions`', () => {
    for (const dimensions of [1, 3, 256, 3072]) {
      const vector = floats(mockEmbeddings({ model: 'e', input: 'x', dimensions }, 'm').data[0]!.embedding);
      expect(vector).toHaveLength(dimensions);
      expect(norm(vector)).toBeCloseTo(1, 6);
    }
  });

  it('encodes base64 as little-endian float32, decoding to exactly the float vector', () => {
    const request = { model: 'e', input: ['hello', 'world'], dimensions: 64 };
    const asFloats = mockEmbeddings(request, 'm');
    const asBase64 = mockEmbeddings({ ...request, encoding_format: 'base64' }, 'm');
    for (const [i, item] of asBase64.data.entries()) {
      expect(typeof item.embedding).toBe('string');
      const bytes = Buffer.from(item.embedding as string, 'base64');
      expect(bytes.length).toBe(64 * 4);
      const decoded = Array.from({ length: 64 }, (_, k) => bytes.readFloatLE(k * 4));
      // The float answer holds float32 values too, as a real model's does: the two agree exactly.
      expect(decoded).toEqual(floats(asFloats.data[i]!.embedding));
    }
  });

  it('counts prompt tokens of text inputs with the tokenizer', () => {
    const input = ['The quick brown fox', 'jumps over the lazy dog'];
    const { usage } = mockEmbeddings({ model: 'e', input }, 'm');
    const expected = countTokens(input[0]!) + countTokens(input[1]!);
    expect(usage).toEqual({ prompt_tokens: expected, total_tokens: expected });
  });

  it('accepts token arrays: one array is one input, an array of arrays is several; tokens are counted as given', () => {
    const single = mockEmbeddings({ model: 'e', input: [1212, 318, 257, 1332], dimensions: 8 }, 'm');
    expect(single.data).toHaveLength(1);
    expect(single.usage.prompt_tokens).toBe(4);
    const several = mockEmbeddings({ model: 'e', input: [[1212, 318], [257]], dimensions: 8 }, 'm');
    expect(several.data).toHaveLength(2);
    expect(several.usage.prompt_tokens).toBe(3);
    expect(several.data[0]!.embedding).not.toEqual(several.data[1]!.embedding);
  });

  it('rejects an empty input list as invalid_request', () => {
    expect(() => mockEmbeddings({ model: 'e', input: [] }, 'm')).toThrow(GatewayError);
    try {
      mockEmbeddings({ model: 'e', input: [] }, 'm');
    } catch (err) {
      expect(err).toMatchObject({ code: 'invalid_request', status: 400, param: 'input' });
    }
  });

  it('refuses, as invalid_request, answers too large to make in the gateway: more dimensions than any model has, or too many numbers', () => {
    const refusal = (call: () => unknown): unknown => {
      try {
        call();
      } catch (err) {
        return err;
      }
      throw new Error('expected a refusal');
    };
    expect(refusal(() => mockEmbeddings({ model: 'e', input: 'x', dimensions: 100_000_000 }, 'm'))).toMatchObject({
      code: 'invalid_request',
      status: 400,
      param: 'dimensions',
      message: `'dimensions' must be at most ${MAX_DIMENSIONS} for the mock provider, got 100000000.`,
    });
    const inputs = Array.from({ length: MAX_VALUES / 2048 + 1 }, (_, i) => `text ${i}`);
    expect(refusal(() => mockEmbeddings({ model: 'e', input: inputs, dimensions: 2048 }, 'm'))).toMatchObject({ code: 'invalid_request', status: 400, param: 'input' });
    // At the limits exactly, it answers.
    expect(mockEmbeddings({ model: 'e', input: 'x', dimensions: MAX_DIMENSIONS }, 'm').data[0]!.embedding).toHaveLength(MAX_DIMENSIONS);
    expect(mockEmbeddings({ model: 'e', input: inputs.slice(1), dimensions: 2048, encoding_format: 'base64' }, 'm').data).toHaveLength(MAX_VALUES / 2048);
  });
});

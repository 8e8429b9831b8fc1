import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { EmbeddingsRequest } from '../../gateway/types.js';
import { countTokens } from '../../governance/tokens.js';
import type { GeminiEmbedResponse } from './api.js';
import { embedContentRequest, embeddingInputs, toEmbeddingsResponse, vectorsOf } from './embeddings.js';

const fixture = (name: string): GeminiEmbedResponse => JSON.parse(readFileSync(new URL(`./__fixtures__/${name}`, import.meta.url), 'utf8')) as GeminiEmbedResponse;
const request = (extra: Partial<EmbeddingsRequest>): EmbeddingsRequest => ({ model: 'embed', input: 'x', ...extra });

describe('Gemini embeddings', () => {
  it('accepts strings and lists of strings only', () => {
    expect(embeddingInputs(request({ input: 'hello' }))).toEqual(['hello']);
    expect(embeddingInputs(request({ input: ['a', 'b'] }))).toEqual(['a', 'b']);
    for (const input of [[1, 2, 3], [[1, 2]], []] as EmbeddingsRequest['input'][]) {
      expect(() => embeddingInputs(request({ input }))).toThrow(expect.objectContaining({ status: 400, param: 'input' }) as Error);
    }
  });

  it('builds an embed request with outputDimensionality only when dimensions were asked for', () => {
    expect(embedContentRequest('hi', 'models/gemini-embedding-001', undefined)).toEqual({ model: 'models/gemini-embedding-001', content: { parts: [{ text: 'hi' }] } });
    expect(embedContentRequest('hi', 'models/gemini-embedding-001', 256)).toMatchObject({ outputDimensionality: 256 });
  });

  it('reads embedContent and batchEmbedContents answers, and refuses a wrong count or bad values', () => {
    const single = fixture('embed-content.json');
    expect(vectorsOf(single, 1, 'gem')).toEqual([single.embedding!.values]);
    const batch = fixture('batch-embed-contents.json');
    expect(vectorsOf(batch, 2, 'gem')).toHaveLength(2);
    expect(() => vectorsOf(batch, 3, 'gem')).toThrow(expect.objectContaining({ status: 502 }) as Error);
    expect(() => vectorsOf({ embedding: { values: ['x'] } }, 1, 'gem')).toThrow(expect.objectContaining({ status: 502 }) as Error);
    expect(() => vectorsOf({}, 1, 'gem')).toThrow(expect.objectContaining({ status: 502 }) as Error);
  });

  it('answers in OpenAI\'s shape, float or little-endian float32 base64, with estimated usage', () => {
    const inputs = ['What is the meaning of life?', 'How does the brain work?'];
    const vectors = vectorsOf(fixture('batch-embed-contents.json'), 2, 'gem');
    const floats = toEmbeddingsResponse(request({ input: inputs }), inputs, vectors, 'gemini-embedding-001', undefined);
    const tokens = countTokens(inputs[0]!) + countTokens(inputs[1]!);
    expect(floats).toEqual({
      object: 'list',
      data: [
        { object: 'embedding', index: 0, embedding: vectors[0] },
        { object: 'embedding', index: 1, embedding: vectors[1] },
      ],
      model: 'gemini-embedding-001',
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    });
    const encoded = toEmbeddingsResponse(request({ input: inputs, encoding_format: 'base64' }), inputs, vectors, 'gemini-embedding-001', 11);
    const bytes = Buffer.from(encoded.data[1]!.embedding as string, 'base64');
    const decoded = Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4));
    expect(decoded).toEqual(vectors[1]!.map((v) => Math.fround(v)));
    expect(encoded.usage).toEqual({ prompt_tokens: 11, total_tokens: 11 });
  });
});

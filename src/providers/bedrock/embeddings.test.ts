import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../gateway/errors.js';
import type { EmbeddingsRequest } from '../../gateway/types.js';
import { COHERE_BATCH_SIZE, buildEmbeddingCalls, embeddingFamily, parseEmbeddingResponse } from './embeddings.js';

function request(input: EmbeddingsRequest['input'], extra: Partial<EmbeddingsRequest> = {}): EmbeddingsRequest {
  return { model: 'embed', input, ...extra };
}

function rejection(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    return err as GatewayError;
  }
  throw new Error('expected a GatewayError');
}

describe('embeddingFamily', () => {
  it.each([
    ['amazon.titan-embed-text-v2:0', 'titan'],
    ['amazon.titan-embed-text-v1', 'titan'],
    ['amazon.titan-embed-image-v1', 'titan-multimodal'],
    ['cohere.embed-english-v3', 'cohere'],
    ['us.cohere.embed-v4:0', 'cohere'],
    ['arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0', 'titan'],
    ['anthropic.claude-3-haiku-20240307-v1:0', undefined],
  ])('%s → %s', (model, family) => {
    expect(embeddingFamily(model)).toBe(family);
  });
});

describe('buildEmbeddingCalls', () => {
  it('makes one Titan call per input, with dimensions', () => {
    const calls = buildEmbeddingCalls(request(['a', 'b'], { dimensions: 256 }), 'amazon.titan-embed-text-v2:0');
    expect(calls.map((c) => JSON.parse(c.body) as unknown)).toEqual([{ inputText: 'a', dimensions: 256 }, { inputText: 'b', dimensions: 256 }]);
    expect(calls.map((c) => c.offset)).toEqual([0, 1]);
  });

  it('puts the multimodal Titan model\'s size under embeddingConfig', () => {
    const [call] = buildEmbeddingCalls(request('a', { dimensions: 384 }), 'amazon.titan-embed-image-v1');
    expect(JSON.parse(call!.body)).toEqual({ inputText: 'a', embeddingConfig: { outputEmbeddingLength: 384 } });
  });

  it('batches Cohere texts (96 per call) with input_type search_document unless the request names one', () => {
    const inputs = Array.from({ length: COHERE_BATCH_SIZE + 4 }, (_, i) => `text ${i}`);
    const calls = buildEmbeddingCalls(request(inputs), 'cohere.embed-english-v3');
    expect(calls.map((c) => c.inputs.length)).toEqual([96, 4]);
    expect(calls[1]!.offset).toBe(96);
    expect(JSON.parse(calls[0]!.body)).toMatchObject({ input_type: 'search_document', texts: inputs.slice(0, 96) });
    const [query] = buildEmbeddingCalls(request('q', { input_type: 'search_query', dimensions: 512 }), 'cohere.embed-v4:0');
    expect(JSON.parse(query!.body)).toEqual({ texts: ['q'], input_type: 'search_query', output_dimension: 512 });
  });

  it('rejects other models with a 400 naming the supported families, and token-array input', () => {
    expect(rejection(() => buildEmbeddingCalls(request('a'), 'anthropic.claude-v2')).message).toMatch(/amazon\.titan-embed-\*.*cohere\.embed-\*/);
    expect(rejection(() => buildEmbeddingCalls(request([1, 2, 3]), 'amazon.titan-embed-text-v2:0')).param).toBe('input');
    expect(rejection(() => buildEmbeddingCalls(request([]), 'amazon.titan-embed-text-v2:0')).param).toBe('input');
  });
});

describe('parseEmbeddingResponse', () => {
  const titanCall = { body: '{}', inputs: ['hello world'], offset: 0 };

  it('reads a Titan vector and its token count, preferring Bedrock\'s token-count header', () => {
    const body = JSON.stringify({ embedding: [0.1, -0.2, 0.3], inputTextTokenCount: 3 });
    expect(parseEmbeddingResponse(body, titanCall, 'titan', {}, 'aws')).toEqual({ vectors: [[0.1, -0.2, 0.3]], tokens: 3 });
    expect(parseEmbeddingResponse(body, titanCall, 'titan', { 'x-amzn-bedrock-input-token-count': '4' }, 'aws').tokens).toBe(4);
  });

  it('reads Cohere vectors in both shapes, estimating tokens without the header', () => {
    const call = { body: '{}', inputs: ['one', 'two'], offset: 0 };
    const plain = parseEmbeddingResponse(JSON.stringify({ id: 'x', embeddings: [[1, 2], [3, 4]], response_type: 'embeddings_floats', texts: ['one', 'two'] }), call, 'cohere', {}, 'aws');
    expect(plain.vectors).toEqual([[1, 2], [3, 4]]);
    expect(plain.tokens).toBeGreaterThan(0);
    const byType = parseEmbeddingResponse(JSON.stringify({ embeddings: { float: [[5, 6], [7, 8]] }, response_type: 'embeddings_by_type' }), call, 'cohere', {}, 'aws');
    expect(byType.vectors).toEqual([[5, 6], [7, 8]]);
  });

  it.each([
    ['not JSON', 'nope'],
    ['no vector', '{"inputTextTokenCount":3}'],
    ['a vector of strings', '{"embedding":["a"]}'],
  ])('turns a broken answer (%s) into a 502', (_name, body) => {
    expect(rejection(() => parseEmbeddingResponse(body, titanCall, 'titan', {}, 'aws'))).toMatchObject({ code: 'upstream_error', status: 502 });
  });

  it('turns a Cohere answer with the wrong number of vectors into a 502', () => {
    expect(rejection(() => parseEmbeddingResponse('{"embeddings":[[1]]}', { body: '{}', inputs: ['a', 'b'], offset: 0 }, 'cohere', {}, 'aws')).status).toBe(502);
  });
});


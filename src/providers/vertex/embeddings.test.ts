/** :predict bodies and answers (the Text embeddings API reference's shapes, __fixtures__/predict-text-embeddings.json). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../gateway/errors.js';
import type { VertexPredictResponse } from './api.js';
import { MAX_INSTANCES, instancesPerCall, predictRequest, readPredictions } from './embeddings.js';

const fixture = (name: string): VertexPredictResponse => JSON.parse(readFileSync(new URL(`./__fixtures__/${name}`, import.meta.url), 'utf8')) as VertexPredictResponse;

function thrown(run: () => unknown): GatewayError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    return err as GatewayError;
  }
  throw new Error('expected a failure');
}

describe('predict requests', () => {
  it('texts as instances[].content; dimensions as parameters.outputDimensionality, only when given', () => {
    expect(predictRequest(['a', 'b'], 256)).toEqual({ instances: [{ content: 'a' }, { content: 'b' }], parameters: { outputDimensionality: 256 } });
    expect(predictRequest(['a'], undefined)).toEqual({ instances: [{ content: 'a' }] });
  });

  it('one instance per call for gemini-embedding models, 250 for the others', () => {
    expect(instancesPerCall('gemini-embedding-001')).toBe(1);
    expect(instancesPerCall('text-embedding-005')).toBe(MAX_INSTANCES);
    expect(instancesPerCall('text-multilingual-embedding-002')).toBe(250);
  });
});

describe('predict answers', () => {
  it('reads the vectors in order and sums statistics.token_count', () => {
    const { vectors, tokens } = readPredictions(fixture('predict-text-embeddings.json'), 2, 'vx');
    expect(vectors).toEqual([
      [0.0123, -0.0456, 0.0789, -0.0321],
      [-0.0111, 0.0222, -0.0333, 0.0444],
    ]);
    expect(tokens).toBe(9);
  });

  it('accepts tokenCount too; any prediction without a count makes the total unknown', () => {
    const camel = readPredictions({ predictions: [{ embeddings: { values: [1], statistics: { tokenCount: 3 } } }] }, 1, 'vx');
    expect(camel.tokens).toBe(3);
    const partial = readPredictions({ predictions: [{ embeddings: { values: [1], statistics: { token_count: 3 } } }, { embeddings: { values: [2] } }] }, 2, 'vx');
    expect(partial.tokens).toBeUndefined();
    expect(partial.vectors).toEqual([[1], [2]]);
  });

  it.each([
    ['no predictions', {}, 1],
    ['too few predictions', { predictions: [{ embeddings: { values: [1] } }] }, 2],
    ['a null prediction', { predictions: [null] }, 1],
    ['values that are not numbers', { predictions: [{ embeddings: { values: ['1'] } }] }, 1],
    ['empty values', { predictions: [{ embeddings: { values: [] } }] }, 1],
  ] as [string, VertexPredictResponse, number][])('%s: a 502', (_label, response, expected) => {
    const err = thrown(() => readPredictions(response, expected, 'vx'));
    expect(err.status).toBe(502);
    expect(err.message).toContain('"vx"');
  });
});

import { describe, expect, it } from 'vitest';
import { encodeEmbedding } from './embedding-vector.js';

describe('encodeEmbedding', () => {
  it('encodes base64 as OpenAI does: little-endian float32 bytes', () => {
    const bytes = Buffer.from(encodeEmbedding([0.5, -1, 0.1], 'base64') as string, 'base64');
    expect(bytes.length).toBe(12);
    expect([bytes.readFloatLE(0), bytes.readFloatLE(4), bytes.readFloatLE(8)]).toEqual([0.5, -1, Math.fround(0.1)]);
  });

  it('returns the numbers for float (and by default)', () => {
    const vector = [0.5, 0.25];
    expect(encodeEmbedding(vector, 'float')).toBe(vector);
    expect(encodeEmbedding(vector, undefined)).toBe(vector);
  });
});

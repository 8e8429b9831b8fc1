/** An embedding as OpenAI's API returns it: the numbers, or for `encoding_format: base64` little-endian float32 bytes. */
import type { EmbeddingsRequest } from '../gateway/types.js';

export function encodeEmbedding(vector: number[], format: EmbeddingsRequest['encoding_format']): number[] | string {
  if (format !== 'base64') return vector;
  const bytes = Buffer.allocUnsafe(vector.length * 4);
  for (let i = 0; i < vector.length; i++) bytes.writeFloatLE(vector[i]!, i * 4);
  return bytes.toString('base64');
}

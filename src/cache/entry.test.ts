import { describe, expect, it } from 'vitest';
import { decodeEntry, encodeEntry } from './entry.js';

describe('cache entries', () => {
  it('round-trips the metadata and keeps the answer text byte for byte', () => {
    const json = '{"id":"chatcmpl-1","choices":[{"message":{"content":"héllo\\n"}}]}';
    const meta = { provider: 'openai', model: 'gpt-4o-mini', usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 }, cost_usd: 0.00001 };
    expect(decodeEntry(encodeEntry(meta, json))).toEqual({ meta, json });
  });

  it('reads bytes of another version or layout as nothing (a miss), not as an answer', () => {
    expect(decodeEntry(Buffer.from('{"v":2}\n{}'))).toBeUndefined();
    expect(decodeEntry(Buffer.from('no newline here'))).toBeUndefined();
    expect(decodeEntry(Buffer.from('not json\n{}'))).toBeUndefined();
  });
});

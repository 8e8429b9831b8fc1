import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { countTokens, countTokensUpTo } from './tokens.js';

const whole = (createRequire(import.meta.url)('gpt-tokenizer') as { countTokens(text: string): number }).countTokens;

describe('countTokens', () => {
  it('counts ordinary text exactly as the tokenizer does on the whole, though it counts in pieces', () => {
    for (const text of ['hello', 'The quick brown fox jumps over the lazy dog. '.repeat(300), 'Ünïcödé wörds and 中文 text, '.repeat(200), 'line one\nline two\n\tindented '.repeat(150)]) {
      expect(countTokens(text)).toBe(whole(text));
    }
    expect(countTokens('')).toBe(0);
  });

  it('counts a long run without spaces in pieces, within a token per piece of the whole count, never splitting a surrogate pair', () => {
    // Whole, these are one pre-tokenized piece each: quadratic for the tokenizer (seconds at 200 KB).
    const run = 'r'.repeat(5_000);
    expect(Math.abs(countTokens(run) - whole(run))).toBeLessThanOrEqual(Math.ceil(run.length / 256));
    // Emoji are surrogate pairs: a cut between the halves would count two replacement characters instead.
    const emoji = '😀'.repeat(3_000);
    expect(Math.abs(countTokens(emoji) - whole(emoji))).toBeLessThanOrEqual(Math.ceil(emoji.length / 256));
  });
});

describe('countTokensUpTo', () => {
  it('is exact up to the limit, and stops soon after it', () => {
    const text = 'hello world, '.repeat(5_000);
    const all = countTokens(text);
    expect(countTokensUpTo(text, all)).toBe(all);
    const stopped = countTokensUpTo(text, 100);
    expect(stopped).toBeGreaterThan(100);
    expect(stopped).toBeLessThan(400);
  });
});

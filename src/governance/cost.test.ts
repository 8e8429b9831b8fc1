import { describe, expect, it } from 'vitest';
import { costUsd, spendMicros } from './cost.js';

describe('costUsd', () => {
  const price = { input: 2.5, output: 10, cachedInput: 1.25 };

  it('charges prompt and completion tokens per million', () => {
    expect(costUsd({ prompt_tokens: 1_000_000, completion_tokens: 500_000, total_tokens: 1_500_000 }, price)).toBeCloseTo(2.5 + 5, 10);
  });

  it('charges cached prompt tokens at the cached price and cache writes at the write price', () => {
    const usage = { prompt_tokens: 1000, completion_tokens: 0, total_tokens: 1000, prompt_tokens_details: { cached_tokens: 400 }, cache_creation_input_tokens: 100 };
    expect(costUsd(usage, { ...price, cacheWrite: 3 })).toBeCloseTo((500 * 2.5 + 400 * 1.25 + 100 * 3) / 1e6, 12);
  });

  it("charges Anthropic's one-hour cache writes at the one-hour price, the rest at the write price", () => {
    const usage = { prompt_tokens: 1_000_000, completion_tokens: 0, total_tokens: 1_000_000, cache_creation_input_tokens: 1_000_000, cache_creation: { ephemeral_5m_input_tokens: 400_000, ephemeral_1h_input_tokens: 600_000 } };
    expect(costUsd(usage, { input: 3, output: 15, cacheWrite: 3.75, cacheWrite1h: 6 })).toBeCloseTo(0.4 * 3.75 + 0.6 * 6, 10);
    // No one-hour price known: the write price, never less.
    expect(costUsd(usage, { input: 3, output: 15, cacheWrite: 3.75 })).toBeCloseTo(3.75, 10);
    // A count that is not one (from some upstream's usage) is ignored, not NaN.
    expect(costUsd({ ...usage, cache_creation: { ephemeral_1h_input_tokens: 'x' as unknown as number } }, { input: 3, output: 15, cacheWrite: 3.75, cacheWrite1h: 6 })).toBeCloseTo(3.75, 10);
  });

  it('is undefined without usage or price', () => {
    expect(costUsd(undefined, price)).toBeUndefined();
    expect(costUsd({ prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 }, undefined)).toBeUndefined();
  });
});

describe('spendMicros', () => {
  it('rounds a cost up to the micro-dollar, so no request counts as free, without float noise adding one', () => {
    expect(spendMicros(0.0000004)).toBe(1);
    expect(spendMicros(0.000005802)).toBe(6);
    expect(spendMicros(0.29)).toBe(290_000); // 0.29 * 1e6 is 290000.00000000006 in floating point
    expect(spendMicros(0)).toBe(0);
    // Fifty requests of $0.0000004 hold a $0.00001 budget: the counter reaches 50 µ$, past its 10.
    expect(Array.from({ length: 50 }, () => spendMicros(0.0000004)).reduce((a, b) => a + b)).toBe(50);
  });
});

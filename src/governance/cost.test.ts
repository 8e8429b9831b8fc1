import { describe, expect, it } from 'vitest';
import { costUsd } from './cost.js';

describe('costUsd', () => {
  const price = { input: 2.5, output: 10, cachedInput: 1.25 };

  it('charges prompt and completion tokens per million', () => {
    expect(costUsd({ prompt_tokens: 1_000_000, completion_tokens: 500_000, total_tokens: 1_500_000 }, price)).toBeCloseTo(2.5 + 5, 10);
  });

  it('charges cached prompt tokens at the cached price and cache writes at the write price', () => {
    const usage = { prompt_tokens: 1000, completion_tokens: 0, total_tokens: 1000, prompt_tokens_details: { cached_tokens: 400 }, cache_creation_input_tokens: 100 };
    expect(costUsd(usage, { ...price, cacheWrite: 3 })).toBeCloseTo((500 * 2.5 + 400 * 1.25 + 100 * 3) / 1e6, 12);
  });

  it('is undefined without usage or price', () => {
    expect(costUsd(undefined, price)).toBeUndefined();
    expect(costUsd({ prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 }, undefined)).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import type { Usage } from './types.js';
import { accountableUsage } from './usage.js';

describe('accountableUsage', () => {
  it('passes sound usage through as the same object', () => {
    const usage: Usage = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, prompt_tokens_details: { cached_tokens: 4 }, cache_creation_input_tokens: 2 };
    expect(accountableUsage(usage)).toBe(usage);
    expect(accountableUsage(undefined)).toBeUndefined();
    expect(accountableUsage(null)).toBeUndefined();
  });

  it('takes counts that are not finite, non-negative numbers as 0, and makes the total their sum', () => {
    const bad = { prompt_tokens: 'x', completion_tokens: -1000, total_tokens: Number.NaN, prompt_tokens_details: { cached_tokens: 'y' }, cache_creation_input_tokens: -5 } as unknown as Usage;
    expect(accountableUsage(bad)).toEqual({ prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, prompt_tokens_details: { cached_tokens: 0 }, cache_creation_input_tokens: 0 });
    const partly = { prompt_tokens: 12.6, completion_tokens: 5, total_tokens: 'many' } as unknown as Usage;
    expect(accountableUsage(partly)).toEqual({ prompt_tokens: 13, completion_tokens: 5, total_tokens: 18 });
    // A count no request has (past the database's integer columns too) is as broken as a negative one.
    expect(accountableUsage({ prompt_tokens: 5e9, completion_tokens: 3, total_tokens: 5e9 + 3 })).toEqual({ prompt_tokens: 0, completion_tokens: 3, total_tokens: 3 });
    // Cached tokens are part of the prompt: never more than it.
    expect(accountableUsage({ prompt_tokens: -1, completion_tokens: 1, total_tokens: 0, prompt_tokens_details: { cached_tokens: 50 } })?.prompt_tokens_details).toEqual({ cached_tokens: 0 });
  });

  it("replaces a broken prompt or completion count with the gateway's estimate, when it has one (a broken count must not make a request free)", () => {
    const estimate = () => ({ prompt_tokens: 40, completion_tokens: 7 });
    const bad = { prompt_tokens: -1e9, completion_tokens: 'x', total_tokens: 1e308 } as unknown as Usage;
    expect(accountableUsage(bad, estimate)).toEqual({ prompt_tokens: 40, completion_tokens: 7, total_tokens: 47 });
    // Only the broken count is replaced; a fractional one is rounded, not estimated.
    expect(accountableUsage({ prompt_tokens: 12.6, completion_tokens: -3, total_tokens: 0 }, estimate)).toEqual({ prompt_tokens: 13, completion_tokens: 7, total_tokens: 20 });
    // Sound usage never asks for the estimate.
    let asked = false;
    accountableUsage({ prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 }, () => ((asked = true), { prompt_tokens: 0, completion_tokens: 0 }));
    expect(asked).toBe(false);
  });
});

/** What an answer cost, from its usage and the model's price (USD per 1M tokens), and USD in the micro-USD budget counters use. */
import type { Usage } from '../gateway/types.js';
import type { ModelPrice } from '../routing/catalog.js';

/**
 * USD for `usage` at `price`; undefined when either is unknown. Cached prompt tokens are charged
 * at the cached-input price where the model has one, cache writes at the cache-write price (those
 * that live an hour at the one-hour price, where the model has one).
 */
export function costUsd(usage: Usage | undefined, price: ModelPrice | undefined): number | undefined {
  if (!usage || !price) return undefined;
  const cached = Math.min(usage.prompt_tokens_details?.cached_tokens ?? 0, usage.prompt_tokens);
  const written = usage.cache_creation_input_tokens ?? 0;
  // From any upstream's usage, as sent: only a real count is one.
  const hour = usage.cache_creation?.ephemeral_1h_input_tokens;
  const writtenHour = typeof hour === 'number' && hour > 0 ? Math.min(written, hour) : 0;
  const fresh = Math.max(0, usage.prompt_tokens - cached - written);
  const writePrice = price.cacheWrite ?? price.input;
  const micros =
    fresh * price.input +
    cached * (price.cachedInput ?? price.input) +
    (written - writtenHour) * writePrice +
    writtenHour * (price.cacheWrite1h ?? writePrice) +
    usage.completion_tokens * price.output;
  return micros / 1_000_000;
}

/**
 * Budget counters count micro-USD: integers (exact in Lua and in JavaScript up to 2^53, so up to
 * $9 billion), fine enough for the cheapest request (a few micro-dollars).
 */
export function toMicros(usd: number): number {
  return Math.round(usd * 1e6);
}

/**
 * Spend in micro-USD for a budget counter: rounded up (after rounding to the nano-dollar, the
 * precision costs are kept in, so float noise does not add a micro-dollar), so that no request,
 * however cheap, counts as free and the counter never falls behind the recorded spend.
 */
export function spendMicros(usd: number): number {
  return Math.ceil(Math.round(usd * 1e9) / 1e3);
}

export function fromMicros(micros: number): number {
  return micros / 1e6;
}

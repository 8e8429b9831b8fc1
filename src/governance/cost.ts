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
  return Math.ceil(toNanos(usd) / 1e3);
}

export function fromMicros(micros: number): number {
  return micros / 1e6;
}

/**
 * Costs are stored as USD in double precision (a request's cost is tokens × USD per 1M tokens / 1e6,
 * often a fraction of a micro-dollar), and the rollups add them up as floats, so a sum carries
 * binary noise in its last bits (0.1 + 0.2 = 0.30000000000000004). Reports give costs to the
 * nano-dollar, the precision of x-switchyard-cost-usd (http/headers.ts costText), and add them
 * up as integer nano-dollars.
 */
const NANOS_PER_USD = 1e9;

/** USD as whole nano-dollars (exact integers in a double up to $9 million). */
export function toNanos(usd: number): number {
  return Math.round(usd * NANOS_PER_USD);
}

/** Whole nano-dollars as USD: the double nearest the decimal, which prints as that decimal. */
export function fromNanos(nanos: number): number {
  return nanos / NANOS_PER_USD;
}

/** USD rounded to the nano-dollar, without the float noise of sums and products. */
export function roundUsd(usd: number): number {
  return fromNanos(toNanos(usd));
}

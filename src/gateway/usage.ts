/**
 * The usage the gateway accounts with (cost, budgets, token limits, metrics, spend rows), read from
 * whatever the upstream sent. An upstream's usage is passed on to the client as it came, but a
 * count that is not a finite, non-negative number (`"x"`, `-1000`, NaN) would turn into a NaN or
 * negative cost, a counter that goes down, and a spend row the database refuses (as would a count
 * past its integer columns). Such a prompt or completion count is replaced by the gateway's own
 * estimate when the caller has one (the prompt's, the answer text's: a broken count must not make
 * a request free against a budget), else by 0; cache counts by 0; a total that is not the sum is
 * made the sum.
 */
import type { Usage } from './types.js';

/** The gateway's own counts for a request, asked for only when the upstream's are broken. */
export type UsageEstimate = () => { prompt_tokens: number; completion_tokens: number };

/** `usage` if its counts are sound (the same object: the common case costs no allocation), else a sound copy; undefined for no usage. */
export function accountableUsage(usage: Usage | null | undefined, estimate?: UsageEstimate): Usage | undefined {
  if (usage === null || typeof usage !== 'object') return undefined;
  const { prompt_tokens: prompt, completion_tokens: completion, total_tokens: total } = usage;
  const cached = usage.prompt_tokens_details?.cached_tokens;
  const written = usage.cache_creation_input_tokens;
  if (isCount(prompt) && isCount(completion) && isCount(total) && (cached === undefined || isCount(cached)) && (written === undefined || isCount(written))) return usage;
  // A fractional count is still a count (rounded); only one that says nothing is estimated.
  const estimated = !isUsable(prompt) || !isUsable(completion) ? estimate?.() : undefined;
  const sound: Usage = {
    ...usage,
    prompt_tokens: isUsable(prompt) ? count(prompt) : (estimated?.prompt_tokens ?? 0),
    completion_tokens: isUsable(completion) ? count(completion) : (estimated?.completion_tokens ?? 0),
    total_tokens: 0,
  };
  sound.total_tokens = sound.prompt_tokens + sound.completion_tokens;
  if (usage.prompt_tokens_details) sound.prompt_tokens_details = { ...usage.prompt_tokens_details, cached_tokens: Math.min(count(cached), sound.prompt_tokens) };
  if (written !== undefined) sound.cache_creation_input_tokens = count(written);
  return sound;
}

/** More tokens than any request has (the largest context windows are a few million): a broken count, and past the database's integer columns. */
const MAX_COUNT = 1_000_000_000;

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_COUNT;
}

function isUsable(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= MAX_COUNT;
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 && value <= MAX_COUNT ? Math.round(value) : 0;
}

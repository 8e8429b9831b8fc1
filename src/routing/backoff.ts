/** Waiting between retries: exponential backoff with full jitter, and Retry-After honoured. */
import type { RetryPolicy } from './models.js';

/**
 * The wait before retry number `retry` (0-based): uniformly random in [0, min(max, initial·2^retry)]
 * ("full jitter", which spreads clients that failed together instead of retrying in step).
 */
export function backoffMs(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** Math.min(retry, 30));
  return Math.floor(random() * ceiling);
}

/**
 * How long to wait before the next retry pass: the backoff, or longer if every target asked for
 * more with Retry-After (the soonest of them is waited for). Undefined when that would pass the
 * deadline or a Retry-After exceeds what the policy waits for: the request then fails now.
 */
export function retryWaitMs(policy: RetryPolicy, retry: number, soonestRetryAt: number, deadline: number, now: number, random?: () => number): number | undefined {
  const asked = soonestRetryAt - now;
  if (asked > policy.maxRetryAfterMs) return undefined;
  const wait = Math.max(backoffMs(policy, retry, random), asked);
  if (now + wait >= deadline) return undefined;
  return wait;
}

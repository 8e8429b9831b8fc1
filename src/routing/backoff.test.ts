import { describe, expect, it } from 'vitest';
import { backoffMs, retryWaitMs } from './backoff.js';
import type { RetryPolicy } from './models.js';

const policy: RetryPolicy = { maxRetries: 5, initialBackoffMs: 250, maxBackoffMs: 8_000, deadlineMs: 0, maxRetryAfterMs: 10_000 };

const lowest = (): number => 0;
const highest = (): number => 0.999;

describe('backoffMs', () => {
  it('waits nothing when the draw is 0 (full jitter starts at zero)', () => {
    for (let retry = 0; retry < 8; retry++) expect(backoffMs(policy, retry, lowest)).toBe(0);
  });

  it('stays just under the ceiling on the highest draw', () => {
    expect(backoffMs(policy, 0, highest)).toBe(249);
  });

  it('scales the draw uniformly between 0 and the ceiling', () => {
    expect(backoffMs(policy, 0, () => 0.5)).toBe(125);
    expect(backoffMs(policy, 2, () => 0.25)).toBe(250);
  });

  it('doubles the ceiling with each retry', () => {
    expect([0, 1, 2, 3, 4].map((retry) => backoffMs(policy, retry, highest))).toEqual([249, 499, 999, 1998, 3996]);
  });

  it('caps the ceiling at max_backoff', () => {
    expect(backoffMs(policy, 5, highest)).toBe(7992);
    expect(backoffMs(policy, 6, highest)).toBe(7992);
    expect(backoffMs(policy, 10_000, highest)).toBe(7992);
  });

  it('stays finite for a huge retry count and an unbounded max', () => {
    const wait = backoffMs({ ...policy, maxBackoffMs: Infinity }, 10_000, highest);
    expect(Number.isFinite(wait)).toBe(true);
    expect(wait).toBe(Math.floor(0.999 * 250 * 2 ** 30));
  });

  it('draws from Math.random by default, within [0, ceiling)', () => {
    for (let i = 0; i < 100; i++) {
      const wait = backoffMs(policy, 1);
      expect(Number.isInteger(wait)).toBe(true);
      expect(wait).toBeGreaterThanOrEqual(0);
      expect(wait).toBeLessThan(500);
    }
  });
});

describe('retryWaitMs', () => {
  const now = 1_000_000;
  const noDeadline = Infinity;

  it('is the backoff when no target asked for a wait', () => {
    expect(retryWaitMs(policy, 2, now, noDeadline, now, highest)).toBe(999);
    expect(retryWaitMs(policy, 2, now, noDeadline, now, lowest)).toBe(0);
  });

  it('ignores a Retry-After time already in the past', () => {
    expect(retryWaitMs(policy, 0, now - 5_000, noDeadline, now, lowest)).toBe(0);
  });

  it('waits at least as long as Retry-After asked', () => {
    expect(retryWaitMs(policy, 0, now + 3_000, noDeadline, now, lowest)).toBe(3_000);
    expect(retryWaitMs(policy, 0, now + 3_000, noDeadline, now, highest)).toBe(3_000);
  });

  it('keeps a backoff longer than Retry-After', () => {
    expect(retryWaitMs(policy, 5, now + 3_000, noDeadline, now, highest)).toBe(7992);
  });

  it('waits a Retry-After of exactly max_retry_after_ms', () => {
    expect(retryWaitMs(policy, 0, now + 10_000, noDeadline, now, lowest)).toBe(10_000);
  });

  it('gives up when Retry-After asks for more than max_retry_after_ms', () => {
    expect(retryWaitMs(policy, 0, now + 10_001, noDeadline, now, lowest)).toBeUndefined();
    // Every target refused for good (Infinity): nothing to wait for.
    expect(retryWaitMs(policy, 0, Infinity, noDeadline, now, lowest)).toBeUndefined();
  });

  it('gives up when the wait would reach the deadline', () => {
    expect(retryWaitMs(policy, 0, now + 3_000, now + 3_001, now, lowest)).toBe(3_000);
    expect(retryWaitMs(policy, 0, now + 3_000, now + 3_000, now, lowest)).toBeUndefined();
    expect(retryWaitMs(policy, 3, now, now + 1_000, now, highest)).toBeUndefined();
    expect(retryWaitMs(policy, 3, now, now + 1_999, now, highest)).toBe(1998);
  });

  it('gives up at once when the deadline has passed', () => {
    expect(retryWaitMs(policy, 0, now, now - 1, now, lowest)).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import type { Rule } from './limiter.js';
import { runLimiterSuite, type LimiterHarness } from './limiter-suite.js';
import { MemoryLimiter } from './memory-limiter.js';

const START = 1_700_000_000_000;
const MINUTE = 60_000;

/** A MemoryLimiter on a clock the test moves. */
function fakeClockLimiter(options: { leaseTtlMs?: number; sweepIntervalMs?: number } = {}): LimiterHarness & { limiter: MemoryLimiter } {
  let now = START;
  const errors: Error[] = [];
  const limiter = new MemoryLimiter({ ...options, now: () => now, onError: (err) => errors.push(err) });
  return {
    limiter,
    now: () => now,
    elapse: (ms) => {
      now += ms;
    },
    errors,
  };
}

runLimiterSuite('memory', (options) => fakeClockLimiter(options));

describe('MemoryLimiter', () => {
  it('decides synchronously through acquireNow', () => {
    const { limiter } = fakeClockLimiter();
    const rpm: Rule = { kind: 'rate', key: 'rpm', limit: 1, windowMs: MINUTE, amount: 1 };
    expect(limiter.acquireNow('t', [rpm])).toMatchObject({ admitted: true });
    expect(limiter.acquireNow('t', [rpm])).toMatchObject({ admitted: false, retryAfterMs: MINUTE });
  });

  it('keeps one tag’s keys apart from another’s', () => {
    const { limiter } = fakeClockLimiter();
    const rpm: Rule = { kind: 'rate', key: 'rpm', limit: 1, windowMs: MINUTE, amount: 1 };
    expect(limiter.acquireNow('org-1', [rpm])).toMatchObject({ admitted: true });
    expect(limiter.acquireNow('org-2', [rpm])).toMatchObject({ admitted: true });
  });

  it('sweeps drained rates, expired leases and ended budget periods, so memory stays bounded', async () => {
    const harness = fakeClockLimiter({ leaseTtlMs: 5 * MINUTE, sweepIntervalMs: MINUTE });
    const { limiter } = harness;
    for (let i = 0; i < 100; i++) {
      limiter.acquireNow(`org-${i}`, [
        { kind: 'rate', key: 'rpm', limit: 10, windowMs: MINUTE, amount: 1 },
        { kind: 'parallel', key: 'parallel', limit: 1 },
        { kind: 'budget', key: 'daily', limit: 1_000, amount: 1, seed: 0, expiresAt: harness.now() + 10 * MINUTE },
      ]);
    }
    expect(limiter.size).toEqual({ tags: 100, rate: 100, parallel: 100, budget: 100 });

    // One request drains its rate level in 6 s; the next sweep is due a minute after construction.
    await harness.elapse(MINUTE);
    limiter.acquireNow('other', []);
    expect(limiter.size).toMatchObject({ rate: 0, parallel: 100, budget: 100 });
    await harness.elapse(5 * MINUTE);
    limiter.acquireNow('other', []);
    expect(limiter.size).toMatchObject({ rate: 0, parallel: 0, budget: 100 });
    await harness.elapse(5 * MINUTE);
    limiter.acquireNow('other', []);
    // Only the tag of the acquire that ran the sweep is left.
    expect(limiter.size).toEqual({ tags: 1, rate: 0, parallel: 0, budget: 0 });
  });

  it('charges an extra amount settled after a sweep dropped the drained reservation', async () => {
    const harness = fakeClockLimiter({ sweepIntervalMs: MINUTE });
    const { limiter } = harness;
    const tpm = (amount: number): Rule => ({ kind: 'rate', key: 'tpm', limit: 1_000, windowMs: MINUTE, amount });
    const admission = limiter.acquireNow('org-1', [tpm(10)]);
    if (!admission.admitted) throw new Error('refused');
    await harness.elapse(MINUTE); // a long stream: its 10 tokens drained, the sweep drops the tag
    limiter.acquireNow('other', []);
    expect(limiter.size.rate).toBe(0);
    await limiter.settle(admission.lease, [1_010]); // 1 000 more than reserved
    expect(limiter.acquireNow('org-1', [tpm(1)])).toMatchObject({ admitted: false, states: [{ remaining: 0 }] });
    expect(harness.errors).toEqual([]);
  });

  it('does not sweep state that still matters', async () => {
    const harness = fakeClockLimiter({ sweepIntervalMs: MINUTE });
    const { limiter } = harness;
    const tpd: Rule = { kind: 'rate', key: 'tpd', limit: 1_000, windowMs: 24 * 60 * MINUTE, amount: 1_000 };
    expect(limiter.acquireNow('org-1', [tpd])).toMatchObject({ admitted: true });
    await harness.elapse(2 * MINUTE);
    limiter.acquireNow('other', []);
    expect(limiter.size.rate).toBe(1);
    expect(limiter.acquireNow('org-1', [{ ...tpd, amount: 10 }])).toMatchObject({ admitted: false, states: [{ remaining: 1 }] });
  });
});

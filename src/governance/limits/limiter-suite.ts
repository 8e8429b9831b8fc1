/**
 * The behaviour every Limiter shares, as one vitest suite each implementation's test file runs
 * (DESIGN: both backends pass the same suite, Redis against a real server). Assertions hold on a
 * fake clock and on a real one: waits that matter are long (60 s windows) or waited for, and
 * amounts are read with floor so the few ms a real round trip drains change nothing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Admission, Lease, Limiter, Rule, RuleState } from './limiter.js';

/** A limiter under test and control of its clock. */
export interface LimiterHarness {
  limiter: Limiter;
  /** The limiter's clock (epoch ms): budget periods end relative to it. */
  now(): number;
  /** Lets `ms` pass for the limiter: a fake clock moves on, a real one is waited for. */
  elapse(ms: number): void | Promise<void>;
  /** What the limiter reported through onError. */
  errors: Error[];
}

export interface LimiterHarnessOptions {
  leaseTtlMs?: number;
}

const TAG = 'org-1';
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const rate = (key: string, limit: number, windowMs: number, amount = 1): Rule => ({ kind: 'rate', key, limit, windowMs, amount });
const parallel = (key: string, limit: number): Rule => ({ kind: 'parallel', key, limit });

/** The lease of an admission that must have been admitted. */
function leaseOf(admission: Admission): Lease {
  expect(admission).toMatchObject({ admitted: true });
  if (!admission.admitted) throw new Error(`refused by rule ${admission.refused}`);
  return admission.lease;
}

/** Defines the shared limiter tests; `make` builds a fresh limiter, closed after the test. */
export function runLimiterSuite(name: string, make: (options: LimiterHarnessOptions) => LimiterHarness | Promise<LimiterHarness>): void {
  describe(`${name} limiter (shared suite)`, () => {
    const open: LimiterHarness[] = [];
    const use = async (options: LimiterHarnessOptions = {}): Promise<LimiterHarness> => {
      const harness = await make(options);
      open.push(harness);
      return harness;
    };

    afterEach(async () => {
      await Promise.all(open.splice(0).map((harness) => harness.limiter.close()));
    });

    const budget = (harness: LimiterHarness, key: string, limit: number, amount: number, seed = 0, periodMs = HOUR): Rule => ({
      kind: 'budget',
      key,
      limit,
      amount,
      seed,
      expiresAt: harness.now() + periodMs,
    });

    /** A rate or budget rule's state, read by reserving nothing (a 0 amount). */
    const peek = async (limiter: Limiter, rule: Rule): Promise<RuleState> => {
      const admission = await limiter.acquire(TAG, [{ ...rule, amount: 0 } as Rule]);
      if (admission.admitted) await limiter.settle(admission.lease, []);
      return admission.states[0] as RuleState;
    };

    const admittedCount = (admissions: Admission[]): number => admissions.filter((admission) => admission.admitted).length;

    describe('rate', () => {
      it('admits exactly the limit in a window, then refuses for the time one unit takes to replenish', async () => {
        const { limiter } = await use();
        const rpm = rate('key:k1:rpm', 5, MINUTE);
        const remaining: (number | undefined)[] = [];
        for (let i = 0; i < 5; i++) {
          const admission = await limiter.acquire(TAG, [rpm]);
          leaseOf(admission);
          remaining.push(admission.states[0]?.remaining);
        }
        expect(remaining).toEqual([4, 3, 2, 1, 0]);
        const refusal = await limiter.acquire(TAG, [rpm]);
        expect(refusal).toMatchObject({ admitted: false, refused: 0 });
        if (refusal.admitted) return;
        expect(refusal.retryAfterMs).toBeGreaterThan(11_000);
        expect(refusal.retryAfterMs).toBeLessThanOrEqual(12_000);
        expect(refusal.states[0]?.remaining).toBe(0);
        expect(refusal.states[0]?.resetMs).toBeGreaterThan(59_000);
        expect(refusal.states[0]?.resetMs).toBeLessThanOrEqual(MINUTE);
      });

      it('admits exactly the limit under concurrency', async () => {
        const { limiter } = await use();
        const rpm = rate('key:k1:rpm', 20, MINUTE);
        const admissions = await Promise.all(Array.from({ length: 60 }, () => limiter.acquire(TAG, [rpm])));
        expect(admittedCount(admissions)).toBe(20);
      });

      it('admits again once retryAfterMs has passed', async () => {
        const harness = await use();
        const { limiter } = harness;
        const rps = rate('key:k1:rps', 2, 1_000);
        leaseOf(await limiter.acquire(TAG, [rps]));
        leaseOf(await limiter.acquire(TAG, [rps]));
        const refusal = await limiter.acquire(TAG, [rps]);
        if (refusal.admitted) throw new Error('the third request in a window of 2 was admitted');
        expect(refusal.retryAfterMs).toBeGreaterThan(0);
        expect(refusal.retryAfterMs).toBeLessThanOrEqual(500);
        await harness.elapse(refusal.retryAfterMs ?? 0);
        leaseOf(await limiter.acquire(TAG, [rps]));
        expect(await limiter.acquire(TAG, [rps])).toMatchObject({ admitted: false });
      });

      it('reserves token estimates and reconciles them with the actual amounts, both ways', async () => {
        const { limiter } = await use();
        const tpm = (amount: number): Rule => rate('key:k1:tpm', 1_000, MINUTE, amount);
        const first = leaseOf(await limiter.acquire(TAG, [tpm(600)]));
        expect((await peek(limiter, tpm(0))).remaining).toBe(400);
        const tooMuch = await limiter.acquire(TAG, [tpm(500)]);
        expect(tooMuch).toMatchObject({ admitted: false, refused: 0 });
        if (!tooMuch.admitted) expect(tooMuch.retryAfterMs).toBeGreaterThan(5_000);
        if (!tooMuch.admitted) expect(tooMuch.retryAfterMs).toBeLessThanOrEqual(6_000);

        await limiter.settle(first, [200]); // used less than estimated: 400 tokens come back
        expect((await peek(limiter, tpm(0))).remaining).toBe(800);
        const second = leaseOf(await limiter.acquire(TAG, [tpm(500)]));
        expect((await peek(limiter, tpm(0))).remaining).toBe(300);

        await limiter.settle(second, [1_200]); // used more: the bucket ends 400 over its limit
        const over = await limiter.acquire(TAG, [tpm(1)]);
        if (over.admitted) throw new Error('admitted while over the limit');
        expect(over.states[0]).toMatchObject({ limit: 1_000, remaining: 0 });
        expect(over.states[0]?.resetMs).toBeGreaterThan(83_000); // 1 400 tokens at 1 000 per minute
        expect(over.states[0]?.resetMs).toBeLessThanOrEqual(84_000);
        expect(over.retryAfterMs).toBeGreaterThan(23_000); // until 401 tokens have drained
        expect(over.retryAfterMs).toBeLessThanOrEqual(24_060);
      });

      it('refuses an amount above the limit with retryAfterMs null, reserving nothing', async () => {
        const { limiter } = await use();
        const tpm = (amount: number): Rule => rate('key:k1:tpm', 100, MINUTE, amount);
        const never = await limiter.acquire(TAG, [tpm(101)]);
        expect(never).toMatchObject({ admitted: false, refused: 0, retryAfterMs: null });
        expect((await peek(limiter, tpm(0))).remaining).toBe(100);
        // null wins over another rule's finite wait: waiting would not help.
        leaseOf(await limiter.acquire(TAG, [rate('key:k1:rpm', 1, MINUTE)]));
        expect(await limiter.acquire(TAG, [rate('key:k1:rpm', 1, MINUTE), tpm(101)])).toMatchObject({ admitted: false, refused: 0, retryAfterMs: null });
      });
    });

    describe('all-or-nothing', () => {
      it('a refusal by the last rule leaves every other rule untouched', async () => {
        const harness = await use();
        const { limiter } = harness;
        const full = rate('team:t1:rpm', 5, MINUTE, 4);
        leaseOf(await limiter.acquire(TAG, [full]));
        const rules: Rule[] = [rate('key:k1:tpm', 10, MINUTE, 3), parallel('key:k1:parallel', 1), budget(harness, 'org:o1:daily', 1_000, 300), full];
        const refusal = await limiter.acquire(TAG, rules);
        expect(refusal).toMatchObject({ admitted: false, refused: 3 });

        expect((await peek(limiter, rules[0] as Rule)).remaining).toBe(10);
        leaseOf(await limiter.acquire(TAG, [parallel('key:k1:parallel', 1)]));
        // The counter was never created: a new seed still counts.
        expect((await peek(limiter, budget(harness, 'org:o1:daily', 1_000, 0, 100))).remaining).toBe(900);
      });

      it('names the first refusing rule and waits for the slowest', async () => {
        const { limiter } = await use();
        const fast = rate('key:k1:rps', 1, 1_000);
        const slow = rate('team:t1:rpm', 1, MINUTE);
        leaseOf(await limiter.acquire(TAG, [fast, slow]));
        const refusal = await limiter.acquire(TAG, [rate('org:o1:rpm', 100, MINUTE), fast, slow]);
        expect(refusal).toMatchObject({ admitted: false, refused: 1 });
        if (!refusal.admitted) expect(refusal.retryAfterMs).toBeGreaterThan(59_000);
      });
    });

    describe('parallel', () => {
      it('holds a slot per lease until the lease is settled', async () => {
        const { limiter } = await use();
        const slots = parallel('key:k1:parallel', 2);
        const first = await limiter.acquire(TAG, [slots]);
        const second = await limiter.acquire(TAG, [slots]);
        expect([first.states[0]?.remaining, second.states[0]?.remaining]).toEqual([1, 0]);
        const third = await limiter.acquire(TAG, [slots]);
        expect(third).toMatchObject({ admitted: false, refused: 0, states: [{ limit: 2, remaining: 0, resetMs: 0 }] });
        if (!third.admitted) expect(third.retryAfterMs).toBeGreaterThan(0);

        await limiter.settle(leaseOf(first), []);
        leaseOf(await limiter.acquire(TAG, [slots]));
        expect(await limiter.acquire(TAG, [slots])).toMatchObject({ admitted: false });
        expect(await limiter.acquire(TAG, [parallel('key:k1:none', 0)])).toMatchObject({ admitted: false, retryAfterMs: null });
      });

      it('frees the slot of a lease never settled once the lease TTL has passed', async () => {
        const harness = await use({ leaseTtlMs: 300 });
        const { limiter } = harness;
        const slot = parallel('key:k1:parallel', 1);
        const abandoned = leaseOf(await limiter.acquire(TAG, [slot]));
        expect(await limiter.acquire(TAG, [slot])).toMatchObject({ admitted: false });
        await harness.elapse(350);
        leaseOf(await limiter.acquire(TAG, [slot]));
        // The abandoned lease's late settle must not free the slot its successor holds.
        await limiter.settle(abandoned, []);
        expect(await limiter.acquire(TAG, [slot])).toMatchObject({ admitted: false });
        expect(harness.errors).toEqual([]);
      });
    });

    describe('budget', () => {
      it('starts a new counter from the seed, and ignores a lower seed afterwards', async () => {
        const harness = await use();
        const { limiter } = harness;
        const first = await limiter.acquire(TAG, [budget(harness, 'key:k1:monthly', 1_000, 100, 700)]);
        expect(first).toMatchObject({ admitted: true, states: [{ limit: 1_000, remaining: 200 }] });
        const second = await limiter.acquire(TAG, [budget(harness, 'key:k1:monthly', 1_000, 100, 0)]);
        expect(second).toMatchObject({ admitted: true, states: [{ remaining: 100 }] });
        const third = await limiter.acquire(TAG, [budget(harness, 'key:k1:monthly', 1_000, 101, 0)]);
        expect(third).toMatchObject({ admitted: false, refused: 0, states: [{ remaining: 100 }] });
        // Refused until the period's counter expires.
        if (!third.admitted) expect(third.retryAfterMs).toBeGreaterThan(HOUR - MINUTE);
        if (!third.admitted) expect(third.retryAfterMs).toBeLessThanOrEqual(HOUR);
        expect(await limiter.acquire(TAG, [budget(harness, 'key:k1:monthly', 1_000, 1_001)])).toMatchObject({ admitted: false, retryAfterMs: null });
      });

      it('raises a counter that fell behind the recorded spend (the seed) to it, and keeps one ahead of it', async () => {
        const harness = await use();
        const { limiter } = harness;
        const rule = (amount: number, seed: number): Rule => budget(harness, 'key:k1:readded', 1_000, amount, seed);
        expect(await limiter.acquire(TAG, [rule(100, 200)])).toMatchObject({ admitted: true, states: [{ remaining: 700 }] });
        // The level had no budget for a while: $0.65 recorded meanwhile, the counter knows $0.30.
        expect(await limiter.acquire(TAG, [rule(10, 650)])).toMatchObject({ admitted: true, states: [{ remaining: 340 }] });
        expect((await peek(limiter, rule(0, 0))).remaining).toBe(340);
        // A seed behind the counter (rows not written yet) changes nothing.
        expect(await limiter.acquire(TAG, [rule(40, 500)])).toMatchObject({ admitted: true, states: [{ remaining: 300 }] });
        expect(await limiter.acquire(TAG, [rule(1, 1_000)])).toMatchObject({ admitted: false, refused: 0, states: [{ remaining: 0 }] });
      });

      it('reserves, so concurrent requests cannot overspend together', async () => {
        const harness = await use();
        const rule = budget(harness, 'org:o1:daily', 1_000_000_000, 7_000_000);
        const admissions = await Promise.all(Array.from({ length: 200 }, () => harness.limiter.acquire(TAG, [rule])));
        expect(admittedCount(admissions)).toBe(142);
        expect((await peek(harness.limiter, rule)).remaining).toBe(6_000_000);
      });

      it('refunds an overestimate and charges an underestimate on settle', async () => {
        const harness = await use();
        const { limiter } = harness;
        const cost = (amount: number): Rule => budget(harness, 'key:k1:daily', 1_000, amount);
        await limiter.settle(leaseOf(await limiter.acquire(TAG, [cost(300)])), [120]);
        expect((await peek(limiter, cost(0))).remaining).toBe(880);
        await limiter.settle(leaseOf(await limiter.acquire(TAG, [cost(100)])), [250]);
        expect((await peek(limiter, cost(0))).remaining).toBe(630);
        await limiter.settle(leaseOf(await limiter.acquire(TAG, [cost(30)])), [undefined]);
        expect((await peek(limiter, cost(0))).remaining).toBe(600);
      });

      it('counts money amounts up to 2^53 exactly', async () => {
        const harness = await use();
        const limit = Number.MAX_SAFE_INTEGER; // ≈ 9 million USD
        const rule = budget(harness, 'org:o1:total', limit, 1, limit - 2);
        expect(await harness.limiter.acquire(TAG, [rule])).toMatchObject({ admitted: true, states: [{ remaining: 1 }] });
        expect(await harness.limiter.acquire(TAG, [rule])).toMatchObject({ admitted: true, states: [{ remaining: 0 }] });
        expect(await harness.limiter.acquire(TAG, [rule])).toMatchObject({ admitted: false });
      });

      it('drops the counter when its period ends: the next one starts from the seed again', async () => {
        const harness = await use();
        const { limiter } = harness;
        const daily = (amount: number, seed: number): Rule => budget(harness, 'key:k1:daily', 1_000, amount, seed, 300);
        const pending = leaseOf(await limiter.acquire(TAG, [daily(100, 0)]));
        const refusal = await limiter.acquire(TAG, [daily(950, 0)]);
        if (refusal.admitted) throw new Error('overspent');
        expect(refusal.retryAfterMs).toBeGreaterThan(0);
        expect(refusal.retryAfterMs).toBeLessThanOrEqual(300);
        await harness.elapse(350);
        // A refund for the ended period finds no counter and leaves none behind (not even a negative one).
        await limiter.settle(pending, [0]);
        expect(await limiter.acquire(TAG, [daily(100, 50)])).toMatchObject({ admitted: true, states: [{ remaining: 850 }] });
        expect(harness.errors).toEqual([]);
      });
    });

    it('reports every rule state for the x-ratelimit-* headers', async () => {
      const harness = await use();
      const rules: Rule[] = [rate('key:k1:rpm', 10, MINUTE), rate('key:k1:tpm', 1_000, MINUTE, 250), parallel('key:k1:parallel', 3), budget(harness, 'key:k1:daily', 5_000, 1_000, 500)];
      const admission = await harness.limiter.acquire(TAG, rules);
      expect(admission).toMatchObject({ admitted: true, states: [{ limit: 10, remaining: 9 }, { limit: 1_000, remaining: 750 }, { limit: 3, remaining: 2, resetMs: 0 }, { limit: 5_000, remaining: 3_500 }] });
      const [rpm, tpm, , daily] = admission.states as [RuleState, RuleState, RuleState, RuleState];
      expect(rpm.resetMs).toBeGreaterThan(5_900);
      expect(rpm.resetMs).toBeLessThanOrEqual(6_000);
      expect(tpm.resetMs).toBeGreaterThan(14_900);
      expect(tpm.resetMs).toBeLessThanOrEqual(15_000);
      expect(daily.resetMs).toBeGreaterThan(HOUR - MINUTE);
      expect(daily.resetMs).toBeLessThanOrEqual(HOUR);
    });

    describe('settle', () => {
      it('settles a lease once: a second settle is reported and changes nothing', async () => {
        const harness = await use();
        const { limiter } = harness;
        const tpm = (amount: number): Rule => rate('key:k1:tpm', 1_000, MINUTE, amount);
        const slot = parallel('key:k1:parallel', 1);
        const lease = leaseOf(await limiter.acquire(TAG, [tpm(500), slot]));
        await limiter.settle(lease, [100, undefined]);
        leaseOf(await limiter.acquire(TAG, [slot]));
        await expect(limiter.settle(lease, [0, undefined])).resolves.toBeUndefined();
        expect(harness.errors.map((err) => err.message)).toEqual([expect.stringMatching(/settled twice/)]);
        expect((await peek(limiter, tpm(0))).remaining).toBe(900);
        expect(await limiter.acquire(TAG, [slot])).toMatchObject({ admitted: false });
      });

      it('reports a lease it did not issue, and an actual amount it cannot use', async () => {
        const harness = await use();
        const other = await use();
        const tpm = (amount: number): Rule => rate('key:k1:tpm', 1_000, MINUTE, amount);
        const foreign = leaseOf(await other.limiter.acquire(TAG, [tpm(10)]));
        await expect(harness.limiter.settle(foreign, [0])).resolves.toBeUndefined();
        const lease = leaseOf(await harness.limiter.acquire(TAG, [tpm(500)]));
        await harness.limiter.settle(lease, [Number.NaN]);
        expect(harness.errors.map((err) => err.message)).toEqual([expect.stringMatching(/not issued by this limiter/), expect.stringMatching(/not a valid rate amount/)]);
        expect((await peek(harness.limiter, tpm(0))).remaining).toBe(500);
      });
    });

    it('rejects malformed rules with a RangeError', async () => {
      const harness = await use();
      const bad: Rule[][] = [
        [rate('a', 0, MINUTE)],
        [rate('a', 10, 0)],
        [rate('a', 10, MINUTE, -1)],
        [parallel('a', 1.5)],
        [budget(harness, 'a', 1_000, 0.5)],
        [{ kind: 'budget', key: 'a', limit: 1, amount: 1, seed: 0, expiresAt: Number.POSITIVE_INFINITY }],
        [rate('a', 10, MINUTE), parallel('a', 1)],
        [rate('key:1:rpm', 10, MINUTE), rate('key:1:tpm', 10, MINUTE), parallel('org:1', 1), rate('key:1:tpm', 5, MINUTE)],
        [rate('', 10, MINUTE)],
      ];
      for (const rules of bad) await expect(harness.limiter.acquire(TAG, rules)).rejects.toThrow(RangeError);
    });
  });
}

import { describe, expect, it } from 'vitest';
import { LimiterRefusal, TargetLimiter, type LimiterPolicy, type Permit } from './target-limiter.js';

/** A manual clock whose timers run only when the test advances time. */
class FakeClock {
  time = 0;
  readonly #timers = new Map<number, { at: number; callback: () => void }>();
  #nextId = 1;

  readonly now = (): number => this.time;
  readonly setTimer = (callback: () => void, delayMs: number): unknown => {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.time + delayMs, callback });
    return id;
  };
  readonly clearTimer = (handle: unknown): void => {
    this.#timers.delete(handle as number);
  };

  get pendingTimers(): number {
    return this.#timers.size;
  }

  /** Moves time forward, running due timers in order at their own instants. */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      let next: [number, { at: number; callback: () => void }] | undefined;
      for (const entry of this.#timers) if (entry[1].at <= end && (next === undefined || entry[1].at < next[1].at)) next = entry;
      if (next === undefined) break;
      this.#timers.delete(next[0]);
      this.time = next[1].at;
      next[1].callback();
    }
    this.time = end;
    await settle();
  }
}

/** Lets resolved promises run their callbacks. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A promise's outcome, observable synchronously once settled. */
function track<T>(promise: Promise<T>): { state: 'pending' | 'resolved' | 'rejected'; value?: T; error?: unknown } {
  const outcome: { state: 'pending' | 'resolved' | 'rejected'; value?: T; error?: unknown } = { state: 'pending' };
  promise.then(
    (value) => Object.assign(outcome, { state: 'resolved', value }),
    (error: unknown) => Object.assign(outcome, { state: 'rejected', error }),
  );
  return outcome;
}

function limiter(policy: Partial<LimiterPolicy>, onQueueWait?: (ms: number) => void): { limiter: TargetLimiter; clock: FakeClock } {
  const clock = new FakeClock();
  const built = new TargetLimiter({ maxQueue: 0, queueTimeoutMs: 5_000, ...policy }, { now: clock.now, setTimer: clock.setTimer, clearTimer: clock.clearTimer, onQueueWait });
  return { limiter: built, clock };
}

function refusalOf(outcome: { error?: unknown }): LimiterRefusal['refusal'] {
  expect(outcome.error).toBeInstanceOf(LimiterRefusal);
  return (outcome.error as LimiterRefusal).refusal;
}

describe('TargetLimiter', () => {
  it('is inactive without limits and then admits everything', async () => {
    const { limiter: unlimited, clock } = limiter({});
    expect(unlimited.active).toBe(false);
    const permits = Array.from({ length: 100 }, () => unlimited.tryAcquire(1_000_000));
    expect(permits.every((p) => p !== undefined)).toBe(true);
    await expect(unlimited.acquire(5)).resolves.toBeDefined();
    expect(unlimited.snapshot()).toEqual({ inFlight: 101, queued: 0, maxConcurrency: undefined, rpmUsed: undefined, tpmUsed: undefined });
    expect(clock.pendingTimers).toBe(0);

    expect(limiter({ maxConcurrency: 1 }).limiter.active).toBe(true);
    expect(limiter({ rpm: 10 }).limiter.active).toBe(true);
    expect(limiter({ tpm: 10 }).limiter.active).toBe(true);
    expect(limiter({ maxQueue: 5 }).limiter.active).toBe(false);
  });

  it('caps concurrency and frees a slot on release', () => {
    const { limiter: capped } = limiter({ maxConcurrency: 2 });
    const first = capped.tryAcquire(0)!;
    expect(capped.tryAcquire(0)).toBeDefined();
    expect(capped.tryAcquire(0)).toBeUndefined();
    expect(capped.refusal(0)).toEqual({ reason: 'saturated', retryAfterMs: 1_000 });
    expect(capped.snapshot()).toMatchObject({ inFlight: 2, queued: 0, maxConcurrency: 2 });

    first.release();
    expect(capped.snapshot().inFlight).toBe(1);
    expect(capped.tryAcquire(0)).toBeDefined();
  });

  it('ignores a second release of the same permit', () => {
    const { limiter: capped } = limiter({ maxConcurrency: 2, tpm: 1_000 });
    const permit = capped.tryAcquire(400)!;
    capped.tryAcquire(100);
    permit.release(100);
    permit.release(0);
    expect(capped.snapshot()).toMatchObject({ inFlight: 1, tpmUsed: 200 });
  });

  it('hands released slots to waiters in FIFO order, without barging', async () => {
    const waits: number[] = [];
    const { limiter: capped, clock } = limiter({ maxConcurrency: 1, maxQueue: 3 }, (ms) => waits.push(ms));
    const holder = capped.tryAcquire(0)!;
    const order: string[] = [];
    const permits = new Map<string, Permit>();
    for (const name of ['a', 'b', 'c']) {
      void capped.acquire(0).then((permit) => {
        order.push(name);
        permits.set(name, permit);
      });
    }
    expect(capped.snapshot()).toMatchObject({ inFlight: 1, queued: 3 });

    await clock.advance(100);
    holder.release();
    // The slot went to the head waiter at once: a newcomer cannot take it.
    expect(capped.tryAcquire(0)).toBeUndefined();
    expect(capped.snapshot()).toMatchObject({ inFlight: 1, queued: 2 });
    await settle();
    expect(order).toEqual(['a']);
    expect(waits).toEqual([100]);

    permits.get('a')!.release();
    await settle();
    permits.get('b')!.release();
    await settle();
    expect(order).toEqual(['a', 'b', 'c']);
    expect(capped.snapshot()).toMatchObject({ inFlight: 1, queued: 0 });
    expect(clock.pendingTimers).toBe(0);
  });

  it('refuses with queue_full when the wait queue is full, or when there is none', async () => {
    const { limiter: capped } = limiter({ maxConcurrency: 1, maxQueue: 1 });
    capped.tryAcquire(0);
    const waiting = track(capped.acquire(0));
    const shed = track(capped.acquire(0));
    await settle();
    expect(waiting.state).toBe('pending');
    expect(shed.state).toBe('rejected');
    expect(refusalOf(shed)).toEqual({ reason: 'queue_full', retryAfterMs: 1_000 });

    const { limiter: noQueue } = limiter({ maxConcurrency: 1 });
    noQueue.tryAcquire(0);
    const refused = track(noQueue.acquire(0));
    await settle();
    expect(refusalOf(refused).reason).toBe('queue_full');
  });

  it('times a waiter out after queueTimeoutMs and leaves no timer behind', async () => {
    const { limiter: capped, clock } = limiter({ maxConcurrency: 1, maxQueue: 2, queueTimeoutMs: 5_000 });
    capped.tryAcquire(0);
    const first = track(capped.acquire(0));
    await clock.advance(1_000);
    const second = track(capped.acquire(0));

    await clock.advance(3_999);
    expect(first.state).toBe('pending');
    await clock.advance(1);
    expect(refusalOf(first)).toEqual({ reason: 'queue_timeout', retryAfterMs: 1_000 });
    expect(second.state).toBe('pending');
    expect(capped.snapshot().queued).toBe(1);

    await clock.advance(1_000);
    expect(refusalOf(second).reason).toBe('queue_timeout');
    expect(capped.snapshot()).toMatchObject({ inFlight: 1, queued: 0 });
    expect(clock.pendingTimers).toBe(0);
  });

  it('removes a waiter whose signal aborts, rejecting with the signal reason', async () => {
    const { limiter: capped, clock } = limiter({ maxConcurrency: 1, maxQueue: 2 });
    const holder = capped.tryAcquire(0)!;
    const controller = new AbortController();
    const aborted = track(capped.acquire(0, controller.signal));
    const next = track(capped.acquire(0));
    const reason = new Error('client went away');

    controller.abort(reason);
    await settle();
    expect(aborted).toMatchObject({ state: 'rejected', error: reason });
    expect(capped.snapshot().queued).toBe(1);

    holder.release();
    await settle();
    expect(next.state).toBe('resolved');
    expect(clock.pendingTimers).toBe(0);

    const alreadyAborted = track(capped.acquire(0, AbortSignal.abort(reason)));
    await settle();
    expect(alreadyAborted).toMatchObject({ state: 'rejected', error: reason });
    expect(capped.snapshot().queued).toBe(0);
  });

  it('refills the rpm budget continuously and wakes a rate-blocked waiter by timer', async () => {
    const waits: number[] = [];
    const { limiter: limited, clock } = limiter({ rpm: 60, maxQueue: 1 }, (ms) => waits.push(ms));
    for (let i = 0; i < 60; i++) expect(limited.tryAcquire(0)).toBeDefined();
    expect(limited.tryAcquire(0)).toBeUndefined();
    expect(limited.refusal(0)).toEqual({ reason: 'rate', retryAfterMs: 1_000 });
    expect(limited.snapshot().rpmUsed).toBe(60);

    const waiter = track(limited.acquire(0));
    expect(clock.pendingTimers).toBe(1);
    // One request per second comes back; the waiter ahead gets it, so a newcomer must wait two.
    expect(limited.refusal(0)).toEqual({ reason: 'rate', retryAfterMs: 2_000 });
    await clock.advance(999);
    expect(waiter.state).toBe('pending');
    await clock.advance(1);
    expect(waiter.state).toBe('resolved');
    expect(waits).toEqual([1_000]);
    expect(clock.pendingTimers).toBe(0);

    await clock.advance(1_000);
    expect(limited.tryAcquire(0)).toBeDefined();
    expect(limited.tryAcquire(0)).toBeUndefined();
  });

  it('reserves tpm up front and reconciles it with the tokens actually used', async () => {
    const { limiter: limited } = limiter({ tpm: 1_000, maxQueue: 1 });
    const big = limited.tryAcquire(600)!;
    expect(limited.snapshot().tpmUsed).toBe(600);
    expect(limited.tryAcquire(600)).toBeUndefined();
    // 200 missing tokens refill at 1000 per minute: 12 s.
    expect(limited.refusal(600)).toEqual({ reason: 'rate', retryAfterMs: 12_000 });

    const waiter = track(limited.acquire(600));
    // 400 tokens are free, but the waiter ahead needs 600: a small newcomer must not overtake it.
    expect(limited.tryAcquire(10)).toBeUndefined();
    expect(limited.refusal(10).reason).toBe('rate');
    big.release(100);
    await settle();
    expect(waiter.state).toBe('resolved');
    expect(limited.snapshot().tpmUsed).toBe(700);

    waiter.value!.release(900);
    expect(limited.snapshot().tpmUsed).toBe(1_000);

    expect(limited.tryAcquire(1)).toBeUndefined();
  });

  it('keeps the reservation when released without a token count', async () => {
    const { limiter: limited, clock } = limiter({ tpm: 1_000 });
    limited.tryAcquire(300)!.release();
    expect(limited.snapshot().tpmUsed).toBe(300);
    await clock.advance(6_000);
    expect(limited.snapshot().tpmUsed).toBe(200);
  });

  it('admits a reservation larger than the whole tpm budget only from a full bucket, then repays the debt', async () => {
    const { limiter: limited, clock } = limiter({ tpm: 1_000, maxQueue: 1, queueTimeoutMs: 300_000 });
    limited.tryAcquire(1)!.release(1);
    expect(limited.tryAcquire(5_000)).toBeUndefined();
    await clock.advance(60);
    const oversized = limited.tryAcquire(5_000);
    expect(oversized).toBeDefined();
    expect(limited.snapshot().tpmUsed).toBe(5_000);

    // 4000 tokens of debt plus this call's 1 token, at 1000 per minute.
    expect(limited.refusal(1)).toEqual({ reason: 'rate', retryAfterMs: 241_000 });
    const waiter = track(limited.acquire(1));
    await clock.advance(240_059);
    expect(waiter.state).toBe('pending');
    await clock.advance(1);
    expect(waiter.state).toBe('resolved');
  });
});

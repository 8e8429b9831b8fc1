import { afterEach, describe, expect, it, vi } from 'vitest';
import { CircuitBreaker, DEFAULT_BREAKER_POLICY, type BreakerPolicy, type BreakerState } from './breaker.js';

const POLICY: BreakerPolicy = { failureRateThreshold: 0.5, minimumRequests: 4, windowMs: 12_000, cooldownMs: 5_000, halfOpenProbes: 2 };

function setup(policy: Partial<BreakerPolicy> = {}) {
  let time = 0;
  const transitions: Array<[BreakerState, BreakerState]> = [];
  const breaker = new CircuitBreaker({ ...POLICY, ...policy }, { now: () => time, onTransition: (from, to) => transitions.push([from, to]) });
  return {
    breaker,
    transitions,
    advance: (ms: number) => (time += ms),
    /** Runs one acquired call to its verdict. */
    call(ok: boolean): void {
      expect(breaker.tryAcquire()).toBe(true);
      if (ok) breaker.onSuccess();
      else breaker.onFailure();
    },
  };
}

/** A breaker driven open by failures, at t = 0 (window: 4 failures). */
function opened(policy: Partial<BreakerPolicy> = {}) {
  const s = setup(policy);
  for (let i = 0; i < (policy.minimumRequests ?? POLICY.minimumRequests); i++) s.call(false);
  expect(s.breaker.state).toBe('open');
  s.transitions.length = 0;
  return s;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('CircuitBreaker', () => {
  it('has the documented defaults', () => {
    expect(DEFAULT_BREAKER_POLICY).toEqual({ failureRateThreshold: 0.5, minimumRequests: 10, windowMs: 30_000, cooldownMs: 30_000, halfOpenProbes: 3 });
  });

  it('starts closed and admits calls', () => {
    const { breaker, transitions } = setup();
    expect(breaker.state).toBe('closed');
    expect(breaker.isAvailable()).toBe(true);
    expect(breaker.tryAcquire()).toBe(true);
    breaker.onSuccess();
    expect(transitions).toEqual([]);
  });

  describe('closed → open', () => {
    it('opens once the failure rate reaches the threshold over at least the minimum requests', () => {
      const { breaker, call, transitions } = setup();
      call(true);
      call(false);
      call(true);
      expect(breaker.state).toBe('closed'); // 1 of 3
      call(false); // 2 of 4 = 0.5
      expect(breaker.state).toBe('open');
      expect(transitions).toEqual([['closed', 'open']]);
      expect(breaker.isAvailable()).toBe(false);
      expect(breaker.tryAcquire()).toBe(false);
    });

    it('opens on the success that brings the window to the minimum requests with the rate already past the threshold', () => {
      const { breaker, call } = setup();
      call(false);
      call(false);
      call(false);
      expect(breaker.state).toBe('closed'); // 3 calls: under the minimum
      call(true); // 3 of 4 failed
      expect(breaker.state).toBe('open');
      // Once the failures have left the window, successes find nothing to check.
      const healthy = setup();
      healthy.call(false);
      healthy.advance(13_000);
      for (let i = 0; i < 4; i++) healthy.call(true);
      expect(healthy.breaker.state).toBe('closed');
    });

    it('does not open below the minimum requests, however bad the rate', () => {
      const { breaker, call } = setup({ minimumRequests: 10 });
      for (let i = 0; i < 9; i++) call(false);
      expect(breaker.state).toBe('closed');
      call(false);
      expect(breaker.state).toBe('open');
    });

    it('does not open below the threshold', () => {
      const { breaker, call } = setup();
      for (let i = 0; i < 30; i++) call(i % 3 !== 2); // one failure in three
      expect(breaker.state).toBe('closed');
      expect(breaker.snapshot().failureRate).toBeCloseTo(1 / 3, 6);
    });

    it('forgets failures that slid out of the window', () => {
      const { breaker, call, advance } = setup();
      call(false);
      call(false);
      call(false); // t = 0
      advance(12_000); // those three have left the 12 s window
      call(true);
      call(true);
      call(true);
      call(false);
      expect(breaker.state).toBe('closed'); // 1 of 4 in the window
      advance(6_000);
      call(false); // 2 of 5
      expect(breaker.state).toBe('closed');
      call(false); // 3 of 6
      expect(breaker.state).toBe('open');
    });

    it('counts the window with time buckets, not from the first call', () => {
      const { breaker, call, advance } = setup();
      call(false);
      call(false); // t = 0, bucket 0
      advance(11_999); // still bucket 11: bucket 0 is in the window
      call(false);
      call(false);
      expect(breaker.state).toBe('open');
    });
  });

  describe('open → half-open', () => {
    it('stays open during the cooldown, then turns half-open lazily', () => {
      const { breaker, advance, transitions } = opened();
      advance(4_999);
      expect(breaker.isAvailable()).toBe(false);
      expect(breaker.tryAcquire()).toBe(false);
      expect(transitions).toEqual([]);
      advance(1);
      expect(transitions).toEqual([]); // nothing happens until someone asks
      expect(breaker.state).toBe('half-open');
      expect(transitions).toEqual([['open', 'half-open']]);
    });

    it('makes the move from isAvailable and tryAcquire as well', () => {
      const a = opened();
      a.advance(5_000);
      expect(a.breaker.isAvailable()).toBe(true);
      expect(a.transitions).toEqual([['open', 'half-open']]);
      const b = opened();
      b.advance(5_000);
      expect(b.breaker.tryAcquire()).toBe(true);
      expect(b.transitions).toEqual([['open', 'half-open']]);
    });
  });

  describe('half-open', () => {
    it('admits at most halfOpenProbes calls, and isAvailable says so without taking a slot', () => {
      const { breaker, advance } = opened({ halfOpenProbes: 2 });
      advance(5_000);
      expect(breaker.isAvailable()).toBe(true);
      expect(breaker.isAvailable()).toBe(true);
      expect(breaker.tryAcquire()).toBe(true);
      expect(breaker.tryAcquire()).toBe(true);
      expect(breaker.isAvailable()).toBe(false);
      expect(breaker.tryAcquire()).toBe(false);
    });

    it('closes when every probe succeeded, with a fresh window', () => {
      const { breaker, advance, transitions, call } = opened({ halfOpenProbes: 2 });
      advance(5_000);
      expect(breaker.tryAcquire()).toBe(true);
      expect(breaker.tryAcquire()).toBe(true);
      breaker.onSuccess();
      expect(breaker.state).toBe('half-open');
      expect(breaker.isAvailable()).toBe(false); // a succeeded probe does not free its slot
      breaker.onSuccess();
      expect(breaker.state).toBe('closed');
      expect(transitions).toEqual([['open', 'half-open'], ['half-open', 'closed']]);
      expect(breaker.snapshot()).toMatchObject({ requests: 0, failureRate: null });
      // The failures that opened it are forgotten: one more failure does not reopen it.
      call(false);
      expect(breaker.state).toBe('closed');
    });

    it('reopens on any probe failure, with a new cooldown', () => {
      const { breaker, advance, transitions } = opened({ halfOpenProbes: 3 });
      advance(5_000);
      expect(breaker.tryAcquire()).toBe(true);
      expect(breaker.tryAcquire()).toBe(true);
      breaker.onSuccess();
      breaker.onFailure();
      expect(breaker.state).toBe('open');
      expect(transitions).toEqual([['open', 'half-open'], ['half-open', 'open']]);
      advance(4_999);
      expect(breaker.tryAcquire()).toBe(false);
      advance(1);
      expect(breaker.state).toBe('half-open');
      // A new half-open period starts with every slot free.
      for (let i = 0; i < 3; i++) expect(breaker.tryAcquire()).toBe(true);
      expect(breaker.tryAcquire()).toBe(false);
    });

    it('release frees a probe slot and counts nothing', () => {
      const { breaker, advance } = opened({ halfOpenProbes: 1 });
      advance(5_000);
      const before = breaker.snapshot().requests;
      expect(breaker.tryAcquire()).toBe(true);
      expect(breaker.tryAcquire()).toBe(false);
      breaker.release();
      expect(breaker.snapshot().requests).toBe(before);
      expect(breaker.state).toBe('half-open');
      expect(breaker.tryAcquire()).toBe(true);
      breaker.onSuccess();
      expect(breaker.state).toBe('closed');
    });
  });

  it('release in the closed state changes nothing', () => {
    const { breaker, call } = setup();
    for (let i = 0; i < 3; i++) call(false);
    for (let i = 0; i < 10; i++) {
      expect(breaker.tryAcquire()).toBe(true);
      breaker.release();
    }
    expect(breaker.snapshot()).toMatchObject({ state: 'closed', requests: 3, failureRate: 1 });
  });

  describe('stale results (calls acquired before the latest state change)', () => {
    it('counts a slow call that ends while open in the window without changing the state', () => {
      const s = setup();
      expect(s.breaker.tryAcquire()).toBe(true); // slow call, acquired while closed
      for (let i = 0; i < 4; i++) s.call(false);
      expect(s.breaker.state).toBe('open');
      s.breaker.onSuccess(); // the slow call finally answers
      expect(s.breaker.state).toBe('open');
      expect(s.breaker.snapshot()).toMatchObject({ requests: 5, failureRate: 0.8 });
      expect(s.transitions).toEqual([['closed', 'open']]);
    });

    it('does not restart the cooldown for a stale failure while open', () => {
      const s = setup();
      expect(s.breaker.tryAcquire()).toBe(true);
      for (let i = 0; i < 4; i++) s.call(false);
      s.advance(4_000);
      s.breaker.onFailure();
      s.advance(1_000);
      expect(s.breaker.state).toBe('half-open');
    });

    it('does not close a half-open breaker on the success of a call acquired while closed', () => {
      const s = setup({ halfOpenProbes: 1 });
      expect(s.breaker.tryAcquire()).toBe(true); // slow call, acquired while closed
      for (let i = 0; i < 4; i++) s.call(false);
      s.advance(5_000);
      expect(s.breaker.tryAcquire()).toBe(true); // the probe
      s.breaker.onSuccess(); // the slow call: cannot be told from the probe, so taken as stale
      expect(s.breaker.state).toBe('half-open');
      s.breaker.onSuccess(); // the probe
      expect(s.breaker.state).toBe('closed');
    });

    it('does not close on a stale success when the probe was released', () => {
      const s = setup({ halfOpenProbes: 1 });
      expect(s.breaker.tryAcquire()).toBe(true); // slow call, acquired while closed
      for (let i = 0; i < 4; i++) s.call(false);
      s.advance(5_000);
      expect(s.breaker.tryAcquire()).toBe(true); // the probe
      s.breaker.release(); // the probe's client left
      s.breaker.onSuccess(); // the slow call
      expect(s.breaker.state).toBe('half-open');
      expect(s.breaker.isAvailable()).toBe(true);
    });

    it('does not close on a stale success arriving in half-open before any probe', () => {
      const s = setup({ halfOpenProbes: 1 });
      expect(s.breaker.tryAcquire()).toBe(true);
      for (let i = 0; i < 4; i++) s.call(false);
      s.advance(5_000);
      expect(s.breaker.state).toBe('half-open');
      s.breaker.onSuccess();
      expect(s.breaker.state).toBe('half-open');
      expect(s.breaker.isAvailable()).toBe(true);
    });

    it('treats probes of a previous half-open period as stale after reopening', () => {
      const s = opened({ halfOpenProbes: 2 });
      s.advance(5_000);
      expect(s.breaker.tryAcquire()).toBe(true); // probe A
      expect(s.breaker.tryAcquire()).toBe(true); // probe B
      s.breaker.onFailure(); // A fails: reopen
      s.advance(5_000);
      expect(s.breaker.tryAcquire()).toBe(true); // probe C
      expect(s.breaker.tryAcquire()).toBe(true); // probe D
      s.breaker.onSuccess(); // B, stale
      s.breaker.onSuccess(); // C
      expect(s.breaker.state).toBe('half-open');
      s.breaker.onSuccess(); // D
      expect(s.breaker.state).toBe('closed');
    });
  });

  describe('snapshot', () => {
    it('shows the state, the window and, when not closed, the opening and next probe times in epoch ms', () => {
      const epoch = vi.spyOn(Date, 'now').mockReturnValue(1_700_000_000_000);
      const s = setup();
      s.advance(1_000);
      s.call(true);
      expect(s.breaker.snapshot()).toEqual({ state: 'closed', failureRate: 0, requests: 1 });
      for (let i = 0; i < 3; i++) s.call(false); // opens at t = 1000
      s.advance(2_000);
      epoch.mockReturnValue(1_700_000_002_000);
      expect(s.breaker.snapshot()).toEqual({
        state: 'open',
        failureRate: 0.75,
        requests: 4,
        openedAt: 1_700_000_000_000,
        nextProbeAt: 1_700_000_005_000,
      });
      s.advance(3_000);
      epoch.mockReturnValue(1_700_000_005_000);
      const halfOpen = s.breaker.snapshot();
      expect(halfOpen).toMatchObject({ state: 'half-open', openedAt: 1_700_000_000_000 });
      expect(halfOpen.nextProbeAt).toBeUndefined();
    });
  });
});

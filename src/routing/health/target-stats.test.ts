import { afterEach, describe, expect, it, vi } from 'vitest';
import { SlidingWindowCounter, TargetStats } from './target-stats.js';

function clock(start = 0): { now: () => number; advance: (ms: number) => void } {
  let time = start;
  return { now: () => time, advance: (ms) => (time += ms) };
}

/** One finished successful call with the given first-byte time (also its latency). */
function served(stats: TargetStats, ms: number): void {
  stats.begin();
  stats.end({ ok: true, latencyMs: ms, firstByteMs: ms });
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('SlidingWindowCounter', () => {
  it('counts successes and failures within the window', () => {
    const counter = new SlidingWindowCounter(12_000, 12);
    counter.record(true, 0);
    counter.record(false, 500);
    counter.record(false, 5_000);
    expect(counter.requests(5_000)).toBe(3);
    expect(counter.failures(5_000)).toBe(2);
  });

  it('lets counts age out bucket by bucket as the window slides', () => {
    const counter = new SlidingWindowCounter(12_000, 12);
    counter.record(false, 0); // bucket 0
    counter.record(false, 6_000); // bucket 6
    expect(counter.failures(11_999)).toBe(2);
    expect(counter.failures(12_000)).toBe(1); // bucket 0 left the window
    expect(counter.failures(17_999)).toBe(1);
    expect(counter.failures(18_000)).toBe(0);
  });

  it('reuses a slot for a new bucket without keeping the old counts', () => {
    const counter = new SlidingWindowCounter(12_000, 12);
    counter.record(false, 100); // bucket 0, slot 0
    counter.record(true, 12_100); // bucket 12, slot 0 again
    expect(counter.requests(12_100)).toBe(1);
    expect(counter.failures(12_100)).toBe(0);
  });

  it('forgets everything on reset', () => {
    const counter = new SlidingWindowCounter(12_000);
    counter.record(false, 0);
    counter.reset();
    expect(counter.requests(0)).toBe(0);
  });
});

describe('TargetStats', () => {
  it('counts calls in flight, not below zero, and cancelled calls leave without a record', () => {
    const stats = new TargetStats({ now: clock().now });
    stats.begin();
    stats.begin();
    stats.begin();
    expect(stats.inFlight).toBe(3);
    stats.end({ ok: true, latencyMs: 10 });
    stats.cancel();
    expect(stats.inFlight).toBe(1);
    stats.end({ ok: false, error: 'boom' });
    stats.end({ ok: false, error: 'unbalanced' });
    expect(stats.inFlight).toBe(0);
    const snapshot = stats.snapshot();
    expect(snapshot.inFlight).toBe(0);
    expect(snapshot.requests).toBe(3); // the cancelled call is not one
  });

  describe('peak-EWMA latency estimate', () => {
    it('is 0 (and null in the snapshot) before any sample', () => {
      const stats = new TargetStats({ now: clock().now });
      expect(stats.latencyEstimate()).toBe(0);
      expect(stats.snapshot().latencyEstimateMs).toBeNull();
    });

    it('jumps to a sample above the estimate at once', () => {
      const time = clock();
      const stats = new TargetStats({ now: time.now, decayMs: 10_000 });
      served(stats, 100);
      expect(stats.latencyEstimate()).toBe(100);
      time.advance(1);
      served(stats, 900);
      expect(stats.latencyEstimate()).toBe(900);
    });

    it('decays toward lower samples with the time constant', () => {
      const time = clock();
      const stats = new TargetStats({ now: time.now, decayMs: 10_000 });
      served(stats, 1_000);
      time.advance(10_000); // one time constant: weight e^-1
      served(stats, 100);
      const expected = 1_000 * Math.exp(-1) + 100 * (1 - Math.exp(-1));
      expect(stats.latencyEstimate()).toBeCloseTo(expected, 6);
      expect(stats.snapshot().latencyEstimateMs).toBeCloseTo(expected, 6);
    });

    it('barely moves for a low sample that follows right after a peak', () => {
      const time = clock();
      const stats = new TargetStats({ now: time.now, decayMs: 10_000 });
      served(stats, 1_000);
      time.advance(10);
      served(stats, 0);
      expect(stats.latencyEstimate()).toBeGreaterThan(990);
      expect(stats.latencyEstimate()).toBeLessThan(1_000);
    });

    it('is not touched by failures without a latency', () => {
      const time = clock();
      const stats = new TargetStats({ now: time.now });
      served(stats, 300);
      time.advance(60_000);
      stats.begin();
      stats.end({ ok: false, error: 'connect ECONNREFUSED' });
      expect(stats.latencyEstimate()).toBe(300);
    });
  });

  describe('first-byte percentiles', () => {
    it('needs 20 samples in the window', () => {
      const stats = new TargetStats({ now: clock().now });
      for (let i = 1; i <= 19; i++) served(stats, i);
      expect(stats.firstBytePercentile(0.95)).toBeUndefined();
    });

    it('gives nearest-rank percentiles of the window', () => {
      const time = clock();
      const stats = new TargetStats({ now: time.now });
      for (let i = 100; i >= 1; i--) served(stats, i * 10); // inserted out of order on purpose
      expect(stats.firstBytePercentile(0.95)).toBe(950);
      expect(stats.firstBytePercentile(0.5)).toBe(500);
      expect(stats.firstBytePercentile(1)).toBe(1_000);
      expect(stats.firstBytePercentile(0)).toBe(10);
    });

    it('reuses the distribution for a second, then sees new samples', () => {
      const time = clock();
      const stats = new TargetStats({ now: time.now });
      for (let i = 0; i < 20; i++) served(stats, 100);
      expect(stats.firstBytePercentile(0.95)).toBe(100);
      for (let i = 0; i < 20; i++) served(stats, 5_000);
      time.advance(999);
      expect(stats.firstBytePercentile(0.95)).toBe(100); // cached
      time.advance(1);
      expect(stats.firstBytePercentile(0.95)).toBe(5_000);
    });

    it('drops samples older than the window', () => {
      const time = clock();
      const stats = new TargetStats({ now: time.now, windowMs: 60_000 });
      for (let i = 0; i < 20; i++) served(stats, 2_000); // at t = 0
      time.advance(30_000);
      for (let i = 0; i < 20; i++) served(stats, 100); // at t = 30 s
      expect(stats.firstBytePercentile(0.95)).toBe(2_000);
      time.advance(30_001); // the first batch is now older than 60 s
      expect(stats.firstBytePercentile(0.95)).toBe(100);
      time.advance(30_000);
      expect(stats.firstBytePercentile(0.95)).toBeUndefined();
    });

    it('keeps only the most recent 1024 samples', () => {
      const stats = new TargetStats({ now: clock().now });
      for (let i = 0; i < 1024; i++) served(stats, 9_999);
      for (let i = 0; i < 1024; i++) served(stats, 1);
      expect(stats.firstBytePercentile(1)).toBe(1);
    });

    it('ignores calls without a first byte', () => {
      const stats = new TargetStats({ now: clock().now });
      for (let i = 0; i < 30; i++) {
        stats.begin();
        stats.end({ ok: false, error: 'refused' });
      }
      expect(stats.firstBytePercentile(0.5)).toBeUndefined();
    });
  });

  describe('snapshot', () => {
    it('is empty for a target never called', () => {
      const stats = new TargetStats({ now: clock().now, windowMs: 30_000 });
      expect(stats.snapshot()).toEqual({
        windowMs: 30_000,
        requests: 0,
        errors: 0,
        errorRate: null,
        inFlight: 0,
        latencyEstimateMs: null,
        latencyMs: { p50: null, p95: null, p99: null },
        firstByteMs: { p50: null, p95: null, p99: null },
      });
    });

    it('counts requests and errors over the sliding window and remembers the last error', () => {
      vi.spyOn(Date, 'now').mockReturnValue(1_700_000_000_000);
      const time = clock();
      const stats = new TargetStats({ now: time.now, windowMs: 60_000 });
      stats.begin();
      stats.end({ ok: false, error: 'connect ECONNREFUSED' });
      time.advance(30_000);
      for (let i = 0; i < 3; i++) served(stats, 100);
      let snapshot = stats.snapshot();
      expect(snapshot).toMatchObject({ requests: 4, errors: 1, errorRate: 0.25 });
      expect(snapshot.lastError).toEqual({ at: 1_700_000_000_000, message: 'connect ECONNREFUSED' });

      time.advance(31_000); // the failure at t = 0 ages out; the last error is still shown
      snapshot = stats.snapshot();
      expect(snapshot).toMatchObject({ requests: 3, errors: 0, errorRate: 0 });
      expect(snapshot.lastError?.message).toBe('connect ECONNREFUSED');
    });

    it('summarizes latency and first-byte times separately', () => {
      const stats = new TargetStats({ now: clock().now });
      for (let i = 1; i <= 100; i++) {
        stats.begin();
        stats.end({ ok: true, latencyMs: i * 10, firstByteMs: i });
      }
      const snapshot = stats.snapshot();
      expect(snapshot.latencyMs).toEqual({ p50: 500, p95: 950, p99: 990 });
      expect(snapshot.firstByteMs).toEqual({ p50: 50, p95: 95, p99: 99 });
    });

    it('summarizes even a few samples, unlike the hedging percentile', () => {
      const stats = new TargetStats({ now: clock().now });
      served(stats, 40);
      expect(stats.snapshot().firstByteMs).toEqual({ p50: 40, p95: 40, p99: 40 });
      expect(stats.firstBytePercentile(0.5)).toBeUndefined();
    });
  });
});

describe('TargetStats: failures weigh on the latency estimate', () => {
  it('a failure before any answer raises the estimate by its penalty, leaving the percentiles alone', () => {
    const time = clock();
    const stats = new TargetStats({ now: time.now, decayMs: 10_000 });
    served(stats, 50);
    stats.begin();
    stats.end({ ok: false, error: 'connection refused', penaltyMs: 1000 });
    expect(stats.latencyEstimate()).toBe(1000);
    expect(stats.snapshot().latencyMs).toEqual({ p50: 50, p95: 50, p99: 50 });
    // Like any sample it decays as good answers come in.
    time.advance(20_000);
    served(stats, 50);
    expect(stats.latencyEstimate()).toBeLessThan(200);
  });

  it('ignores a penalty on a success', () => {
    const stats = new TargetStats({ now: clock().now });
    stats.begin();
    stats.end({ ok: true, penaltyMs: 5000 });
    expect(stats.latencyEstimate()).toBe(0);
  });
});

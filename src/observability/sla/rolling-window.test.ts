import { describe, expect, it } from 'vitest';
import { CLIENT_ERROR, SERVER_FAILURE, SUCCESS } from './classify.js';
import { LATENCY_BUCKETS, bucketOf, bucketValue, quantile } from './log-histogram.js';
import { RollingWindow, SLICES } from './rolling-window.js';

describe('log histogram', () => {
  it('every value from 1 ms to an hour lands in a bucket whose value is within 3.2%', () => {
    for (let ms = 1.5; ms < 3_600_000; ms *= 1.013) {
      const index = bucketOf(ms);
      expect(index).toBeGreaterThan(0);
      expect(Math.abs(bucketValue(index) - ms) / ms).toBeLessThan(0.032);
      // Buckets are ordered as their values.
      if (index > 1) expect(bucketValue(index - 1)).toBeLessThan(bucketValue(index));
    }
  });

  it('edges: sub-millisecond, NaN and negative values go to the first bucket, huge ones to the last', () => {
    expect([0, 0.3, 1, -5, Number.NaN].map(bucketOf)).toEqual([0, 0, 0, 0, 0]);
    expect(bucketOf(1.0001)).toBe(1);
    expect(bucketOf(1.99)).toBe(16);
    expect(bucketOf(2)).toBe(17);
    expect(bucketOf(3)).toBe(25);
    expect(bucketOf(2 ** 22 - 1)).toBe(LATENCY_BUCKETS - 1);
    expect(bucketOf(1e12)).toBe(LATENCY_BUCKETS - 1);
    expect(bucketOf(Number.POSITIVE_INFINITY)).toBe(LATENCY_BUCKETS - 1);
  });

  it('quantile: nearest rank, null without values', () => {
    const counts = new Uint32Array(LATENCY_BUCKETS);
    expect(quantile(counts, 0, 0.95)).toBeNull();
    counts[bucketOf(10)] = 95;
    counts[bucketOf(1000)] = 5;
    expect(quantile(counts, 100, 0.95)).toBe(bucketValue(bucketOf(10)));
    expect(quantile(counts, 100, 0.96)).toBe(bucketValue(bucketOf(1000)));
    expect(quantile(counts, 100, 1)).toBe(bucketValue(bucketOf(1000)));
  });
});

describe('rolling window', () => {
  const T0 = 1_700_000_000_000;

  it('counts each class, and latencies only for successes', () => {
    const window = new RollingWindow(60_000);
    window.record(T0, SUCCESS, bucketOf(100), -1);
    window.record(T0, SUCCESS, bucketOf(200), bucketOf(50));
    window.record(T0, CLIENT_ERROR, bucketOf(5), -1);
    window.record(T0, SERVER_FAILURE, bucketOf(30_000), bucketOf(10));
    const summary = window.summary(T0);
    expect(summary).toMatchObject({ successes: 2, clientErrors: 1, serverFailures: 1, ttftCount: 1 });
    expect(summary.latency.reduce((a, b) => a + b, 0)).toBe(2);
    expect(summary.latency[bucketOf(100)]).toBe(1);
    expect(summary.ttft[bucketOf(50)]).toBe(1);
  });

  it('samples leave the window slice by slice, and a reused slice starts from zero', () => {
    const window = new RollingWindow(60_000);
    expect(window.sliceMs).toBe(60_000 / SLICES);
    for (let second = 0; second < 60; second++) window.record(T0 + second * 1_000, SUCCESS, bucketOf(100), -1);
    expect(window.summary(T0 + 59_999).successes).toBe(60);
    // One slice later the first second has left; ten slices later ten have.
    expect(window.summary(T0 + 60_000).successes).toBe(59);
    expect(window.summary(T0 + 69_000).successes).toBe(50);
    // The ring comes round: the slot that held T0 now holds T0 + 60 s, and only its new sample.
    window.record(T0 + 60_000, SERVER_FAILURE, bucketOf(100), -1);
    const summary = window.summary(T0 + 60_000);
    expect(summary).toMatchObject({ successes: 59, serverFailures: 1 });
    expect(window.summary(T0 + 200_000)).toMatchObject({ successes: 0, serverFailures: 0 });
  });

  it('a summary ignores slices from the future (a clock that stepped back)', () => {
    const window = new RollingWindow(10_000);
    window.record(T0 + 5_000, SUCCESS, 0, -1);
    expect(window.summary(T0).successes).toBe(0);
    expect(window.summary(T0 + 5_000).successes).toBe(1);
  });
});

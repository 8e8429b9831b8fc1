import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BoundCounter, BoundHistogram } from './bound-metrics.js';

const BUCKETS = [0.005, 0.01, 0.1, 1, 10];
const LABELS = ['route', 'model', 'status'] as const;

describe('bound metrics render exactly like prom-client', () => {
  it('histograms: buckets, +Inf, sum and count per series, in first-use order', async () => {
    const reference = new Registry();
    const ours = new Registry();
    const theirs = new Histogram({ name: 'x_seconds', help: 'Some "time" \\ here.', labelNames: LABELS, buckets: BUCKETS, registers: [reference] });
    const bound = new BoundHistogram({ name: 'x_seconds', help: 'Some "time" \\ here.', labelNames: LABELS, buckets: BUCKETS, registers: [ours] });
    const observations: [string[], number][] = [
      [['chat', 'gpt', '200'], 0.004],
      [['chat', 'gpt', '200'], 0.05],
      [['embeddings', 'e"q', '502'], 12],
      [['chat', 'gpt', '200'], 10],
      [['chat', 'gpt', '429'], 0.01],
    ];
    for (const [values, value] of observations) {
      theirs.labels(...values).observe(value);
      bound.labels(...values).observe(value);
    }
    expect(await ours.metrics()).toBe(await reference.metrics());
    // (prom-client adds exemplar slots, which these metrics do not keep.)
    const withoutExemplars = (json: Awaited<ReturnType<Registry['getMetricsAsJSON']>>) =>
      json.map((metric) => ({ ...metric, values: metric.values.map((v) => ({ labels: v.labels, value: v.value, metricName: (v as { metricName?: string }).metricName })) }));
    expect(withoutExemplars(await ours.getMetricsAsJSON())).toEqual(withoutExemplars(await reference.getMetricsAsJSON()));
  });

  it('counters: one line per series with its value', async () => {
    const reference = new Registry();
    const ours = new Registry();
    const theirs = new Counter({ name: 'x_total', help: 'Things.', labelNames: ['provider', 'outcome'], registers: [reference] });
    const bound = new BoundCounter({ name: 'x_total', help: 'Things.', labelNames: ['provider', 'outcome'], registers: [ours] });
    for (const [values, by] of [[['a', 'ok'], 1], [['b', 'upstream_error'], 3], [['a', 'ok'], 2]] as [string[], number][]) {
      theirs.labels(...values).inc(by);
      bound.labels(...values).inc(by);
    }
    expect(await ours.metrics()).toBe(await reference.metrics());
  });

  it('keeps a series bound once: later updates through the same handle add up', async () => {
    const registry = new Registry();
    const counter = new BoundCounter({ name: 'y_total', help: 'Y.', labelNames: ['k'], registers: [registry] });
    const handle = counter.labels('v');
    handle.inc();
    handle.inc(4);
    counter.labels('v').inc();
    expect(await registry.metrics()).toContain('y_total{k="v"} 6');
  });

  it('ignores a value that is not a finite number instead of corrupting the sum', async () => {
    const registry = new Registry();
    const histogram = new BoundHistogram({ name: 'z_seconds', help: 'Z.', labelNames: ['k'], buckets: [1], registers: [registry] });
    histogram.labels('v').observe(Number.NaN);
    histogram.labels('v').observe(0.5);
    const text = await registry.metrics();
    expect(text).toContain('z_seconds_sum{k="v"} 0.5');
    expect(text).toContain('z_seconds_count{k="v"} 1');
  });
});

/**
 * Loaded into the gateway with `--import` by bench/c1-tail.mjs: records every garbage collection
 * (wall-clock start in ms, duration, V8's kind) and every gap of more than 2.5 ms between the
 * ticks of a 1 ms timer (the event loop held by something else: a SQLite batch, a checkpoint, or
 * the machine taking the core away), and on SIGUSR2 writes both, as JSON, to $BENCH_GC_LOG.
 * The timer itself costs the gateway a little: compare runs that all have it.
 */
import { writeFileSync } from 'node:fs';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { setInterval } from 'node:timers';

const GAP_MS = Number(process.env.BENCH_GAP_MS ?? 2.5);
const gcs = [];
const gaps = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcs.push([performance.timeOrigin + entry.startTime, entry.duration, entry.detail?.kind ?? 0]);
}).observe({ entryTypes: ['gc'] });
let last = performance.now();
setInterval(() => {
  const now = performance.now();
  if (now - last > GAP_MS) gaps.push([performance.timeOrigin + last, now - last]);
  last = now;
}, 1).unref();
process.on('SIGUSR2', () => {
  writeFileSync(process.env.BENCH_GC_LOG ?? 'gc-log.json', JSON.stringify({ gcs: gcs.splice(0), gaps: gaps.splice(0) }));
});

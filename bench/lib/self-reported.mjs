/**
 * The gateway's own account of its time, from its request log: for each request of a measured
 * window, `latency_ms` (arrival to answer) minus `upstream_ms` (time waiting on the upstream).
 * This is what the gateway itself adds, without the cross-core wake-ups that the end-to-end
 * figures of this 2-core layout also contain.
 */
import { readFileSync } from 'node:fs';

/** Percentiles (ms) of latency − upstream over log lines whose time falls in [fromMs, toMs]. */
export function selfReportedOverhead(logPath, fromMs, toMs) {
  const overhead = [];
  for (const line of readFileSync(logPath, 'utf8').split('\n')) {
    if (!line.includes('"latency_ms"')) continue;
    let entry;
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    const at = Date.parse(entry.time);
    if (at < fromMs || at > toMs || entry.status !== 200) continue;
    overhead.push(entry.latency_ms - entry.upstream_ms);
  }
  if (overhead.length === 0) return undefined;
  overhead.sort((a, b) => a - b);
  const pick = (q) => overhead[Math.min(overhead.length - 1, Math.floor(overhead.length * q))];
  return { count: overhead.length, p50: pick(0.5), p90: pick(0.9), p99: pick(0.99) };
}

/**
 * Two keys on one gateway, measured in pairs (bench/paired.mjs; `npm run bench -- --governance`):
 * a closed loop of `concurrency` requests whose key switches between `first` and `second` every
 * slice. Each slice gives the gateway's CPU time per request and the requests per second served
 * with its key; every `second` slice is set against the mean of the `first` slices either side of
 * it. Both sides of a pair are seconds apart in one process, so what a shared machine does in the
 * meantime moves them alike, which separate runs minutes apart do not get.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { cpuSecondsOf, median } from './proc.mjs';

/** After a switch, the requests still in flight carry the other key: left out of both slices. */
const SETTLE_MS = 100;

/**
 * Resolves { first, second, slices, pairs, ratio } where first / second hold the medians of their slices
 * ({ rps, cpuUs }) and ratio the second-to-first quartiles of the pairs ({ rps, cpu }: { p25, p50,
 * p75 }); rejects when a request failed.
 */
export async function pairedKeys({ origin, pid, path = '/v1/chat/completions', body, first, second, concurrency = 64, slices = 30, sliceMs = 2000, warmupMs = 4000 }) {
  const headersOf = (secret) => ({ 'content-type': 'application/json', authorization: `Bearer ${secret}`, 'content-length': String(Buffer.byteLength(body)) });
  const headers = { first: headersOf(first), second: headersOf(second) };
  const pool = new Pool(origin, { connections: concurrency, pipelining: 1, keepAliveTimeout: 120_000, headersTimeout: 30_000, bodyTimeout: 30_000 });
  let current = 'first';
  /** The slice being counted (null: between slices); a completion counts for the slice it started in. */
  let counting = null;
  let running = true;
  let failures = 0;
  let firstFailure;
  const worker = async () => {
    while (running) {
      const side = current;
      const slice = counting;
      try {
        const res = await pool.request({ path, method: 'POST', headers: headers[side], body });
        await res.body.dump({ limit: Number.POSITIVE_INFINITY });
        if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
        if (slice !== null && slice === counting && slice.side === side) slice.requests++;
      } catch (err) {
        failures++;
        firstFailure ??= err;
      }
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  const measured = [];
  try {
    // Warm both paths up, alternating as the measurement does.
    const warmupEnd = Date.now() + warmupMs;
    while (Date.now() < warmupEnd) {
      current = current === 'first' ? 'second' : 'first';
      await sleep(500);
    }
    for (let i = 0; i < Math.max(3, slices); i++) {
      current = i % 2 === 0 ? 'first' : 'second';
      counting = null;
      await sleep(SETTLE_MS);
      const slice = { side: current, requests: 0, cpuSeconds: 0, ms: 0 };
      const cpuStart = cpuSecondsOf(pid);
      const start = performance.now();
      counting = slice;
      await sleep(sliceMs);
      counting = null;
      slice.ms = performance.now() - start;
      slice.cpuSeconds = cpuSecondsOf(pid) - cpuStart;
      measured.push(slice);
    }
  } finally {
    running = false;
    await Promise.all(workers);
    await pool.close();
  }
  if (failures > 0) throw new Error(`${failures} requests failed; the first: ${firstFailure?.message}`);

  const rps = (slice) => (slice.requests * 1000) / slice.ms;
  const cpuUs = (slice) => (slice.cpuSeconds * 1e6) / Math.max(1, slice.requests);
  const pairs = [];
  for (let i = 1; i < measured.length - 1; i += 2) {
    const [before, slice, after] = [measured[i - 1], measured[i], measured[i + 1]];
    pairs.push({ rps: rps(slice) / ((rps(before) + rps(after)) / 2), cpu: cpuUs(slice) / ((cpuUs(before) + cpuUs(after)) / 2) });
  }
  const side = (name) => {
    const list = measured.filter((slice) => slice.side === name);
    return { rps: median(list.map(rps)), cpuUs: median(list.map(cpuUs)) };
  };
  return { first: side('first'), second: side('second'), slices: measured.length, pairs: pairs.length, ratio: { rps: quartiles(pairs.map((pair) => pair.rps)), cpu: quartiles(pairs.map((pair) => pair.cpu)) } };
}

function quartiles(list) {
  const sorted = [...list].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.round(q * (sorted.length - 1)))];
  return { p25: at(0.25), p50: median(sorted), p75: at(0.75) };
}

/** "-8.1% [-10.0% .. -6.4%]" for a ratio's quartiles. */
export function ratioText({ p25, p50, p75 }) {
  const percent = (ratio) => `${((ratio - 1) * 100).toFixed(1)}%`;
  return `${percent(p50)} [${percent(p25)} .. ${percent(p75)}]`;
}

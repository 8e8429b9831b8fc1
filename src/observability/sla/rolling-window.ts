/**
 * Request counts and latency histograms over a rolling window: a ring of 60 time slices, each
 * 1/60 of the window. A slice is cleared when the ring comes round to it again, so recording is a
 * few array writes and never allocates; a summary adds up the slices still inside the window
 * (the window covers between 59/60 and 60/60 of its length, depending on where the current slice is).
 */
import { CLIENT_ERROR, SERVER_FAILURE, SUCCESS, type SampleClass } from './classify.js';
import { LATENCY_BUCKETS } from './log-histogram.js';

export const SLICES = 60;

/** Per-slice counters: successes, client errors, server failures, successful streams with a first token. */
const COUNTERS = 4;
const TTFT_COUNT = 3;

export interface WindowSummary {
  successes: number;
  clientErrors: number;
  serverFailures: number;
  /** Total time of successful requests, bucketed (log-histogram.ts). */
  latency: Uint32Array;
  /** Successful streams that reported their first token, and that time, bucketed. */
  ttftCount: number;
  ttft: Uint32Array;
}

export class RollingWindow {
  readonly sliceMs: number;
  /** The slice number (time / sliceMs) each ring position holds; -1 when never used. */
  readonly #epochs = new Float64Array(SLICES).fill(-1);
  readonly #counts = new Uint32Array(SLICES * COUNTERS);
  readonly #latency = new Uint32Array(SLICES * LATENCY_BUCKETS);
  readonly #ttft = new Uint32Array(SLICES * LATENCY_BUCKETS);

  constructor(readonly windowMs: number) {
    this.sliceMs = Math.max(1, Math.ceil(windowMs / SLICES));
  }

  /**
   * Counts a sample at `now` (epoch ms). Latency buckets come from log-histogram.ts's bucketOf,
   * computed once by the caller for every window; `ttftBucket` is -1 when there is no first token.
   */
  record(now: number, sampleClass: SampleClass, latencyBucket: number, ttftBucket: number): void {
    const epoch = Math.floor(now / this.sliceMs);
    const slot = epoch % SLICES;
    if (this.#epochs[slot] !== epoch) this.#reset(slot, epoch);
    const base = slot * COUNTERS;
    if (sampleClass === SUCCESS) {
      this.#counts[base]! += 1;
      this.#latency[slot * LATENCY_BUCKETS + latencyBucket]! += 1;
      if (ttftBucket >= 0) {
        this.#counts[base + TTFT_COUNT]! += 1;
        this.#ttft[slot * LATENCY_BUCKETS + ttftBucket]! += 1;
      }
    } else if (sampleClass === CLIENT_ERROR) {
      this.#counts[base + 1]! += 1;
    } else if (sampleClass === SERVER_FAILURE) {
      this.#counts[base + 2]! += 1;
    }
  }

  summary(now: number): WindowSummary {
    const current = Math.floor(now / this.sliceMs);
    const result: WindowSummary = {
      successes: 0,
      clientErrors: 0,
      serverFailures: 0,
      latency: new Uint32Array(LATENCY_BUCKETS),
      ttftCount: 0,
      ttft: new Uint32Array(LATENCY_BUCKETS),
    };
    for (let slot = 0; slot < SLICES; slot++) {
      const epoch = this.#epochs[slot]!;
      if (epoch < 0 || epoch > current || epoch <= current - SLICES) continue;
      const base = slot * COUNTERS;
      result.successes += this.#counts[base]!;
      result.clientErrors += this.#counts[base + 1]!;
      result.serverFailures += this.#counts[base + 2]!;
      result.ttftCount += this.#counts[base + TTFT_COUNT]!;
      const offset = slot * LATENCY_BUCKETS;
      for (let i = 0; i < LATENCY_BUCKETS; i++) {
        result.latency[i]! += this.#latency[offset + i]!;
        result.ttft[i]! += this.#ttft[offset + i]!;
      }
    }
    return result;
  }

  #reset(slot: number, epoch: number): void {
    this.#epochs[slot] = epoch;
    this.#counts.fill(0, slot * COUNTERS, (slot + 1) * COUNTERS);
    this.#latency.fill(0, slot * LATENCY_BUCKETS, (slot + 1) * LATENCY_BUCKETS);
    this.#ttft.fill(0, slot * LATENCY_BUCKETS, (slot + 1) * LATENCY_BUCKETS);
  }
}

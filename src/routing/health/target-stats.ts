/**
 * Passive health statistics of one routing target (provider + model), fed by every call: calls in
 * flight, a peak-EWMA latency estimate for latency-aware routing, first-byte percentiles for the
 * hedging delay, and windowed request / error counts for GET /v1/providers. Memory is constant:
 * counts live in time buckets, samples in a fixed ring buffer.
 */

/** Buckets per sliding window: old counts leave in steps of a twelfth of the window. */
const WINDOW_BUCKETS = 12;
/** Most recent latency samples kept for percentiles. */
const SAMPLE_CAPACITY = 1024;
/** Fewer first-byte samples than this give no percentile (too noisy to pick a hedging delay). */
const MIN_PERCENTILE_SAMPLES = 20;
/** How long a computed first-byte distribution is reused before it is sorted again. */
const PERCENTILE_CACHE_MS = 1_000;

/**
 * Success / failure counts over a sliding time window, kept in fixed time buckets so memory and
 * work per call stay constant. A count leaves the window between (n-1)/n and n/n of `windowMs`
 * after it was recorded (n = bucket count). Shared by the target statistics and the breaker.
 */
export class SlidingWindowCounter {
  readonly #bucketMs: number;
  readonly #bucketCount: number;
  /** Bucket number (time / bucketMs) each slot currently holds; -Infinity = never used. */
  readonly #slotBucket: Float64Array;
  readonly #slotSuccesses: Float64Array;
  readonly #slotFailures: Float64Array;

  constructor(windowMs: number, bucketCount = WINDOW_BUCKETS) {
    this.#bucketCount = bucketCount;
    // A zero window would divide by zero; a millisecond is the shortest meaningful one.
    this.#bucketMs = Math.max(1, windowMs) / bucketCount;
    this.#slotBucket = new Float64Array(bucketCount).fill(-Infinity);
    this.#slotSuccesses = new Float64Array(bucketCount);
    this.#slotFailures = new Float64Array(bucketCount);
  }

  /** Counts one call at time `now`. */
  record(ok: boolean, now: number): void {
    const bucket = Math.floor(now / this.#bucketMs);
    const slot = this.#slotOf(bucket);
    if (this.#slotBucket[slot] !== bucket) {
      this.#slotBucket[slot] = bucket;
      this.#slotSuccesses[slot] = 0;
      this.#slotFailures[slot] = 0;
    }
    if (ok) this.#slotSuccesses[slot]! += 1;
    else this.#slotFailures[slot]! += 1;
  }

  /** Calls (successes + failures) counted in the window ending at `now`. */
  requests(now: number): number {
    return this.#sum(this.#slotSuccesses, now) + this.#sum(this.#slotFailures, now);
  }

  /** Failures counted in the window ending at `now`. */
  failures(now: number): number {
    return this.#sum(this.#slotFailures, now);
  }

  /** Forgets every count. */
  reset(): void {
    this.#slotBucket.fill(-Infinity);
  }

  #sum(counts: Float64Array, now: number): number {
    const current = Math.floor(now / this.#bucketMs);
    const oldest = current - this.#bucketCount + 1;
    let total = 0;
    for (let slot = 0; slot < this.#bucketCount; slot++) {
      const bucket = this.#slotBucket[slot]!;
      if (bucket >= oldest && bucket <= current) total += counts[slot]!;
    }
    return total;
  }

  #slotOf(bucket: number): number {
    const slot = bucket % this.#bucketCount;
    return slot < 0 ? slot + this.#bucketCount : slot;
  }
}

/** Options of {@link TargetStats}. */
export interface TargetStatsOptions {
  /** Window of the request / error counts and of the percentiles; default 60 s. */
  windowMs?: number;
  /** Time constant of the peak-EWMA latency decay; default 10 s. */
  decayMs?: number;
  /** Monotonic clock in ms; default performance.now. */
  now?: () => number;
}

/** Percentiles of one latency distribution, null when the window holds no sample. */
export interface LatencySummary {
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

/** What GET /v1/providers shows about a target. */
export interface StatsSnapshot {
  windowMs: number;
  requests: number;
  errors: number;
  /** errors / requests in the window; null when there were none. */
  errorRate: number | null;
  inFlight: number;
  /** Peak-EWMA latency; null before the first sample. */
  latencyEstimateMs: number | null;
  latencyMs: LatencySummary;
  firstByteMs: LatencySummary;
  /** The most recent failure, `at` in epoch ms. */
  lastError?: { at: number; message: string };
}

/** Result of one finished call, as given to {@link TargetStats.end}. */
export interface CallResult {
  ok: boolean;
  /** Absent when the call failed before any answer (connection refused): it counts as an error only. */
  latencyMs?: number;
  firstByteMs?: number;
  error?: string;
  /**
   * A failed call's weight on the latency estimate (not on the percentiles): without it a target
   * that fails fast, before answering, would look fast to least-latency routing.
   */
  penaltyMs?: number;
}

/** Passive health statistics of one routing target, updated by every call. */
export class TargetStats {
  readonly #windowMs: number;
  readonly #decayMs: number;
  readonly #now: () => number;
  readonly #counts: SlidingWindowCounter;
  #inFlight = 0;

  #estimate = 0;
  #estimatedAt = 0;
  #hasEstimate = false;

  // Ring buffer of recent samples; NaN marks a value the call did not have.
  readonly #sampleAt = new Float64Array(SAMPLE_CAPACITY);
  readonly #sampleLatency = new Float64Array(SAMPLE_CAPACITY);
  readonly #sampleFirstByte = new Float64Array(SAMPLE_CAPACITY);
  #sampleNext = 0;
  #sampleCount = 0;

  // First-byte times of the window, sorted, reused for PERCENTILE_CACHE_MS.
  readonly #firstByteSorted = new Float64Array(SAMPLE_CAPACITY);
  #firstByteSortedCount = 0;
  #firstByteSortedAt = -Infinity;

  #lastError: { at: number; message: string } | undefined;

  constructor(options: TargetStatsOptions = {}) {
    this.#windowMs = options.windowMs ?? 60_000;
    this.#decayMs = options.decayMs ?? 10_000;
    this.#now = options.now ?? (() => performance.now());
    this.#counts = new SlidingWindowCounter(this.#windowMs);
  }

  /** Calls started and not yet ended or cancelled. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** A call to the target started. */
  begin(): void {
    this.#inFlight++;
  }

  /** A call ended: it leaves the in-flight count and is recorded. */
  end(result: CallResult): void {
    this.#leave();
    const now = this.#now();
    this.#counts.record(result.ok, now);
    if (!result.ok) this.#lastError = { at: Date.now(), message: result.error ?? 'call failed' };
    const { latencyMs, firstByteMs } = result;
    if (latencyMs !== undefined) this.#observeLatency(latencyMs, now);
    else if (!result.ok && result.penaltyMs !== undefined) this.#observeLatency(result.penaltyMs, now);
    if (latencyMs !== undefined || firstByteMs !== undefined) this.#addSample(now, latencyMs ?? NaN, firstByteMs ?? NaN);
  }

  /** A call ended without an outcome worth recording (a hedge it lost, a client that left): it only leaves the in-flight count. */
  cancel(): void {
    this.#leave();
  }

  /**
   * Peak-EWMA latency (Finagle / linkerd style): a sample above the estimate replaces it at once;
   * below it, the estimate decays toward it with time constant decayMs (weight = exp(-elapsed /
   * decayMs)), so a slowdown is seen at once and a recovery gradually. 0 before any sample.
   */
  latencyEstimate(): number {
    return this.#estimate;
  }

  /**
   * The p-th percentile (0..1) of first-byte times in the window, or undefined with fewer than 20
   * samples. The sorted distribution is reused for about a second: this is called on the hot path.
   */
  firstBytePercentile(p: number): number | undefined {
    const now = this.#now();
    if (now - this.#firstByteSortedAt >= PERCENTILE_CACHE_MS) {
      this.#firstByteSortedCount = this.#collectSorted(this.#sampleFirstByte, this.#firstByteSorted, now);
      this.#firstByteSortedAt = now;
    }
    const count = this.#firstByteSortedCount;
    if (count < MIN_PERCENTILE_SAMPLES) return undefined;
    return nearestRank(this.#firstByteSorted, count, p);
  }

  /** Everything GET /v1/providers shows; sorts the window's samples, so not for the hot path. */
  snapshot(): StatsSnapshot {
    const now = this.#now();
    const requests = this.#counts.requests(now);
    const errors = this.#counts.failures(now);
    const scratch = new Float64Array(SAMPLE_CAPACITY);
    const latencyMs = summarize(scratch, this.#collectSorted(this.#sampleLatency, scratch, now));
    const firstByteMs = summarize(scratch, this.#collectSorted(this.#sampleFirstByte, scratch, now));
    const snapshot: StatsSnapshot = {
      windowMs: this.#windowMs,
      requests,
      errors,
      errorRate: requests > 0 ? errors / requests : null,
      inFlight: this.#inFlight,
      latencyEstimateMs: this.#hasEstimate ? this.#estimate : null,
      latencyMs,
      firstByteMs,
    };
    if (this.#lastError) snapshot.lastError = { ...this.#lastError };
    return snapshot;
  }

  #leave(): void {
    // An unbalanced end must not drive the count negative and make the target look idle.
    if (this.#inFlight > 0) this.#inFlight--;
  }

  #observeLatency(latencyMs: number, now: number): void {
    if (!this.#hasEstimate || latencyMs > this.#estimate) {
      this.#estimate = latencyMs;
    } else {
      const weight = Math.exp(-Math.max(0, now - this.#estimatedAt) / this.#decayMs);
      this.#estimate = this.#estimate * weight + latencyMs * (1 - weight);
    }
    this.#hasEstimate = true;
    this.#estimatedAt = now;
  }

  #addSample(now: number, latencyMs: number, firstByteMs: number): void {
    const index = this.#sampleNext;
    this.#sampleAt[index] = now;
    this.#sampleLatency[index] = latencyMs;
    this.#sampleFirstByte[index] = firstByteMs;
    this.#sampleNext = (index + 1) % SAMPLE_CAPACITY;
    if (this.#sampleCount < SAMPLE_CAPACITY) this.#sampleCount++;
  }

  /** Copies the window's present values of `values` into `into`, sorted ascending; returns how many. */
  #collectSorted(values: Float64Array, into: Float64Array, now: number): number {
    const since = now - this.#windowMs;
    let count = 0;
    for (let i = 0; i < this.#sampleCount; i++) {
      const value = values[i]!;
      if (this.#sampleAt[i]! > since && !Number.isNaN(value)) into[count++] = value;
    }
    into.subarray(0, count).sort();
    return count;
  }
}

/** Nearest-rank percentile of the first `count` (sorted) values. */
function nearestRank(sorted: Float64Array, count: number, p: number): number {
  const rank = Math.ceil(Math.min(1, Math.max(0, p)) * count);
  return sorted[Math.max(0, rank - 1)]!;
}

function summarize(sorted: Float64Array, count: number): LatencySummary {
  if (count === 0) return { p50: null, p95: null, p99: null };
  return { p50: nearestRank(sorted, count, 0.5), p95: nearestRank(sorted, count, 0.95), p99: nearestRank(sorted, count, 0.99) };
}

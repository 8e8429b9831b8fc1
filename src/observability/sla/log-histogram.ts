/**
 * A fixed log-linear histogram of milliseconds, for percentile estimates over rolling windows
 * (HdrHistogram's layout). Bucket 0 holds [0, 1] ms; above 1 ms each doubling is split into 16
 * equal buckets, up to 2^22 ms (~70 minutes; longer values go to the last bucket). A percentile
 * is reported as its bucket's middle: within 3.2% of the true value. The bucket comes from the
 * float's exponent and top mantissa bits, with no Math.log2 on the request path.
 */

/** Buckets per doubling (4 mantissa bits). */
const PER_OCTAVE = 16;
const OCTAVES = 22;
export const LATENCY_BUCKETS = 1 + PER_OCTAVE * OCTAVES;

const float = new Float64Array(1);
/** The float's high 32 bits: sign, 11 exponent bits, the top 20 mantissa bits (little-endian, as every Node platform). */
const words = new Uint32Array(float.buffer);

export function bucketOf(ms: number): number {
  if (!(ms > 1)) return 0; // NaN and negatives too
  if (ms >= 2 ** OCTAVES) return LATENCY_BUCKETS - 1;
  float[0] = ms;
  const high = words[1]!;
  const exponent = (high >>> 20) - 1023;
  return 1 + exponent * PER_OCTAVE + ((high >>> 16) & (PER_OCTAVE - 1));
}

/** The representative value of a bucket: 1 ms for the first, else the middle of its bounds. */
export function bucketValue(index: number): number {
  if (index === 0) return 1;
  const exponent = Math.floor((index - 1) / PER_OCTAVE);
  const sub = (index - 1) % PER_OCTAVE;
  return 2 ** exponent * (1 + (sub + 0.5) / PER_OCTAVE);
}

/**
 * The q-quantile (0 < q ≤ 1) of `count` values spread over `counts` (nearest rank: the value at
 * rank ⌈q·count⌉), or null when there are none.
 */
export function quantile(counts: ArrayLike<number>, count: number, q: number): number | null {
  if (count <= 0) return null;
  const rank = Math.max(1, Math.ceil(q * count));
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i]!;
    if (seen >= rank) return bucketValue(i);
  }
  return bucketValue(counts.length - 1);
}

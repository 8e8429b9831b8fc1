/**
 * Routing strategies: the order in which one model group's targets are tried for a request. The
 * first candidate is tried first, the rest are the failover order. This runs per request, so up to
 * 128 targets a call allocates nothing but the array it returns: sort keys and indices live in
 * module-level scratch buffers (`order` is synchronous, so two calls never interleave), and only
 * strategies whose order depends on per-target numbers sort at all.
 */

/** The strategies a model group can use (`strategy:` in the config). */
export type StrategyName = 'fallback' | 'round-robin' | 'weighted' | 'least-latency' | 'least-busy' | 'cost';

/** What a strategy sees of a target. */
export interface Candidate {
  /** Relative share under `weighted`; > 0, default 1. */
  readonly weight: number;
  /** Calls in flight now, and the peak-EWMA latency in ms (0 = no samples yet). */
  readonly stats: { readonly inFlight: number; latencyEstimate(): number };
  /** USD per 1M tokens; undefined when the price is unknown. */
  readonly price?: { readonly input: number; readonly output: number };
}

/** What the request is expected to cost in tokens (for `cost`). */
export interface RoutingEstimate {
  readonly promptTokens: number;
  readonly maxOutputTokens: number;
}

/** Orders a group's candidates for one request. */
export interface Strategy {
  readonly name: StrategyName;
  /**
   * All candidates, best first: the first is tried first, the rest are the failover order. Never
   * mutates the input. Returns a new array, except `fallback`, which returns the input itself:
   * callers must not mutate the result.
   */
  order<C extends Candidate>(candidates: readonly C[], estimate: RoutingEstimate): readonly C[];
}

/** Options of {@link createStrategy}. */
export interface StrategyOptions {
  /** Uniform in [0, 1), for `weighted` and `least-latency`; default Math.random (tests inject a seeded one). */
  random?: () => number;
}

/** A new strategy; create one per model group, since `round-robin` and `least-busy` keep a position. */
export function createStrategy(name: StrategyName, options: StrategyOptions = {}): Strategy {
  const random = options.random ?? Math.random;
  switch (name) {
    case 'fallback':
      return FALLBACK;
    case 'round-robin':
      return new RoundRobin();
    case 'weighted':
      return new Weighted(random);
    case 'least-latency':
      return new LeastLatency(random);
    case 'least-busy':
      return new LeastBusy();
    case 'cost':
      return new CheapestFirst();
    default:
      throw new Error(`unknown routing strategy: ${String(name satisfies never)}`);
  }
}

/** Above any real latency × load (an hour × a million calls is 3.6e12), and small enough that + inFlight stays exact. */
const UNMEASURED_BUSY_COST = 1e15;

/**
 * The least-latency cost of a target: peak-EWMA latency × (calls in flight + 1), Finagle's load
 * metric. A target with no latency sample yet costs 0 while idle, so it is explored first; once its
 * first calls are in flight it ranks behind every measured target until one answers, so a cold
 * target gets one probe at a time rather than all the traffic (Finagle's "penalty" rule).
 */
function loadCost(stats: Candidate['stats']): number {
  const latency = stats.latencyEstimate();
  const inFlight = stats.inFlight;
  if (latency > 0) return latency * (inFlight + 1);
  return inFlight === 0 ? 0 : UNMEASURED_BUSY_COST + inFlight;
}

/** Config order: the input itself. */
const FALLBACK: Strategy = Object.freeze({
  name: 'fallback' as const,
  order<C extends Candidate>(candidates: readonly C[]): readonly C[] {
    return candidates;
  },
});

/** Each call starts one target further along, the rest follow in config order (wrapping). */
class RoundRobin implements Strategy {
  readonly name = 'round-robin';
  #next = 0;

  order<C extends Candidate>(candidates: readonly C[]): readonly C[] {
    const n = candidates.length;
    if (n <= 1) return candidates.slice();
    // Modulo the current length: stays bounded, and survives a group whose size changed.
    const start = this.#next % n;
    this.#next = start + 1;
    return rotated(candidates, start);
  }
}

/**
 * Weighted random order without replacement: each target draws an exponential "arrival time" with
 * rate = weight and the earliest goes first (Efraimidis–Spirakis with keys -ln(u)/w). The first
 * pick is target i with probability wᵢ / Σw, and every later position is again a weighted pick
 * among the targets left.
 */
class Weighted implements Strategy {
  readonly name = 'weighted';

  readonly #random: () => number;

  constructor(random: () => number) {
    this.#random = random;
  }

  order<C extends Candidate>(candidates: readonly C[]): readonly C[] {
    const n = candidates.length;
    if (n <= 1) return candidates.slice();
    const keys = scratchKeys(n);
    // 1 - u is in (0, 1], so the logarithm is finite.
    for (let i = 0; i < n; i++) keys[i] = -Math.log(1 - this.#random()) / candidates[i]!.weight;
    return sortedByKey(candidates, -1);
  }
}

/**
 * Power of two choices on {@link loadCost}: of two distinct targets drawn at random, the cheaper
 * goes first (randomness keeps a stale estimate from sending everything to one target); the rest
 * follow by ascending cost.
 */
class LeastLatency implements Strategy {
  readonly name = 'least-latency';

  readonly #random: () => number;

  constructor(random: () => number) {
    this.#random = random;
  }

  order<C extends Candidate>(candidates: readonly C[]): readonly C[] {
    const n = candidates.length;
    if (n <= 1) return candidates.slice();
    const keys = scratchKeys(n);
    for (let i = 0; i < n; i++) keys[i] = loadCost(candidates[i]!.stats);
    const a = randomIndex(this.#random, n);
    let b = randomIndex(this.#random, n - 1);
    if (b >= a) b++;
    // On a tie the first drawn wins: the draw is random, so ties are shared.
    return sortedByKey(candidates, keys[b]! < keys[a]! ? b : a);
  }
}

/**
 * Fewest calls in flight first. The least busy targets take turns at the front (round-robin among
 * them), so idle targets share the load instead of the first in config order taking it all; every
 * other tie follows in config order from that turn's target, wrapping.
 */
class LeastBusy implements Strategy {
  readonly name = 'least-busy';
  #turn = 0;

  order<C extends Candidate>(candidates: readonly C[]): readonly C[] {
    const n = candidates.length;
    if (n <= 1) return candidates.slice();
    const keys = scratchKeys(n);
    let least = Infinity;
    let leastCount = 0;
    for (let i = 0; i < n; i++) {
      const inFlight = candidates[i]!.stats.inFlight;
      keys[i] = inFlight;
      if (inFlight < least) {
        least = inFlight;
        leastCount = 1;
      } else if (inFlight === least) {
        leastCount++;
      }
    }
    // Modulo the current count: stays bounded as targets get busy or idle.
    const turn = this.#turn % leastCount;
    this.#turn = turn + 1;
    let start = 0;
    for (let seen = 0; start < n; start++) if (keys[start] === least && seen++ === turn) break;
    if (leastCount === n) return rotated(candidates, start);
    // One exact integer per target: calls in flight first, then the position after `start`.
    for (let i = 0; i < n; i++) keys[i] = keys[i]! * n + (i >= start ? i - start : i - start + n);
    return sortedByKey(candidates, -1);
  }
}

/**
 * Cheapest expected cost first: prompt tokens × input price + max output tokens × output price.
 * Targets with an unknown price go after every priced one, in config order; ties keep config
 * order. With no estimate at all (a request routed by name only), targets rank by input + output
 * price per token, rather than all tying at zero.
 */
class CheapestFirst implements Strategy {
  readonly name = 'cost';

  order<C extends Candidate>(candidates: readonly C[], estimate: RoutingEstimate): readonly C[] {
    const n = candidates.length;
    if (n <= 1) return candidates.slice();
    const noEstimate = estimate.promptTokens === 0 && estimate.maxOutputTokens === 0;
    const promptTokens = noEstimate ? 1 : estimate.promptTokens;
    const outputTokens = noEstimate ? 1 : estimate.maxOutputTokens;
    const keys = scratchKeys(n);
    for (let i = 0; i < n; i++) {
      const price = candidates[i]!.price;
      // Prices are per 1M tokens; the common factor does not change the order, so it is left out.
      keys[i] = price === undefined ? Infinity : promptTokens * price.input + outputTokens * price.output;
    }
    return sortedByKey(candidates, -1);
  }
}

/**
 * Up to this many candidates, insertion sort beats Array.prototype.sort (no comparator calls, no
 * temporary arrays: 2-4x at 50 targets); its quadratic moves catch up at about 150-200.
 */
const INSERTION_SORT_MAX = 128;

/** Sort keys by candidate index, filled by the strategy right before {@link sortedByKey}. */
let sortKeys = new Float64Array(64);
/** Candidate indices in sorted order; reused so a call allocates only its result. */
let sortIndices = new Int32Array(64);

function scratchKeys(n: number): Float64Array {
  if (sortKeys.length < n) sortKeys = new Float64Array(Math.max(n, sortKeys.length * 2));
  return sortKeys;
}

/**
 * The candidates in ascending order of their scratch key, ties in config order; `first`
 * (an index, or -1 for none) goes ahead of all.
 */
function sortedByKey<C>(candidates: readonly C[], first: number): C[] {
  const n = candidates.length;
  if (sortIndices.length < n) sortIndices = new Int32Array(Math.max(n, sortIndices.length * 2));
  const count = n > INSERTION_SORT_MAX ? sortLarge(n, first) : insertionSort(n, first);
  const out = new Array<C>(n);
  let k = 0;
  if (first >= 0) out[k++] = candidates[first]!;
  for (let j = 0; j < count; j++) out[k++] = candidates[sortIndices[j]!]!;
  return out;
}

/** Sorts indices 0..n-1 except `first` into `sortIndices`; returns how many. */
function insertionSort(n: number, first: number): number {
  const keys = sortKeys;
  const sorted = sortIndices;
  let count = 0;
  for (let i = 0; i < n; i++) {
    if (i === first) continue;
    const key = keys[i]!;
    let at = count++;
    // Strictly greater only: an equal key stays ahead, which keeps config order on ties.
    while (at > 0 && keys[sorted[at - 1]!]! > key) {
      sorted[at] = sorted[at - 1]!;
      at--;
    }
    sorted[at] = i;
  }
  return count;
}

/** {@link insertionSort} for large groups, where allocating one index array is the lesser cost. */
function sortLarge(n: number, first: number): number {
  const order: number[] = [];
  for (let i = 0; i < n; i++) if (i !== first) order.push(i);
  order.sort(byKey);
  sortIndices.set(order);
  return order.length;
}

/** Ascending key, then config order (`<` / `>` rather than subtraction: keys may be infinite). */
function byKey(a: number, b: number): number {
  const ka = sortKeys[a]!;
  const kb = sortKeys[b]!;
  return ka < kb ? -1 : ka > kb ? 1 : a - b;
}

/** A copy that starts at `start` and wraps around. */
function rotated<C>(candidates: readonly C[], start: number): C[] {
  const n = candidates.length;
  const out = new Array<C>(n);
  let k = 0;
  for (let i = start; i < n; i++) out[k++] = candidates[i]!;
  for (let i = 0; i < start; i++) out[k++] = candidates[i]!;
  return out;
}

/** A uniform index in [0, n), safe against a `random` that returns 1. */
function randomIndex(random: () => number, n: number): number {
  const i = Math.floor(random() * n);
  return i < n ? i : n - 1;
}

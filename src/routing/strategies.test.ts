import { describe, expect, it } from 'vitest';
import { createStrategy, type Candidate, type RoutingEstimate, type StrategyName } from './strategies.js';
import { seeded } from '../../test/helpers/random.js';

interface TestTarget extends Candidate {
  readonly name: string;
}

interface TargetSpec {
  weight?: number;
  inFlight?: number;
  /** Peak-EWMA latency in ms; 0 = no samples yet. */
  latency?: number;
  price?: { input: number; output: number };
}

function target(name: string, spec: TargetSpec = {}): TestTarget {
  const latency = spec.latency ?? 0;
  return { name, weight: spec.weight ?? 1, stats: { inFlight: spec.inFlight ?? 0, latencyEstimate: () => latency }, price: spec.price };
}

function names(candidates: readonly TestTarget[]): string[] {
  return candidates.map((candidate) => candidate.name);
}

/** A `random` that returns exactly these values, in order, and fails the test if asked for more. */
function sequence(...values: number[]): () => number {
  let next = 0;
  return () => {
    if (next >= values.length) throw new Error(`random() called more than ${values.length} times`);
    return values[next++]!;
  };
}

/** Shares within 0.015 of the expected (3 standard deviations at 10,000 calls); the seeded PRNG makes each run identical. */
function expectShare(count: number | undefined, calls: number, expected: number): void {
  expect(Math.abs((count ?? 0) / calls - expected)).toBeLessThan(0.015);
}

const NO_TOKENS: RoutingEstimate = { promptTokens: 0, maxOutputTokens: 0 };
const ALL: StrategyName[] = ['fallback', 'round-robin', 'weighted', 'least-latency', 'least-busy', 'cost'];

describe('every strategy', () => {
  it('returns each candidate exactly once and never mutates its input', () => {
    const random = seeded(7);
    for (const name of ALL) {
      const strategy = createStrategy(name, { random });
      expect(strategy.name).toBe(name);
      for (let round = 0; round < 50; round++) {
        const input = Object.freeze(
          Array.from({ length: 1 + Math.floor(random() * 12) }, (_, i) =>
            target(`t${i}`, {
              weight: 0.5 + random() * 5,
              inFlight: Math.floor(random() * 4),
              latency: random() < 0.2 ? 0 : random() * 3_000,
              price: random() < 0.3 ? undefined : { input: random() * 10, output: random() * 30 },
            }),
          ),
        );
        const before = names(input);
        const ordered = strategy.order(input, { promptTokens: 1_000, maxOutputTokens: 500 });
        expect(names(input)).toEqual(before);
        expect([...names(ordered)].sort()).toEqual([...before].sort());
        if (name !== 'fallback') expect(ordered).not.toBe(input);
      }
    }
  });

  it('orders small and large groups (insertion sort up to 128, Array.prototype.sort above) alike', () => {
    const random = seeded(99);
    const estimate = { promptTokens: 2_000, maxOutputTokens: 300 };
    const expectedCost = (candidate: TestTarget): number => (candidate.price ? 2_000 * candidate.price.input + 300 * candidate.price.output : Infinity);
    for (const size of [7, 128, 129, 300]) {
      // Few distinct prices, so there are many ties to keep in config order.
      const input = Array.from({ length: size }, (_, i) => target(`t${i}`, { price: random() < 0.1 ? undefined : { input: Math.floor(random() * 4), output: Math.floor(random() * 4) } }));
      const reference = input.map((candidate, index) => ({ candidate, index })).sort((x, y) => expectedCost(x.candidate) - expectedCost(y.candidate) || x.index - y.index);
      expect(names(createStrategy('cost').order(input, estimate))).toEqual(names(reference.map((entry) => entry.candidate)));

      // least-latency: draws 0 and 0 sample t0 and t1; the rest by ascending latency × (in flight + 1).
      const loaded = Array.from({ length: size }, (_, i) => target(`t${i}`, { latency: 10 * (1 + Math.floor(random() * 5)), inFlight: Math.floor(random() * 3) }));
      const load = (candidate: TestTarget): number => candidate.stats.latencyEstimate() * (candidate.stats.inFlight + 1);
      const winner = load(loaded[1]!) < load(loaded[0]!) ? loaded[1]! : loaded[0]!;
      const rest = loaded.filter((candidate) => candidate !== winner).sort((x, y) => load(x) - load(y) || loaded.indexOf(x) - loaded.indexOf(y));
      expect(names(createStrategy('least-latency', { random: sequence(0, 0) }).order(loaded, estimate))).toEqual(names([winner, ...rest]));
    }
  });

  it('handles an empty group', () => {
    for (const name of ALL) expect(createStrategy(name).order([], NO_TOKENS)).toEqual([]);
  });
});

describe('fallback', () => {
  it('keeps config order and returns the input itself', () => {
    const input = [target('a', { inFlight: 5 }), target('b'), target('c')];
    expect(createStrategy('fallback').order(input, NO_TOKENS)).toBe(input);
  });
});

describe('round-robin', () => {
  it('starts one further each call, the rest following in config order with wrap-around', () => {
    const strategy = createStrategy('round-robin');
    const input = [target('a'), target('b'), target('c')];
    const orders = Array.from({ length: 4 }, () => names(strategy.order(input, NO_TOKENS)));
    expect(orders).toEqual([
      ['a', 'b', 'c'],
      ['b', 'c', 'a'],
      ['c', 'a', 'b'],
      ['a', 'b', 'c'],
    ]);
  });

  it('keeps rotating when the group shrinks', () => {
    const strategy = createStrategy('round-robin');
    const four = [target('a'), target('b'), target('c'), target('d')];
    strategy.order(four, NO_TOKENS);
    strategy.order(four, NO_TOKENS);
    strategy.order(four, NO_TOKENS);
    const two = [target('x'), target('y')];
    expect(names(strategy.order(two, NO_TOKENS))).toEqual(['y', 'x']);
    expect(names(strategy.order(two, NO_TOKENS))).toEqual(['x', 'y']);
  });
});

describe('weighted', () => {
  const input = [target('a', { weight: 1 }), target('b', { weight: 2 }), target('c', { weight: 3 }), target('d', { weight: 4 })];
  const total = 10;

  it('orders by the drawn keys: with equal draws, heaviest first and ties in config order', () => {
    const strategy = createStrategy('weighted', { random: sequence(0.5, 0.5, 0.5, 0.5, 0.5) });
    const tied = [target('a', { weight: 1 }), target('b', { weight: 3 }), target('c', { weight: 2 }), target('d', { weight: 3 }), target('e', { weight: 1 })];
    expect(names(strategy.order(tied, NO_TOKENS))).toEqual(['b', 'd', 'c', 'a', 'e']);
  });

  it('lets a light target win when its draw is early enough', () => {
    // keys -ln(1-u)/w: a 0.0101/1, b 0.693/2, c 0.693/3, d 0.693/4.
    const strategy = createStrategy('weighted', { random: sequence(0.01, 0.5, 0.5, 0.5) });
    expect(names(strategy.order(input, NO_TOKENS))).toEqual(['a', 'd', 'c', 'b']);
  });

  it('gives each target a first-pick share of weight / total over 10,000 calls', () => {
    const strategy = createStrategy('weighted', { random: seeded(42) });
    const calls = 10_000;
    const first = new Map<string, number>();
    for (let i = 0; i < calls; i++) {
      const name = strategy.order(input, NO_TOKENS)[0]!.name;
      first.set(name, (first.get(name) ?? 0) + 1);
    }
    for (const candidate of input) expectShare(first.get(candidate.name), calls, candidate.weight / total);
  });

  it('biases the failover order by weight too (weighted picks without replacement)', () => {
    const strategy = createStrategy('weighted', { random: seeded(1234) });
    const calls = 10_000;
    const second = new Map<string, number>();
    for (let i = 0; i < calls; i++) {
      const name = strategy.order(input, NO_TOKENS)[1]!.name;
      second.set(name, (second.get(name) ?? 0) + 1);
    }
    for (const candidate of input) {
      // P(second = j) = Σ over first picks i ≠ j of wᵢ/W · wⱼ/(W − wᵢ).
      let expected = 0;
      for (const other of input) if (other !== candidate) expected += (other.weight / total) * (candidate.weight / (total - other.weight));
      expectShare(second.get(candidate.name), calls, expected);
    }
  });
});

describe('least-latency (power of two choices)', () => {
  // Costs (latency × (in flight + 1)): a 100, b 50, c 10, d 200.
  const input = [target('a', { latency: 100 }), target('b', { latency: 25, inFlight: 1 }), target('c', { latency: 10 }), target('d', { latency: 40, inFlight: 4 })];

  it('puts the cheaper of the two sampled first, not the global minimum, then the rest by ascending cost', () => {
    // First draw 0 → a; second draw 0 over the other three → b.
    const strategy = createStrategy('least-latency', { random: sequence(0, 0) });
    expect(names(strategy.order(input, NO_TOKENS))).toEqual(['b', 'c', 'a', 'd']);
  });

  it('samples two distinct candidates', () => {
    // 0.9 × 4 → d; 0.9 × 3 → index 2 of the others, which skips d → d is not drawn twice, c is.
    const strategy = createStrategy('least-latency', { random: sequence(0.9, 0.9) });
    expect(names(strategy.order(input, NO_TOKENS))).toEqual(['c', 'b', 'a', 'd']);
    // With two candidates the pair is always both, so the cheaper always wins.
    const pair = createStrategy('least-latency', { random: seeded(3) });
    for (let i = 0; i < 20; i++) expect(pair.order([input[0]!, input[1]!], NO_TOKENS)[0]!.name).toBe('b');
  });

  it('weighs calls in flight: a fast but busy target loses to a slower idle one', () => {
    const strategy = createStrategy('least-latency', { random: sequence(0, 0) });
    const busyFast = target('busy-fast', { latency: 10, inFlight: 9 });
    const idleSlow = target('idle-slow', { latency: 40 });
    expect(names(strategy.order([busyFast, idleSlow], NO_TOKENS))).toEqual(['idle-slow', 'busy-fast']);
  });

  it('explores a target with no samples yet while it is idle', () => {
    const strategy = createStrategy('least-latency', { random: sequence(0, 0) });
    const measured = target('measured', { latency: 1 });
    const fresh = target('fresh');
    expect(names(strategy.order([measured, fresh], NO_TOKENS))).toEqual(['fresh', 'measured']);
  });

  it('sends an unmeasured target one probe at a time: busy, it ranks behind every measured target', () => {
    const strategy = createStrategy('least-latency', { random: sequence(0, 0, 0, 0) });
    const probing = target('probing', { inFlight: 1 });
    const slow = target('slow', { latency: 60_000, inFlight: 50 });
    expect(names(strategy.order([probing, slow], NO_TOKENS))).toEqual(['slow', 'probing']);
    // Among unmeasured busy targets, the one with fewer calls in flight goes first.
    const probingMore = target('probing-more', { inFlight: 3 });
    expect(names(strategy.order([probingMore, probing], NO_TOKENS))).toEqual(['probing', 'probing-more']);
  });

  it('breaks a cost tie in favour of the first drawn', () => {
    const twins = [target('a', { latency: 50 }), target('b', { latency: 50 }), target('c', { latency: 50 })];
    // 0.5 × 3 → b; 0.9 × 2 → index 1 of the others → c. Failover: the others in config order.
    const strategy = createStrategy('least-latency', { random: sequence(0.5, 0.9) });
    expect(names(strategy.order(twins, NO_TOKENS))).toEqual(['b', 'a', 'c']);
  });
});

describe('least-busy', () => {
  it('puts the fewest calls in flight first', () => {
    const strategy = createStrategy('least-busy');
    const input = [target('a', { inFlight: 3 }), target('b', { inFlight: 1 }), target('c', { inFlight: 2 }), target('d', { inFlight: 0 })];
    expect(names(strategy.order(input, NO_TOKENS))).toEqual(['d', 'b', 'c', 'a']);
  });

  it('rotates among equally idle targets instead of always starting with the first', () => {
    const strategy = createStrategy('least-busy');
    const input = [target('a'), target('b'), target('c')];
    const orders = Array.from({ length: 4 }, () => names(strategy.order(input, NO_TOKENS)));
    expect(orders).toEqual([
      ['a', 'b', 'c'],
      ['b', 'c', 'a'],
      ['c', 'a', 'b'],
      ['a', 'b', 'c'],
    ]);
  });

  it('gives the least busy targets equal turns at the front, busier targets staying behind', () => {
    const strategy = createStrategy('least-busy');
    const input = [target('busy', { inFlight: 2 }), target('x'), target('y'), target('half', { inFlight: 1 })];
    const orders = Array.from({ length: 4 }, () => names(strategy.order(input, NO_TOKENS)));
    expect(orders).toEqual([
      ['x', 'y', 'half', 'busy'],
      ['y', 'x', 'half', 'busy'],
      ['x', 'y', 'half', 'busy'],
      ['y', 'x', 'half', 'busy'],
    ]);
  });
});

describe('cost', () => {
  // USD per 1M tokens.
  const cheapIn = target('cheap-input', { price: { input: 1, output: 20 } });
  const cheapOut = target('cheap-output', { price: { input: 5, output: 2 } });
  const unknownA = target('unknown-a');
  const unknownB = target('unknown-b');

  it('orders by expected cost for the request: prompt-heavy and output-heavy requests flip the order', () => {
    const strategy = createStrategy('cost');
    // 10,000 × 1 + 100 × 20 = 12,000 against 10,000 × 5 + 100 × 2 = 50,200.
    expect(names(strategy.order([cheapOut, cheapIn], { promptTokens: 10_000, maxOutputTokens: 100 }))).toEqual(['cheap-input', 'cheap-output']);
    // 100 × 1 + 4,000 × 20 = 80,100 against 100 × 5 + 4,000 × 2 = 8,500.
    expect(names(strategy.order([cheapIn, cheapOut], { promptTokens: 100, maxOutputTokens: 4_000 }))).toEqual(['cheap-output', 'cheap-input']);
  });

  it('puts unknown prices after every priced target, in config order', () => {
    const strategy = createStrategy('cost');
    const estimate = { promptTokens: 1_000, maxOutputTokens: 1_000 };
    expect(names(strategy.order([unknownB, cheapIn, unknownA, cheapOut], estimate))).toEqual(['cheap-output', 'cheap-input', 'unknown-b', 'unknown-a']);
  });

  it('keeps config order on a tie', () => {
    const strategy = createStrategy('cost');
    const same = { input: 3, output: 15 };
    const input = [target('p', { price: same }), target('q', { price: same }), target('r', { price: { input: 0.1, output: 0.4 } }), target('s', { price: same })];
    expect(names(strategy.order(input, { promptTokens: 500, maxOutputTokens: 500 }))).toEqual(['r', 'p', 'q', 's']);
  });

  it('ranks by price per token when the request carries no token estimate', () => {
    const strategy = createStrategy('cost');
    const a = target('a', { price: { input: 4, output: 3 } });
    const b = target('b', { price: { input: 1, output: 5 } });
    const c = target('c', { price: { input: 3, output: 1 } });
    // c 4, b 6, a 7: neither the input nor the output price alone gives this order.
    expect(names(strategy.order([unknownA, a, b, c], NO_TOKENS))).toEqual(['c', 'b', 'a', 'unknown-a']);
  });
});

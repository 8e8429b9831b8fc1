/**
 * The embedded limiter: one gateway instance's limits in Maps, decided synchronously (the Promise
 * is only the interface's). State that no longer matters is swept at most once per sweep interval,
 * on an acquire, so memory stays bounded by the keys used recently: drained rate levels, expired
 * leases and budget counters past their period.
 */
import {
  DEFAULT_LEASE_TTL_MS,
  DEFAULT_PARALLEL_RETRY_AFTER_MS,
  isActualFor,
  validateRules,
  type Admission,
  type Lease,
  type Limiter,
  type Rule,
  type RuleState,
} from './limiter.js';

export interface MemoryLimiterOptions {
  /** Epoch ms (budget `expiresAt` is epoch ms). Default `Date.now`; tests move it. */
  now?: () => number;
  /** How long an unsettled parallel lease holds its slot. Default 10 minutes. */
  leaseTtlMs?: number;
  /** retryAfterMs of a parallel refusal. Default 1 s. */
  parallelRetryAfterMs?: number;
  /** Least time between two sweeps of idle state. Default 1 minute. */
  sweepIntervalMs?: number;
  /** Receives settle's errors (a foreign or twice-settled lease, a malformed actual amount). Must not throw. */
  onError?: (err: Error) => void;
}

/** A rate rule's state: `level` units in the bucket at time `at`; it drains empty at `idleAt`. */
interface RateCell {
  level: number;
  at: number;
  idleAt: number;
}

interface BudgetCell {
  spent: number;
  expiresAt: number;
}

/**
 * One tag's state: a rule key lives in its tag's namespace, as in Redis. Nested rather than
 * `tag + key` strings so a lookup hashes the caller's key string (hash cached in the string)
 * instead of a fresh concatenation per rule.
 */
class TagState {
  readonly rates = new Map<string, RateCell>();
  /** Per key, lease → expiry. Every lease gets the same TTL, so insertion order is expiry order. */
  readonly leases = new Map<string, Map<MemoryLease, number>>();
  readonly budgets = new Map<string, BudgetCell>();

  get empty(): boolean {
    return this.rates.size === 0 && this.leases.size === 0 && this.budgets.size === 0;
  }
}

class MemoryLease implements Lease {
  settled = false;

  constructor(
    /** Its number among the limiter's leases; `id` is its text, made only when asked for (messages). */
    readonly seq: number,
    readonly owner: MemoryLimiter,
    /** The tag, not its TagState: a sweep may drop the state while the request runs. */
    readonly tag: string,
    readonly rules: Rule[],
  ) {}

  get id(): string {
    return String(this.seq);
  }
}

export class MemoryLimiter implements Limiter {
  private readonly tags = new Map<string, TagState>();
  private readonly now: () => number;
  private readonly leaseTtlMs: number;
  private readonly parallelRetryAfterMs: number;
  private readonly sweepIntervalMs: number;
  private readonly onError: ((err: Error) => void) | undefined;
  private nextSweepAt: number;
  private leaseSeq = 0;

  constructor(options: MemoryLimiterOptions = {}) {
    this.now = options.now ?? Date.now;
    this.leaseTtlMs = options.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
    this.parallelRetryAfterMs = options.parallelRetryAfterMs ?? DEFAULT_PARALLEL_RETRY_AFTER_MS;
    this.sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
    this.onError = options.onError;
    this.nextSweepAt = this.now() + this.sweepIntervalMs;
  }

  /** Entries held, for metrics and tests. */
  get size(): { tags: number; rate: number; parallel: number; budget: number } {
    const size = { tags: this.tags.size, rate: 0, parallel: 0, budget: 0 };
    for (const state of this.tags.values()) {
      size.rate += state.rates.size;
      size.parallel += state.leases.size;
      size.budget += state.budgets.size;
    }
    return size;
  }

  async acquire(tag: string, rules: Rule[]): Promise<Admission> {
    return this.acquireNow(tag, rules);
  }

  /** The whole decision, synchronous: check every rule, then apply every rule only if all admit. */
  acquireNow(tag: string, rules: Rule[]): Admission {
    validateRules(rules);
    const now = this.now();
    if (now >= this.nextSweepAt) this.sweep(now);
    let state = this.tags.get(tag);
    if (!state) this.tags.set(tag, (state = new TagState()));
    const n = rules.length;
    /** Per rule as found: drained rate level, leases in flight, or budget spent. */
    const found = new Array<number>(n);
    let refused = -1;
    let retryAfterMs: number | null = 0;
    for (let i = 0; i < n; i++) {
      const rule = rules[i] as Rule;
      const key = rule.key;
      let wait: number | null = 0;
      if (rule.kind === 'rate') {
        const level = (found[i] = rateLevel(state, rule, now));
        if (rule.amount > rule.limit) wait = null;
        else if (level + rule.amount > rule.limit) wait = Math.ceil(((level + rule.amount - rule.limit) * rule.windowMs) / rule.limit);
      } else if (rule.kind === 'parallel') {
        const held = (found[i] = inFlight(state, key, now));
        if (rule.limit < 1) wait = null;
        else if (held >= rule.limit) wait = this.parallelRetryAfterMs;
      } else {
        const spent = (found[i] = Math.max(spentOf(state, key, now) ?? 0, rule.seed));
        if (rule.amount > rule.limit) wait = null;
        else if (spent + rule.amount > rule.limit) wait = Math.max(1, Math.ceil(rule.expiresAt - now));
      }
      if (wait !== 0) {
        if (refused < 0) refused = i;
        retryAfterMs = wait === null || retryAfterMs === null ? null : Math.max(retryAfterMs, wait);
      }
    }
    if (refused >= 0) return { admitted: false, refused, retryAfterMs, states: statesOf(rules, found, now) };

    const lease = new MemoryLease(++this.leaseSeq, this, tag, rules);
    for (let i = 0; i < n; i++) {
      const rule = rules[i] as Rule;
      if (rule.kind === 'rate') {
        found[i] = setLevel(state, rule, (found[i] as number) + rule.amount, now);
      } else if (rule.kind === 'parallel') {
        let held = state.leases.get(rule.key);
        if (!held) state.leases.set(rule.key, (held = new Map()));
        held.set(lease, now + this.leaseTtlMs);
        found[i] = held.size;
      } else {
        const cell = state.budgets.get(rule.key);
        const spent = (found[i] as number) + rule.amount;
        if (cell && cell.expiresAt > now) cell.spent = spent;
        else state.budgets.set(rule.key, { spent, expiresAt: rule.expiresAt });
        found[i] = spent;
      }
    }
    return { admitted: true, lease, states: statesOf(rules, found, now) };
  }

  async settle(lease: Lease, actual: (number | undefined)[]): Promise<void> {
    try {
      this.settleNow(lease, actual);
    } catch (err) {
      this.report(err);
    }
  }

  private settleNow(lease: Lease, actual: (number | undefined)[]): void {
    if (!(lease instanceof MemoryLease) || lease.owner !== this) throw new Error(`lease ${lease.id} was not issued by this limiter`);
    if (lease.settled) throw new Error(`lease ${lease.id} was settled twice`);
    lease.settled = true;
    const now = this.now();
    const rules = lease.rules;
    let state = this.tags.get(lease.tag);
    if (!state) this.tags.set(lease.tag, (state = new TagState()));
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i] as Rule;
      if (rule.kind === 'parallel') {
        const held = state.leases.get(rule.key);
        if (held?.delete(lease) && held.size === 0) state.leases.delete(rule.key);
        continue;
      }
      const amount = actual[i];
      if (amount === undefined || amount === rule.amount) continue;
      if (!isActualFor(rule, amount)) {
        this.report(new RangeError(`settle of lease ${lease.id}: actual[${i}] = ${amount} is not a valid ${rule.kind} amount; the reservation stands`));
        continue;
      }
      const delta = amount - rule.amount;
      if (rule.kind === 'rate') {
        const level = Math.max(0, rateLevel(state, rule, now) + delta);
        if (level > 0 || state.rates.has(rule.key)) setLevel(state, rule, level, now);
      } else {
        // A counter already dropped belongs to a finished period: the database holds the real spend.
        const cell = state.budgets.get(rule.key);
        if (cell && cell.expiresAt > now) cell.spent += delta;
      }
    }
  }

  async close(): Promise<void> {
    this.tags.clear();
  }

  private sweep(now: number): void {
    this.nextSweepAt = now + this.sweepIntervalMs;
    for (const [tag, state] of this.tags) {
      for (const [key, cell] of state.rates) if (cell.idleAt <= now) state.rates.delete(key);
      for (const [key, cell] of state.budgets) if (cell.expiresAt <= now) state.budgets.delete(key);
      for (const key of state.leases.keys()) if (inFlight(state, key, now) === 0) state.leases.delete(key);
      if (state.empty) this.tags.delete(tag);
    }
  }

  private report(err: unknown): void {
    try {
      this.onError?.(err instanceof Error ? err : new Error(String(err)));
    } catch {
      // A throwing error callback must not make settle throw.
    }
  }
}

type RateRule = Extract<Rule, { kind: 'rate' }>;

/** The rule's level drained to `now`. */
function rateLevel(state: TagState, rule: RateRule, now: number): number {
  const cell = state.rates.get(rule.key);
  if (!cell) return 0;
  return Math.max(0, cell.level - (Math.max(0, now - cell.at) * rule.limit) / rule.windowMs);
}

function setLevel(state: TagState, rule: RateRule, level: number, now: number): number {
  const idleAt = now + (level * rule.windowMs) / rule.limit;
  const cell = state.rates.get(rule.key);
  if (cell) {
    cell.level = level;
    cell.at = now;
    cell.idleAt = idleAt;
  } else {
    state.rates.set(rule.key, { level, at: now, idleAt });
  }
  return level;
}

/** Leases in flight under `key`, after dropping the expired ones (from the front: oldest first). */
function inFlight(state: TagState, key: string, now: number): number {
  const held = state.leases.get(key);
  if (!held) return 0;
  for (const [lease, expiresAt] of held) {
    if (expiresAt > now) break;
    held.delete(lease);
  }
  return held.size;
}

/** The period's spend so far, or undefined when the counter is new (or its period has ended). */
function spentOf(state: TagState, key: string, now: number): number | undefined {
  const cell = state.budgets.get(key);
  return cell && cell.expiresAt > now ? cell.spent : undefined;
}

/** Header states from each rule's level, in-flight count or spend (after the reservation if admitted). */
function statesOf(rules: Rule[], found: number[], now: number): RuleState[] {
  const states = new Array<RuleState>(rules.length);
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i] as Rule;
    const value = found[i] as number;
    if (rule.kind === 'rate') {
      states[i] = { limit: rule.limit, remaining: Math.max(0, Math.floor(rule.limit - value)), resetMs: Math.ceil((value * rule.windowMs) / rule.limit) };
    } else if (rule.kind === 'parallel') {
      states[i] = { limit: rule.limit, remaining: Math.max(0, rule.limit - value), resetMs: 0 };
    } else {
      states[i] = { limit: rule.limit, remaining: Math.max(0, rule.limit - value), resetMs: Math.max(0, Math.ceil(rule.expiresAt - now)) };
    }
  }
  return states;
}

/**
 * Admission limits shared by every level a request belongs to (virtual key, team, org, end user):
 * rates (RPM, TPM, TPD), requests in flight and USD budgets, behind one interface with an
 * in-memory and a Redis backend. A request is admitted only if every rule admits it, and a refused
 * request reserves nothing anywhere. Token and cost amounts are reserved from an estimate before
 * the upstream call and reconciled with the real amount by `settle`.
 *
 * Rates are GCRA with a burst of `limit` per window, kept in its continuous-state form (a level in
 * units plus the time it was measured, draining at limit / windowMs per ms). The usual form, one
 * theoretical arrival time in epoch ms, accumulates float rounding on every increment (an epoch
 * double has ~0.25 µs resolution), which is enough to refuse the N-th of N requests; the level
 * stays exact for whole amounts.
 */

export type Rule =
  /** RPM (amount 1), TPM / TPD (amount = estimated tokens). GCRA with burst = limit per window. */
  | { kind: 'rate'; key: string; limit: number; windowMs: number; amount: number }
  /** Requests in flight: a lease per request, released by settle (or expiring after the lease TTL). */
  | { kind: 'parallel'; key: string; limit: number }
  /**
   * Amounts in integer money units (admission uses micro-USD). The key includes the period (the caller builds it, e.g.
   * `key:k1:daily:2024-05-01`): a settle reconciles the key it reserved under, so a key reused
   * across periods would carry the old period's refund into the new one. `expiresAt` (epoch ms) is
   * when the period's counter may be dropped (a far date for 'total'); `seed` is the spend already
   * recorded for the period: the counter starts from it, and one that has fallen behind it (it did
   * not count while the level had no budget) is raised to it. A refusal waits until `expiresAt`.
   */
  | { kind: 'budget'; key: string; limit: number; amount: number; expiresAt: number; seed: number };

/** For x-ratelimit-* headers. */
export interface RuleState {
  limit: number;
  remaining: number;
  /** Rate: ms until the window is fully replenished. Budget: ms until the period's counter expires. Parallel: 0. */
  resetMs: number;
}

/** Opaque to callers: hand it back to the limiter that issued it. */
export interface Lease {
  readonly id: string;
}

export type Admission =
  /** states[i] describes rules[i] after the reservation. */
  | { admitted: true; lease: Lease; states: RuleState[] }
  | {
      admitted: false;
      /** Index of the first refusing rule. */
      refused: number;
      /** The longest wait among the refusing rules; null when one of them can never pass (amount > limit). */
      retryAfterMs: number | null;
      /** states[i] describes rules[i] as found (nothing was reserved). */
      states: RuleState[];
    };

export interface Limiter {
  /**
   * All-or-nothing over `rules` (keys unique within the call). `tag` groups the request's keys:
   * the Redis backend hash-tags them with it so a cluster can run one script over them, so a given
   * rule key must always be acquired under the same tag (admission uses one for every counter). Rejects with a
   * RangeError for malformed rules and with {@link LimiterUnavailableError} when the backend
   * cannot answer.
   */
  acquire(tag: string, rules: Rule[]): Promise<Admission>;
  /**
   * Reconciles: actual[i] replaces rules[i].amount for rate / budget rules (refund or extra charge;
   * a rate rule may end over its limit, which only delays later requests; undefined keeps the
   * reservation) and releases parallel leases. Exactly once per admitted lease; never throws
   * (errors go to the onError callback given at construction).
   */
  settle(lease: Lease, actual: (number | undefined)[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * The backend could not decide (Redis unreachable, timed out or failing): not a limit refusal, so
 * the caller answers 503, not 429. FallbackLimiter turns it into local admission under the 'open'
 * policy.
 */
export class LimiterUnavailableError extends Error {
  override readonly name = 'LimiterUnavailableError';
}

/** How long an unsettled parallel lease holds its slot (a crashed caller's lease frees itself). */
export const DEFAULT_LEASE_TTL_MS = 10 * 60_000;

/**
 * retryAfterMs for a parallel refusal: when a lease frees is unknowable, so this is a polite guess
 * (Retry-After has whole-second resolution anyway).
 */
export const DEFAULT_PARALLEL_RETRY_AFTER_MS = 1_000;

/** Throws a RangeError describing the first malformed rule: a bad rule is a caller bug, never a refusal. */
export function validateRules(rules: readonly Rule[]): void {
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i] as Rule;
    const problem = ruleProblem(rule);
    if (problem) throw new RangeError(`limit rule ${i} (${rule.kind} ${JSON.stringify(rule.key)}): ${problem}`);
    // Quadratic, but a request has a handful of rules and this allocates nothing.
    for (let j = 0; j < i; j++) {
      if ((rules[j] as Rule).key === rule.key) throw new RangeError(`limit rules ${j} and ${i} share the key ${JSON.stringify(rule.key)}`);
    }
  }
}

function ruleProblem(rule: Rule): string | undefined {
  if (typeof rule.key !== 'string' || rule.key === '') return 'key must be a non-empty string';
  switch (rule.kind) {
    case 'rate':
      if (!(rule.limit > 0 && Number.isFinite(rule.limit))) return 'limit must be a positive number';
      if (!(rule.windowMs > 0 && Number.isFinite(rule.windowMs))) return 'windowMs must be a positive number';
      return isAmount(rule.amount) ? undefined : 'amount must be a non-negative number';
    case 'parallel':
      return Number.isSafeInteger(rule.limit) && rule.limit >= 0 ? undefined : 'limit must be a non-negative integer';
    case 'budget':
      if (!isMoney(rule.limit)) return 'limit must be a non-negative integer (integer money units)';
      if (!isMoney(rule.amount)) return 'amount must be a non-negative integer (integer money units)';
      if (!isMoney(rule.seed)) return 'seed must be a non-negative integer (integer money units)';
      return Number.isSafeInteger(rule.expiresAt) ? undefined : 'expiresAt must be an integer epoch ms (a far date for total budgets)';
    default:
      return `unknown kind ${JSON.stringify((rule as { kind: unknown }).kind)}`;
  }
}

/** Whether `actual` may reconcile `rule` (rate: any non-negative number; budget: integer money units). */
export function isActualFor(rule: Rule, actual: number): boolean {
  return rule.kind === 'budget' ? isMoney(actual) : isAmount(actual);
}

function isAmount(value: number): boolean {
  return value >= 0 && Number.isFinite(value);
}

function isMoney(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

/**
 * What happens to admission when the shared limiter (Redis) cannot answer, as a policy:
 * - 'open': the request is decided by this instance's own in-memory limiter instead, so each
 *   instance enforces the full limits on its own share of the traffic (N instances may together
 *   admit up to N times a limit) until Redis is back;
 * - 'closed': acquire rejects with LimiterUnavailableError, which the caller answers with 503.
 * Either way `onFallback` hears about every such request (for a loud metric or log).
 *
 * After a failure, Redis is left alone for `recheckMs` (requests go straight to the policy) so an
 * outage costs each request nothing, not a timeout each. A lease is settled by the limiter that
 * issued it, whichever state Redis is in by then.
 */
import { LimiterUnavailableError, type Admission, type Lease, type Limiter, type Rule } from './limiter.js';

export interface FallbackLimiterOptions {
  policy: 'open' | 'closed';
  /** Called for every acquire the primary could not answer, with why. Must not throw. */
  onFallback?: (err: LimiterUnavailableError) => void;
  /**
   * Called when the primary stops answering (false) and when it answers again (true), once each
   * way: counters kept meanwhile elsewhere, or lost with a restarted Redis, start again from the
   * recorded spend, which is then worth reading afresh. Must not throw.
   */
  onAvailability?: (available: boolean) => void;
  /** After a failure, how long acquires skip the primary before asking it again. Default 1 s. */
  recheckMs?: number;
  /** Milliseconds, for the recheck window. Default `Date.now`. */
  now?: () => number;
}

export class FallbackLimiter implements Limiter {
  private readonly policy: 'open' | 'closed';
  private readonly onFallback: ((err: LimiterUnavailableError) => void) | undefined;
  private readonly onAvailability: ((available: boolean) => void) | undefined;
  private readonly recheckMs: number;
  private readonly now: () => number;
  /** Leases the local limiter issued; every other lease is the primary's. */
  private readonly localLeases = new WeakSet<Lease>();
  private lastFailure: LimiterUnavailableError | undefined;
  private skipPrimaryUntil = 0;

  constructor(
    /** Usually a RedisLimiter: must reject with LimiterUnavailableError when it cannot decide. */
    private readonly primary: Limiter,
    /** Usually a MemoryLimiter. */
    private readonly local: Limiter,
    options: FallbackLimiterOptions,
  ) {
    this.policy = options.policy;
    this.onFallback = options.onFallback;
    this.onAvailability = options.onAvailability;
    this.recheckMs = options.recheckMs ?? 1_000;
    this.now = options.now ?? Date.now;
  }

  async acquire(tag: string, rules: Rule[]): Promise<Admission> {
    let failure = this.lastFailure;
    if (failure === undefined || this.now() >= this.skipPrimaryUntil) {
      try {
        const admission = await this.primary.acquire(tag, rules);
        if (this.lastFailure !== undefined) {
          this.lastFailure = undefined;
          this.availability(true);
        }
        return admission;
      } catch (err) {
        // Malformed rules are the caller's bug, not an outage: no fallback hides them.
        if (!(err instanceof LimiterUnavailableError)) throw err;
        if (this.lastFailure === undefined) this.availability(false);
        failure = this.lastFailure = err;
        this.skipPrimaryUntil = this.now() + this.recheckMs;
      }
    }
    this.notify(failure);
    if (this.policy === 'closed') throw failure;
    const admission = await this.local.acquire(tag, rules);
    if (admission.admitted) this.localLeases.add(admission.lease);
    return admission;
  }

  settle(lease: Lease, actual: (number | undefined)[]): Promise<void> {
    return (this.localLeases.has(lease) ? this.local : this.primary).settle(lease, actual);
  }

  async close(): Promise<void> {
    await Promise.all([this.primary.close(), this.local.close()]);
  }

  private availability(available: boolean): void {
    try {
      this.onAvailability?.(available);
    } catch {
      // A throwing callback must not change the policy's answer.
    }
  }

  private notify(err: LimiterUnavailableError): void {
    try {
      this.onFallback?.(err);
    } catch {
      // A throwing callback must not change the policy's answer.
    }
  }
}

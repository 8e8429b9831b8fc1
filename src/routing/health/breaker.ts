/**
 * Circuit breaker of one routing target: stops sending calls to a target whose recent calls mostly
 * fail, then lets a few probe calls decide when it has recovered.
 *
 * closed → open: over the sliding window, calls >= minimumRequests and failures / calls >=
 * failureRateThreshold. open → half-open: cooldownMs later (checked lazily, no timers).
 * half-open → closed: halfOpenProbes probe calls all succeeded (the window starts afresh).
 * half-open → open: a single failure (a new cooldown starts).
 *
 * Verdicts carry no ticket, so the breaker tells probes from stale calls (acquired before the
 * latest state change) by counting: calls still outstanding when the breaker opened are stale.
 * Every result is counted in the window, but a success in half-open counts as a probe's only once
 * no stale call is outstanding, so a slow call from the closed state cannot close the breaker.
 */
import { SlidingWindowCounter } from './target-stats.js';

/** When a target's breaker opens and how it recovers (config `routing.circuit_breaker`). */
export interface BreakerPolicy {
  /** Share of failed calls (0..1) over the window that opens the breaker. */
  failureRateThreshold: number;
  /** Fewer calls than this in the window never open it (a single failure is not a trend). */
  minimumRequests: number;
  windowMs: number;
  /** How long an open breaker refuses calls before probing. */
  cooldownMs: number;
  /** Probe calls admitted in half-open; all must succeed to close. */
  halfOpenProbes: number;
}

/** The defaults of `routing.circuit_breaker`. */
export const DEFAULT_BREAKER_POLICY: BreakerPolicy = Object.freeze({
  failureRateThreshold: 0.5,
  minimumRequests: 10,
  windowMs: 30_000,
  cooldownMs: 30_000,
  halfOpenProbes: 3,
});

/** closed: calls flow; open: calls refused; half-open: a few probe calls decide. */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** The breaker as the health endpoint shows it; times in epoch ms. */
export interface BreakerSnapshot {
  state: BreakerState;
  /** Failures / calls in the window; null when there were none. */
  failureRate: number | null;
  /** Calls with a verdict in the window. */
  requests: number;
  /** When the breaker last opened (open and half-open only). */
  openedAt?: number;
  /** When an open breaker starts admitting probes. */
  nextProbeAt?: number;
}

/** Options of {@link CircuitBreaker}. */
export interface BreakerOptions {
  /** Monotonic clock in ms; default performance.now. */
  now?: () => number;
  /** Called after every state change. */
  onTransition?: (from: BreakerState, to: BreakerState) => void;
}

/** Per-target circuit breaker; see the module comment for the state machine. */
export class CircuitBreaker {
  readonly #policy: BreakerPolicy;
  readonly #now: () => number;
  readonly #onTransition: ((from: BreakerState, to: BreakerState) => void) | undefined;
  readonly #window: SlidingWindowCounter;
  #state: BreakerState = 'closed';
  /** Monotonic time the breaker last opened. */
  #openedAt = 0;
  /** Calls acquired and not yet reported, whatever state they were acquired in. */
  #outstanding = 0;
  /** Of those, probes of the current half-open period. The rest are stale. */
  #probesOutstanding = 0;
  #probesSucceeded = 0;
  /** Monotonic time of the last failure: a success checks the failure rate only while one is in the window. */
  #lastFailureAt = -Infinity;

  constructor(policy: BreakerPolicy, options: BreakerOptions = {}) {
    this.#policy = policy;
    this.#now = options.now ?? (() => performance.now());
    this.#onTransition = options.onTransition;
    this.#window = new SlidingWindowCounter(policy.windowMs);
  }

  /** The current state; an open breaker past its cooldown turns half-open here. */
  get state(): BreakerState {
    this.#advance();
    return this.#state;
  }

  /**
   * Could a call be sent now? Closed; half-open with a free probe slot; open past its cooldown.
   * No side effects beyond the lazy open → half-open move.
   */
  isAvailable(): boolean {
    this.#advance();
    if (this.#state === 'closed') return true;
    if (this.#state === 'half-open') return this.#probeSlotFree();
    return false;
  }

  /**
   * Takes permission for one call (in half-open, one of halfOpenProbes slots). false when open
   * within the cooldown or half-open with every slot taken. Each true must be followed by exactly
   * one of onSuccess / onFailure / release.
   */
  tryAcquire(): boolean {
    this.#advance();
    if (this.#state === 'open') return false;
    if (this.#state === 'half-open') {
      if (!this.#probeSlotFree()) return false;
      this.#probesOutstanding++;
    }
    this.#outstanding++;
    return true;
  }

  /** An acquired call succeeded. */
  onSuccess(): void {
    this.#advance();
    const now = this.#now();
    this.#window.record(true, now);
    const wasProbe = this.#settle(false);
    if (wasProbe && ++this.#probesSucceeded >= this.#policy.halfOpenProbes) {
      this.#window.reset();
      this.#moveTo('closed');
    } else if (this.#state === 'closed' && now - this.#lastFailureAt < this.#policy.windowMs && this.#shouldTrip(now)) {
      // A success can be the call that brings the window to minimum_requests with the failure
      // rate already past the threshold. Without a failure in the window it cannot: no check.
      this.#open(now);
    }
  }

  /** An acquired call failed in a way that is the target's fault. */
  onFailure(): void {
    this.#advance();
    const now = this.#now();
    this.#window.record(false, now);
    this.#lastFailureAt = now;
    this.#settle(true);
    if (this.#state === 'half-open') {
      // Any failure while probing reopens, even one that may be stale: erring toward caution
      // costs one more cooldown, erring the other way sends traffic to a failing target.
      this.#open(now);
    } else if (this.#state === 'closed' && this.#shouldTrip(now)) {
      this.#open(now);
    }
  }

  /** The call ended without a verdict (the client left, a hedged loser was cancelled): frees a half-open slot, counts nothing. */
  release(): void {
    this.#advance();
    this.#settle(true);
  }

  /** Summary for the health endpoint, times in epoch ms. */
  snapshot(): BreakerSnapshot {
    this.#advance();
    const now = this.#now();
    const requests = this.#window.requests(now);
    const snapshot: BreakerSnapshot = {
      state: this.#state,
      failureRate: requests > 0 ? this.#window.failures(now) / requests : null,
      requests,
    };
    if (this.#state !== 'closed') {
      const toEpoch = Date.now() - now;
      snapshot.openedAt = Math.round(this.#openedAt + toEpoch);
      if (this.#state === 'open') snapshot.nextProbeAt = Math.round(this.#openedAt + this.#policy.cooldownMs + toEpoch);
    }
    return snapshot;
  }

  #probeSlotFree(): boolean {
    return this.#probesSucceeded + this.#probesOutstanding < this.#policy.halfOpenProbes;
  }

  /**
   * One outstanding call reported. Returns whether it is taken as a probe of the current half-open
   * period. `probeFirst` decides the ambiguous case (probes and stale calls both outstanding):
   * failures and releases free a probe slot, successes are taken as stale (so they cannot close).
   */
  #settle(probeFirst: boolean): boolean {
    if (this.#outstanding > 0) this.#outstanding--;
    if (this.#state !== 'half-open' || this.#probesOutstanding === 0) return false;
    const staleOutstanding = this.#outstanding + 1 - this.#probesOutstanding;
    if (!probeFirst && staleOutstanding > 0) return false;
    this.#probesOutstanding--;
    return true;
  }

  #shouldTrip(now: number): boolean {
    const requests = this.#window.requests(now);
    return requests >= this.#policy.minimumRequests && this.#window.failures(now) / requests >= this.#policy.failureRateThreshold;
  }

  #open(now: number): void {
    this.#openedAt = now;
    this.#probesOutstanding = 0;
    this.#probesSucceeded = 0;
    this.#moveTo('open');
  }

  /** The lazy open → half-open move once the cooldown passed. */
  #advance(): void {
    if (this.#state === 'open' && this.#now() - this.#openedAt >= this.#policy.cooldownMs) {
      this.#probesOutstanding = 0;
      this.#probesSucceeded = 0;
      this.#moveTo('half-open');
    }
  }

  #moveTo(next: BreakerState): void {
    const previous = this.#state;
    this.#state = next;
    this.#onTransition?.(previous, next);
  }
}

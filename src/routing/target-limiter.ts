/**
 * Per-target backpressure and traffic shaping: a concurrency cap with a bounded FIFO wait queue,
 * and upstream RPM / TPM budgets that keep traffic under the provider's quota. The executor asks
 * before each attempt; when every candidate refuses, the gateway sheds with 503 + Retry-After.
 *
 * Rate budgets are token buckets refilled continuously (budget / 60 000 per ms) that start full,
 * so a full minute's quota may go out in one burst, as the providers' own per-minute windows allow.
 * TPM reserves the caller's estimate (prompt + max output) at admission; the permit's release
 * reconciles it with the tokens actually used.
 *
 * A reservation bigger than the whole TPM budget is admitted once the bucket is full (otherwise it
 * could never run) and charged in full: the bucket goes into debt, and later calls wait until it is
 * repaid, so the average stays under quota even though one call exceeded it.
 */

/** A target's limits; every limit left undefined is unlimited. */
export interface LimiterPolicy {
  /** Most calls in flight at once; undefined = unlimited. */
  maxConcurrency?: number;
  /** Callers allowed to wait for a concurrency slot or rate budget (0 = no queue). */
  maxQueue: number;
  /** How long a caller may wait in the queue. */
  queueTimeoutMs: number;
  /** Requests per minute sent upstream. */
  rpm?: number;
  /** Tokens per minute: the estimate is reserved before the call, reconciled after. */
  tpm?: number;
}

/** One admitted call: release it exactly once with the tokens actually used (undefined keeps the reservation). */
export interface Permit {
  release(actualTokens?: number): void;
}

/** Why admission failed, and when capacity is expected to free (for Retry-After). */
export type Refusal = { reason: 'saturated' | 'queue_full' | 'queue_timeout' | 'rate'; retryAfterMs: number };

/** Clock and timers, injectable so tests control time. */
export interface LimiterOptions {
  /** Milliseconds on a monotonic clock (default `performance.now`). */
  now?: () => number;
  setTimer?: (callback: () => void, delayMs: number) => unknown;
  clearTimer?: (handle: unknown) => void;
  /** Called when a caller that waited in the queue is admitted, with how long it waited (for metrics). */
  onQueueWait?: (ms: number) => void;
}

/** The rejection of `acquire`: carries the refusal the gateway turns into 503 + Retry-After. */
export class LimiterRefusal extends Error {
  override readonly name = 'LimiterRefusal';

  constructor(readonly refusal: Refusal) {
    super(refusal.reason === 'queue_full' ? 'the target is saturated and its wait queue is full' : refusal.reason === 'queue_timeout' ? 'timed out waiting for the target' : `the target refused: ${refusal.reason}`);
  }
}

const MS_PER_MINUTE = 60_000;
/** Retry-After is advertised in whole seconds, and never less than one. */
const MIN_RETRY_AFTER_MS = 1_000;

/** A continuously refilled budget; its level may go negative (debt) after an oversized charge. */
class RateBucket {
  #level: number;
  #updatedAt: number;

  constructor(
    readonly capacity: number,
    now: number,
  ) {
    this.#level = capacity;
    this.#updatedAt = now;
  }

  refill(now: number): void {
    const elapsed = now - this.#updatedAt;
    if (elapsed > 0) this.#level = Math.min(this.capacity, this.#level + (elapsed * this.capacity) / MS_PER_MINUTE);
    this.#updatedAt = now;
  }

  /** Budget `amount` needs to be admitted: all of it, or a full bucket when it exceeds capacity. */
  #needed(amount: number): number {
    return Math.min(amount, this.capacity);
  }

  fits(amount: number): boolean {
    return this.#level >= this.#needed(amount);
  }

  /** Milliseconds until `amount` fits, with `ahead` more spent first by callers queued before it (after refill). */
  msUntilFits(amount: number, ahead = 0): number {
    const deficit = ahead + this.#needed(amount) - this.#level;
    return deficit > 0 ? Math.ceil((deficit * MS_PER_MINUTE) / this.capacity) : 0;
  }

  take(amount: number): void {
    this.#level -= amount;
  }

  giveBack(amount: number): void {
    this.#level = Math.min(this.capacity, this.#level + amount);
  }

  get used(): number {
    return Math.round(this.capacity - this.#level);
  }
}

interface Waiter {
  readonly tokens: number;
  readonly enqueuedAt: number;
  readonly deadline: number;
  readonly resolve: (permit: Permit) => void;
  readonly reject: (error: unknown) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
}

/** Releases its reservation on the first call only. */
class LimiterPermit implements Permit {
  #released = false;

  constructor(
    private readonly finish: (reserved: number, actual: number | undefined) => void,
    private readonly reserved: number,
  ) {}

  release(actualTokens?: number): void {
    if (this.#released) return;
    this.#released = true;
    this.finish(this.reserved, actualTokens);
  }
}

/** Admission control for one routing target (see the module comment). */
export class TargetLimiter {
  readonly #policy: LimiterPolicy;
  readonly #maxConcurrency: number;
  readonly #rpm: RateBucket | undefined;
  readonly #tpm: RateBucket | undefined;
  readonly #now: () => number;
  readonly #setTimer: (callback: () => void, delayMs: number) => unknown;
  readonly #clearTimer: (handle: unknown) => void;
  readonly #onQueueWait: ((ms: number) => void) | undefined;
  readonly #active: boolean;

  #inFlight = 0;
  readonly #queue: Waiter[] = [];
  /** Sum of the queued callers' token estimates, for Retry-After under TPM. */
  #queuedTokens = 0;
  /** One timer for the whole queue, armed only while someone waits. */
  #timer: unknown;
  #timerAt = Infinity;

  constructor(policy: LimiterPolicy, options: LimiterOptions = {}) {
    this.#policy = policy;
    this.#now = options.now ?? (() => performance.now());
    this.#setTimer = options.setTimer ?? defaultSetTimer;
    this.#clearTimer = options.clearTimer ?? defaultClearTimer;
    this.#onQueueWait = options.onQueueWait;
    this.#maxConcurrency = policy.maxConcurrency ?? Infinity;
    const now = this.#now();
    this.#rpm = policy.rpm === undefined ? undefined : new RateBucket(policy.rpm, now);
    this.#tpm = policy.tpm === undefined ? undefined : new RateBucket(policy.tpm, now);
    this.#active = policy.maxConcurrency !== undefined || this.#rpm !== undefined || this.#tpm !== undefined;
  }

  /** Whether limits are configured at all (the executor skips the limiter entirely when not). */
  get active(): boolean {
    return this.#active;
  }

  /** Admits now without waiting, or returns undefined (then `refusal()` says why). Never jumps the queue. */
  tryAcquire(tokens: number): Permit | undefined {
    if (this.#queue.length > 0) {
      // Budget refills continuously: let waiters whose turn has come in first.
      this.#service();
      if (this.#queue.length > 0) return undefined;
    }
    const reserved = sanitize(tokens);
    this.#refill();
    return this.#fits(reserved) ? this.#admit(reserved) : undefined;
  }

  /**
   * Admits, waiting in the FIFO queue up to `queueTimeoutMs` for a concurrency slot or rate budget.
   * Rejects with a `LimiterRefusal` when the queue is full or the wait times out, and with
   * `signal.reason` when `signal` aborts.
   */
  acquire(tokens: number, signal?: AbortSignal): Promise<Permit> {
    if (signal?.aborted) return Promise.reject(signal.reason as unknown);
    const permit = this.tryAcquire(tokens);
    if (permit) return Promise.resolve(permit);
    if (this.#queue.length >= this.#policy.maxQueue) {
      return Promise.reject(new LimiterRefusal({ reason: 'queue_full', retryAfterMs: this.refusal(tokens).retryAfterMs }));
    }
    return new Promise<Permit>((resolve, reject) => {
      const now = this.#now();
      const waiter: Waiter = {
        tokens: sanitize(tokens),
        enqueuedAt: now,
        deadline: now + this.#policy.queueTimeoutMs,
        resolve,
        reject,
        signal,
        onAbort: () => {
          this.#remove(waiter);
          reject(signal?.reason);
          this.#service();
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.#queue.push(waiter);
      this.#queuedTokens += waiter.tokens;
      this.#arm(now);
    });
  }

  /**
   * Why `tryAcquire(tokens)` fails now, and when capacity is expected to free, in whole seconds of
   * at least one. A full concurrency cap reports the minimum (when a call ends is unknown); rate
   * budgets report when the bucket will hold this call's share after everyone queued before it.
   */
  refusal(tokens: number): Refusal {
    this.#refill();
    const reserved = sanitize(tokens);
    const queued = this.#queue.length;
    const rateMs = Math.max(this.#rpm?.msUntilFits(1, queued) ?? 0, this.#tpm?.msUntilFits(reserved, this.#queuedTokens) ?? 0);
    const saturated = this.#inFlight >= this.#maxConcurrency;
    // Full slots are the binding limit; otherwise rate budget is (this call's or the queue ahead's).
    // Nothing blocking means capacity freed since the refused tryAcquire: report the minimum.
    const reason = saturated || rateMs === 0 ? 'saturated' : 'rate';
    return { reason, retryAfterMs: Math.max(MIN_RETRY_AFTER_MS, Math.ceil(rateMs / 1_000) * 1_000) };
  }

  /** Current load, for GET /v1/providers and metrics. */
  snapshot(): { inFlight: number; queued: number; maxConcurrency?: number; rpmUsed?: number; tpmUsed?: number } {
    this.#refill();
    return {
      inFlight: this.#inFlight,
      queued: this.#queue.length,
      maxConcurrency: this.#policy.maxConcurrency,
      rpmUsed: this.#rpm?.used,
      tpmUsed: this.#tpm?.used,
    };
  }

  /** Brings the rate buckets up to `now`; reads the clock only when there are buckets. */
  #refill(now?: number): void {
    if (this.#rpm === undefined && this.#tpm === undefined) return;
    now ??= this.#now();
    this.#rpm?.refill(now);
    this.#tpm?.refill(now);
  }

  /** Call after `#refill()`. */
  #fits(tokens: number): boolean {
    return this.#inFlight < this.#maxConcurrency && (this.#rpm?.fits(1) ?? true) && (this.#tpm?.fits(tokens) ?? true);
  }

  #admit(tokens: number): Permit {
    this.#inFlight++;
    this.#rpm?.take(1);
    this.#tpm?.take(tokens);
    return new LimiterPermit(this.#finish, tokens);
  }

  readonly #finish = (reserved: number, actual: number | undefined): void => {
    this.#inFlight--;
    if (this.#tpm && actual !== undefined) {
      const unused = reserved - sanitize(actual);
      if (unused > 0) this.#tpm.giveBack(unused);
      else this.#tpm.take(-unused);
    }
    if (this.#queue.length > 0) this.#service();
  };

  /** Admits waiters from the head while they fit, times out the overdue, then re-arms the timer. */
  #service(): void {
    const now = this.#now();
    this.#refill(now);
    let head: Waiter | undefined;
    while ((head = this.#queue[0]) !== undefined) {
      if (this.#fits(head.tokens)) {
        this.#dequeue(head);
        const permit = this.#admit(head.tokens);
        this.#onQueueWait?.(now - head.enqueuedAt);
        head.resolve(permit);
      } else if (head.deadline <= now) {
        // Deadlines grow along the queue (same timeout, FIFO), so only the head can be overdue first.
        this.#dequeue(head);
        head.reject(new LimiterRefusal({ reason: 'queue_timeout', retryAfterMs: this.refusal(head.tokens).retryAfterMs }));
      } else {
        break;
      }
    }
    this.#arm(now);
  }

  #dequeue(waiter: Waiter): void {
    this.#queue.shift();
    this.#queuedTokens -= waiter.tokens;
    waiter.signal?.removeEventListener('abort', waiter.onAbort);
  }

  #remove(waiter: Waiter): void {
    const index = this.#queue.indexOf(waiter);
    if (index === -1) return;
    this.#queue.splice(index, 1);
    this.#queuedTokens -= waiter.tokens;
  }

  /**
   * Wakes at the head's deadline, or sooner when rate budget for it refills; a head waiting for a
   * concurrency slot is woken by the release instead. No timer while the queue is empty.
   */
  #arm(now: number): void {
    const head = this.#queue[0];
    if (head === undefined) {
      this.#disarm();
      return;
    }
    let wakeAt = head.deadline;
    if (this.#inFlight < this.#maxConcurrency) {
      const rateMs = Math.max(this.#rpm?.msUntilFits(1) ?? 0, this.#tpm?.msUntilFits(head.tokens) ?? 0);
      wakeAt = Math.min(wakeAt, now + rateMs);
    }
    if (this.#timer !== undefined && this.#timerAt === wakeAt) return;
    this.#disarm();
    this.#timerAt = wakeAt;
    this.#timer = this.#setTimer(this.#onTimer, Math.max(0, wakeAt - now));
  }

  #disarm(): void {
    if (this.#timer === undefined) return;
    this.#clearTimer(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    this.#service();
  };
}

/** Token counts are estimates from the caller: anything not a positive finite number counts as 0. */
function sanitize(tokens: number): number {
  return tokens > 0 && Number.isFinite(tokens) ? tokens : 0;
}

function defaultSetTimer(callback: () => void, delayMs: number): unknown {
  // A waiting request keeps its own socket open; the timer alone should not hold the process.
  return setTimeout(callback, delayMs).unref();
}

function defaultClearTimer(handle: unknown): void {
  clearTimeout(handle as ReturnType<typeof setTimeout>);
}

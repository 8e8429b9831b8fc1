/**
 * The attempts of one request that are running at the same time — one, or more while hedging —
 * and their outcomes in the order they finish. A client that leaves aborts them all.
 */
import type { RequestContext } from '../gateway/context.js';
import type { GatewayError } from '../gateway/errors.js';
import type { Attempt } from './attempt.js';

export type Outcome<T> = { kind: 'ok'; attempt: Attempt; value: T } | { kind: 'failed'; attempt: Attempt; error: unknown } | { kind: 'hedge' };

export class Race<T> {
  /** One attempt, or a few while hedging: an array is cheaper than a Set at this size. */
  readonly #running: Attempt[] = [];
  readonly #finished: Outcome<T>[] = [];
  #wake: ((outcome: Outcome<T>) => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** The attempt started last (hedging waits on its first byte). */
  lastStarted: Attempt | undefined;

  constructor(private readonly rc: RequestContext) {
    rc.onClientClose = (reason) => {
      for (const attempt of this.#running) attempt.abort(reason);
      this.#deliver({ kind: 'hedge' });
    };
  }

  get size(): number {
    return this.#running.length;
  }

  add(attempt: Attempt, answer: Promise<T>): void {
    this.#running.push(attempt);
    this.lastStarted = attempt;
    answer.then(
      (value) => this.#deliver({ kind: 'ok', attempt, value }),
      (error: unknown) => this.#deliver({ kind: 'failed', attempt, error: attempt.explain(error) }),
    );
  }

  /** The next attempt to finish; or `hedge` once `hedgeAfterMs` passed first (or the client left): the caller looks at the time. */
  next(hedgeAfterMs?: number): Promise<Outcome<T>> {
    const ready = this.#finished.shift();
    if (ready) return Promise.resolve(this.#settled(ready));
    return new Promise((resolve) => {
      this.#wake = resolve;
      if (hedgeAfterMs !== undefined && hedgeAfterMs !== Infinity) this.#timer = setTimeout(() => this.#deliver({ kind: 'hedge' }), Math.max(0, hedgeAfterMs));
    });
  }

  /** Aborts every running attempt with `reason`; their failures still come back through `next`. */
  abortAll(reason: GatewayError): void {
    for (const attempt of this.#running) attempt.abort(reason);
  }

  /** Cancels every attempt still running (the request has its answer, or is giving up); `each` hears of every one. */
  cancelAll(reason: GatewayError, each?: (attempt: Attempt) => void): void {
    for (const attempt of this.#running) {
      attempt.cancel(reason);
      each?.(attempt);
    }
    this.#running.length = 0;
    this.#finished.length = 0;
  }

  /** Stops listening for the client (the winner's stream takes over, or the request is over). */
  detach(): void {
    clearTimeout(this.#timer);
    this.rc.onClientClose = undefined;
  }

  #deliver(outcome: Outcome<T>): void {
    const wake = this.#wake;
    if (!wake) {
      if (outcome.kind !== 'hedge') this.#finished.push(outcome);
      return;
    }
    this.#wake = undefined;
    clearTimeout(this.#timer);
    wake(this.#settled(outcome));
  }

  #settled(outcome: Outcome<T>): Outcome<T> {
    if (outcome.kind !== 'hedge') {
      const index = this.#running.indexOf(outcome.attempt);
      if (index >= 0) this.#running.splice(index, 1);
    }
    return outcome;
  }
}

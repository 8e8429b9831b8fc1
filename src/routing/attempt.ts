/**
 * One attempt against one target: its abort signal (client gone, timeout, hedge lost), its
 * first-byte and total timeouts, and its bookkeeping on the target — in-flight count, limiter
 * permit, circuit-breaker verdict — each settled exactly once whatever the outcome.
 */
import type { RequestContext } from '../gateway/context.js';
import { GatewayError, isGatewayError } from '../gateway/errors.js';
import type { AttemptSpan } from '../observability/tracing.js';
import { CallAbort } from '../providers/call-signal.js';
import { propagateTrace } from '../providers/trace-context.js';
import type { AttemptContext } from '../providers/types.js';
import type { ModelGroup } from './models.js';
import type { Permit } from './target-limiter.js';
import type { RoutingTarget } from './target.js';

/** How an attempt's failure reflects on its target. */
export function countsAgainstTarget(error: unknown): boolean {
  if (!isGatewayError(error)) return false;
  return error.code === 'upstream_error' || error.code === 'upstream_timeout' || error.code === 'upstream_rate_limited';
}

/** The least a failure weighs on the target's latency estimate (it decays like any sample). */
const FAILURE_PENALTY_MS = 1000;

export class Attempt {
  readonly #controller = new CallAbort();
  readonly #rc: RequestContext;
  readonly target: RoutingTarget;
  readonly group: ModelGroup;
  readonly #permit: Permit | undefined;
  /** Whether the breaker granted this call (false: it was let through as a last resort). */
  readonly #breakerHeld: boolean;
  readonly #startedAt = performance.now();
  readonly #firstByteDeadline: number;
  readonly #totalDeadline: number;
  /** The request's routing deadline: it bounds the attempt until its verdict (a stream's first chunk, an answer). */
  readonly #requestDeadline: RequestDeadline;
  /** Streams: the first byte is the first chunk, not the response headers. */
  readonly #stream: boolean;
  #firstByteMs: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #verdict = false;
  #closed = false;
  /** The attempt's span, when the request is traced; ended with the attempt. */
  readonly #span: AttemptSpan | undefined;
  #error: { code: string; status?: number } | undefined;
  readonly #headersArrived = (): void => {
    if (!this.#stream) this.#gotFirstByte();
  };

  constructor(rc: RequestContext, target: RoutingTarget, options: AttemptOptions) {
    this.#rc = rc;
    this.target = target;
    this.group = options.group;
    this.#stream = options.stream;
    this.#permit = options.permit;
    this.#breakerHeld = options.breakerHeld;
    this.#requestDeadline = options.deadline;
    const { firstByteMs, totalMs } = target.provider.timeouts;
    this.#firstByteDeadline = firstByteMs > 0 ? this.#startedAt + firstByteMs : Infinity;
    this.#totalDeadline = totalMs > 0 ? this.#startedAt + totalMs : Infinity;
    target.stats.begin();
    this.#rearm();
    if (rc.trace) {
      this.#span = rc.trace.startAttempt({ providerId: target.providerId, providerType: target.provider.adapter.type, model: target.model, requestModel: rc.model });
      propagateTrace(this.#controller.signal, this.#span.headers);
    }
  }

  context(): AttemptContext {
    return { upstreamModel: this.target.model, signal: this.#controller.signal, requestId: this.#rc.requestId, firstByte: this.#headersArrived };
  }

  get elapsedMs(): number {
    return performance.now() - this.#startedAt;
  }

  get firstByteArrived(): boolean {
    return this.#firstByteMs !== undefined;
  }

  abort(reason: GatewayError): void {
    this.#controller.abort(reason);
  }

  /** An abort surfaces as its reason (timeout, client gone, hedge lost), not as a bare AbortError. */
  explain(err: unknown): unknown {
    const signal = this.#controller.signal;
    if (signal.aborted && !isGatewayError(err)) return signal.reason;
    return err;
  }

  /** A whole answer arrived: the target served this request, and the attempt is over. */
  answered(): void {
    this.#firstByteMs ??= performance.now() - this.#startedAt;
    this.#decide(true);
    this.close();
  }

  /** A stream's first chunk arrived: the target served this request; the attempt lasts until the stream ends. */
  succeeded(): void {
    this.#gotFirstByte();
    this.#decide(true);
  }

  /** The attempt failed before its answer; the target is blamed when the error is its fault. */
  failed(error: unknown): void {
    // The upstream's own status is known only for the errors passed on with it (4xx, 429); a 502 is the gateway's.
    const passedOn = isGatewayError(error) && (error.code === 'upstream_client_error' || error.code === 'upstream_rate_limited');
    this.#error = isGatewayError(error) ? { code: error.code, status: passedOn ? error.status : undefined } : { code: 'internal_error' };
    if (countsAgainstTarget(error)) this.#decide(false);
    else this.#release();
    this.close(error === undefined ? undefined : error instanceof Error ? error.message : String(error));
  }

  /** The attempt lost a hedge race or the client left: no verdict on the target; the upstream call is aborted. */
  cancel(reason: GatewayError): void {
    this.abort(reason);
    this.#release();
    this.close(undefined, true);
  }

  /** Ends the attempt (a stream at its end): timers stop, the slot is freed, the target's statistics get the sample. */
  close(error?: string, cancelled = false): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#span?.end(this.#spanOutcome(error, cancelled));
    // A failed or cancelled call used (almost) none of the reserved tokens; a served one, what it reported.
    this.#permit?.release(error !== undefined || cancelled ? 0 : this.#rc.usage?.total_tokens);
    const stats = this.target.stats;
    if (cancelled) stats.cancel();
    else if (error === undefined) stats.end({ ok: true, latencyMs: this.#firstByteMs, firstByteMs: this.#firstByteMs });
    // A failure is no latency sample, however fast its error came (an instant 500 must not make
    // the target look quick to least-latency or to the hedge's p95): it counts as the penalty.
    else stats.end({ ok: false, error, penaltyMs: Math.max(FAILURE_PENALTY_MS, 2 * stats.latencyEstimate(), this.elapsedMs) });
  }

  #spanOutcome(error: string | undefined, cancelled: boolean): Parameters<AttemptSpan['end']>[0] {
    // A lost hedge race or a client that left says nothing bad about the upstream: not an error span.
    if (cancelled) return { cancelled: true };
    if (error !== undefined) return { error: { code: this.#error?.code ?? 'upstream_error', message: error, status: this.#error?.status } };
    const usage = this.#rc.usage;
    return { responseModel: this.target.model, usage: usage ? { input_tokens: usage.prompt_tokens, output_tokens: usage.completion_tokens } : undefined, finishReasons: this.#rc.finishReasons };
  }

  // The first byte and the verdict only lift deadlines, so the timer armed for the earliest one is
  // left as it is: if the attempt is still open when it fires, #onTimer arms the next (most
  // attempts close first, and re-arming on each event cost two timer insertions per request).
  #gotFirstByte(): void {
    if (this.#firstByteMs !== undefined) return;
    this.#firstByteMs = performance.now() - this.#startedAt;
  }

  #decide(ok: boolean): void {
    if (this.#verdict) return;
    this.#verdict = true;
    if (!this.#breakerHeld) return;
    if (ok) this.target.breaker?.onSuccess();
    else this.target.breaker?.onFailure();
  }

  #release(): void {
    if (this.#verdict) return;
    this.#verdict = true;
    if (this.#breakerHeld) this.target.breaker?.release();
  }

  /** One timer for whichever deadline comes first: first byte (until it came), the request's (until the verdict), total. */
  #rearm(): void {
    clearTimeout(this.#timer);
    if (this.#closed) return;
    let at = this.#totalDeadline;
    if (this.#firstByteMs === undefined) at = Math.min(at, this.#firstByteDeadline);
    if (!this.#verdict) at = Math.min(at, this.#requestDeadline.at);
    if (at === Infinity) return;
    this.#timer = setTimeout(this.#onTimer, Math.max(0, at - performance.now()));
  }

  readonly #onTimer = (): void => {
    const provider = this.target.providerId;
    const { firstByteMs, totalMs } = this.target.provider.timeouts;
    // Timers may fire a hair early; a millisecond of slack avoids re-arming for nothing.
    const now = performance.now() + 1;
    if (this.#firstByteMs === undefined && now >= this.#firstByteDeadline) {
      const what = this.#stream ? 'send its first chunk' : 'start answering';
      this.abort(new GatewayError('upstream_timeout', `The upstream provider "${provider}" did not ${what} within ${firstByteMs} ms.`, { provider }));
    } else if (!this.#verdict && now >= this.#requestDeadline.at) {
      this.abort(deadlineError(this.#requestDeadline.ms));
    } else if (now >= this.#totalDeadline) {
      this.abort(new GatewayError('upstream_timeout', `The upstream provider "${provider}" did not finish within ${totalMs} ms.`, { provider }));
    } else {
      this.#rearm();
    }
  };
}

/** The request's routing deadline (retry.deadline_ms): when (performance.now() time) and its length for messages. */
export interface RequestDeadline {
  at: number;
  ms: number;
}

export interface AttemptOptions {
  stream: boolean;
  permit?: Permit;
  /** Whether the breaker granted this call (false: let through as a last resort, or no breaker). */
  breakerHeld: boolean;
  deadline: RequestDeadline;
  /** The model group the target was tried for (the one asked for, or a fallback group). */
  group: ModelGroup;
}

export function deadlineError(deadlineMs: number): GatewayError {
  return new GatewayError('upstream_timeout', `No upstream answered within the request's routing deadline of ${deadlineMs} ms (retry.deadline_ms).`);
}

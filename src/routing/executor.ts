/**
 * Executes a request against a model group's targets, in order, moving to the next target on a
 * retryable failure. For streams an attempt counts as failed until its first chunk arrived, so a
 * stream can fail over before anything reached the client, never after.
 *
 * Anthropic Messages requests (`messages`, `messagesStream`, `countTokens`) choose per attempt: a
 * target whose adapter speaks that API natively gets the client's request as it is, any other
 * target the canonical request; failover between the two kinds works like any other.
 */
import type { RequestContext } from '../gateway/context.js';
import { GatewayError, isGatewayError } from '../gateway/errors.js';
import type { ChatCompletion, ChatCompletionChunk, ChatRequest, EmbeddingsRequest, EmbeddingsResponse, Usage } from '../gateway/types.js';
import type { Metrics } from '../observability/metrics.js';
import type { CountTokensRequest, CountTokensResponse } from '../providers/anthropic/api.js';
import type { AttemptContext, NativeMessage, NativeMessagesRequest, NativeStreamEvent } from '../providers/types.js';
import type { ModelGroup, Target } from './models.js';

/** An Anthropic Messages request in both forms: as the client sent it, and (decoded on first use) canonical. */
export interface MessagesCall {
  native: NativeMessagesRequest;
  canonical(): ChatRequest;
}

/** A count_tokens request: the native body, and the estimate for targets that cannot count. */
export interface CountTokensCall {
  native: NativeMessagesRequest<CountTokensRequest>;
  estimate(): number;
}

export type MessagesAnswer = { kind: 'native'; answer: NativeMessage } | { kind: 'canonical'; completion: ChatCompletion };

export type MessagesStream = { kind: 'native'; events: AsyncIterable<NativeStreamEvent> } | { kind: 'canonical'; chunks: AsyncIterable<ChatCompletionChunk> };

export class Executor {
  constructor(private readonly metrics: Metrics) {}

  chat(group: ModelGroup, request: ChatRequest, rc: RequestContext): Promise<ChatCompletion> {
    return this.#run(group, rc, (target, ctx, attempt) => completed(target.provider.adapter.chat(request, ctx), rc, attempt));
  }

  embeddings(group: ModelGroup, request: EmbeddingsRequest, rc: RequestContext): Promise<EmbeddingsResponse> {
    return this.#run(group, rc, async (target, ctx, attempt) => {
      const response = await target.provider.adapter.embeddings(request, ctx);
      attempt.done();
      rc.usage = response.usage ? { prompt_tokens: response.usage.prompt_tokens, completion_tokens: 0, total_tokens: response.usage.total_tokens } : undefined;
      return response;
    });
  }

  /** Resolves with the stream once a target produced its first chunk. */
  chatStream(group: ModelGroup, request: ChatRequest, rc: RequestContext): Promise<AsyncIterable<ChatCompletionChunk>> {
    return this.#run(group, rc, (target, ctx, attempt) => started(target.provider.adapter.chatStream(request, ctx), rc, attempt));
  }

  messages(group: ModelGroup, call: MessagesCall, rc: RequestContext): Promise<MessagesAnswer> {
    return this.#run(group, rc, async (target, ctx, attempt): Promise<MessagesAnswer> => {
      const native = target.provider.adapter.messages;
      if (native) return { kind: 'native', answer: await completed(native.create(call.native, ctx), rc, attempt) };
      return { kind: 'canonical', completion: await completed(target.provider.adapter.chat(call.canonical(), ctx), rc, attempt) };
    });
  }

  /** Like chatStream: resolves once a target produced its first event (native) or chunk (canonical). */
  messagesStream(group: ModelGroup, call: MessagesCall, rc: RequestContext): Promise<MessagesStream> {
    return this.#run(group, rc, async (target, ctx, attempt): Promise<MessagesStream> => {
      const native = target.provider.adapter.messages;
      if (native) return { kind: 'native', events: await started(native.stream(call.native, ctx), rc, attempt) };
      return { kind: 'canonical', chunks: await started(target.provider.adapter.chatStream(call.canonical(), ctx), rc, attempt) };
    });
  }

  /**
   * The upstream's exact count from a target that speaks Anthropic's API; a target reached by
   * failover that does not answers with the estimate (no upstream call).
   */
  countTokens(group: ModelGroup, call: CountTokensCall, rc: RequestContext): Promise<CountTokensResponse> {
    return this.#run(group, rc, async (target, ctx, attempt) => {
      const native = target.provider.adapter.messages;
      const counted = native ? await native.countTokens(call.native, ctx) : { input_tokens: call.estimate() };
      attempt.done();
      return counted;
    });
  }

  async #run<T>(group: ModelGroup, rc: RequestContext, call: (target: Target, ctx: AttemptContext, attempt: Attempt) => Promise<T>): Promise<T> {
    let lastError: unknown;
    for (const target of group.targets) {
      rc.attempts += 1;
      rc.providerId = target.providerId;
      rc.upstreamModel = target.model;
      const attempt = new Attempt(rc, target);
      try {
        const result = await call(target, attempt.context(rc.requestId), attempt);
        this.metrics.upstreamAttempts.inc({ provider: target.providerId, outcome: 'ok' });
        return result;
      } catch (err) {
        attempt.done();
        const error = attempt.explain(err);
        this.metrics.upstreamAttempts.inc({ provider: target.providerId, outcome: isGatewayError(error) ? error.code : 'internal_error' });
        lastError = error;
        if (!isGatewayError(error) || !error.retryable || rc.clientClosed) break;
      }
    }
    throw lastError;
  }
}

/**
 * One attempt's lifetime: an abort signal that fires when the client leaves or a timeout passes,
 * and the time spent waiting on the upstream. One timer serves both timeouts: it is set for the
 * earlier deadline and, if the first byte came in time, re-armed for the total one.
 */
class Attempt {
  readonly #controller = new AbortController();
  readonly #rc: RequestContext;
  readonly #target: Target;
  readonly #startedAt = performance.now();
  readonly #firstByteDeadline: number;
  readonly #totalDeadline: number;
  #gotFirstByte = false;
  #timer: NodeJS.Timeout | undefined;
  #finished = false;
  readonly #abort = (reason: GatewayError): void => this.#controller.abort(reason);
  readonly #firstByte = (): void => {
    this.#gotFirstByte = true;
  };

  constructor(rc: RequestContext, target: Target) {
    this.#rc = rc;
    this.#target = target;
    const { firstByteMs, totalMs } = target.provider.timeouts;
    this.#firstByteDeadline = firstByteMs > 0 ? this.#startedAt + firstByteMs : Infinity;
    this.#totalDeadline = totalMs > 0 ? this.#startedAt + totalMs : Infinity;
    if (rc.clientClosed) this.#abort(rc.clientClosed);
    else rc.onClientClose = this.#abort;
    this.#arm(Math.min(this.#firstByteDeadline, this.#totalDeadline));
  }

  context(requestId: string): AttemptContext {
    return { upstreamModel: this.#target.model, signal: this.#controller.signal, requestId, firstByte: this.#firstByte };
  }

  /** Upstream time so far for a stream (called before handing the stream over). */
  markWaited(ms: number): void {
    this.#rc.upstreamMs += ms;
  }

  /** Ends the attempt: stops the timer, detaches from the client, books upstream time. */
  done(countElapsed = true): void {
    if (this.#finished) return;
    this.#finished = true;
    clearTimeout(this.#timer);
    if (this.#rc.onClientClose === this.#abort) this.#rc.onClientClose = undefined;
    if (countElapsed) this.#rc.upstreamMs += performance.now() - this.#startedAt;
  }

  get elapsedMs(): number {
    return performance.now() - this.#startedAt;
  }

  /** An abort surfaces as its reason (timeout or client gone), not as a bare AbortError. */
  explain(err: unknown): unknown {
    const signal = this.#controller.signal;
    if (signal.aborted && !isGatewayError(err)) return signal.reason;
    return err;
  }

  #arm(deadline: number): void {
    if (deadline === Infinity || this.#finished) return;
    this.#timer = setTimeout(this.#onTimer, Math.max(0, deadline - performance.now()));
  }

  readonly #onTimer = (): void => {
    const provider = this.#target.providerId;
    const { firstByteMs, totalMs } = this.#target.provider.timeouts;
    // Timers may fire a hair early; a millisecond of slack avoids re-arming for nothing.
    const now = performance.now() + 1;
    if (!this.#gotFirstByte && now >= this.#firstByteDeadline) {
      this.#abort(new GatewayError('upstream_timeout', `The upstream provider "${provider}" did not start answering within ${firstByteMs} ms.`, { provider }));
    } else if (now >= this.#totalDeadline) {
      this.#abort(new GatewayError('upstream_timeout', `The upstream provider "${provider}" did not finish within ${totalMs} ms.`, { provider }));
    } else {
      this.#arm(this.#gotFirstByte ? this.#totalDeadline : Math.min(this.#firstByteDeadline, this.#totalDeadline));
    }
  };
}

/** A whole answer arrived: the attempt is over and its usage is the request's. */
async function completed<T extends { usage?: Usage | null }>(answer: Promise<T>, rc: RequestContext, attempt: Attempt): Promise<T> {
  const result = await answer;
  attempt.done();
  rc.usage = result.usage ?? undefined;
  return result;
}

/**
 * A stream counts as started once its first item arrived (until then a failure fails over): that
 * item is read here and the stream handed on from it.
 */
async function started<T extends { usage?: Usage | null }>(stream: Promise<AsyncIterable<T>>, rc: RequestContext, attempt: Attempt): Promise<AsyncGenerator<T>> {
  const iterator = (await stream)[Symbol.asyncIterator]();
  const first = await iterator.next();
  return timedStream(iterator, first, rc, attempt);
}

/**
 * The stream handed to the client: the first chunk (already read) and the rest, booking the time
 * spent waiting on each upstream chunk and the latest usage, and closing the attempt when the
 * stream ends either way. Chunks and native events alike carry `usage` when they have it.
 */
async function* timedStream<T extends { usage?: Usage | null }>(iterator: AsyncIterator<T>, first: IteratorResult<T>, rc: RequestContext, attempt: Attempt): AsyncGenerator<T> {
  attempt.markWaited(attempt.elapsedMs);
  try {
    let result = first;
    while (!result.done) {
      if (result.value.usage) rc.usage = result.value.usage;
      yield result.value;
      const waitStart = performance.now();
      try {
        result = await iterator.next();
      } catch (err) {
        throw attempt.explain(err);
      }
      rc.upstreamMs += performance.now() - waitStart;
    }
  } finally {
    attempt.done(false);
    await iterator.return?.();
  }
}

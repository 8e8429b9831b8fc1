/**
 * Executes a request along its route plan: targets in the plan's order, failing over on a
 * retryable failure at once, then further passes after a backoff (Retry-After honoured) until the
 * retries or the deadline run out. A 4xx the client caused ends the request at once. Optional
 * hedging starts the next target when the running one is slow to answer, and takes whichever
 * answers first. For streams an attempt has answered when its first chunk arrived, so a stream
 * fails over before anything reached the client, never after.
 *
 * Anthropic Messages requests (`messages`, `messagesStream`, `countTokens`) choose per attempt: a
 * target whose adapter speaks that API natively gets the client's request as it is, any other
 * target the canonical request; failover between the two kinds works like any other.
 */
import type { RequestContext } from '../gateway/context.js';
import { GatewayError, isGatewayError } from '../gateway/errors.js';
import type { ChatCompletion, ChatCompletionChunk, ChatRequest, EmbeddingsRequest, EmbeddingsResponse } from '../gateway/types.js';
import type { CountTokensRequest, CountTokensResponse } from '../providers/anthropic/api.js';
import type { AttemptContext, NativeMessage, NativeMessagesRequest, NativeStreamEvent } from '../providers/types.js';
import { Attempt, deadlineError, type RequestDeadline } from './attempt.js';
import { answered, started } from './attempt-results.js';
import { accountableUsage } from '../gateway/usage.js';
import { retryWaitMs } from './backoff.js';
import type { HedgePolicy } from './models.js';
import type { Candidate, RoutePlan } from './plan.js';
import { divertFor, isRefusal, isTranslationRefusal, shed } from './failures.js';
import { Race } from './race.js';
import type { Permit } from './target-limiter.js';
import { LimiterRefusal } from './target-limiter.js';
import type { RoutingTarget } from './target.js';
import type { RoutingEvents } from './events.js';

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

/** A candidate cleared to be called: its limiter permit and whether its breaker granted the call. */
interface Admitted {
  candidate: Candidate;
  permit: Permit | undefined;
  breakerHeld: boolean;
}

type Call<T> = (target: RoutingTarget, ctx: AttemptContext, attempt: Attempt) => Promise<T>;

interface RunOptions<T> {
  stream: boolean;
  /** An answer that is a content-policy refusal (diverted when the group has content-policy fallbacks). */
  refused?: (answer: T) => boolean;
}

const ANSWER: RunOptions<unknown> = { stream: false };
const STREAM: RunOptions<unknown> = { stream: true };
const CHAT_ANSWER: RunOptions<ChatCompletion> = { stream: false, refused: isRefusal };

/** Timers can fire a little early: deadlines and Retry-After times are compared with this slack. */
const RETRY_AT_SLACK_MS = 5;

const HEDGE_LOST = new GatewayError('client_closed_request', 'Another attempt answered first (hedged request).');
const ANSWERED = new GatewayError('client_closed_request', 'The request was answered.');

export class Executor {
  constructor(
    private readonly events: RoutingEvents,
    private readonly random: () => number = Math.random,
  ) {}

  chat(plan: RoutePlan, request: ChatRequest, rc: RequestContext): Promise<ChatCompletion> {
    return this.#run(plan, rc, CHAT_ANSWER, (target, ctx) => answered(target.provider.adapter.chat(request, ctx), rc));
  }

  embeddings(plan: RoutePlan, request: EmbeddingsRequest, rc: RequestContext): Promise<EmbeddingsResponse> {
    return this.#run(plan, rc, ANSWER, async (target, ctx) => {
      const response = await target.provider.adapter.embeddings(request, ctx);
      rc.usage = response.usage ? accountableUsage({ prompt_tokens: response.usage.prompt_tokens, completion_tokens: 0, total_tokens: response.usage.total_tokens }) : undefined;
      return response;
    });
  }

  /** Resolves with the stream once a target produced its first chunk. */
  chatStream(plan: RoutePlan, request: ChatRequest, rc: RequestContext): Promise<AsyncIterable<ChatCompletionChunk>> {
    return this.#run(plan, rc, STREAM, (target, ctx, attempt) => started(target.provider.adapter.chatStream(request, ctx), rc, attempt));
  }

  messages(plan: RoutePlan, call: MessagesCall, rc: RequestContext): Promise<MessagesAnswer> {
    return this.#run(plan, rc, ANSWER, async (target, ctx): Promise<MessagesAnswer> => {
      const native = target.provider.adapter.messages;
      if (native) return { kind: 'native', answer: await answered(native.create(call.native, ctx), rc) };
      return { kind: 'canonical', completion: await answered(target.provider.adapter.chat(call.canonical(), ctx), rc) };
    });
  }

  /** Like chatStream: resolves once a target produced its first event (native) or chunk (canonical). */
  messagesStream(plan: RoutePlan, call: MessagesCall, rc: RequestContext): Promise<MessagesStream> {
    return this.#run(plan, rc, STREAM, async (target, ctx, attempt): Promise<MessagesStream> => {
      const native = target.provider.adapter.messages;
      if (native) return { kind: 'native', events: await started(native.stream(call.native, ctx), rc, attempt) };
      return { kind: 'canonical', chunks: await started(target.provider.adapter.chatStream(call.canonical(), ctx), rc, attempt) };
    });
  }

  /**
   * The upstream's exact count from a target that speaks Anthropic's API; a target reached by
   * failover that does not answers with the estimate (no upstream call).
   */
  countTokens(plan: RoutePlan, call: CountTokensCall, rc: RequestContext): Promise<CountTokensResponse> {
    return this.#run(plan, rc, ANSWER, async (target, ctx) => {
      const native = target.provider.adapter.messages;
      return native ? native.countTokens(call.native, ctx) : { input_tokens: call.estimate() };
    });
  }

  async #run<T>(plan: RoutePlan, rc: RequestContext, options: RunOptions<T>, call: Call<T>): Promise<T> {
    if (rc.clientClosed) throw rc.clientClosed;
    const policy = plan.group.retry;
    const deadline = policy.deadlineMs > 0 ? rc.startedAt + policy.deadlineMs : Infinity;
    const requestDeadline: RequestDeadline = { at: deadline, ms: policy.deadlineMs };
    const race = new Race<T>(rc);
    const waitedSince = performance.now();
    let lastError: unknown;
    /** Targets that asked to be left alone until a time (Retry-After), this request only. */
    let retryAt: Map<RoutingTarget, number> | undefined;
    let eligibleSeen = false;
    let retries = 0;
    /** The first target's refusal to translate the request: the answer if no target takes it. */
    let translationRefusal: GatewayError | undefined;
    /** A content-policy refusal diverted to other groups: the answer if none of them gives one. */
    let refusal: { value: T; target: RoutingTarget } | undefined;
    try {
      for (;;) {
        const pass = plan.pass();
        let saturated: Candidate | undefined;
        let queued = false;
        let exhausted = false;
        let hedgeDue = false;
        let triedThisPass = 0;
        let diverted = false;
        /** A target failed in this pass without asking for a wait (a retry may start at once). */
        let retryableNow = false;
        for (;;) {
          // A billed request's client may have left without aborting it (see closeClient): start nothing new.
          if (rc.clientClosed) throw rc.clientClosed;
          if (performance.now() + RETRY_AT_SLACK_MS >= deadline && !exhausted) {
            // Past the deadline: no new attempts, and the running ones end now.
            exhausted = true;
            race.abortAll(deadlineError(policy.deadlineMs));
          }
          if ((race.size === 0 || hedgeDue) && !exhausted) {
            hedgeDue = false;
            let next = this.#admit(pass, plan, retryAt, (candidate) => {
              eligibleSeen = true;
              saturated ??= candidate;
            });
            if (!next && race.size === 0 && saturated && !queued) {
              // Every candidate is at its limit: wait in the preferred one's queue, or shed.
              queued = true;
              const waited = await this.#queue(saturated, plan, rc, deadline);
              if (!(waited instanceof LimiterRefusal)) next = waited;
              else if (lastError === undefined) {
                this.events.shed(rc, saturated.target);
                throw shed(saturated.target, waited, plan.reservedTokens());
              }
            }
            if (next) {
              eligibleSeen = true;
              this.#start(next, plan, requestDeadline, rc, options, call, race, triedThisPass++ > 0);
            } else {
              exhausted = true;
            }
          }
          if (race.size === 0) break;
          const hedge = exhausted ? undefined : this.#hedgeDelay(plan.group.hedge, race);
          const outcome = await race.next(hedge);
          // The client left: no more attempts. An outcome already taken from the race is settled
          // here (its slot, breaker probe and statistics), and an answer is still returned, so a
          // billed request reads a stream on to its usage and the caller settles it as a 499.
          if (rc.clientClosed && outcome.kind !== 'ok') {
            if (outcome.kind === 'failed') {
              if (outcome.error === rc.clientClosed) outcome.attempt.cancel(rc.clientClosed);
              else outcome.attempt.failed(outcome.error);
            }
            throw rc.clientClosed;
          }
          if (outcome.kind === 'hedge') {
            hedgeDue = hedge !== undefined;
            continue;
          }
          const { attempt } = outcome;
          if (outcome.kind === 'ok') {
            if (options.refused?.(outcome.value) && plan.divert(plan.group.contentPolicyFallbacks)) {
              // A refusal is the target working as designed: no blame, and the next groups get the
              // request; if none of them answers, the refusal is the answer after all.
              refusal = { value: outcome.value, target: attempt.target };
              attempt.failed(undefined);
              this.events.diverted(rc, plan.group, 'content_policy');
              diverted = true;
              break;
            }
            if (options.stream) attempt.succeeded();
            else attempt.answered();
            this.#served(rc, attempt, plan);
            return outcome.value;
          }
          const error = outcome.error;
          if (isTranslationRefusal(error)) {
            // This target's API cannot take the request as it is (n > 1 on Anthropic, an image URL
            // on Bedrock, ...): nothing was sent, so no attempt and no blame, and the next target
            // may take it. Only when none does is the first such refusal the answer.
            attempt.cancel(error);
            rc.attempts -= 1;
            // Nor is the next target a failover, unless a real attempt failed before.
            triedThisPass -= 1;
            translationRefusal ??= error;
            (retryAt ??= new Map()).set(attempt.target, Infinity);
            continue;
          }
          attempt.failed(error);
          this.events.attemptFailed(rc, attempt.target, error, attempt.elapsedMs);
          lastError = error;
          if (isGatewayError(error) && (error.retryAfterMs !== undefined || !error.sameTargetRetryable)) {
            // Leave the target alone for this request until it said it would be ready (or for good).
            (retryAt ??= new Map()).set(attempt.target, error.sameTargetRetryable ? performance.now() + error.retryAfterMs! : Infinity);
          } else {
            retryableNow = true;
          }
          const divert = divertFor(error, plan);
          if (divert) {
            this.events.diverted(rc, plan.group, divert);
            diverted = true;
            break;
          }
          if (!isGatewayError(error) || !error.retryable) throw error;
        }
        race.cancelAll(HEDGE_LOST, race.size > 0 ? this.#cancelled(rc) : undefined);
        if (diverted) continue;
        // No target was tried: past the deadline before the first attempt (a slow upload, a long
        // queue for admission) is the deadline's 504, not "no target could serve this request".
        if (!eligibleSeen) throw performance.now() + RETRY_AT_SLACK_MS >= deadline ? deadlineError(policy.deadlineMs) : plan.nothingEligible();
        if (retries >= policy.maxRetries || lastError === undefined) {
          if (refusal) return this.#refusalAnswer(rc, refusal);
          throw lastError ?? translationRefusal ?? plan.nothingEligible();
        }
        const now = performance.now();
        const wait = retryWaitMs(policy, retries, soonest(retryAt, retryableNow, now), deadline, now, this.random);
        if (wait === undefined) {
          if (refusal) return this.#refusalAnswer(rc, refusal);
          throw lastError;
        }
        retries++;
        this.events.retrying(rc, plan.group, wait);
        await pause(wait, rc);
      }
    } catch (err) {
      // The error names the target tried last (x-switchyard-provider): the fallback group named
      // with it is that target's group, whatever passes and breaker skips came before.
      const tried = race.lastStarted?.group;
      if (tried) rc.fallbackGroup = tried === plan.group ? undefined : tried.name;
      throw err;
    } finally {
      race.detach();
      race.cancelAll(ANSWERED, race.size > 0 ? this.#cancelled(rc) : undefined);
      rc.upstreamMs += performance.now() - waitedSince;
    }
  }

  /**
   * The next candidate that may be called now: its breaker lets the call through (or it is a
   * last resort) and its limiter admits it without waiting. A saturated one is reported and skipped.
   */
  #admit(pass: Generator<Candidate, void, undefined>, plan: RoutePlan, retryAt: Map<RoutingTarget, number> | undefined, onSaturated: (candidate: Candidate) => void): Admitted | undefined {
    for (let step = pass.next(); !step.done; step = pass.next()) {
      const candidate = step.value;
      const { target } = candidate;
      if (retryAt && (retryAt.get(target) ?? 0) > performance.now() + RETRY_AT_SLACK_MS) continue;
      let permit: Permit | undefined;
      if (target.limiter) {
        permit = target.limiter.tryAcquire(plan.reservedTokens());
        if (!permit) {
          onSaturated(candidate);
          continue;
        }
      }
      const breakerHeld = target.breaker ? target.breaker.tryAcquire() : false;
      if (target.breaker && !breakerHeld && !candidate.lastResort) {
        permit?.release(0);
        continue;
      }
      return { candidate, permit, breakerHeld };
    }
    return undefined;
  }

  #start<T>(admitted: Admitted, plan: RoutePlan, deadline: RequestDeadline, rc: RequestContext, options: RunOptions<T>, call: Call<T>, race: Race<T>, failover: boolean): void {
    const { target, group } = admitted.candidate;
    if (race.size > 0) this.events.hedged(rc, group, target);
    else if (failover) this.events.failover(rc, plan.group, group);
    rc.attempts += 1;
    // The target being tried (the one an error names); a hedge's winner is set again when it is served.
    rc.providerId = target.providerId;
    rc.providerType = target.provider.adapter.type;
    rc.upstreamModel = target.model;
    const attempt = new Attempt(rc, target, { stream: options.stream, permit: admitted.permit, breakerHeld: admitted.breakerHeld, deadline, group });
    let answer: Promise<T>;
    try {
      answer = call(target, attempt.context(), attempt);
    } catch (err) {
      answer = Promise.reject(err);
    }
    race.add(attempt, answer);
  }

  /** Waits in a saturated target's queue (bounded by its queue timeout, the deadline and the client). */
  async #queue(candidate: Candidate, plan: RoutePlan, rc: RequestContext, deadline: number): Promise<Admitted | LimiterRefusal> {
    const { target } = candidate;
    const controller = new AbortController();
    // The request's deadline ends the wait as it ends any attempt: a 504, not the queue's 503.
    const timer = deadline === Infinity ? undefined : setTimeout(() => controller.abort(deadlineError(plan.group.retry.deadlineMs)), Math.max(0, deadline - performance.now()));
    const previous = rc.onClientClose;
    rc.onClientClose = (reason) => controller.abort(reason);
    try {
      const permit = await target.limiter!.acquire(plan.reservedTokens(), controller.signal);
      const breakerHeld = target.breaker ? target.breaker.tryAcquire() : false;
      return { candidate, permit, breakerHeld };
    } catch (err) {
      if (rc.clientClosed) throw rc.clientClosed;
      if (err instanceof LimiterRefusal) return err;
      throw err;
    } finally {
      clearTimeout(timer);
      rc.onClientClose = previous;
    }
  }

  #hedgeDelay<T>(hedge: HedgePolicy | undefined, race: Race<T>): number | undefined {
    if (!hedge || race.size === 0 || race.size > hedge.maxExtra) return undefined;
    if (hedge.delayMs !== 'p95') return hedge.delayMs;
    return Math.max(hedge.minDelayMs, race.lastStarted?.target.stats.firstBytePercentile(0.95) ?? 0);
  }

  #refusalAnswer<T>(rc: RequestContext, refusal: { value: T; target: RoutingTarget }): T {
    rc.providerId = refusal.target.providerId;
    rc.upstreamModel = refusal.target.model;
    rc.fallbackGroup = undefined;
    return refusal.value;
  }

  /** Attempts still running when the request ended (hedges that lost): counted, with no blame. */
  #cancelled(rc: RequestContext): (attempt: Attempt) => void {
    return (attempt) => this.events.attemptCancelled(rc, attempt.target);
  }

  #served(rc: RequestContext, attempt: Attempt, plan: RoutePlan): void {
    rc.providerId = attempt.target.providerId;
    rc.providerType = attempt.target.provider.adapter.type;
    rc.upstreamModel = attempt.target.model;
    // The group that answered names the fallback, whatever the way there (a failover, a breaker
    // open or targets excluded, a hedge, a diversion): none when the asked-for group answered,
    // even after a fallback group failed in an earlier pass.
    if (attempt.group === plan.group) rc.fallbackGroup = undefined;
    else if (rc.fallbackGroup !== attempt.group.name) this.events.fellBack(rc, plan.group, attempt.group, rc.fallbackGroup === undefined ? 'skipped' : undefined);
    this.events.served(rc, attempt.target, attempt.elapsedMs);
  }
}

/** When the soonest target may be tried again: now if one failed without asking for a wait. */
function soonest(retryAt: Map<RoutingTarget, number> | undefined, retryableNow: boolean, now: number): number {
  if (retryableNow || !retryAt) return now;
  let min = Infinity;
  for (const at of retryAt.values()) min = Math.min(min, at);
  return min;
}

/** Waits `ms`, or less if the client leaves (which then throws). */
function pause(ms: number, rc: RequestContext): Promise<void> {
  const previous = rc.onClientClose;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      rc.onClientClose = previous;
      resolve();
    }, ms);
    rc.onClientClose = (reason) => {
      clearTimeout(timer);
      reject(reason);
    };
  });
}

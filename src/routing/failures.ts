/**
 * What a failed attempt or a refusing answer means for the rest of a request: a divert to the
 * group's context-window or content-policy fallbacks, or — when every target is at its limit —
 * the 503 that sheds it.
 */
import { GatewayError, isGatewayError } from '../gateway/errors.js';
import type { ChatCompletion } from '../gateway/types.js';
import type { RoutePlan } from './plan.js';
import type { LimiterRefusal } from './target-limiter.js';
import type { RoutingTarget } from './target.js';

/** The error a failure diverts on (context window / content policy), when the plan has somewhere to go. */
export function divertFor(error: unknown, plan: RoutePlan): 'context_window' | 'content_policy' | undefined {
  if (!isGatewayError(error) || error.code !== 'upstream_client_error') return undefined;
  if (isContextWindowError(error) && plan.divert(plan.group.contextWindowFallbacks)) return 'context_window';
  if (isContentPolicyError(error) && plan.divert(plan.group.contentPolicyFallbacks)) return 'content_policy';
  return undefined;
}

/**
 * An adapter's refusal to translate a request for its API: the gateway's own validation passed
 * it, so it is valid OpenAI (or Anthropic), and only this target lacks what it asks for. Adapters
 * raise `invalid_request` before sending anything; an upstream's own 400 is `upstream_client_error`.
 */
export function isTranslationRefusal(error: unknown): error is GatewayError {
  return isGatewayError(error) && error.code === 'invalid_request';
}

const CONTEXT_WINDOW_MESSAGE = /context.length|context window|maximum context|prompt is too long|too many tokens|input is too long|exceeds the maximum number of tokens/i;

export function isContextWindowError(error: GatewayError): boolean {
  return error.upstreamCode === 'context_length_exceeded' || CONTEXT_WINDOW_MESSAGE.test(error.message);
}

export function isContentPolicyError(error: GatewayError): boolean {
  return error.upstreamCode === 'content_filter' || error.upstreamCode === 'content_policy_violation' || /content (management )?polic|content_filter|safety system/i.test(error.message);
}

/** A chat answer whose every choice was stopped by the provider's content filter, with nothing said. */
export function isRefusal(completion: ChatCompletion): boolean {
  const choices = completion.choices;
  if (!choices || choices.length === 0) return false;
  return choices.every((c) => c.finish_reason === 'content_filter' && !c.message?.content && !c.message?.tool_calls?.length);
}


const SHED_REASONS: Record<LimiterRefusal['refusal']['reason'], string> = {
  saturated: 'is at its concurrency limit (max_concurrency)',
  rate: 'is at its configured requests / tokens per minute (rpm / tpm)',
  queue_full: 'and its wait queue is full (max_queue)',
  queue_timeout: 'and no slot came free within queue_timeout_ms',
};

/** 503 for a request no target could take: what limit was hit, and what the queue said. */
export function shed(target: RoutingTarget, refusal: LimiterRefusal, tokens: number): GatewayError {
  const limit = target.limiter!.refusal(tokens);
  const queue = refusal.refusal.reason === 'queue_full' || refusal.refusal.reason === 'queue_timeout' ? ` ${SHED_REASONS[refusal.refusal.reason]}` : '';
  const retryAfterMs = Math.max(refusal.refusal.retryAfterMs, limit.retryAfterMs);
  return new GatewayError('service_unavailable', `The gateway is overloaded: ${target.key} ${SHED_REASONS[limit.reason]}${queue}. Retry after ${Math.ceil(retryAfterMs / 1000)} s.`, {
    retryAfterMs,
    provider: target.providerId,
  });
}

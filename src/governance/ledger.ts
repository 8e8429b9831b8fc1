/**
 * Settling a request's account: what its answer cost, and giving back the part of its reservation
 * it did not use. The request's row (spend rollups, request log) is written by
 * observability/request-recorder.ts.
 */
import type { RequestContext } from '../gateway/context.js';
import { streamedTokens } from '../gateway/streamed-text.js';
import type { Usage } from '../gateway/types.js';
import { costUsd } from './cost.js';
import type { ModelPrice } from '../routing/catalog.js';

export class Ledger {
  constructor(private readonly priceOf: (providerId: string, model: string) => ModelPrice | undefined) {}

  /**
   * What the request's answer cost in USD (remembered on the context): 0 for an answer from the
   * cache or another request's call, or without usage (nothing was produced); null when the
   * model's price is unknown.
   */
  cost(rc: RequestContext): number | null {
    if (rc.costUsd !== undefined) return rc.costUsd;
    let cost: number | null = 0;
    const usage = billedUsage(rc);
    if (usage && rc.providerId !== undefined && rc.upstreamModel !== undefined) {
      cost = costUsd(usage, this.priceOf(rc.providerId, rc.upstreamModel)) ?? null;
    }
    return (rc.costUsd = cost);
  }

  /** At settle: prices the answer and gives back the part of the reservation it did not use. */
  settle(rc: RequestContext): void {
    const cost = this.cost(rc);
    const usage = billedUsage(rc);
    // The limiter never rejects (its errors are reported where it was built).
    if (rc.ticket) void rc.ticket.settle((usage?.prompt_tokens ?? 0) + (usage?.completion_tokens ?? 0), cost ?? 0);
  }
}

/**
 * The usage a request is billed for: the provider's; for a stream cut off before the provider
 * reported it, an estimate from the prompt and the text streamed so far; none for free answers.
 */
export function billedUsage(rc: RequestContext): Usage | undefined {
  if (isFree(rc)) return undefined;
  if (rc.usage || rc.streamedChars === 0) return rc.usage;
  const prompt = rc.estimatePrompt?.() ?? 0;
  const completion = streamedTokens(rc.streamedChars);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** Answers that cost nothing upstream: a cache hit, or a coalesced follower (the leader pays). */
function isFree(rc: RequestContext): boolean {
  return rc.cache === 'HIT' || rc.cache === 'SEMANTIC_HIT' || rc.coalesced === true;
}

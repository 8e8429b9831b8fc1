/**
 * Settling a request's account: what its answer cost, giving back the part of its reservation it
 * did not use, and one lean spend row queued for the database (written in batches off the
 * request path).
 */
import type { RequestContext } from '../gateway/context.js';
import { streamedTokens } from '../gateway/streamed-text.js';
import type { Usage } from '../gateway/types.js';
import { costUsd } from './cost.js';
import type { ModelPrice } from '../routing/catalog.js';
import type { SpendRow } from './types.js';

export interface SpendQueue {
  enqueue(row: SpendRow): void;
}

export class Ledger {
  constructor(
    private readonly priceOf: (providerId: string, model: string) => ModelPrice | undefined,
    private readonly spend: SpendQueue | undefined,
  ) {}

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

  /** At settle: reconciles the reservation and queues the spend row. */
  record(rc: RequestContext, status: number, latencyMs: number): void {
    const cost = this.cost(rc);
    const usage = billedUsage(rc);
    const promptTokens = usage?.prompt_tokens ?? 0;
    const completionTokens = usage?.completion_tokens ?? 0;
    // The limiter never rejects (its errors are reported where it was built).
    if (rc.ticket) void rc.ticket.settle(promptTokens + completionTokens, cost ?? 0);
    if (!this.spend) return;
    const principal = rc.principal;
    this.spend.enqueue({
      request_id: rc.requestId,
      at: Date.now() - Math.round(latencyMs),
      key_id: principal?.key?.id ?? (principal?.master ? 'master' : null),
      team_id: principal?.team?.id ?? null,
      org_id: principal?.org?.id ?? null,
      end_user: rc.endUser ?? null,
      model: rc.model ?? null,
      provider: rc.cache === 'HIT' || rc.cache === 'SEMANTIC_HIT' ? 'cache' : (rc.providerId ?? null),
      upstream_model: rc.upstreamModel ?? null,
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      cost_usd: cost,
      latency_ms: Math.round(latencyMs * 100) / 100,
      status,
      cache: rc.cache ?? null,
      tags: tagsOf(rc),
    });
  }
}

/**
 * The usage a request is billed for: the provider's; for a stream cut off before the provider
 * reported it, an estimate from the prompt and the text streamed so far; none for free answers.
 */
function billedUsage(rc: RequestContext): Usage | undefined {
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

/** `name:value` tags: the key's, team's and org's metadata, then the request's own. */
function tagsOf(rc: RequestContext): string[] {
  const tags: string[] = [];
  const principal = rc.principal;
  for (const metadata of [principal?.org?.metadata, principal?.team?.metadata, principal?.key?.metadata, rc.tags]) {
    if (metadata) for (const name in metadata) tags.push(`${name}:${metadata[name]}`);
  }
  return tags;
}

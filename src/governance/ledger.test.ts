import { describe, expect, it } from 'vitest';
import { createRequestContext, type RequestContext } from '../gateway/context.js';
import type { Usage } from '../gateway/types.js';
import type { ModelPrice } from '../routing/catalog.js';
import { Admitter } from './admission.js';
import type { Ticket } from './ticket.js';
import { billedUsage, Ledger } from './ledger.js';
import { MemoryLimiter } from './limits/memory-limiter.js';
import type { Principal } from './principal.js';
import { keyRecord, orgRecord, teamRecord } from './__fixtures__/records.js';

const NOW = Date.parse('2026-12-06T12:00:00Z');
const org = orgRecord({ metadata: { env: 'prod' } });
const team = teamRecord({ metadata: { cost_center: 'cc-42', tier: 'gold' } });
const key = keyRecord({ metadata: { app: 'search' } });
const member: Principal = { master: false, key, team, org };

/** USD per 1M tokens. */
const PRICES = new Map<string, ModelPrice>([['openai/gpt-4o', { input: 2.5, output: 10, cachedInput: 1.25 }]]);

/** 1000 prompt tokens (400 of them cached) and 200 completion tokens. */
const USAGE: Usage = { prompt_tokens: 1000, completion_tokens: 200, total_tokens: 1200, prompt_tokens_details: { cached_tokens: 400 } };
/** 600 × 2.5 + 400 × 1.25 + 200 × 10 micro-USD. */
const USAGE_COST = 0.004;

interface Books {
  ledger: Ledger;
  lookups: string[];
}

function books(): Books {
  const lookups: string[] = [];
  const priceOf = (providerId: string, model: string): ModelPrice | undefined => {
    lookups.push(`${providerId}/${model}`);
    return PRICES.get(`${providerId}/${model}`);
  };
  return { ledger: new Ledger(priceOf), lookups };
}

/** A request served by openai/gpt-4o for the group `smart`, with its usage. */
function served(extra: Partial<RequestContext> = {}): RequestContext {
  const rc = createRequestContext('req-1', 'chat', 0);
  return Object.assign(rc, { model: 'smart', providerId: 'openai', upstreamModel: 'gpt-4o', usage: USAGE, principal: member, endUser: 'alice' }, extra);
}

describe('Ledger.cost', () => {
  it("prices the usage at the served model's price, cached tokens at the cached price", () => {
    const { ledger, lookups } = books();
    expect(ledger.cost(served())).toBeCloseTo(USAGE_COST, 12);
    expect(lookups).toEqual(['openai/gpt-4o']);
  });

  it.each([
    ['an exact cache hit', { cache: 'HIT' }],
    ['a semantic cache hit', { cache: 'SEMANTIC_HIT' }],
    ['a coalesced follower', { coalesced: true }],
    ['an answer without usage', { usage: undefined }],
  ] as [string, Partial<RequestContext>][])('is 0 for %s', (_what, extra) => {
    const { ledger, lookups } = books();
    expect(ledger.cost(served(extra))).toBe(0);
    expect(lookups).toEqual([]);
  });

  it('bills a stream cut off before its usage from the prompt estimate and the text streamed (4 characters a token)', () => {
    const { ledger } = books();
    const rc = served({ usage: undefined, stream: true, streamedChars: 400, estimatePrompt: () => 1000 });
    // 1000 × 2.5 + 100 × 10 micro-USD.
    expect(ledger.cost(rc)).toBeCloseTo(0.0035, 12);
    expect(billedUsage(rc)).toEqual({ prompt_tokens: 1000, completion_tokens: 100, total_tokens: 1100 });
  });

  it("prefers the provider's usage over the streamed estimate", () => {
    const { ledger } = books();
    expect(ledger.cost(served({ stream: true, streamedChars: 400, estimatePrompt: () => 1 }))).toBeCloseTo(USAGE_COST, 12);
  });

  it('is null when the price is unknown', () => {
    const { ledger } = books();
    expect(ledger.cost(served({ upstreamModel: 'gpt-5-unreleased' }))).toBeNull();
  });

  it('is remembered on the context, null included', () => {
    const { ledger, lookups } = books();
    const rc = served();
    const first = ledger.cost(rc);
    expect(rc.costUsd).toBe(first);
    rc.usage = { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 };
    expect(ledger.cost(rc)).toBe(first);
    const unpriced = served({ upstreamModel: 'gpt-5-unreleased' });
    ledger.cost(unpriced);
    ledger.cost(unpriced);
    expect(lookups).toEqual(['openai/gpt-4o', 'openai/gpt-5-unreleased']);
  });
});

describe('Ledger.settle settles the ticket', () => {
  /**
   * A real admission: 2000 tokens per minute, and a $0.01 daily budget. The request reserves
   * 1000 prompt + 500 output tokens, at most 1000 × 2.5 + 500 × 10 = 7500 micro-USD.
   */
  async function admittedRequest(): Promise<{ admitter: Admitter; rc: RequestContext; ticket: Ticket; errors: Error[] }> {
    const errors: Error[] = [];
    const limiter = new MemoryLimiter({ now: () => NOW, onError: (err) => errors.push(err) });
    const admitter = new Admitter(undefined, limiter, { unpricedModels: 'deny', defaultMaxTokens: 4096, now: () => NOW });
    const principal: Principal = { master: false, key: { ...key, limits: { tpm: 2000 }, budget: { usd: 0.01, period: 'daily' } }, team: undefined, org: undefined };
    const rc = served({ principal });
    const ticket = (await admitter.admit({ principal, endUser: undefined, model: 'smart', direct: false, promptTokens: () => 1000, maxOutputTokens: 500, price: { input: 2.5, output: 10 } }))!;
    expect(ticket.states.map((s) => s.remaining)).toEqual([500, 10_000 - 7500]);
    rc.ticket = ticket;
    return { admitter, rc, ticket, errors };
  }

  /** What is left of the tokens per minute and of the budget after reserving 1 more token at $1 / 1M. */
  async function left(admitter: Admitter, principal: Principal): Promise<number[]> {
    const probe = await admitter.admit({ principal, endUser: undefined, model: 'smart', direct: false, promptTokens: () => 1, maxOutputTokens: 0, price: { input: 1, output: 1 } });
    return probe!.states.map((s) => s.remaining + 1);
  }

  it('with prompt + completion tokens and the cost, once', async () => {
    const { admitter, rc, errors } = await admittedRequest();
    const { ledger } = books();
    ledger.settle(rc);
    ledger.settle(rc);
    // 1200 tokens used of 2000; $0.004 (4000 micro-USD) of $0.01.
    expect(await left(admitter, rc.principal!)).toEqual([800, 6000]);
    expect(errors).toEqual([]);
  });

  it('with nothing used for a cache hit', async () => {
    const { admitter, rc } = await admittedRequest();
    rc.cache = 'HIT';
    books().ledger.settle(rc);
    expect(await left(admitter, rc.principal!)).toEqual([2000, 10_000]);
  });

  it('with the tokens and no cost when the price is unknown', async () => {
    const { admitter, rc } = await admittedRequest();
    rc.upstreamModel = 'gpt-5-unreleased';
    books().ledger.settle(rc);
    expect(await left(admitter, rc.principal!)).toEqual([800, 10_000]);
  });

});

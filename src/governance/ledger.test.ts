import { describe, expect, it } from 'vitest';
import { createRequestContext, type RequestContext } from '../gateway/context.js';
import type { Usage } from '../gateway/types.js';
import type { ModelPrice } from '../routing/catalog.js';
import { Admitter, type Ticket } from './admission.js';
import { Ledger, type SpendQueue } from './ledger.js';
import { MemoryLimiter } from './limits/memory-limiter.js';
import { MASTER, type Principal } from './principal.js';
import type { SpendRow } from './types.js';
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

class Rows implements SpendQueue {
  readonly rows: SpendRow[] = [];
  enqueue(row: SpendRow): void {
    this.rows.push(row);
  }
}

interface Books {
  ledger: Ledger;
  rows: Rows;
  lookups: string[];
}

function books(spend = true): Books {
  const rows = new Rows();
  const lookups: string[] = [];
  const priceOf = (providerId: string, model: string): ModelPrice | undefined => {
    lookups.push(`${providerId}/${model}`);
    return PRICES.get(`${providerId}/${model}`);
  };
  return { ledger: new Ledger(priceOf, spend ? rows : undefined), rows, lookups };
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
    const { ledger, rows } = books();
    const rc = served({ usage: undefined, stream: true, streamedChars: 400, estimatePrompt: () => 1000 });
    // 1000 × 2.5 + 100 × 10 micro-USD.
    expect(ledger.cost(rc)).toBeCloseTo(0.0035, 12);
    ledger.record(rc, 499, 10);
    expect(rows.rows[0]).toMatchObject({ prompt_tokens: 1000, completion_tokens: 100, status: 499 });
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

describe('Ledger.record', () => {
  it('queues one row with every field', () => {
    const { ledger, rows } = books();
    const rc = served({ cache: 'MISS', tags: { feature: 'autocomplete' } });
    const before = Date.now();
    ledger.record(rc, 200, 1234.5678);
    const after = Date.now();
    expect(rows.rows).toHaveLength(1);
    const row = rows.rows[0]!;
    expect(row).toEqual({
      request_id: 'req-1',
      at: row.at,
      key_id: 'k1',
      team_id: 't1',
      org_id: 'o1',
      end_user: 'alice',
      model: 'smart',
      provider: 'openai',
      upstream_model: 'gpt-4o',
      prompt_tokens: 1000,
      completion_tokens: 200,
      cost_usd: rc.costUsd,
      latency_ms: 1234.57,
      status: 200,
      cache: 'MISS',
      tags: ['env:prod', 'cost_center:cc-42', 'tier:gold', 'app:search', 'feature:autocomplete'],
    });
    expect(row.cost_usd).toBeCloseTo(USAGE_COST, 12);
    // When the request arrived: its end less its latency.
    expect(row.at).toBeGreaterThanOrEqual(before - 1235);
    expect(row.at).toBeLessThanOrEqual(after - 1235);
  });

  it('attributes the master key as `master`, and nobody as null', () => {
    const { ledger, rows } = books();
    ledger.record(served({ principal: MASTER, endUser: undefined }), 200, 5);
    ledger.record(served({ principal: undefined, endUser: undefined, model: undefined, providerId: undefined, upstreamModel: undefined, usage: undefined }), 404, 1);
    expect(rows.rows[0]).toMatchObject({ key_id: 'master', team_id: null, org_id: null, end_user: null, tags: [] });
    expect(rows.rows[1]).toMatchObject({ key_id: null, team_id: null, org_id: null, model: null, provider: null, upstream_model: null, prompt_tokens: 0, completion_tokens: 0, cost_usd: 0, cache: null, status: 404 });
  });

  it.each(['HIT', 'SEMANTIC_HIT'] as const)('books a %s to the cache, free and without tokens', (cache) => {
    const { ledger, rows } = books();
    ledger.record(served({ cache }), 200, 3);
    expect(rows.rows[0]).toMatchObject({ provider: 'cache', upstream_model: 'gpt-4o', prompt_tokens: 0, completion_tokens: 0, cost_usd: 0, cache });
  });

  it("books a coalesced follower to the leader's provider, free and without tokens", () => {
    const { ledger, rows } = books();
    ledger.record(served({ coalesced: true }), 200, 3);
    expect(rows.rows[0]).toMatchObject({ provider: 'openai', prompt_tokens: 0, completion_tokens: 0, cost_usd: 0 });
  });

  it('records an unknown cost as null', () => {
    const { ledger, rows } = books();
    ledger.record(served({ upstreamModel: 'gpt-5-unreleased' }), 200, 3);
    expect(rows.rows[0]).toMatchObject({ upstream_model: 'gpt-5-unreleased', prompt_tokens: 1000, completion_tokens: 200, cost_usd: null });
  });

  it('queues nothing without a spend queue', () => {
    const { ledger, rows } = books(false);
    expect(() => ledger.record(served(), 200, 3)).not.toThrow();
    expect(rows.rows).toEqual([]);
  });
});

describe('Ledger.record settles the ticket', () => {
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
    const ticket = (await admitter.admit({ principal, endUser: undefined, model: 'smart', promptTokens: () => 1000, maxOutputTokens: 500, price: { input: 2.5, output: 10 } }))!;
    expect(ticket.states.map((s) => s.remaining)).toEqual([500, 10_000 - 7500]);
    rc.ticket = ticket;
    return { admitter, rc, ticket, errors };
  }

  /** What is left of the tokens per minute and of the budget after reserving 1 more token at $1 / 1M. */
  async function left(admitter: Admitter, principal: Principal): Promise<number[]> {
    const probe = await admitter.admit({ principal, endUser: undefined, model: 'smart', promptTokens: () => 1, maxOutputTokens: 0, price: { input: 1, output: 1 } });
    return probe!.states.map((s) => s.remaining + 1);
  }

  it('with prompt + completion tokens and the cost, once', async () => {
    const { admitter, rc, errors } = await admittedRequest();
    const { ledger } = books();
    ledger.record(rc, 200, 10);
    ledger.record(rc, 200, 10);
    // 1200 tokens used of 2000; $0.004 (4000 micro-USD) of $0.01.
    expect(await left(admitter, rc.principal!)).toEqual([800, 6000]);
    expect(errors).toEqual([]);
  });

  it('with nothing used for a cache hit', async () => {
    const { admitter, rc } = await admittedRequest();
    rc.cache = 'HIT';
    books().ledger.record(rc, 200, 1);
    expect(await left(admitter, rc.principal!)).toEqual([2000, 10_000]);
  });

  it('with the tokens and no cost when the price is unknown', async () => {
    const { admitter, rc } = await admittedRequest();
    rc.upstreamModel = 'gpt-5-unreleased';
    books().ledger.record(rc, 200, 1);
    expect(await left(admitter, rc.principal!)).toEqual([800, 10_000]);
  });

  it('without a spend queue too', async () => {
    const { admitter, rc } = await admittedRequest();
    books(false).ledger.record(rc, 200, 1);
    expect(await left(admitter, rc.principal!)).toEqual([800, 6000]);
  });
});

import { describe, expect, it } from 'vitest';
import { createRequestContext, type RequestContext } from '../gateway/context.js';
import { GatewayError } from '../gateway/errors.js';
import type { Usage } from '../gateway/types.js';
import { keyRecord, orgRecord, teamRecord } from '../governance/__fixtures__/records.js';
import { Ledger } from '../governance/ledger.js';
import { MASTER, type Principal } from '../governance/principal.js';
import type { SpendRow } from '../governance/types.js';
import { RequestRecorder, type RecorderOptions } from './request-recorder.js';

const org = orgRecord({ metadata: { env: 'prod' } });
const team = teamRecord({ metadata: { cost_center: 'cc-42', tier: 'gold' } });
const key = keyRecord({ metadata: { app: 'search' } });
const member: Principal = { master: false, key, team, org };
const USAGE: Usage = { prompt_tokens: 1000, completion_tokens: 200, total_tokens: 1200, prompt_tokens_details: { cached_tokens: 400 } };
/** 600 × 2.5 + 400 × 1.25 + 200 × 10 micro-USD. */
const USAGE_COST = 0.004;
const ledger = new Ledger((provider, model) => (`${provider}/${model}` === 'openai/gpt-4o' ? { input: 2.5, output: 10, cachedInput: 1.25 } : undefined));

function recorder(options: Partial<RecorderOptions> = {}): { recorder: RequestRecorder; rows: SpendRow[] } {
  const rows: SpendRow[] = [];
  return { recorder: new RequestRecorder({ enqueue: (row) => rows.push(row) }, { enabled: true, bodies: false, maxBodyBytes: 1024, ...options }), rows };
}

/** A request served by openai/gpt-4o for the group `smart`, admitted (its ledger armed) and settled. */
function served(extra: Partial<RequestContext> = {}): RequestContext {
  const rc = createRequestContext('req-1', 'chat', 0);
  Object.assign(rc, { model: 'smart', providerId: 'openai', upstreamModel: 'gpt-4o', usage: USAGE, principal: member, endUser: 'alice', ledger, attempts: 1 }, extra);
  rc.ledger?.settle(rc);
  return rc;
}

describe('RequestRecorder', () => {
  it('queues one row with every field', () => {
    const { recorder: log, rows } = recorder();
    const rc = served({ cache: 'MISS', tags: { feature: 'autocomplete' }, stream: true, firstByteMs: 87.6 });
    const before = Date.now();
    log.record(rc, 200, 1234.5678);
    const after = Date.now();
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
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
      route: 'chat',
      stream: true,
      error_code: null,
      ttft_ms: 88,
      cached_tokens: 400,
      attempts: 1,
      trace_id: null,
      request_body: null,
      response_body: null,
      spend: true,
    });
    expect(row.cost_usd).toBeCloseTo(USAGE_COST, 12);
    // When the request arrived: its end less its latency.
    expect(row.at).toBeGreaterThanOrEqual(before - 1235);
    expect(row.at).toBeLessThanOrEqual(after - 1235);
  });

  it('attributes the master key as `master`, and nobody as null', () => {
    const { recorder: log, rows } = recorder();
    log.record(served({ principal: MASTER, endUser: undefined }), 200, 5);
    log.record(served({ principal: undefined, endUser: undefined, model: undefined, providerId: undefined, upstreamModel: undefined, usage: undefined }), 404, 1);
    expect(rows[0]).toMatchObject({ key_id: 'master', team_id: null, org_id: null, end_user: null, tags: [] });
    expect(rows[1]).toMatchObject({ key_id: null, team_id: null, org_id: null, model: null, provider: null, upstream_model: null, prompt_tokens: 0, completion_tokens: 0, cost_usd: 0, cache: null, status: 404 });
  });

  it.each(['HIT', 'SEMANTIC_HIT'] as const)('books a %s to the cache, free and without tokens', (cache) => {
    const { recorder: log, rows } = recorder();
    log.record(served({ cache }), 200, 3);
    expect(rows[0]).toMatchObject({ provider: 'cache', upstream_model: 'gpt-4o', prompt_tokens: 0, completion_tokens: 0, cached_tokens: 0, cost_usd: 0, cache });
  });

  it("books a coalesced follower to the leader's provider, free and without tokens", () => {
    const { recorder: log, rows } = recorder();
    log.record(served({ coalesced: true }), 200, 3);
    expect(rows[0]).toMatchObject({ provider: 'openai', prompt_tokens: 0, completion_tokens: 0, cost_usd: 0 });
  });

  it('records an unknown cost as null', () => {
    const { recorder: log, rows } = recorder();
    log.record(served({ upstreamModel: 'gpt-5-unreleased' }), 200, 3);
    expect(rows[0]).toMatchObject({ upstream_model: 'gpt-5-unreleased', prompt_tokens: 1000, completion_tokens: 200, cost_usd: null });
  });

  it('records a refusal before admission, outside the spend rollups, with its error code', () => {
    const { recorder: log, rows } = recorder();
    const rc = createRequestContext('req-2', 'messages', 0);
    rc.error = new GatewayError('invalid_api_key', 'bad key');
    log.record(rc, 401, 0.4);
    expect(rows).toEqual([expect.objectContaining({ request_id: 'req-2', route: 'messages', status: 401, error_code: 'invalid_api_key', cost_usd: 0, attempts: 0, spend: false })]);
  });

  it('with the request log off, queues only the rows the spend rollups count', () => {
    const { recorder: log, rows } = recorder({ enabled: false });
    log.record(createRequestContext('refused', 'chat', 0), 401, 1);
    log.record(served(), 200, 3);
    expect(rows.map((row) => [row.request_id, row.spend])).toEqual([['req-1', true]]);
  });

  it('does not log requests outside the API routes', () => {
    const { recorder: log, rows } = recorder();
    log.record(createRequestContext('scan', 'other', 0), 404, 1);
    expect(rows).toEqual([]);
  });

  it('keeps bodies only when asked, redacted and capped', () => {
    const request = JSON.stringify({ model: 'smart', messages: [{ role: 'user', content: 'mail me at jane.doe@example.com' }] });
    const answer = JSON.stringify({ choices: [{ message: { content: 'x'.repeat(5000) } }] });
    const off = recorder();
    off.recorder.record(served({ rawBody: Buffer.from(request), responseJson: answer }), 200, 1);
    expect(off.rows[0]).toMatchObject({ request_body: null, response_body: null });

    const on = recorder({ bodies: true, maxBodyBytes: 1000 });
    on.recorder.record(served({ rawBody: Buffer.from(request), responseJson: answer }), 200, 1);
    const row = on.rows[0]!;
    expect(row.request_body).toContain('[EMAIL]');
    expect(row.request_body).not.toContain('jane.doe@example.com');
    expect(Buffer.byteLength(row.response_body!)).toBeLessThanOrEqual(1000);
  });

  it("keeps a stream's text as its response body, redacted", () => {
    const { recorder: log, rows } = recorder({ bodies: true });
    expect(log.keepsBodies).toBe(true);
    log.record(served({ stream: true, keepText: true, answerText: 'call 415-555-2671 now' }), 200, 1);
    expect(JSON.parse(rows[0]!.response_body!)).toEqual({ stream: true, text: 'call [PHONE] now' });
    expect(recorder({ bodies: false }).recorder.keepsBodies).toBe(false);
  });
});

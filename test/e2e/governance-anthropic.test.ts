/**
 * Governance through Anthropic's Messages API with the official `@anthropic-ai/sdk`: a virtual key
 * sent as `x-api-key` (as the SDK sends it) is served with its cost; RPM, budget and allowed-model
 * refusals are the SDK's error classes with Anthropic's error shape, naming the level; end-user
 * limits apply to `metadata.user_id` and to the OpenAI `user` field alike, one counter per tenant.
 * And the unpriced-model policy: a budgeted key is refused a model with no known price (`deny`,
 * the default) or served and its spend counted as unpriced (`allow`). No services needed.
 */
import Anthropic, { APIError, PermissionDeniedError, RateLimitError } from '@anthropic-ai/sdk';
import { PermissionDeniedError as OpenAIPermissionDeniedError, RateLimitError as OpenAIRateLimitError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeOpenAI } from '../fakes/openai-upstream.js';
import { apiError, raw, sdk, type RawResponse } from '../helpers/client.js';
import { startGateway, stopAllGateways, type Gateway } from '../helpers/gateway.js';

const MASTER_KEY = 'sk-master-governance-anthropic-e2e';
/** USD per 1M tokens: $0.001 a token. */
const PRICE = 1000;

let upstream: FakeOpenAI;
/** governance.unpriced_models: deny (the default) */
let gateway: Gateway;
/** governance.unpriced_models: allow */
let lenient: Gateway;

/** `llama` is served by an openai-compatible provider with no preset and no configured price: unpriced. */
const config = (unpriced: string) => `
auth: { master_key: ${MASTER_KEY} }
governance:
  unpriced_models: ${unpriced}
  spend: { flush_interval_ms: 50 }
providers:
  demo: { type: mock }
  local: { type: openai-compatible, base_url: ${upstream.baseURL} }
models:
  mock: { targets: [ { provider: demo, model: mock, price: { input: ${PRICE}, output: ${PRICE} } } ] }
  other: { targets: [ { provider: demo, model: mock, price: { input: ${PRICE}, output: ${PRICE} } } ] }
  llama: { targets: [ { provider: local, model: llama-3.1-8b-instruct } ] }
routing: { retry: { max_retries: 0 } }
`;

beforeAll(async () => {
  upstream = await FakeOpenAI.start();
  [gateway, lenient] = await Promise.all([startGateway(config('deny')), startGateway(config('allow'))]);
});

afterAll(async () => {
  await stopAllGateways();
  await upstream?.close();
});

async function admin(target: Gateway, method: string, path: string, body?: unknown): Promise<RawResponse> {
  return raw(target, `/admin${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body), headers: { authorization: `Bearer ${MASTER_KEY}` } });
}

async function create(target: Gateway, path: string, body: Record<string, unknown>): Promise<{ id: string; key: string }> {
  const created = await admin(target, 'POST', path, body);
  expect(created.status, created.text).toBe(201);
  return created.json as { id: string; key: string };
}

/** The SDK as an app configures it: it sends the key as `x-api-key`; no retries. */
function anthropic(apiKey: string, target = gateway): Anthropic {
  return new Anthropic({ baseURL: target.url, apiKey, maxRetries: 0, timeout: 15_000 });
}

function ask(client: Anthropic, extra: Partial<Anthropic.MessageCreateParamsNonStreaming> = {}) {
  return client.messages.create({ model: 'mock', max_tokens: 50, messages: [{ role: 'user', content: 'hello from the anthropic sdk' }], ...extra });
}

/** Runs `call`, which must fail with the Anthropic SDK's `type` and Anthropic's error shape of `errorType`; returns the message. */
async function refusal(call: () => Promise<unknown>, type: typeof PermissionDeniedError | typeof RateLimitError, errorType: string): Promise<APIError> {
  const error = await call().then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(error instanceof APIError)) throw new Error(`expected an Anthropic APIError, got ${String(error)}`);
  expect(error).toBeInstanceOf(type);
  expect(error.error).toEqual({ type: 'error', error: { type: errorType, message: expect.any(String) as unknown }, request_id: expect.any(String) as unknown });
  return error;
}

const messageOf = (error: APIError): string => (error.error as { error: { message: string } }).error.message;

interface SpendRow {
  group: string;
  requests: number;
  cost_usd: number;
  unpriced: number;
}

/** Spend rows are written in the background: waits until the key's row counts `requests`. */
async function spendOf(target: Gateway, keyId: string, requests: number): Promise<SpendRow> {
  for (let i = 0; i < 100; i++) {
    const report = await admin(target, 'GET', `/spend?group_by=key&key_id=${keyId}`);
    const row = (report.json as { data: SpendRow[] }).data.find((r) => r.group === keyId);
    if (row && row.requests >= requests) return row;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`spend of ${keyId} never reached ${requests} requests`);
}

describe('virtual keys on /v1/messages', () => {
  it('serve a key sent as x-api-key, with the cost in x-switchyard-cost-usd, recorded as spend', async () => {
    const { id, key } = await create(gateway, '/keys', { name: 'anthropic-app' });
    const { data, response } = await ask(anthropic(key)).withResponse();
    expect(data.content[0]).toMatchObject({ type: 'text', text: expect.stringContaining('hello from the anthropic sdk') as unknown });
    const cost = Number(response.headers.get('x-switchyard-cost-usd'));
    expect(cost).toBeCloseTo(((data.usage.input_tokens + data.usage.output_tokens) * PRICE) / 1e6, 9);
    const spend = await spendOf(gateway, id, 1);
    expect(spend.cost_usd).toBeCloseTo(cost, 9);
  });

  it('refuse past the RPM with a RateLimitError in Anthropic\'s shape, naming the level, with Retry-After', async () => {
    const { key } = await create(gateway, '/keys', { name: 'anthropic-rpm', limits: { rpm: 2 } });
    const client = anthropic(key);
    await ask(client);
    await ask(client);
    const refused = await refusal(() => ask(client), RateLimitError, 'rate_limit_error');
    expect(refused.status).toBe(429);
    expect(messageOf(refused)).toMatch(/^Rate limit reached for key "anthropic-rpm": 2 requests per minute\./);
    expect(Number(refused.headers?.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it('refuse a model the key may not use with a PermissionDeniedError', async () => {
    const { key } = await create(gateway, '/keys', { name: 'only-other', models: ['other'] });
    await ask(anthropic(key), { model: 'other' });
    const refused = await refusal(() => ask(anthropic(key)), PermissionDeniedError, 'permission_error');
    expect(refused.status).toBe(403);
    expect(messageOf(refused)).toMatch(/Key "only-other" may not use the model "mock" \(allowed: other\)/);
  });

  it('refuse a request that could overrun the budget with a 429 RateLimitError', async () => {
    // Prompt plus 50 output tokens could cost ~$0.06: more than the whole budget.
    const { key } = await create(gateway, '/keys', { name: 'anthropic-budget', budget: { usd: 0.01, period: 'daily' } });
    const refused = await refusal(() => ask(anthropic(key)), RateLimitError, 'rate_limit_error');
    expect(refused.status).toBe(429);
    expect(messageOf(refused)).toMatch(/^Key "anthropic-budget" has a budget of \$0.01 daily, and this request alone could cost more than that/);
    // No reset makes room for it: no Retry-After.
    expect(refused.headers?.get('retry-after') ?? null).toBeNull();
  });
});

describe('end-user limits', () => {
  // End-user counters live under the tenant's (org's) hash tag: keys of one org share them,
  // whichever API the request came through; another tenant's requests count on their own.
  let orgKeys: { anthropic: string; openai: string };
  let outsider: string;

  beforeAll(async () => {
    const org = await create(gateway, '/orgs', { name: 'end-user-org' });
    const [teamA, teamB] = await Promise.all([create(gateway, '/teams', { name: 'messages-team', org_id: org.id }), create(gateway, '/teams', { name: 'chat-team', org_id: org.id })]);
    const [a, b] = await Promise.all([create(gateway, '/keys', { name: 'messages-app', team_id: teamA.id }), create(gateway, '/keys', { name: 'chat-app', team_id: teamB.id })]);
    orgKeys = { anthropic: a.key, openai: b.key };
    const otherOrg = await create(gateway, '/orgs', { name: 'other-org' });
    const otherTeam = await create(gateway, '/teams', { name: 'other-team', org_id: otherOrg.id });
    outsider = (await create(gateway, '/keys', { name: 'other-app', team_id: otherTeam.id })).key;
  });

  const chat = (key: string, user: string) => sdk(gateway, key).chat.completions.create({ model: 'mock', messages: [{ role: 'user', content: 'hi' }], max_tokens: 20, user });

  it('hold metadata.user_id to the end user\'s RPM, and the OpenAI user field of the same org to the same count', async () => {
    await create(gateway, '/users', { id: 'user-42', limits: { rpm: 2 } });
    const client = anthropic(orgKeys.anthropic);
    const asUser = { metadata: { user_id: 'user-42' } };
    await ask(client, asUser);
    await ask(client, asUser);
    const refused = await refusal(() => ask(client, asUser), RateLimitError, 'rate_limit_error');
    expect(messageOf(refused)).toMatch(/^Rate limit reached for end user "user-42": 2 requests per minute\./);

    // Other end users of the same key are not held by user-42's limit.
    await ask(client, { metadata: { user_id: 'user-7' } });
    const viaChat = await apiError(() => chat(orgKeys.openai, 'user-42'));
    expect(viaChat).toBeInstanceOf(OpenAIRateLimitError);
    expect(viaChat.message).toMatch(/Rate limit reached for end user "user-42": 2 requests per minute/);
  });

  it('hold the OpenAI user field to the end user\'s RPM, counted per tenant', async () => {
    await create(gateway, '/users', { id: 'user-43', limits: { rpm: 2 } });
    await chat(orgKeys.openai, 'user-43');
    await chat(orgKeys.openai, 'user-43');
    const refused = await apiError(() => chat(orgKeys.openai, 'user-43'));
    expect(refused).toBeInstanceOf(OpenAIRateLimitError);
    expect(refused.message).toMatch(/Rate limit reached for end user "user-43": 2 requests per minute/);
    const viaMessages = await refusal(() => ask(anthropic(orgKeys.anthropic), { metadata: { user_id: 'user-43' } }), RateLimitError, 'rate_limit_error');
    expect(messageOf(viaMessages)).toMatch(/end user "user-43"/);

    // Another org's requests for the same end user have their own count.
    expect((await chat(outsider, 'user-43')).choices[0]!.message.content).toBeTruthy();
  });
});

describe('models with no known price', () => {
  it('deny (the default): a budgeted key is refused with 403 model_not_priced, telling to configure a price; an unbudgeted one is served', async () => {
    const { key } = await create(gateway, '/keys', { name: 'budgeted', budget: { usd: 10, period: 'monthly' } });
    const refused = await refusal(() => ask(anthropic(key), { model: 'llama' }), PermissionDeniedError, 'permission_error');
    expect(refused.status).toBe(403);
    expect(messageOf(refused)).toMatch(/Key "budgeted" has a budget, and "llama" has no known price.*Configure a price for its targets \(targets\[\]\.price\) or set governance\.unpriced_models: allow/);
    const viaChat = await apiError(() => sdk(gateway, key).chat.completions.create({ model: 'llama', messages: [{ role: 'user', content: 'hi' }] }));
    expect(viaChat).toBeInstanceOf(OpenAIPermissionDeniedError);
    expect(viaChat.code).toBe('model_not_priced');

    const { key: unbudgeted } = await create(gateway, '/keys', { name: 'unbudgeted' });
    const { data, response } = await ask(anthropic(unbudgeted), { model: 'llama' }).withResponse();
    expect(data.content[0]).toMatchObject({ type: 'text' });
    expect(response.headers.get('x-switchyard-cost-usd')).toBeNull();
  });

  it('allow: a budgeted key is served, without a cost, and the spend report counts it as unpriced', async () => {
    const { id, key } = await create(lenient, '/keys', { name: 'budgeted', budget: { usd: 10, period: 'monthly' } });
    const { data, response } = await ask(anthropic(key, lenient), { model: 'llama' }).withResponse();
    expect(data.usage.output_tokens).toBeGreaterThan(0);
    expect(response.headers.get('x-switchyard-cost-usd')).toBeNull();
    const priced = await ask(anthropic(key, lenient)).withResponse();
    const spend = await spendOf(lenient, id, 2);
    expect(spend).toMatchObject({ requests: 2, unpriced: 1 });
    expect(spend.cost_usd).toBeCloseTo(Number(priced.response.headers.get('x-switchyard-cost-usd')), 9);
  });
});

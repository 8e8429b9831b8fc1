/**
 * Governance end to end: the admin API creates orgs, teams and keys; clients use the keys with
 * the official OpenAI SDK; limits, budgets and allowed models refuse with the documented errors;
 * every answer carries its cost; spend is recorded and reported; keys rotate and revoke.
 */
import { request, type IncomingHttpHeaders } from 'node:http';
import OpenAI, { AuthenticationError, NotFoundError, PermissionDeniedError, RateLimitError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiError, raw, sdk, type RawResponse } from '../helpers/client.js';
import { startGateway, stopAllGateways, type Gateway } from '../helpers/gateway.js';
import { admin as adminOf, spendOf as spendOfKey, tallyBudgetRun, type SpendRow } from '../helpers/governance.js';

const MASTER_KEY = 'sk-master-governance-e2e';
/** USD per 1M tokens: $0.001 a token, so a short request costs a few cents. */
const PRICE = 1000;

let gateway: Gateway;

beforeAll(async () => {
  gateway = await startGateway(`
auth: { master_key: ${MASTER_KEY} }
governance:
  spend: { flush_interval_ms: 50 }
  drain_timeout_ms: 10000
providers:
  demo: { type: mock }
  slow: { type: mock, tokens_per_second: 40 }
  late: { type: mock, latency_ms: 600 }
  free: { type: mock }
models:
  mock:
    targets: [ { provider: demo, model: mock, price: { input: ${PRICE}, output: ${PRICE} } } ]
  slow:
    targets: [ { provider: slow, model: mock, price: { input: ${PRICE}, output: ${PRICE} } } ]
  late:
    targets: [ { provider: late, model: mock, price: { input: ${PRICE}, output: ${PRICE} } } ]
  other:
    targets: [ { provider: free, model: mock } ]
  demo/premium:
    targets: [ { provider: free, model: mock } ]
`);
});

afterAll(stopAllGateways);

function admin(method: string, path: string, body?: unknown): Promise<RawResponse> {
  return adminOf(gateway, MASTER_KEY, method, path, body);
}

async function createKey(body: Record<string, unknown>): Promise<{ id: string; key: string }> {
  const created = await admin('POST', '/keys', body);
  expect(created.status, created.text).toBe(201);
  return created.json as { id: string; key: string };
}

function ask(client: OpenAI, content = 'hello there', extra: Partial<OpenAI.Chat.ChatCompletionCreateParamsNonStreaming> = {}) {
  return client.chat.completions.create({ model: 'mock', messages: [{ role: 'user', content }], max_tokens: 20, ...extra });
}

function spendOf(keyId: string, requests: number): Promise<SpendRow> {
  return spendOfKey(gateway, MASTER_KEY, keyId, requests);
}

describe('admin API', () => {
  it('needs the master key', async () => {
    const none = await raw(gateway, '/admin/keys');
    expect(none.status).toBe(401);
    const { key } = await createKey({ name: 'not-an-admin' });
    const client = await raw(gateway, '/admin/keys', { headers: { authorization: `Bearer ${key}` } });
    expect(client.status).toBe(401);
    expect((client.json as { error: { message: string } }).error.message).toMatch(/master key/);
  });

  it('keeps the cache endpoints, which act on every tenant, to the master key', async () => {
    const { key } = await createKey({ name: 'cache-tenant' });
    const asTenant = { authorization: `Bearer ${key}` };
    for (const [path, method] of [['/v1/cache/stats', 'GET'], ['/v1/cache?namespace=shared', 'DELETE'], ['/v1/cache', 'DELETE']] as const) {
      const refused = await raw(gateway, path, { method, headers: asTenant });
      expect(refused.status, `${method} ${path}`).toBe(403);
      expect((refused.json as { error: { type: string; message: string } }).error).toMatchObject({ type: 'permission_error', message: expect.stringMatching(/master key/) });
    }
    const stats = await raw(gateway, '/v1/cache/stats', { headers: { authorization: `Bearer ${MASTER_KEY}` } });
    expect(stats.status).toBe(200);
    expect((stats.json as { object: string }).object).toBe('cache.stats');
  });

  it('creates an org, a team in it and a key in the team; the secret is shown once, never its hash', async () => {
    const org = await admin('POST', '/orgs', { name: 'acme', budget: { usd: 100, period: 'monthly' }, metadata: { cost_center: 'cc-1' } });
    expect(org.status).toBe(201);
    const orgId = (org.json as { id: string }).id;
    expect(orgId).toMatch(/^org_/);
    const team = await admin('POST', '/teams', { name: 'ml', org_id: orgId, limits: { rpm: 1000 } });
    expect(team.status).toBe(201);
    const teamId = (team.json as { id: string }).id;
    const key = await admin('POST', '/keys', { name: 'ci', team_id: teamId, models: ['mock'], expires_at: '2099-01-01T00:00:00Z' });
    expect(key.status).toBe(201);
    const shown = key.json as Record<string, unknown>;
    expect(shown.key).toMatch(/^sk-sy-[A-Za-z0-9_-]{43}$/);
    expect(shown).toMatchObject({ name: 'ci', team_id: teamId, models: ['mock'], expires_at: '2099-01-01T00:00:00.000Z', blocked: false });
    expect(shown).not.toHaveProperty('key_hash');

    const fetched = await admin('GET', `/keys/${shown.id as string}`);
    expect(fetched.json).not.toHaveProperty('key');
    expect(fetched.json).not.toHaveProperty('key_hash');
    expect((fetched.json as { key_hint: string }).key_hint).toBe(`${(shown.key as string).slice(0, 10)}…${(shown.key as string).slice(-4)}`);
    expect(fetched.text).not.toContain((shown.key as string).slice(10));
  });

  it('answers bad input with 400s that name the field, unknown ids with 404, parents with children with 409', async () => {
    const bad = await admin('POST', '/keys', { name: 'x', budget: { usd: 5, period: 'fortnightly' } });
    expect(bad.status).toBe(400);
    expect((bad.json as { error: { message: string } }).error.message).toMatch(/budget\.period/);
    const wrongType = await admin('POST', '/orgs', { name: 42 });
    expect(wrongType.status).toBe(400);
    const unknownField = await admin('POST', '/teams', { name: 't', colour: 'red' });
    expect(unknownField.status).toBe(400);
    expect((unknownField.json as { error: { message: string } }).error.message).toMatch(/colour/);
    const noTeam = await admin('POST', '/keys', { name: 'k', team_id: 'team_nope' });
    expect(noTeam.status).toBe(400);
    expect((await admin('GET', '/orgs/org_nope')).status).toBe(404);
    expect((await admin('PATCH', '/teams/team_nope', { name: 'x' })).status).toBe(404);

    const org = (await admin('POST', '/orgs', { name: 'parent' })).json as { id: string };
    await admin('POST', '/teams', { name: 'child', org_id: org.id });
    const conflict = await admin('DELETE', `/orgs/${org.id}`);
    expect(conflict.status).toBe(409);

    // A team whose only key is revoked: the message says how to free it.
    const team = (await admin('POST', '/teams', { name: 'emptied' })).json as { id: string };
    const { id: keyId } = await createKey({ name: 'gone', team_id: team.id });
    expect((await admin('DELETE', `/keys/${keyId}`)).status).toBe(200);
    const stillHas = await admin('DELETE', `/teams/${team.id}`);
    expect(stillHas.status).toBe(409);
    expect(stillHas.text).toContain('revoked ones too');
    expect((await admin('PATCH', `/keys/${keyId}`, { team_id: null })).status).toBe(200);
    expect((await admin('DELETE', `/teams/${team.id}`)).status).toBe(200);

    // Query parameters are named as such; a value that is not true or false is not taken as false.
    const badQuery = await admin('GET', '/audit?before_id=-1');
    expect(badQuery.status).toBe(400);
    expect((badQuery.json as { error: { message: string } }).error.message).toBe('Invalid query parameters: before_id: expected a number');
    expect((await admin('GET', '/keys?include_revoked=yes')).status).toBe(400);
    const backwards = await admin('GET', '/spend?from=2026-12-07&to=2026-12-01');
    expect(backwards.status).toBe(400);
    expect((backwards.json as { error: { message: string } }).error.message).toBe('from: 2026-12-07 is after to (2026-12-01).');
    const twice = await admin('POST', '/keys', { name: 'k', limits: { rpm: 2 ** 60 } });
    expect((twice.json as { error: { message: string } }).error.message.match(/limits\.rpm/g)).toHaveLength(1);
  });

  it('keeps an audit log of changes, without secrets or hashes', async () => {
    const { id } = await createKey({ name: 'audited' });
    await admin('PATCH', `/keys/${id}`, { limits: { rpm: 5 } });
    const audit = await admin('GET', `/audit?target_type=key&target_id=${id}`);
    const entries = (audit.json as { data: { action: string; actor: string; before: unknown; after: unknown }[] }).data;
    expect(entries.map((e) => e.action)).toEqual(['key.update', 'key.create']);
    expect(entries[0]).toMatchObject({ actor: 'master', before: { limits: null }, after: { limits: { rpm: 5 } } });
    // The snapshots' times are ISO strings, as everywhere in the admin API.
    const iso = expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(entries[0]).toMatchObject({ at: iso, before: { created_at: iso, updated_at: iso }, after: { created_at: iso, updated_at: iso } });
    expect(audit.text).not.toMatch(/key_hash|previous_hash/);
  });

  it('takes times as ISO times, days or Unix seconds, and tags of numbers and booleans as text', async () => {
    const day = await admin('POST', '/keys', { name: 'by-day', expires_at: '2099-01-01', metadata: { priority: 1, beta: true, team: 'x' } });
    expect(day.status, day.text).toBe(201);
    expect(day.json).toMatchObject({ expires_at: '2099-01-01T00:00:00.000Z', metadata: { priority: '1', beta: 'true', team: 'x' } });
    const unix = await admin('POST', '/orgs', { name: 'by-unix', expires_at: 4_070_908_800 });
    expect(unix.json).toMatchObject({ expires_at: '2099-01-01T00:00:00.000Z' });
    const bad = await admin('POST', '/teams', { name: 'bad-time', expires_at: 'next tuesday' });
    expect(bad.status).toBe(400);
    expect((bad.json as { error: { message: string } }).error.message).toMatch(/expires_at/);
    const spend = await admin('GET', '/spend?group_by=day&from=2026-12-01T00:00:00Z&to=2026-12-31T23:59:59Z');
    expect(spend.json).toMatchObject({ from: '2026-12-01', to: '2026-12-31' });
  });

  it('serves an OpenAPI document', async () => {
    const doc = await admin('GET', '/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.json).toMatchObject({ openapi: '3.1.0' });
    expect(Object.keys((doc.json as { paths: object }).paths)).toEqual(expect.arrayContaining(['/admin/keys', '/admin/keys/{id}/rotate', '/admin/spend', '/admin/audit', '/admin/config/reload']));
  });
});

describe('virtual keys', () => {
  it('serve requests with their cost; the master key still works as a client key', async () => {
    const { id, key } = await createKey({ name: 'costed' });
    const response = await sdk(gateway, key).chat.completions.create({ model: 'mock', messages: [{ role: 'user', content: 'what does it cost' }], max_tokens: 10 }).withResponse();
    const usage = response.data.usage!;
    const cost = Number(response.response.headers.get('x-switchyard-cost-usd'));
    expect(cost).toBeCloseTo(((usage.prompt_tokens + usage.completion_tokens) * PRICE) / 1e6, 9);
    const spend = await spendOf(id, 1);
    expect(spend).toMatchObject({ requests: 1, prompt_tokens: usage.prompt_tokens, completion_tokens: usage.completion_tokens });
    expect(spend.cost_usd).toBeCloseTo(cost, 9);

    const master = await sdk(gateway, MASTER_KEY).chat.completions.create({ model: 'mock', messages: [{ role: 'user', content: 'hi' }] });
    expect(master.choices[0]!.message.content).toBeTruthy();
  });

  it('name the key on the request-log row of a request refused for its body', async () => {
    const { id, key } = await createKey({ name: 'bad-body' });
    const bad = await raw(gateway, '/v1/chat/completions', { method: 'POST', body: '{"model": "mock", ', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } });
    expect(bad.status).toBe(400);
    await expect.poll(async () => ((await admin('GET', `/logs?key_id=${id}`)).json as { data: { status: number; error_code: string }[] }).data.map((row) => [row.status, row.error_code])).toEqual([[400, 'invalid_json']]);
  });

  it('count in spend once admitted or refused by a limit, but not for a model the gateway does not have', async () => {
    const { id, key } = await createKey({ name: 'wrong-model', models: ['mock'] });
    expect((await apiError(() => ask(sdk(gateway, key), 'x', { model: 'no-such-model' }))).status).toBe(404);
    expect((await apiError(() => ask(sdk(gateway, key), 'x', { model: 'other' }))).status).toBe(403);
    await ask(sdk(gateway, key));
    // The 404 is in the request log, not in spend; the 403 (a refusal by the key's policy) is.
    await expect.poll(async () => ((await admin('GET', `/logs?key_id=${id}`)).json as { data: unknown[] }).data.length).toBe(3);
    const spend = await spendOf(id, 2);
    expect([spend.requests, spend.errors]).toEqual([2, 1]);
  });

  it('are refused when unknown, revoked, or expired (401), and rotation keeps the old secret for the grace period', async () => {
    expect(await apiError(() => ask(sdk(gateway, 'sk-sy-unknown')))).toBeInstanceOf(AuthenticationError);

    const { id, key } = await createKey({ name: 'rotating' });
    const rotated = await admin('POST', `/keys/${id}/rotate`, { grace_seconds: 3600 });
    const fresh = (rotated.json as { key: string }).key;
    expect(fresh).not.toBe(key);
    await ask(sdk(gateway, fresh));
    await ask(sdk(gateway, key));
    await admin('POST', `/keys/${id}/rotate`, { grace_seconds: 0 });
    expect(await apiError(() => ask(sdk(gateway, fresh)))).toBeInstanceOf(AuthenticationError);
    // No body at all, even with a JSON content type: the default grace period.
    const bare = await raw(gateway, `/admin/keys/${id}/rotate`, { method: 'POST', headers: { authorization: `Bearer ${MASTER_KEY}`, 'content-type': 'application/json' } });
    expect(bare.status).toBe(200);
    expect((bare.json as { key: string }).key).toMatch(/^sk-sy-/);

    const revoked = await createKey({ name: 'revoked' });
    await ask(sdk(gateway, revoked.key));
    // A client that sends content-type: application/json on every request, an empty DELETE included.
    const deleted = await raw(gateway, `/admin/keys/${revoked.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${MASTER_KEY}`, 'content-type': 'application/json' } });
    expect(deleted.status, deleted.text).toBe(200);
    expect(await apiError(() => ask(sdk(gateway, revoked.key)))).toBeInstanceOf(AuthenticationError);

    const expired = await createKey({ name: 'expired', expires_at: '2020-01-01T00:00:00Z' });
    const error = await apiError(() => ask(sdk(gateway, expired.key)));
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error.message).toMatch(/expired/);
  });

  it('see in GET /v1/providers only the targets and groups they may use', async () => {
    const { key } = await createKey({ name: 'sees-other', models: ['other'] });
    // A target another client reached by direct addressing.
    await sdk(gateway, MASTER_KEY).chat.completions.create({ model: 'slow/private-finetune', messages: [{ role: 'user', content: 'x' }], max_tokens: 1 });
    const seen = (await raw(gateway, '/v1/providers', { headers: { authorization: `Bearer ${key}` } })).json as { data: { id: string; targets: { model: string; groups: string[] }[] }[] };
    expect(seen.data.flatMap((p) => p.targets.map((t) => [p.id, t.model, t.groups]))).toEqual([['free', 'mock', ['other']]]);
    const all = (await raw(gateway, '/v1/providers', { headers: { authorization: `Bearer ${MASTER_KEY}` } })).json as typeof seen;
    expect(all.data.flatMap((p) => p.targets.map((t) => `${p.id}/${t.model}`))).toContain('slow/private-finetune');
  });

  it('with <provider>/* reach that provider directly, not a configured group named <provider>/...', async () => {
    const { key } = await createKey({ name: 'demo-direct', models: ['demo/*'] });
    const client = sdk(gateway, key);
    await client.chat.completions.create({ model: 'demo/mock', messages: [{ role: 'user', content: 'x' }] });
    expect(await apiError(() => client.chat.completions.create({ model: 'demo/premium', messages: [{ role: 'user', content: 'x' }] }))).toBeInstanceOf(PermissionDeniedError);
    expect((await client.models.list()).data.map((m) => m.id)).not.toContain('demo/premium');
  });

  it('are held to their allowed models and to blocks, at every level (403 naming the level)', async () => {
    const { key } = await createKey({ name: 'only-other', models: ['other'] });
    await sdk(gateway, key).chat.completions.create({ model: 'other', messages: [{ role: 'user', content: 'x' }] });
    const listed = await sdk(gateway, key).models.list();
    expect(listed.data.map((m) => m.id)).toEqual(['other']);
    expect((await sdk(gateway, MASTER_KEY).models.list()).data.map((m) => m.id)).toEqual(['mock', 'slow', 'late', 'other', 'demo/premium']);
    // One model by id: the same view as the list (a model the key may not use is not found).
    expect((await sdk(gateway, key).models.retrieve('other')).id).toBe('other');
    expect(await apiError(() => sdk(gateway, key).models.retrieve('mock'))).toBeInstanceOf(NotFoundError);
    expect((await sdk(gateway, MASTER_KEY).models.retrieve('mock')).id).toBe('mock');
    const denied = await apiError(() => ask(sdk(gateway, key)));
    expect(denied).toBeInstanceOf(PermissionDeniedError);
    expect(denied.message).toMatch(/Key "only-other" may not use the model "mock" \(allowed: other\)/);

    const team = (await admin('POST', '/teams', { name: 'frozen', blocked: true })).json as { id: string };
    const member = await createKey({ name: 'in-frozen', team_id: team.id });
    const blocked = await apiError(() => ask(sdk(gateway, member.key)));
    expect(blocked).toBeInstanceOf(PermissionDeniedError);
    expect(blocked.message).toMatch(/Team "frozen" is blocked/);
    await admin('PATCH', `/teams/${team.id}`, { blocked: false });
    await ask(sdk(gateway, member.key));
  });
});

describe('end users', () => {
  it("refuse an end-user id (the request's user) too long to be one with a 400 naming the field, on chat and embeddings", async () => {
    const { key } = await createKey({ name: 'long-user' });
    const long = 'u'.repeat(513);
    const refused = await apiError(() => ask(sdk(gateway, key), 'hello', { user: long }));
    expect(refused.status).toBe(400);
    expect(refused.message).toBe("400 'user' must be at most 512 characters (it identifies the end user), but it has 513.");
    expect((refused as { param?: unknown }).param).toBe('user');
    const embeddings = await apiError(() => sdk(gateway, key).embeddings.create({ model: 'mock', input: 'x', user: long }));
    expect(embeddings.status).toBe(400);
    // 512 characters is an id like any other, one that can be registered to get limits of its own.
    await ask(sdk(gateway, key), 'hello', { user: 'u'.repeat(512) });
    expect((await admin('POST', '/users', { id: 'u'.repeat(512), limits: { rpm: 5 } })).status).toBe(201);
    const tooLong = await admin('POST', '/users', { id: long });
    expect(tooLong.status).toBe(400);
    expect(tooLong.text).toContain('id');
  });
});

describe('limits', () => {
  it('refuse past the RPM with a 429 RateLimitError naming the level, with Retry-After and x-ratelimit headers', async () => {
    const team = (await admin('POST', '/teams', { name: 'rpm-team', limits: { rpm: 3 } })).json as { id: string };
    const { key } = await createKey({ name: 'rpm-key', team_id: team.id, limits: { rpm: 100 } });
    const client = sdk(gateway, key);
    const first = await ask(client).withResponse();
    expect(first.response.headers.get('x-ratelimit-limit-requests')).toBe('3');
    expect(first.response.headers.get('x-ratelimit-remaining-requests')).toBe('2');
    await ask(client);
    await ask(client);
    const refused = await apiError(() => ask(client));
    expect(refused).toBeInstanceOf(RateLimitError);
    expect(refused.status).toBe(429);
    expect(refused.message).toMatch(/Rate limit reached for team "rpm-team": 3 requests per minute/);
    expect(Number(refused.headers?.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Waiting helps here: the SDKs may retry after Retry-After.
    expect(refused.headers?.get('x-should-retry')).toBeNull();
    // The refusal carries OpenAI's headers too, for the tightest limit (the team's, used up).
    expect(refused.headers?.get('x-ratelimit-limit-requests')).toBe('3');
    expect(refused.headers?.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(refused.headers?.get('x-ratelimit-reset-requests')).toMatch(/^\d+(ms|s|m\d+s)$/);
  });

  it("keep a key's counts when it moves into a team and the team into an org", async () => {
    const { id, key } = await createKey({ name: 'moving-key', limits: { rpm: 3 } });
    const client = sdk(gateway, key);
    await ask(client);
    const team = (await admin('POST', '/teams', { name: 'moving-team' })).json as { id: string };
    expect((await admin('PATCH', `/keys/${id}`, { team_id: team.id })).status).toBe(200);
    await ask(client);
    const org = (await admin('POST', '/orgs', { name: 'moving-org' })).json as { id: string };
    expect((await admin('PATCH', `/teams/${team.id}`, { org_id: org.id })).status).toBe(200);
    await ask(client);
    const refused = await apiError(() => ask(client));
    expect(refused).toBeInstanceOf(RateLimitError);
    expect(refused.message).toMatch(/Rate limit reached for key "moving-key": 3 requests per minute/);
  });

  it('hold a budget removed and set again to the spend recorded meanwhile', async () => {
    const { id, key } = await createKey({ name: 'budget-again', budget: { usd: 0.1, period: 'daily' } });
    const client = sdk(gateway, key);
    const first = await ask(client).withResponse();
    const cost = Number(first.response.headers.get('x-switchyard-cost-usd'));
    expect(cost).toBeGreaterThan(0);
    expect((await admin('PATCH', `/keys/${id}`, { budget: null })).status).toBe(200);
    // Past the old budget while there is none.
    const more = Math.ceil(0.1 / cost) + 1;
    for (let i = 0; i < more; i++) await ask(client);
    expect((await spendOf(id, more + 1)).cost_usd).toBeGreaterThan(0.1);
    expect((await admin('PATCH', `/keys/${id}`, { budget: { usd: 0.1, period: 'daily' } })).status).toBe(200);
    const refused = await apiError(() => ask(client));
    expect(refused).toBeInstanceOf(RateLimitError);
    expect(refused.message).toMatch(/Budget reached for key "budget-again": \$0.1 daily/);
    expect(refused.headers?.get('x-should-retry')).toBe('false');
  });

  it('refuse a request whose tokens can never fit the TPM, saying so', async () => {
    const { key } = await createKey({ name: 'tpm-key', limits: { tpm: 50 } });
    const error = await apiError(() => ask(sdk(gateway, key), 'hi', { max_tokens: 500 }));
    expect(error).toBeInstanceOf(RateLimitError);
    expect(error.message).toMatch(/allows 50 tokens per minute, and this request may use more/);
    // No retry can change it: the SDKs are told not to retry.
    expect(error.headers?.get('x-should-retry')).toBe('false');
  });

  it('hold a budget under 200 concurrent requests: settled spend never passes it, every refusal is a 429', async () => {
    const budget = 0.5;
    const { id, key } = await createKey({ name: 'budgeted', budget: { usd: budget, period: 'daily' } });
    const client = new OpenAI({ baseURL: gateway.baseURL, apiKey: key, maxRetries: 0, timeout: 30_000 });
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) => client.chat.completions.create({ model: 'mock', messages: [{ role: 'user', content: `request ${i} of many` }], max_tokens: 20 }).withResponse()),
    );
    const { ok, spent } = tallyBudgetRun(results, /Budget reached for key "budgeted": \$0.5 daily/);
    expect(ok).toBeGreaterThan(5);
    expect(ok).toBeLessThan(200);
    expect(spent).toBeLessThanOrEqual(budget);
    const recorded = await spendOf(id, 200);
    expect(recorded.requests).toBe(200);
    expect(recorded.cost_usd).toBeCloseTo(spent, 9);
    expect(recorded.cost_usd).toBeLessThanOrEqual(budget);
  });
});

describe('streaming', () => {
  it('bills a stream whose client disconnected with the usage the upstream reported', async () => {
    const { id, key } = await createKey({ name: 'streamer' });
    // The same prompt without a disconnect, for the full usage.
    const prompt = 'count slowly from one to forty: one two three four five six seven eight nine ten';
    const full = await sdk(gateway, MASTER_KEY).chat.completions.create({ model: 'slow', messages: [{ role: 'user', content: prompt }], max_tokens: 40 });
    const controller = new AbortController();
    const stream = await sdk(gateway, key).chat.completions.create({ model: 'slow', messages: [{ role: 'user', content: prompt }], max_tokens: 40, stream: true }, { signal: controller.signal });
    let chunks = 0;
    // The SDK ends the iteration quietly (or throws an abort error) once aborted.
    try {
      for await (const _ of stream) if (++chunks === 3) controller.abort();
    } catch (err) {
      expect((err as Error).name).toMatch(/Abort/);
    }
    expect(chunks).toBe(3);
    const spend = await spendOf(id, 1);
    expect(spend.completion_tokens).toBe(full.usage!.completion_tokens);
    expect(spend.prompt_tokens).toBe(full.usage!.prompt_tokens);
  });

  it('bills a request whose client left before the first byte, streamed or not, with the upstream usage (logged as a 499)', async () => {
    const prompt = 'a question the upstream is slow to start answering';
    const full = await sdk(gateway, MASTER_KEY).chat.completions.create({ model: 'late', messages: [{ role: 'user', content: prompt }], max_tokens: 20 });
    for (const stream of [true, false]) {
      const { id, key } = await createKey({ name: `early-leaver-${stream}` });
      const left = await sdk(gateway, key)
        .chat.completions.create({ model: 'late', messages: [{ role: 'user', content: prompt }], max_tokens: 20, stream }, { timeout: 200 })
        .catch((err: unknown) => err);
      expect(left).toBeInstanceOf(Error);
      const spend = await spendOf(id, 1);
      expect([spend.prompt_tokens, spend.completion_tokens]).toEqual([full.usage!.prompt_tokens, full.usage!.completion_tokens]);
      const logged = await admin('GET', `/logs?key_id=${id}`);
      expect((logged.json as { data: { status: number; error_code: string | null }[] }).data.map((row) => [row.status, row.error_code])).toEqual([[499, 'client_closed_request']]);
    }
  });

  it('sends the cost of a stream as an HTTP trailer', async () => {
    const { key } = await createKey({ name: 'trailer' });
    const body = JSON.stringify({ model: 'mock', messages: [{ role: 'user', content: 'stream me' }], stream: true, stream_options: { include_usage: true } });
    // fetch hides trailers; node:http shows them once the body has been read.
    const { headers, trailers, text } = await new Promise<{ headers: IncomingHttpHeaders; trailers: NodeJS.Dict<string>; text: string }>((resolve, reject) => {
      const req = request(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (part: string) => (text += part));
        res.on('end', () => resolve({ headers: res.headers, trailers: res.trailers, text }));
      });
      req.on('error', reject);
      req.end(body);
    });
    expect(headers.trailer).toBe('x-switchyard-cost-usd');
    const usage = text
      .split('\n')
      .filter((line) => line.startsWith('data: {'))
      .map((line) => JSON.parse(line.slice(6)) as { usage?: { prompt_tokens: number; completion_tokens: number } })
      .find((chunk) => chunk.usage)!.usage!;
    expect(Number(trailers['x-switchyard-cost-usd'])).toBeCloseTo(((usage.prompt_tokens + usage.completion_tokens) * PRICE) / 1e6, 9);
  });
});

describe('a stream cut off before its usage', () => {
  let short: Gateway;

  beforeAll(async () => {
    // The drain time is shorter than the rest of the stream: the upstream is cut before its usage.
    short = await startGateway(`
auth: { master_key: ${MASTER_KEY} }
governance:
  spend: { flush_interval_ms: 50 }
  drain_timeout_ms: 300
providers:
  slow: { type: mock, tokens_per_second: 20 }
models:
  slow:
    targets: [ { provider: slow, model: mock, price: { input: ${PRICE}, output: ${PRICE} } } ]
`);
  });

  it('is billed from the prompt estimate and the text streamed before the cut, not as free', async () => {
    const created = await raw(short, '/admin/keys', { body: JSON.stringify({ name: 'cut' }), headers: { authorization: `Bearer ${MASTER_KEY}` } });
    const { id, key } = created.json as { id: string; key: string };
    const prompt = 'count slowly from one to forty: one two three four five six seven eight nine ten';
    const full = await sdk(short, MASTER_KEY).chat.completions.create({ model: 'slow', messages: [{ role: 'user', content: prompt }], max_tokens: 40 });
    const controller = new AbortController();
    const stream = await sdk(short, key).chat.completions.create({ model: 'slow', messages: [{ role: 'user', content: prompt }], max_tokens: 40, stream: true }, { signal: controller.signal });
    let chunks = 0;
    try {
      for await (const _ of stream) if (++chunks === 2) controller.abort();
    } catch (err) {
      expect((err as Error).name).toMatch(/Abort/);
    }
    const row = await spendOfKey(short, MASTER_KEY, id, 1);
    expect(row.prompt_tokens).toBeGreaterThan(0);
    expect(row.completion_tokens).toBeGreaterThan(0);
    expect(row.completion_tokens).toBeLessThan(full.usage!.completion_tokens);
    expect(row.cost_usd).toBeCloseTo(((row.prompt_tokens + row.completion_tokens) * PRICE) / 1e6, 9);
  });
});

/**
 * Governance across gateway instances. Two instances share one PostgreSQL database (a fresh one
 * per run, created from DATABASE_URL) and one Redis (REDIS_URL); skipped without both. A key made
 * through one instance's admin API works on the other after its poll, and a revocation stops it
 * there too; one RPM, one TPM and one budget are held together under concurrent traffic split
 * between them. Without any service: what a limiter whose Redis cannot be reached does under
 * each `governance.limits.on_redis_error` policy.
 */
import OpenAI, { AuthenticationError, InternalServerError, RateLimitError } from 'openai';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refusedURL } from '../fakes/openai-upstream.js';
import { apiError, raw, type RawResponse } from '../helpers/client.js';
import { tallyBudgetRun } from '../helpers/governance.js';
import { startGateway, stopAllGateways, type Gateway } from '../helpers/gateway.js';
import { createScratchDatabase, type ScratchDatabase } from '../helpers/postgres.js';

const REDIS_URL = process.env.REDIS_URL;
const DATABASE_URL = process.env.DATABASE_URL;
if (!REDIS_URL || !DATABASE_URL) {
  console.warn('[governance-shared.test] REDIS_URL and DATABASE_URL are not both set: the tests of two gateways sharing PostgreSQL and Redis are skipped.');
}

const MASTER_KEY = 'sk-master-governance-shared-e2e';
/** USD per 1M tokens: $0.001 a token. */
const PRICE = 1000;
/** A rate limit of N per minute refills one unit every 60 000 / N ms (GCRA): what a burst may gain while it runs. */
const MINUTE_MS = 60_000;

/** `paced` streams 2 tokens a second: an admitted 10-token stream settles (and refunds what it did not use of its estimate) ~5 s after admission. */
const MODELS = `
providers:
  demo: { type: mock }
  paced: { type: mock, tokens_per_second: 2 }
models:
  mock:
    targets: [ { provider: demo, model: mock, price: { input: ${PRICE}, output: ${PRICE} } } ]
    coalesce: off
  paced:
    targets: [ { provider: paced, model: mock, price: { input: ${PRICE}, output: ${PRICE} } } ]
    coalesce: off
`;

afterAll(stopAllGateways);

async function admin(gateway: Gateway, method: string, path: string, body?: unknown): Promise<RawResponse> {
  return raw(gateway, `/admin${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body), headers: { authorization: `Bearer ${MASTER_KEY}` } });
}

async function createKey(gateway: Gateway, body: Record<string, unknown>): Promise<{ id: string; key: string }> {
  const created = await admin(gateway, 'POST', '/keys', body);
  expect(created.status, created.text).toBe(201);
  return created.json as { id: string; key: string };
}

function client(gateway: Gateway, apiKey: string): OpenAI {
  return new OpenAI({ baseURL: gateway.baseURL, apiKey, maxRetries: 0, timeout: 30_000 });
}

/** Polls until `accept` holds (or the time is up), returning the last value for the caller's assertion. */
async function eventually<T>(check: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (accept(value) || Date.now() > until) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The status GET /v1/models answers with this key: authentication only, nothing counted against limits. */
async function keyStatus(gateway: Gateway, key: string): Promise<number> {
  return (await raw(gateway, '/v1/models', { headers: { authorization: `Bearer ${key}` } })).status;
}

/** Waits until every gateway has loaded the key (each polls the database on its own). */
async function knownEverywhere(key: string, gateways: Gateway[]): Promise<void> {
  for (const gateway of gateways) expect(await eventually(() => keyStatus(gateway, key), (status) => status === 200)).toBe(200);
}

/** At most how many units a rate limit of `perMinute` refills while a burst of `elapsedMs` runs. */
function refill(perMinute: number, elapsedMs: number): number {
  return Math.floor((elapsedMs * perMinute) / MINUTE_MS);
}

function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.slice(name.length + 1));
}

describe.skipIf(!REDIS_URL || !DATABASE_URL)('two gateways sharing PostgreSQL and Redis', () => {
  let database: ScratchDatabase | undefined;
  let a: Gateway;
  let b: Gateway;

  beforeAll(async () => {
    database = await createScratchDatabase(DATABASE_URL!, 'sy_e2e');
    const url = database.url;
    // on_redis_error: closed, so a Redis failure shows as a 503 rather than quietly per-instance
    // limits; the default Redis deadline (250 ms), which a burst lagging the event loop must not
    // trip while Redis is answering.
    const config = `
auth: { master_key: ${MASTER_KEY} }
storage: { url: "${url.toString()}" }
redis: { url: "${REDIS_URL}" }
governance:
  refresh_interval_ms: 200
  spend_refresh_interval_ms: 200
  spend: { flush_interval_ms: 50 }
  limits: { backend: redis, on_redis_error: closed }
${MODELS}`;
    // Started together, as a deployment would: both migrate the fresh database at once.
    [a, b] = await Promise.all([startGateway(config), startGateway(config)]);
  });

  afterAll(async () => {
    // The limit counters this run left in Redis (they would expire on their own, budgets in ~2 days).
    const keys = a ? ((await admin(a, 'GET', '/keys?include_revoked=true')).json as { data: { id: string }[] }).data : [];
    await stopAllGateways();
    const redis = new Redis(REDIS_URL!);
    try {
      for (const { id } of keys) {
        const stale = await redis.keys(`switchyard:limits:{limits}:key:${id}:*`);
        if (stale.length > 0) await redis.del(...stale);
      }
    } finally {
      redis.disconnect();
    }
    await database?.drop();
  });

  it('a key created on one instance works on the other after its poll, and a revocation on one stops it on the other', async () => {
    const { id, key } = await createKey(a, { name: 'travelling' });
    await knownEverywhere(key, [a, b]);
    const answer = await client(b, key).chat.completions.create({ model: 'mock', messages: [{ role: 'user', content: 'served by b' }] });
    expect(answer.choices[0]!.message.content).toContain('served by b');

    expect((await admin(a, 'DELETE', `/keys/${id}`)).status).toBe(200);
    expect(await eventually(() => keyStatus(b, key), (status) => status === 401)).toBe(401);
    const refused = await apiError(() => client(b, key).chat.completions.create({ model: 'mock', messages: [{ role: 'user', content: 'still there?' }] }));
    expect(refused).toBeInstanceOf(AuthenticationError);
  });

  it('rotating one key on both at once never hands out a secret that does not work', async () => {
    const { id } = await createKey(a, { name: 'rotated-twice' });
    for (let round = 0; round < 3; round++) {
      const answers = await Promise.all([a, b].map((gateway) => admin(gateway, 'POST', `/keys/${id}/rotate`, { grace_seconds: 3600 })));
      const secrets: string[] = [];
      for (const res of answers) {
        if (res.status === 409) expect(res.text).toContain('was rotated by another request at the same time');
        else {
          expect(res.status, res.text).toBe(200);
          secrets.push((res.json as { key: string }).key);
        }
      }
      expect(secrets.length).toBeGreaterThan(0);
      // A 200's secret works, on both instances, once they have polled the change.
      for (const secret of secrets) await knownEverywhere(secret, [a, b]);
    }
  });

  it('hold one RPM together: 300 concurrent requests split across both admit the limit once', async () => {
    const rpm = 100;
    const { key } = await createKey(a, { name: 'rpm-shared', limits: { rpm } });
    await knownEverywhere(key, [a, b]);
    const clients = [client(a, key), client(b, key)];
    const started = performance.now();
    const results = await Promise.allSettled(
      Array.from({ length: 300 }, (_, i) => clients[i % 2]!.chat.completions.create({ model: 'mock', messages: [{ role: 'user', content: 'count me' }], max_tokens: 5 })),
    );
    const elapsed = performance.now() - started;
    const admitted = results.filter((r) => r.status === 'fulfilled').length;
    for (const result of results) {
      if (result.status === 'fulfilled') continue;
      expect(result.reason).toBeInstanceOf(RateLimitError);
      expect((result.reason as RateLimitError).message).toMatch(/Rate limit reached for key "rpm-shared": 100 requests per minute/);
    }
    // Each instance alone would admit up to 100 of its 150 (200 in all); shared, the burst gets
    // the limit, plus what the window refilled while it ran (a burst under 0.6 s gains nothing).
    expect(admitted).toBeGreaterThanOrEqual(rpm);
    expect(admitted).toBeLessThanOrEqual(rpm + refill(rpm, elapsed));
  });

  it('hold one TPM together: concurrent streams split across both admit exactly what the tokens allow', async () => {
    const ask = (c: OpenAI) => c.chat.completions.create({ model: 'paced', messages: [{ role: 'user', content: 'spend my tokens slowly please' }], max_tokens: 10, stream: true });
    // The estimate the gateway reserves for this request (prompt estimate + max_tokens), read off
    // the x-ratelimit headers of a key whose TPM it cannot reach.
    const probe = await createKey(a, { name: 'tpm-probe', limits: { tpm: 1_000_000 } });
    const { data: probeStream, response } = await ask(client(a, probe.key)).withResponse();
    const estimate = Number(response.headers.get('x-ratelimit-limit-tokens')) - Number(response.headers.get('x-ratelimit-remaining-tokens'));
    probeStream.controller.abort();
    expect(estimate).toBeGreaterThan(10);

    const fits = 100;
    const tpm = fits * estimate;
    const { key } = await createKey(a, { name: 'tpm-shared', limits: { tpm } });
    await knownEverywhere(key, [a, b]);
    const clients = [client(a, key), client(b, key)];
    const started = performance.now();
    // Settles when every admission is decided (stream headers or a refusal); the admitted streams
    // run on for ~5 s, so no refund of an estimate frees tokens while the burst is decided.
    const results = await Promise.allSettled(Array.from({ length: 300 }, (_, i) => ask(clients[i % 2]!)));
    const elapsed = performance.now() - started;
    const streams = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    for (const result of results) {
      if (result.status === 'fulfilled') continue;
      expect(result.reason).toBeInstanceOf(RateLimitError);
      expect((result.reason as RateLimitError).message).toMatch(new RegExp(`Token rate limit reached for key "tpm-shared": ${tpm} tokens per minute`));
    }
    await Promise.all(streams.map(async (stream) => {
      for await (const _ of stream);
    }));
    expect(streams.length).toBeGreaterThanOrEqual(fits);
    expect(streams.length).toBeLessThanOrEqual(fits + refill(fits, elapsed));
  });

  it('hold one budget together: settled spend stays within it, and both instances report the same spend', async () => {
    const budget = 0.5;
    const { id, key } = await createKey(a, { name: 'budget-shared', budget: { usd: budget, period: 'daily' } });
    await knownEverywhere(key, [a, b]);
    const clients = [client(a, key), client(b, key)];
    // ~$0.025 a request: either instance alone could spend the budget on its own half.
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) => clients[i % 2]!.chat.completions.create({ model: 'mock', messages: [{ role: 'user', content: `request ${i} of many` }], max_tokens: 20 }).withResponse()),
    );
    const { ok, spent } = tallyBudgetRun(results, /Budget reached for key "budget-shared": \$0.5 daily/);
    expect(ok).toBeGreaterThan(5);
    expect(spent).toBeLessThanOrEqual(budget);

    // Spend rows are written in the background: wait until each report counts all 200 requests.
    const report = (gateway: Gateway) =>
      eventually(
        async () => ((await admin(gateway, 'GET', `/spend?group_by=key&key_id=${id}`)).json as { data: { group: string; requests: number; cost_usd: number }[] }).data.find((row) => row.group === id),
        (row) => row?.requests === 200,
      );
    const [fromA, fromB] = await Promise.all([report(a), report(b)]);
    expect(fromA?.requests).toBe(200);
    expect(fromA?.cost_usd).toBeCloseTo(spent, 9);
    expect(fromB).toEqual(fromA);
  });
});

describe.skipIf(!REDIS_URL || !DATABASE_URL)('a budget whose counter Redis lost', () => {
  // Counters start again from the recorded spend, which each instance reads again every
  // spend_refresh_interval_ms (spend moves no revision, so a reload alone would not read it).
  it('starts again from the spend recorded since: a spent budget stays spent when Redis restarts empty', async () => {
    const database = await createScratchDatabase(DATABASE_URL!, 'sy_e2e_lost');
    try {
      const gateway = await startGateway(`
auth: { master_key: ${MASTER_KEY} }
storage: { url: "${database.url.toString()}" }
redis: { url: "${REDIS_URL}" }
governance:
  spend_refresh_interval_ms: 200
  spend: { flush_interval_ms: 50 }
  limits: { backend: redis }
${MODELS}`);
      const { id, key } = await createKey(gateway, { name: 'lost-counter', budget: { usd: 0.2, period: 'daily' } });
      const ask = () => client(gateway, key).chat.completions.create({ model: 'mock', messages: [{ role: 'user', content: 'spend a little' }], max_tokens: 20 });
      let served = 0;
      for (;;) {
        const error = await ask().then(() => undefined, (err: unknown) => err);
        if (error === undefined) served++;
        else {
          expect(error).toBeInstanceOf(RateLimitError);
          break;
        }
      }
      expect(served).toBeGreaterThan(2);
      // Redis restarted empty: every counter of this key is gone.
      const redis = new Redis(REDIS_URL!);
      try {
        const counters = await redis.keys(`switchyard:limits:{limits}:key:${id}:*`);
        expect(counters.length).toBeGreaterThan(0);
        await redis.del(...counters);
      } finally {
        redis.disconnect();
      }
      // The spend rows are written (50 ms) and read again (200 ms).
      await new Promise((resolve) => setTimeout(resolve, 800));
      const after = await Promise.allSettled(Array.from({ length: 5 }, () => ask()));
      expect(after.map((result) => (result.status === 'rejected' && result.reason instanceof RateLimitError ? 'refused' : result.status))).toEqual(Array(5).fill('refused'));
      await gateway.stop();
    } finally {
      await database.drop();
    }
  }, 60_000);
});

describe('a limiter whose Redis cannot be reached', () => {
  let down: string;
  let closed: Gateway;
  let open: Gateway;
  const config = (policy: string, cacheStore: string) => `
auth: { master_key: ${MASTER_KEY} }
redis: { url: "${down}" }
governance: { limits: { on_redis_error: ${policy} } }
cache: { store: ${cacheStore} }
${MODELS}`;

  beforeAll(async () => {
    down = `redis://${new URL(await refusedURL()).host}`;
    // Each on its own SQLite database under its temporary directory. The cache store is in memory
    // so that /metrics does not depend on Redis (see the last test).
    [closed, open] = await Promise.all([startGateway(config('closed', 'memory')), startGateway(config('open', 'memory'))]);
  });

  const ask = (gateway: Gateway, key: string) => client(gateway, key).chat.completions.create({ model: 'mock', messages: [{ role: 'user', content: 'is redis there?' }] });
  const fallbacks = async (gateway: Gateway) => metric((await raw(gateway, '/metrics')).text, 'switchyard_limiter_fallbacks_total');

  it('closed: refuses a request with limits with a 503 saying limits cannot be checked; one without limits is served', async () => {
    const limited = await createKey(closed, { name: 'limited', limits: { rpm: 5 } });
    const refused = await apiError(() => ask(closed, limited.key));
    expect(refused).toBeInstanceOf(InternalServerError);
    expect(refused.status).toBe(503);
    expect(refused.message).toMatch(/Limits and budgets cannot be checked right now/);
    expect(Number(refused.headers?.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await fallbacks(closed)).toBeGreaterThan(0);

    const unlimited = await createKey(closed, { name: 'unlimited' });
    expect((await ask(closed, unlimited.key)).choices[0]!.message.content).toContain('is redis there?');
  });

  it("open: admits by this instance's own limits, and counts every such admission in switchyard_limiter_fallbacks_total", async () => {
    const { key } = await createKey(open, { name: 'local-limits', limits: { rpm: 3 } });
    for (let i = 0; i < 3; i++) expect((await ask(open, key)).choices[0]!.message.content).toContain('is redis there?');
    const refused = await apiError(() => ask(open, key));
    expect(refused).toBeInstanceOf(RateLimitError);
    expect(refused.message).toMatch(/Rate limit reached for key "local-limits": 3 requests per minute/);
    expect(await fallbacks(open)).toBeGreaterThanOrEqual(4);
  });

  // The cache store's gauges read Redis when scraped; an unreachable one must not fail the scrape.
  it('keeps /metrics answering while the Redis cache store is down', async () => {
    const gateway = await startGateway(config('open', 'redis'));
    const scrape = await raw(gateway, '/metrics');
    expect(scrape.status, scrape.text).toBe(200);
    expect(scrape.text).toContain('switchyard_limiter_fallbacks_total');
  });
});

/**
 * The shared cache across gateway instances (real Redis from REDIS_URL; skipped without it): an
 * answer one instance stored is a hit on another, exact and semantic; deleting a namespace on one
 * removes it for all. And with Redis unreachable the cache misses and requests keep flowing.
 */
import { randomUUID } from 'node:crypto';
import { APIError, type OpenAI } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeOpenAI, refusedURL } from '../fakes/openai-upstream.js';
import { raw, sdk } from '../helpers/client.js';
import { startGateway, stopAllGateways, type Gateway } from '../helpers/gateway.js';

const REDIS_URL = process.env.REDIS_URL;
if (!REDIS_URL) console.warn('[caching-redis.test] REDIS_URL is not set: the shared-cache tests against a real Redis are skipped.');

let upstream: FakeOpenAI;
const chatCalls = () => upstream.requestsTo('/v1/chat/completions').length;

beforeAll(async () => {
  upstream = await FakeOpenAI.start();
});

afterAll(async () => {
  await stopAllGateways();
  await upstream?.close();
});

const config = (redisUrl: string, prefix: string, nearTtl = 0) => `
providers:
  up: { type: openai, base_url: ${upstream.baseURL}, api_key: sk-up }
redis: { url: ${redisUrl} }
cache: { key_prefix: "${prefix}", near_ttl: ${nearTtl} }
models:
  cached:
    targets: [ { provider: up, model: gpt-4o-mini } ]
    cache: { exact: true, ttl: 60 }
  similar:
    targets: [ { provider: up, model: gpt-4o-mini } ]
    cache: { semantic: { threshold: 0.9 } }
routing:
  retry: { max_retries: 0 }
`;

async function ask(client: OpenAI, model: string, content: string, headers: Record<string, string> = {}) {
  const { data, response } = await client.chat.completions.create({ model, messages: [{ role: 'user', content }] }, { headers }).withResponse();
  return { completion: data, status: response.headers.get('x-switchyard-cache'), similarity: response.headers.get('x-switchyard-cache-similarity') };
}

/** Asks with `Cache-Control: only-if-cached` (a miss is a 504 and stores nothing) until the cache answers. */
async function askCached(client: OpenAI, model: string, content: string) {
  return eventually(
    () => ask(client, model, content, { 'cache-control': 'only-if-cached' }).catch((err: unknown) => {
      if (err instanceof APIError && err.status === 504) return undefined;
      throw err;
    }),
    (answer) => answer !== undefined,
  );
}

/** Polls until `check` passes (stores and the semantic stream are asynchronous). */
async function eventually<T>(check: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 5000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (accept(value) || Date.now() > until) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.skipIf(!REDIS_URL)('a cache shared through Redis', () => {
  let a: Gateway;
  let b: Gateway;
  let clientA: OpenAI;
  let clientB: OpenAI;

  let clientNear: OpenAI;

  beforeAll(async () => {
    const prefix = `switchyard-e2e-${randomUUID()}:`;
    let near: Gateway;
    [a, b, near] = await Promise.all([startGateway(config(REDIS_URL!, prefix)), startGateway(config(REDIS_URL!, prefix)), startGateway(config(REDIS_URL!, prefix, 5))]);
    clientA = sdk(a);
    clientB = sdk(b);
    clientNear = sdk(near);
  });

  it('serves what another instance stored through a near cache too', async () => {
    upstream.reset();
    const question = `Near ${randomUUID()}`;
    const first = await ask(clientA, 'cached', question);
    const viaNear = await askCached(clientNear, 'cached', question);
    expect(viaNear?.status).toBe('HIT');
    expect(viaNear?.completion).toEqual(first.completion);
    expect((await ask(clientNear, 'cached', question)).status).toBe('HIT');
    expect(chatCalls()).toBe(1);
  });

  it('drops near copies when another instance deletes what they copy', async () => {
    const question = `Near delete ${randomUUID()}`;
    await ask(clientA, 'cached', question);
    expect((await askCached(clientNear, 'cached', question))?.status).toBe('HIT');
    const { response } = await clientA.chat.completions.create({ model: 'cached', messages: [{ role: 'user', content: question }] }).withResponse();
    const key = response.headers.get('x-switchyard-cache-key')!;
    expect((await raw(a, `/v1/cache?key=${encodeURIComponent(key)}`, { method: 'DELETE' })).status).toBe(200);
    // Well inside the 5 s near window: the deletion arrives through the stream.
    const gone = await eventually(
      () => ask(clientNear, 'cached', question, { 'cache-control': 'only-if-cached' }).then(() => 'served', (err: unknown) => (err instanceof APIError && err.status === 504 ? 'gone' : 'error')),
      (state) => state === 'gone',
      2_000,
    );
    expect(gone).toBe('gone');
  });

  it('answers on one instance what another stored', async () => {
    upstream.reset();
    const question = `Shared exact ${randomUUID()}`;
    const first = await ask(clientA, 'cached', question);
    expect(first.status).toBe('MISS');
    const second = await askCached(clientB, 'cached', question);
    expect(second?.status).toBe('HIT');
    expect(second?.completion).toEqual(first.completion);
    expect(chatCalls()).toBe(1);
    const stats = (await raw(b, '/v1/cache/stats')).json as { store: string; entries: number };
    expect(stats.store).toBe('redis');
    expect(stats.entries).toBeGreaterThanOrEqual(1);
  });

  it('shares semantic entries: a near-duplicate on another instance is a semantic hit', async () => {
    upstream.reset();
    const topic = randomUUID().slice(0, 8);
    const first = await ask(clientA, 'similar', `How many moons does Jupiter have? (${topic})`);
    expect(first.status).toBe('MISS');
    const near = await askCached(clientB, 'similar', `how many moons does jupiter have (${topic})`);
    expect(near?.status).toBe('SEMANTIC_HIT');
    expect(Number(near?.similarity)).toBeGreaterThanOrEqual(0.9);
    expect(near?.completion).toEqual(first.completion);
    expect(chatCalls()).toBe(1);
  });

  it('deleting the namespace on one instance empties it for all', async () => {
    const question = `Delete me ${randomUUID()}`;
    await ask(clientA, 'cached', question);
    expect((await askCached(clientB, 'cached', question))?.status).toBe('HIT');
    const deleted = await raw(a, '/v1/cache?namespace=shared', { method: 'DELETE' });
    expect((deleted.json as { deleted: number }).deleted).toBeGreaterThanOrEqual(1);
    expect((await ask(clientB, 'cached', question)).status).toBe('MISS');
  });
});

describe('a Redis cache store that cannot be reached', () => {
  it('misses, logs, and keeps answering', async () => {
    upstream.reset();
    const down = (await refusedURL()).replace(/^http:/, 'redis:').replace(/\/v1$/, '');
    const gateway = await startGateway(config(down, 'switchyard-e2e-down:'));
    const client = sdk(gateway);
    for (let i = 0; i < 3; i++) {
      const answer = await ask(client, 'cached', 'Is anyone there?');
      expect(answer.status).toBe('MISS');
      expect(answer.completion.choices[0]!.message.content).toContain('Is anyone there?');
    }
    expect(chatCalls()).toBe(3);
    const stats = await raw(gateway, '/v1/cache/stats');
    expect(stats.status).toBe(503);
    expect((await raw(gateway, '/v1/cache?key=shared:abc', { method: 'DELETE' })).status).toBe(503);
    expect((await raw(gateway, '/v1/cache', { method: 'DELETE' })).status).toBe(503);
    // Logs are written asynchronously (flushed every 200 ms).
    const storeWarnings = () => gateway.logs().filter((line) => /Redis cache store failed/.test(line.msg));
    const warnings = await eventually(async () => storeWarnings(), (found) => found.length > 0);
    expect(warnings.length).toBeGreaterThanOrEqual(1);
    expect(warnings.length).toBeLessThanOrEqual(2);
  });
});

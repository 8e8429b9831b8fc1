/**
 * Response caching and request coalescing end to end (official OpenAI SDK, fake OpenAI upstream):
 * exact hits as JSON and as replayed SSE, only complete answers stored, the request controls
 * (Cache-Control, x-switchyard-cache), TTLs, semantic hits with the built-in and a model embedder,
 * coalescing of identical requests in flight, embeddings caching, the stats and delete endpoints.
 */
import Anthropic from '@anthropic-ai/sdk';
import type { OpenAI } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeAnthropic } from '../fakes/anthropic-upstream.js';
import { FakeOpenAI, OPENAI_ERRORS } from '../fakes/openai-upstream.js';
import { apiError, raw, sdk, type Chunk } from '../helpers/client.js';
import { startGateway, stopAllGateways, type Gateway } from '../helpers/gateway.js';

let upstream: FakeOpenAI;
let claude: FakeAnthropic;
let gateway: Gateway;
let client: OpenAI;

const say = (content: string) => [{ role: 'user' as const, content }];
const chatCalls = () => upstream.requestsTo('/v1/chat/completions').length;
const embeddingCalls = () => upstream.requestsTo('/v1/embeddings').length;
let unique = 0;
/** A question no other test asks, so entries from other tests cannot answer it. */
const fresh = (text: string) => `${text} [${++unique}-${Date.now()}]`;

beforeAll(async () => {
  [upstream, claude] = await Promise.all([FakeOpenAI.start(), FakeAnthropic.start()]);
  gateway = await startGateway(`
providers:
  up: { type: openai, base_url: ${upstream.baseURL}, api_key: sk-up }
  up-us: { type: openai, base_url: ${upstream.baseURL}, api_key: sk-up }
  claude: { type: anthropic, base_url: ${claude.url}, api_key: ${claude.apiKey} }
models:
  claude-cached:
    targets: [ { provider: claude, model: ${claude.model} } ]
    cache: { exact: true }
  cached:
    targets: [ { provider: up, model: gpt-4o-mini } ]
    cache: { exact: true, ttl: 60 }
  short-lived:
    targets: [ { provider: up, model: gpt-4o-mini } ]
    cache: { exact: true, ttl: 1 }
  similar:
    targets: [ { provider: up, model: gpt-4o-mini } ]
    cache: { semantic: { threshold: 0.9 } }
  similar-by-model:
    targets: [ { provider: up, model: gpt-4o-mini } ]
    cache: { semantic: { embedder: embed, threshold: 0.99 } }
  plain:
    targets: [ { provider: up, model: gpt-4o-mini } ]
  always:
    targets: [ { provider: up, model: gpt-4o-mini } ]
    coalesce: always
  never:
    targets: [ { provider: up, model: gpt-4o-mini } ]
    coalesce: off
  embed:
    targets: [ { provider: up, model: text-embedding-3-small } ]
    cache: { exact: true }
  regional:
    targets: [ { provider: up, model: gpt-4o-mini, region: eu-west-1 }, { provider: up-us, model: gpt-4o-mini, region: us-east-1 } ]
    cache: { exact: true }
routing:
  retry: { max_retries: 0 }
  allow_client_overrides: true
`);
  client = sdk(gateway);
});

afterAll(async () => {
  await stopAllGateways();
  await Promise.all([upstream?.close(), claude?.close()]);
});

beforeEach(() => upstream.reset());

async function chat(model: string, content: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  const { data, response } = await client.chat.completions.create({ model, messages: say(content), ...extra } as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming, { headers }).withResponse();
  return { completion: data, headers: response.headers };
}

async function streamed(model: string, content: string, extra: Record<string, unknown> = {}) {
  const { data, response } = await client.chat.completions.create({ model, messages: say(content), stream: true, ...extra } as OpenAI.Chat.ChatCompletionCreateParamsStreaming).withResponse();
  const chunks: Chunk[] = [];
  for await (const chunk of data) chunks.push(chunk);
  const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('');
  return { chunks, text, headers: response.headers };
}

describe('exact cache', () => {
  it('answers a repeated request from the cache, with the same answer, without calling the upstream', async () => {
    const question = fresh('What is the capital of France?');
    const first = await chat('cached', question);
    expect(first.headers.get('x-switchyard-cache')).toBe('MISS');
    expect(first.headers.get('x-switchyard-cache-key')).toMatch(/^shared:[0-9a-f]{64}$/);
    const second = await chat('cached', question);
    expect(second.headers.get('x-switchyard-cache')).toBe('HIT');
    expect(second.headers.get('age')).toMatch(/^\d+$/);
    expect(second.headers.get('x-switchyard-attempts')).toBe('0');
    expect(second.headers.get('x-switchyard-provider')).toBe('up');
    expect(second.completion).toEqual(first.completion);
    expect(chatCalls()).toBe(1);
  });

  it('ignores fields that do not change the answer (user, metadata, stream options) and keys on those that do', async () => {
    const question = fresh('Name a prime number.');
    await chat('cached', question, { temperature: 0, user: 'alice' });
    expect((await chat('cached', question, { temperature: 0, user: 'bob', metadata: { run: '2' } })).headers.get('x-switchyard-cache')).toBe('HIT');
    expect((await chat('cached', question, { temperature: 0.5 })).headers.get('x-switchyard-cache')).toBe('MISS');
    expect((await chat('cached', question, { temperature: 0, max_tokens: 5 })).headers.get('x-switchyard-cache')).toBe('MISS');
    expect(chatCalls()).toBe(3);
  });

  it('keeps model groups apart and leaves groups without caching alone', async () => {
    const question = fresh('Say hi.');
    await chat('cached', question);
    const other = await chat('plain', question);
    expect(other.headers.get('x-switchyard-cache')).toBeNull();
    expect((await chat('plain', question)).headers.get('x-switchyard-cache')).toBeNull();
    expect(chatCalls()).toBe(3);
  });

  it('replays a stored answer as SSE for a streaming request, usage only when asked for', async () => {
    const question = fresh('Tell me a short fact.');
    const { completion } = await chat('cached', question);
    const replay = await streamed('cached', question);
    expect(replay.headers.get('x-switchyard-cache')).toBe('HIT');
    expect(replay.text).toBe(completion.choices[0]!.message.content);
    expect(replay.chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
    expect(replay.chunks.every((chunk) => chunk.usage == null)).toBe(true);
    const withUsage = await streamed('cached', question, { stream_options: { include_usage: true } });
    expect(withUsage.chunks.at(-1)?.usage).toEqual(completion.usage);
    expect(chatCalls()).toBe(1);
  });

  it('stores a completed stream and answers the same request as JSON from it', async () => {
    const question = fresh('Count to three.');
    const live = await streamed('cached', question);
    expect(live.headers.get('x-switchyard-cache')).toBe('MISS');
    await waitForStore();
    const hit = await chat('cached', question);
    expect(hit.headers.get('x-switchyard-cache')).toBe('HIT');
    expect(hit.completion.choices[0]!.message.content).toBe(live.text);
    expect(hit.completion.choices[0]!.finish_reason).toBe('stop');
    expect(hit.completion.id).toBe(live.chunks[0]!.id);
    expect(chatCalls()).toBe(1);
  });

  it('does not store a stream that was cut off, nor an error', async () => {
    const cut = fresh('This stream breaks.');
    upstream.inject({ kind: 'stream-drop', afterChunks: 2 });
    await expect(streamed('cached', cut)).rejects.toThrow();
    await waitForStore();
    expect((await chat('cached', cut)).headers.get('x-switchyard-cache')).toBe('MISS');

    const failing = fresh('This one fails first.');
    upstream.inject({ kind: 'http-error', error: OPENAI_ERRORS.serverError() });
    expect((await apiError(() => chat('cached', failing))).status).toBe(502);
    expect((await chat('cached', failing)).headers.get('x-switchyard-cache')).toBe('MISS');
    expect(chatCalls()).toBe(4);
  });

  it('honours Cache-Control: no-store (BYPASS), no-cache (REFRESH), only-if-cached and max-age', async () => {
    const question = fresh('What time is it?');
    const bypass = await chat('cached', question, {}, { 'cache-control': 'no-store' });
    expect(bypass.headers.get('x-switchyard-cache')).toBe('BYPASS');
    await waitForStore();
    expect((await chat('cached', question)).headers.get('x-switchyard-cache')).toBe('MISS');

    const refreshed = await chat('cached', question, {}, { 'cache-control': 'no-cache' });
    expect(refreshed.headers.get('x-switchyard-cache')).toBe('REFRESH');
    await waitForStore();
    const hit = await chat('cached', question);
    expect(hit.headers.get('x-switchyard-cache')).toBe('HIT');
    expect(hit.completion.id).toBe(refreshed.completion.id);

    const notCached = await apiError(() => chat('cached', fresh('never asked'), {}, { 'cache-control': 'only-if-cached' }));
    expect(notCached.status).toBe(504);
    expect(notCached.message).toMatch(/only-if-cached/);
    // The client asked for nothing but the cache: logged as a warning, not as the gateway's error.
    const line = await vi.waitFor(() => {
      const found = gateway.logs().find((entry) => entry.request_id === notCached.headers?.get('x-request-id'));
      if (!found) throw new Error('no log line yet');
      return found;
    });
    expect(line.level).toBe(40);
    expect((await chat('cached', question, {}, { 'cache-control': 'only-if-cached' })).headers.get('x-switchyard-cache')).toBe('HIT');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await chat('cached', question, {}, { 'cache-control': 'max-age=60' })).headers.get('x-switchyard-cache')).toBe('HIT');
    expect((await chat('cached', question, {}, { 'cache-control': 'max-age=0' })).headers.get('x-switchyard-cache')).toBe('MISS');
    expect(chatCalls()).toBe(4);
  });

  it('takes x-switchyard-cache: on / refresh / bypass, and rejects other values with a 400', async () => {
    const question = fresh('Opt me in.');
    expect((await chat('plain', question, {}, { 'x-switchyard-cache': 'on' })).headers.get('x-switchyard-cache')).toBe('MISS');
    expect((await chat('plain', question, {}, { 'x-switchyard-cache': 'on' })).headers.get('x-switchyard-cache')).toBe('HIT');
    expect((await chat('plain', question, {}, { 'x-switchyard-cache': 'bypass' })).headers.get('x-switchyard-cache')).toBe('BYPASS');
    // A cache header on a group that does not cache: the cache was not used.
    expect((await chat('plain', question, {}, { 'cache-control': 'max-age=60' })).headers.get('x-switchyard-cache')).toBe('BYPASS');
    expect((await chat('cached', fresh('refresh'), {}, { 'x-switchyard-cache': 'REFRESH' })).headers.get('x-switchyard-cache')).toBe('REFRESH');
    const bad = await apiError(() => chat('cached', question, {}, { 'x-switchyard-cache': 'sometimes' }));
    expect(bad.status).toBe(400);
    expect(bad.message).toMatch(/x-switchyard-cache header must be one of on, refresh, bypass/);
  });

  it('expires entries after the group TTL', async () => {
    const question = fresh('Short-lived.');
    await chat('short-lived', question);
    await waitForStore();
    expect((await chat('short-lived', question)).headers.get('x-switchyard-cache')).toBe('HIT');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await chat('short-lived', question)).headers.get('x-switchyard-cache')).toBe('MISS');
    expect(chatCalls()).toBe(2);
  });

  it('caches embeddings of groups with exact caching', async () => {
    const input = fresh('embed me');
    const first = await client.embeddings.create({ model: 'embed', input }).withResponse();
    expect(first.response.headers.get('x-switchyard-cache')).toBe('MISS');
    await waitForStore();
    const second = await client.embeddings.create({ model: 'embed', input }).withResponse();
    expect(second.response.headers.get('x-switchyard-cache')).toBe('HIT');
    expect(second.data.data[0]!.embedding).toEqual(first.data.data[0]!.embedding);
    expect(embeddingCalls()).toBe(1);
  });
});

/** A message as JSON, without what the SDK's stream helper adds (`parsed_output`, undefined members). */
function comparable(message: object): Record<string, unknown> {
  const { parsed_output: _parsed, ...rest } = JSON.parse(JSON.stringify(message)) as Record<string, unknown>;
  return rest;
}

describe('exact cache on the Messages API (Anthropic SDK)', () => {
  const anthropic = () => new Anthropic({ baseURL: gateway.url, apiKey: 'unused', maxRetries: 0, timeout: 15_000 });

  it.each([
    ['an Anthropic upstream (native)', 'claude-cached'],
    ['an OpenAI upstream (translated)', 'cached'],
  ])('answers from the cache for %s, as JSON and replayed as events', async (_label, model) => {
    const before = model === 'cached' ? chatCalls() : claude.chatRequestCount();
    const content = fresh('Describe a cat in five words.');
    const first = await anthropic().messages.create({ model, max_tokens: 64, messages: [{ role: 'user', content }] }).withResponse();
    expect(first.response.headers.get('x-switchyard-cache')).toBe('MISS');
    await waitForStore();
    const second = await anthropic().messages.create({ model, max_tokens: 64, messages: [{ role: 'user', content }] }).withResponse();
    expect(second.response.headers.get('x-switchyard-cache')).toBe('HIT');
    expect(second.data).toEqual(first.data);

    const stream = anthropic().messages.stream({ model, max_tokens: 64, messages: [{ role: 'user', content }] });
    const streamed = await stream.finalMessage();
    expect(comparable(streamed)).toEqual(comparable(first.data));
    const after = model === 'cached' ? chatCalls() : claude.chatRequestCount();
    expect(after - before).toBe(1);
  });

  it('stores a streamed message and keeps Messages entries apart from chat ones', async () => {
    const before = claude.chatRequestCount();
    const content = fresh('Name three colours.');
    const live = await anthropic().messages.stream({ model: 'claude-cached', max_tokens: 64, messages: [{ role: 'user', content }] }).finalMessage();
    await waitForStore();
    const hit = await anthropic().messages.create({ model: 'claude-cached', max_tokens: 64, messages: [{ role: 'user', content }] }).withResponse();
    expect(hit.response.headers.get('x-switchyard-cache')).toBe('HIT');
    expect(comparable(hit.data)).toEqual(comparable(live));
    expect(claude.chatRequestCount() - before).toBe(1);
    // The same question on the chat API is another entry.
    const viaChat = await client.chat.completions.create({ model: 'claude-cached', messages: say(content), max_tokens: 64 }).withResponse();
    expect(viaChat.response.headers.get('x-switchyard-cache')).toBe('MISS');
  });
});

describe('semantic cache', () => {
  it('answers a near-duplicate from the cache and says how similar it was', async () => {
    const topic = `${++unique}x${Date.now()}`;
    const original = await chat('similar', `What is the capital city of France? (topic ${topic})`);
    expect(original.headers.get('x-switchyard-cache')).toBe('MISS');
    await waitForStore();
    const near = await chat('similar', `what is the capital city of france?? (Topic ${topic})`);
    expect(near.headers.get('x-switchyard-cache')).toBe('SEMANTIC_HIT');
    expect(Number(near.headers.get('x-switchyard-cache-similarity'))).toBeGreaterThanOrEqual(0.9);
    expect(near.completion).toEqual(original.completion);
    expect(chatCalls()).toBe(1);
    // Its key is the entry it was served, which DELETE removes: the next near-duplicate misses.
    const key = near.headers.get('x-switchyard-cache-key')!;
    expect(key).toBe(original.headers.get('x-switchyard-cache-key'));
    expect((await raw(gateway, `/v1/cache?key=${encodeURIComponent(key)}`, { method: 'DELETE' })).json).toMatchObject({ deleted: 1 });
    expect((await chat('similar', `What is the capital city of France ? (topic ${topic})`)).headers.get('x-switchyard-cache')).toBe('MISS');
  });

  it('does not match an unrelated question, nor the same question under another system prompt', async () => {
    const topic = `${++unique}y${Date.now()}`;
    await chat('similar', `How do I bake sourdough bread at home? (${topic})`);
    await waitForStore();
    expect((await chat('similar', `Which planets have rings around them? (${topic})`)).headers.get('x-switchyard-cache')).toBe('MISS');
    const otherSystem = await client.chat.completions
      .create({ model: 'similar', messages: [{ role: 'system', content: 'Answer in French.' }, ...say(`How do I bake sourdough bread at home? (${topic})`)] })
      .withResponse();
    expect(otherSystem.response.headers.get('x-switchyard-cache')).toBe('MISS');
    expect(chatCalls()).toBe(3);
  });

  it('embeds with a configured embedding model through the provider layer', async () => {
    const topic = `${++unique}z${Date.now()}`;
    await chat('similar-by-model', `first line ${topic}\nsecond line`);
    await waitForStore();
    expect(embeddingCalls()).toBe(1);
    // The same text as two parts: another exact key, the same embedded text.
    const parts = await client.chat.completions
      .create({ model: 'similar-by-model', messages: [{ role: 'user', content: [{ type: 'text', text: `first line ${topic}` }, { type: 'text', text: 'second line' }] }] })
      .withResponse();
    expect(parts.response.headers.get('x-switchyard-cache')).toBe('SEMANTIC_HIT');
    expect(Number(parts.response.headers.get('x-switchyard-cache-similarity'))).toBeCloseTo(1, 3);
    expect(chatCalls()).toBe(1);
    // The embedder's own cache: the repeated text was not embedded again.
    expect(embeddingCalls()).toBe(1);
  });
});

describe('request coalescing', () => {
  it('sends 100 identical concurrent temperature-0 requests upstream once, and answers all 100', async () => {
    upstream.inject({ kind: 'delay-headers', ms: 300 });
    const question = fresh('Coalesce me.');
    const results = await Promise.all(Array.from({ length: 100 }, () => chat('plain', question, { temperature: 0 })));
    expect(chatCalls()).toBe(1);
    const expected = results[0]!.completion;
    for (const result of results) expect(result.completion).toEqual(expected);
    expect(expected.choices[0]!.message.content).toContain(question);
    expect(results.filter((result) => result.headers.get('x-switchyard-coalesced') === 'true')).toHaveLength(99);
  });

  it('gives concurrent identical streams every chunk of one upstream stream', async () => {
    upstream.inject({ kind: 'slow-stream', chunkDelayMs: 20 });
    const question = fresh('Stream to many.');
    const results = await Promise.all(Array.from({ length: 20 }, () => streamed('plain', question, { seed: 7 })));
    expect(chatCalls()).toBe(1);
    for (const result of results) {
      expect(result.text).toBe(results[0]!.text);
      expect(result.chunks.map((chunk) => chunk.id)).toEqual(results[0]!.chunks.map((chunk) => chunk.id));
    }
    expect(results[0]!.text).toContain(question);
  });

  it('does not coalesce sampled requests on auto, does with `always`, never with `off`', async () => {
    const concurrently = async (model: string, extra: Record<string, unknown>) => {
      upstream.reset();
      upstream.inject({ kind: 'delay-headers', ms: 200 }, { times: 5 });
      const question = fresh('Concurrent.');
      await Promise.all(Array.from({ length: 5 }, () => chat(model, question, extra)));
      return chatCalls();
    };
    expect(await concurrently('plain', { temperature: 0.7 })).toBe(5);
    expect(await concurrently('plain', { temperature: 0, n: 2 })).toBe(5);
    expect(await concurrently('always', { temperature: 0.7 })).toBe(1);
    expect(await concurrently('never', { temperature: 0 })).toBe(5);
  });

  it('gives a bypass or no-store request a call of its own, so it cannot keep the others\' answer out of the cache', async () => {
    upstream.inject({ kind: 'delay-headers', ms: 300 }, { times: 2 });
    const question = fresh('Bypass leads.');
    const bypassing = chat('cached', question, { temperature: 0 }, { 'cache-control': 'no-store' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const [bypassed, normal] = await Promise.all([bypassing, chat('cached', question, { temperature: 0 })]);
    expect(bypassed.headers.get('x-switchyard-cache')).toBe('BYPASS');
    expect(normal.headers.get('x-switchyard-cache')).toBe('MISS');
    expect(normal.headers.get('x-switchyard-coalesced')).toBeNull();
    expect(chatCalls()).toBe(2);
    await waitForStore();
    expect((await chat('cached', question, { temperature: 0 })).headers.get('x-switchyard-cache')).toBe('HIT');
    expect(chatCalls()).toBe(2);
  });

  it('lets the others finish when one coalesced client goes away', async () => {
    upstream.inject({ kind: 'delay-headers', ms: 400 });
    const question = fresh('Leave early.');
    const leaving = new AbortController();
    const first = client.chat.completions.create({ model: 'plain', messages: say(question), temperature: 0 }, { signal: leaving.signal });
    const others = Array.from({ length: 3 }, () => chat('plain', question, { temperature: 0 }));
    setTimeout(() => leaving.abort(), 100);
    await expect(first).rejects.toThrow();
    const results = await Promise.all(others);
    for (const result of results) expect(result.completion.choices[0]!.message.content).toContain(question);
    expect(chatCalls()).toBe(1);
  });
});

describe('cache operations', () => {
  it('reports stats and deletes one key, one namespace, or everything', async () => {
    const question = fresh('Stats please.');
    const { headers } = await chat('cached', question);
    await waitForStore();
    await chat('cached', question);
    const stats = (await raw(gateway, '/v1/cache/stats')).json as Record<string, unknown>;
    expect(stats).toMatchObject({ object: 'cache.stats', store: 'memory' });
    expect(stats.entries).toBeGreaterThanOrEqual(1);
    expect((stats.hits as { exact: number }).exact).toBeGreaterThanOrEqual(1);
    expect(stats.hit_rate).toBeGreaterThan(0);
    expect(stats.tokens_saved).toBeGreaterThan(0);

    const key = headers.get('x-switchyard-cache-key')!;
    const deleted = await raw(gateway, `/v1/cache?key=${encodeURIComponent(key)}`, { method: 'DELETE' });
    expect(deleted.json).toEqual({ object: 'cache.deletion', deleted: 1, key });
    expect((await chat('cached', question)).headers.get('x-switchyard-cache')).toBe('MISS');

    const namespace = await raw(gateway, '/v1/cache?namespace=shared', { method: 'DELETE' });
    expect((namespace.json as { deleted: number }).deleted).toBeGreaterThanOrEqual(1);
    expect((await chat('cached', question)).headers.get('x-switchyard-cache')).toBe('MISS');
    await waitForStore();
    expect((await raw(gateway, '/v1/cache', { method: 'DELETE' })).status).toBe(200);
    expect(((await raw(gateway, '/v1/cache/stats')).json as { entries: number }).entries).toBe(0);
  });

  it('answers a bad delete with a 400 in OpenAI error shape', async () => {
    const both = await raw(gateway, '/v1/cache?key=a:b&namespace=a', { method: 'DELETE' });
    expect(both.status).toBe(400);
    expect((both.json as { error: { message: string } }).error.message).toMatch(/either namespace or key/);
    expect((await raw(gateway, '/v1/cache?key=nohash', { method: 'DELETE' })).status).toBe(400);
    expect((await raw(gateway, '/v1/cache?namespace=', { method: 'DELETE' })).status).toBe(400);
    // A misspelt parameter is refused, not read as "delete everything".
    const before = ((await raw(gateway, '/v1/cache/stats')).json as { entries: number }).entries;
    const typo = await raw(gateway, '/v1/cache?namespce=shared', { method: 'DELETE' });
    expect(typo.status).toBe(400);
    expect(typo.json).toMatchObject({ error: { param: 'namespce', message: expect.stringMatching(/^Unknown query parameter "namespce"/) } });
    expect(((await raw(gateway, '/v1/cache/stats')).json as { entries: number }).entries).toBe(before);
  });

  it('exposes cache metrics', async () => {
    const metrics = (await raw(gateway, '/metrics')).text;
    expect(metrics).toMatch(/switchyard_cache_lookups_total\{kind="exact",result="hit"\} [1-9]/);
    expect(metrics).toMatch(/switchyard_coalesced_requests_total [1-9]/);
    expect(metrics).toMatch(/switchyard_cache_lookup_seconds_bucket/);
    expect(metrics).toMatch(/switchyard_requests_total\{route="chat",model="cached",provider="cache",upstream_model="[^"]+",status="200",cache="hit"\} [1-9]/);
  });
});

/** Stores happen in the background after the answer went out. */
function waitForStore(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 50));
}

describe('answers made under routing restrictions', () => {
  it('are kept apart: a request pinned, excluding or limited to regions gets no answer another target made', async () => {
    const question = fresh('Where is this answered?');
    const first = await chat('regional', question);
    expect(first.headers.get('x-switchyard-cache')).toBe('MISS');
    expect(first.headers.get('x-switchyard-provider')).toBe('up');
    // Each restriction excludes 'up', whose answer is cached: the request goes to 'up-us'.
    const restrictions: Record<string, string>[] = [{ 'x-switchyard-provider': 'up-us' }, { 'x-switchyard-exclude-providers': 'up' }, { 'x-switchyard-region': 'us' }];
    for (const headers of restrictions) {
      const restricted = await chat('regional', question, {}, headers);
      expect(restricted.headers.get('x-switchyard-provider')).toBe('up-us');
    }
    // The same restriction again is answered from the cache, by what 'up-us' said.
    const again = await chat('regional', question, {}, { 'x-switchyard-region': 'us' });
    expect(again.headers.get('x-switchyard-cache')).toBe('HIT');
    expect(again.headers.get('x-switchyard-provider')).toBe('up-us');
    // And the unrestricted request still has its own entry.
    expect((await chat('regional', question)).headers.get('x-switchyard-cache')).toBe('HIT');
    expect(chatCalls()).toBe(4);
  });
});

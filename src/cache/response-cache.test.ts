import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { cacheSchema, groupCacheSchema } from '../config/cache-schema.js';
import type { ChatRequest } from '../gateway/types.js';
import type { ModelGroup } from '../routing/models.js';
import { CacheMetrics } from './cache-metrics.js';
import { NO_DIRECTIVE, cacheDirective } from './directive.js';
import type { Embedder } from './embedders/embedder.js';
import { LocalEmbedder } from './embedders/local.js';
import { MemoryStore } from './memory-store.js';
import { ResponseCache } from './response-cache.js';
import { SemanticCache } from './semantic.js';
import type { CacheStore } from './store.js';

const config = cacheSchema.parse({});
const group = (cache: unknown, name = 'g'): ModelGroup => ({ name, cache: cache === undefined ? undefined : groupCacheSchema.parse(cache) }) as ModelGroup;
const ask = (content: string, extra: Partial<ChatRequest> = {}): ChatRequest => ({ model: 'g', messages: [{ role: 'user', content }], ...extra });
const local = new LocalEmbedder();
const embedder: Embedder = { id: 'local-test', embed: (text) => Promise.resolve(local.embed(text)) };

function setup(options: { store?: CacheStore; now?: () => number } = {}) {
  const store = options.store ?? new MemoryStore({ now: options.now });
  const errors: string[] = [];
  const onError = (_err: unknown, what: string) => errors.push(what);
  const semantic = new SemanticCache({ embedder: () => embedder, defaultEmbedder: 'local', maxEntries: 1000, onError });
  const cache = new ResponseCache({ store, config, metrics: new CacheMetrics(new Registry(), store), semantic, onError, now: options.now });
  return { cache, store, errors, semantic };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('ResponseCache', () => {
  it('does not apply to a group without cache settings unless the request opts in', () => {
    const { cache } = setup();
    expect(cache.planChat(ask('hi'), group(undefined), NO_DIRECTIVE)).toBeUndefined();
    expect(cache.planChat(ask('hi'), group({ exact: false }), NO_DIRECTIVE)).toBeUndefined();
    const plan = cache.planChat(ask('hi'), group(undefined), cacheDirective('on', undefined));
    expect(plan).toMatchObject({ ttlMs: 3_600_000, read: true, write: true });
    expect(plan!.key).toMatch(/^shared:[0-9a-f]{64}$/);
  });

  it('stores and serves an answer with its metadata and age, and only within max-age', async () => {
    let now = 1_000_000;
    const { cache } = setup({ now: () => now });
    const plan = cache.planChat(ask('hi'), group({ exact: true, ttl: 60, namespace: 'team-a' }), NO_DIRECTIVE)!;
    expect(plan.key.startsWith('team-a:')).toBe(true);
    expect(await cache.lookup(plan)).toBeUndefined();
    cache.save(plan, { provider: 'p', model: 'm', usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 }, cost_usd: 0.5 }, '{"id":"x"}');
    await settle();
    now += 5_500;
    expect(await cache.lookup(plan)).toMatchObject({ status: 'HIT', json: '{"id":"x"}', ageSeconds: 5, meta: { provider: 'p' } });
    expect(cache.metrics.counts).toMatchObject({ tokensSaved: 3, usdSaved: 0.5, stores: 1 });
    const young = cache.planChat(ask('hi'), group({ exact: true, ttl: 60, namespace: 'team-a' }), cacheDirective(undefined, 'max-age=5'))!;
    expect(await cache.lookup(young)).toBeUndefined();
    now += 60_000;
    expect(await cache.lookup(plan)).toBeUndefined();
  });

  it('does not store answers over max_entry_bytes, nor when the request said no-store', async () => {
    const { cache, store } = setup();
    const plan = cache.planChat(ask('big'), group({ exact: true }), NO_DIRECTIVE)!;
    cache.save(plan, {}, 'x'.repeat(config.max_entry_bytes + 1));
    const bypass = cache.planChat(ask('small'), group({ exact: true }), cacheDirective('bypass', undefined))!;
    cache.save(bypass, {}, '{}');
    await settle();
    expect((await store.stats()).entries).toBe(0);
  });

  it('treats a failing store as a miss and reports it', async () => {
    const failing = { ...new MemoryStore(), kind: 'memory', get: () => Promise.reject(new Error('down')), stats: () => Promise.resolve({ entries: 0, bytes: 0, evictions: 0 }) } as unknown as CacheStore;
    const { cache, errors } = setup({ store: failing });
    const plan = cache.planChat(ask('hi'), group({ exact: true }), NO_DIRECTIVE)!;
    expect(await cache.lookup(plan)).toBeUndefined();
    expect(errors).toEqual(['cache lookup failed; answering from the upstream']);
  });

  it('serves a near-duplicate semantically within a partition, and forgets a vector whose answer is gone', async () => {
    const { cache, store, semantic } = setup();
    const settings = { semantic: { threshold: 0.9 } };
    const first = cache.planChat(ask('What is the capital of France?'), group(settings), NO_DIRECTIVE)!;
    expect(first.semantic).toBeDefined();
    cache.save(first, {}, '{"answer":"Paris"}');
    await settle();
    const near = cache.planChat(ask('what is the capital of france'), group(settings), NO_DIRECTIVE)!;
    const hit = await cache.lookup(near);
    expect(hit).toMatchObject({ status: 'SEMANTIC_HIT', json: '{"answer":"Paris"}' });
    expect(hit!.similarity).toBeGreaterThanOrEqual(0.9);

    const otherSystem = cache.planChat({ model: 'g', messages: [{ role: 'system', content: 'Be rude.' }, { role: 'user', content: 'what is the capital of france' }] }, group(settings), NO_DIRECTIVE)!;
    expect(await cache.lookup(otherSystem)).toBeUndefined();
    const otherTemperature = cache.planChat(ask('what is the capital of france', { temperature: 0.2 }), group(settings), NO_DIRECTIVE)!;
    expect(await cache.lookup(otherTemperature)).toBeUndefined();

    await store.delete(first.key);
    expect(await cache.lookup(near)).toBeUndefined();
    expect((await semantic.stats()).entries).toBe(0);
  });
});

describe('SemanticCache.query', () => {
  const semantic = new SemanticCache({ embedder: () => embedder, defaultEmbedder: 'local', maxEntries: 10, onError: () => undefined });
  const settings = { threshold: 0.95, max_messages: 2 };

  it('embeds the last messages role-tagged and partitions by everything before them', () => {
    const request: ChatRequest = {
      model: 'g',
      messages: [
        { role: 'system', content: 'S' },
        { role: 'user', content: 'first' },
        { role: 'assistant', content: 'reply' },
        { role: 'user', content: 'second' },
      ],
    };
    const query = semantic.query(request, 'ns', 'g', settings)!;
    expect(query.text).toBe('assistant: reply\nuser: second');
    const otherHistory = semantic.query({ ...request, messages: [{ role: 'system', content: 'S' }, { role: 'user', content: 'zeroth' }, ...request.messages.slice(2)] }, 'ns', 'g', settings)!;
    expect(otherHistory.text).toBe(query.text);
    expect(otherHistory.partition).not.toBe(query.partition);
    expect(semantic.query(request, 'other-ns', 'g', settings)!.partition).not.toBe(query.partition);
  });

  it('keeps tool calls and tool results out of the compared text: they are part of the partition, exactly', () => {
    const turn = (celsius: number): ChatRequest => ({
      model: 'g',
      messages: [
        { role: 'user', content: "What's the weather in Paris right now?" },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: `{"temperature_c": ${celsius}, "conditions": "sunny"}` },
      ],
    });
    const warm = semantic.query(turn(21), 'ns', 'g', settings)!;
    const cold = semantic.query(turn(-3), 'ns', 'g', settings)!;
    expect(warm.text).toBe("user: What's the weather in Paris right now?");
    expect(cold.text).toBe(warm.text);
    expect(cold.partition).not.toBe(warm.partition);
    expect(semantic.query(turn(21), 'ns', 'g', settings)!.partition).toBe(warm.partition);
  });

  it('matches only requests whose compared text has the same numbers, in any order', () => {
    const ask = (content: string) => semantic.query({ model: 'g', messages: [{ role: 'user', content }] }, 'ns', 'g', settings)!.partition;
    expect(ask('Is 5 ml of ibuprofen syrup safe for my 2 year old?')).not.toBe(ask('Is 15 ml of ibuprofen syrup safe for my 2 year old?'));
    expect(ask('Transfer 100 dollars to savings')).not.toBe(ask('Transfer 900 dollars to savings'));
    expect(ask('Book a table for 2 at 19:30, please')).toBe(ask('At 19:30, book a table for 2'));
    expect(ask('What is the capital of France?')).toBe(ask('what is the capital of france'));
    // Decimals and signs are part of a number, and any script's digits count.
    expect(ask('Give 0.5 mg of epinephrine')).not.toBe(ask('Give 5.0 mg of epinephrine'));
    expect(ask('Set the thermostat to -5 degrees')).not.toBe(ask('Set the thermostat to 5 degrees'));
    expect(ask('部屋は５号室')).not.toBe(ask('部屋は９号室'));
    // However many numbers a prompt holds, the partition stays short.
    expect(ask(Array.from({ length: 10_000 }, (_, i) => String(i)).join(' ')).length).toBeLessThan(120);
  });

  it('keeps where the compared turns sit among tool turns, and legacy function calls exact', () => {
    const question = (content: string) => ({ role: 'user' as const, content });
    const call = { role: 'assistant' as const, content: null, tool_calls: [{ id: 'c1', type: 'function' as const, function: { name: 'f', arguments: '{}' } }] };
    const result = { role: 'tool' as const, tool_call_id: 'c1', content: 'ok' };
    const partition = (messages: ChatRequest['messages']) => semantic.query({ model: 'g', messages }, 'ns', 'g', settings)!.partition;
    expect(partition([question('first'), call, result, question('second')])).not.toBe(partition([call, result, question('first'), question('second')]));
    const legacy = (city: string) => partition([question('weather?'), { role: 'assistant', content: null, function_call: { name: 'get_weather', arguments: `{"city":"${city}"}` } } as never, { role: 'function', name: 'get_weather', content: 'sunny' }, question('and now?')]);
    expect(legacy('Paris')).not.toBe(legacy('London'));
  });

  it('does not match requests whose compared messages carry images, or that have no text', () => {
    const image: ChatRequest = { model: 'g', messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this' }, { type: 'image_url', image_url: { url: 'data:,' } }] }] };
    expect(semantic.query(image, 'ns', 'g', settings)).toBeUndefined();
    expect(semantic.query({ model: 'g', messages: [{ role: 'system', content: 'only a system prompt' }] }, 'ns', 'g', settings)).toBeUndefined();
  });
});

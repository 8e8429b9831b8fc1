/**
 * The fake upstream against the official SDK directly (no gateway): its wire format is what the
 * SDK expects, so the e2e suite's assertions rest on a faithful fake.
 */
import OpenAI, { AuthenticationError, BadRequestError, InternalServerError, NotFoundError, RateLimitError } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeOpenAI, OPENAI_ERRORS } from './openai-upstream.js';

let fake: FakeOpenAI;
let client: OpenAI;

beforeAll(async () => {
  fake = await FakeOpenAI.start({ apiKeys: ['sk-fake'] });
  client = new OpenAI({ baseURL: fake.baseURL, apiKey: 'sk-fake', maxRetries: 0 });
});

afterAll(() => fake.close());
beforeEach(() => fake.reset());

describe('fake OpenAI upstream', () => {
  it('serves chat completions, streams with include_usage, models and embeddings', async () => {
    const completion = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    expect(completion.choices[0]!.message.content).toBe('Hello from gpt-4o-mini. You said: hi');

    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.at(-1)!.usage?.total_tokens).toBe(completion.usage!.total_tokens);

    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);
    expect(ids).toContain('gpt-4o-mini');

    const embedding = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'x' });
    expect(embedding.data[0]!.embedding).toHaveLength(8);
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /v1/chat/completions',
      'POST /v1/chat/completions',
      'GET /v1/models',
      'POST /v1/embeddings',
    ]);
  });

  it('answers errors the SDK maps to its error classes', async () => {
    const ask = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'x' }] };
    await expect(new OpenAI({ baseURL: fake.baseURL, apiKey: 'sk-nope-12345678', maxRetries: 0 }).chat.completions.create(ask)).rejects.toBeInstanceOf(AuthenticationError);
    await expect(client.chat.completions.create({ ...ask, model: 'gpt-0' })).rejects.toBeInstanceOf(NotFoundError);
    fake.inject({ kind: 'http-error', error: OPENAI_ERRORS.contextLengthExceeded() });
    await expect(client.chat.completions.create(ask)).rejects.toMatchObject({ status: 400, code: 'context_length_exceeded', param: 'messages' });
    fake.inject({ kind: 'http-error', error: OPENAI_ERRORS.rateLimited() });
    const limited = await client.chat.completions.create(ask).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(RateLimitError);
    expect((limited as RateLimitError).headers?.get('x-ratelimit-remaining-requests')).toBe('0');
    fake.inject({ kind: 'http-error', error: OPENAI_ERRORS.serverError() });
    await expect(client.chat.completions.create(ask)).rejects.toBeInstanceOf(InternalServerError);
    fake.inject({ kind: 'stream-error', afterChunks: 1 });
    const stream = await client.chat.completions.create({ ...ask, stream: true });
    await expect((async () => { for await (const _ of stream); })()).rejects.toThrow('The server had an error while processing your request');
    await expect(client.chat.completions.create({ ...ask, messages: undefined as unknown as [] })).rejects.toBeInstanceOf(BadRequestError);
  });
});

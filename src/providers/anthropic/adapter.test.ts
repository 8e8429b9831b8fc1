/** The adapter against the fake Anthropic API over real HTTP: URL, headers, JSON and SSE, failures. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeAnthropic } from '../../../test/fakes/anthropic-upstream.js';
import { GatewayError } from '../../gateway/errors.js';
import type { ChatCompletionChunk, ChatRequest } from '../../gateway/types.js';
import { closeTransport } from '../transport.js';
import type { AttemptContext } from '../types.js';
import { AnthropicAdapter, type AnthropicAdapterOptions } from './adapter.js';

let fake: FakeAnthropic;

beforeAll(async () => {
  fake = await FakeAnthropic.start({ apiKey: 'sk-ant-unit-0001' });
});
afterAll(async () => {
  await closeTransport();
  await fake.close();
});
beforeEach(() => fake.reset());

function adapter(options: Partial<AnthropicAdapterOptions> = {}): AnthropicAdapter {
  return new AnthropicAdapter({ id: 'claude', baseUrl: fake.url, apiKey: 'sk-ant-unit-0001', anthropicVersion: '2023-06-01', defaultMaxTokens: 1000, headers: {}, ...options });
}

function context(): AttemptContext & { firstBytes: number } {
  const ctx = { upstreamModel: 'claude-haiku-4-5', signal: new AbortController().signal, requestId: 'req-1', firstBytes: 0, firstByte: () => void ctx.firstBytes++ };
  return ctx;
}

const request = (extra: Partial<ChatRequest> = {}): ChatRequest => ({ model: 'group', messages: [{ role: 'user', content: 'Hi' }], ...extra });

async function failure(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    return err as GatewayError;
  }
  throw new Error('expected a failure');
}

async function drain(stream: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

describe('AnthropicAdapter', () => {
  it('posts to /v1/messages with the key, version and configured headers, and reports the first byte', async () => {
    fake.enqueue({ kind: 'reply', text: 'Hello there.', finish: 'stop', usage: { input: 9, output: 3 } });
    const ctx = context();
    const completion = await adapter({ headers: { 'anthropic-beta': 'prompt-caching-2024-07-31' } }).chat(request(), ctx);
    expect(completion.choices[0]!.message.content).toBe('Hello there.');
    expect(completion.model).toBe('claude-haiku-4-5');
    expect(ctx.firstBytes).toBe(1);
    const sent = fake.requests.at(-1)!;
    expect(sent.path).toBe('/v1/messages');
    expect(sent.headers).toMatchObject({ 'x-api-key': 'sk-ant-unit-0001', 'anthropic-version': '2023-06-01', 'anthropic-beta': 'prompt-caching-2024-07-31', 'content-type': 'application/json' });
    expect(sent.headers.authorization).toBeUndefined();
    expect(fake.lastChatBody()).toEqual({ model: 'claude-haiku-4-5', max_tokens: 1000, messages: [{ role: 'user', content: 'Hi' }] });
  });

  it('accepts a base URL that already ends in /v1 (and trailing slashes)', async () => {
    await adapter({ baseUrl: `${fake.url}/v1/` }).chat(request(), context());
    expect(fake.requests.at(-1)!.path).toBe('/v1/messages');
  });

  it('streams, asking upstream for stream: true', async () => {
    fake.enqueue({ kind: 'reply', text: 'One two three', finish: 'stop', usage: { input: 4, output: 3 } });
    const chunks = await drain(await adapter().chatStream(request({ stream: true }), context()));
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('One two three');
    expect(chunks.at(-1)!.usage).toMatchObject({ prompt_tokens: 4, completion_tokens: 3 });
    expect(fake.lastChatBody().stream).toBe(true);
  });

  it('rejects a request Anthropic cannot express before sending anything', async () => {
    const err = await failure(adapter().chat(request({ n: 3 }), context()));
    expect(err.status).toBe(400);
    expect(fake.chatRequestCount()).toBe(0);
  });

  it('turns a refused key into a 502 that does not contain the key', async () => {
    const err = await failure(adapter({ apiKey: 'sk-ant-wrong-key-9999' }).chat(request(), context()));
    expect([err.status, err.retryable]).toEqual([502, true]);
    expect(err.message).toContain('HTTP 401');
    expect(err.message).not.toContain('sk-ant-wrong-key-9999');
  });

  it('sends no x-api-key when none is configured (the upstream then refuses)', async () => {
    const err = await failure(adapter({ apiKey: undefined }).chat(request(), context()));
    expect(err.message).toContain('x-api-key header is required');
    expect(fake.lastHeaders()['x-api-key']).toBeUndefined();
  });

  it('reads HTTP errors of a stream request from the error body', async () => {
    fake.enqueue({ kind: 'http-error', errorClass: 'overloaded', message: 'Overloaded' });
    const err = await failure(adapter().chatStream(request({ stream: true }), context()));
    expect([err.code, err.status, err.retryable]).toEqual(['upstream_error', 502, true]);
    expect(err.message).toContain('HTTP 529: Overloaded');
  });

  it('turns a garbage 200 body and a truncated stream into 502s', async () => {
    fake.enqueue({ kind: 'garbage' });
    expect((await failure(adapter().chat(request(), context()))).message).toContain('not valid JSON');
    fake.enqueue({ kind: 'stream-truncated', text: 'Half an' });
    const stream = await adapter().chatStream(request({ stream: true }), context());
    expect((await failure(drain(stream))).message).toContain('before it was complete');
  });

  it('has no embeddings: a 400 naming the provider', async () => {
    const err = await failure(adapter().embeddings());
    expect([err.code, err.status]).toEqual(['invalid_request', 400]);
    expect(err.message).toContain('"claude"');
    expect(err.message).toContain('no embeddings API');
  });
});

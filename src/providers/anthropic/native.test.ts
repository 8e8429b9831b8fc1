/** The adapter's native Messages capability against the fake Anthropic API over real HTTP. */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeAnthropic, fakeTokenCount } from '../../../test/fakes/anthropic-upstream.js';
import { GatewayError } from '../../gateway/errors.js';
import { toJson } from '../../gateway/raw-json.js';
import { nativeFrame } from '../../http/anthropic-sse.js';
import { closeTransport } from '../transport.js';
import type { AttemptContext, NativeStreamEvent } from '../types.js';
import { AnthropicAdapter, type AnthropicAdapterOptions } from './adapter.js';
import type { MessagesRequest } from './api.js';

let fake: FakeAnthropic;

beforeAll(async () => {
  fake = await FakeAnthropic.start({ apiKey: 'sk-ant-unit-0002' });
});
afterAll(async () => {
  await closeTransport();
  await fake.close();
});
beforeEach(() => fake.reset());

const fixture = (name: string): string => readFileSync(new URL(`./__fixtures__/${name}`, import.meta.url), 'utf8');

function native(options: Partial<AnthropicAdapterOptions> = {}) {
  return new AnthropicAdapter({ id: 'claude', baseUrl: fake.url, apiKey: 'sk-ant-unit-0002', anthropicVersion: '2023-06-01', defaultMaxTokens: 1000, headers: {}, ...options }).messages;
}

function context(): AttemptContext & { firstBytes: number } {
  const ctx = { upstreamModel: 'claude-haiku-4-5', signal: new AbortController().signal, requestId: 'req-1', firstBytes: 0, firstByte: () => void ctx.firstBytes++ };
  return ctx;
}

/** A request full of what only Anthropic understands. */
const anthropicOnly = (): MessagesRequest => ({
  model: 'smart',
  max_tokens: 77,
  top_k: 5,
  service_tier: 'standard_only',
  container: 'container_011CPR5CNjB747bTd36fQLFk',
  mcp_servers: [{ type: 'url', url: 'https://mcp.example.com/sse', name: 'example' }],
  system: [{ type: 'text', text: 'Cite sources.', cache_control: { type: 'ephemeral', ttl: '1h' } }],
  messages: [
    {
      role: 'user',
      content: [
        { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'The grass is green.' }, title: 'Facts', citations: { enabled: true } },
        { type: 'text', text: 'What colour is the grass?' },
      ],
    },
  ],
  tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 2 }],
  output_config: { effort: 'low' },
});

async function failure(promise: Promise<unknown>): Promise<GatewayError> {
  const error: unknown = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(GatewayError);
  return error as GatewayError;
}

async function drain(stream: AsyncIterable<NativeStreamEvent>): Promise<NativeStreamEvent[]> {
  const events: NativeStreamEvent[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

describe('AnthropicAdapter.messages.create', () => {
  it('sends the client body as it is with only the model replaced, and leaves the body unchanged', async () => {
    const body = anthropicOnly();
    const before = structuredClone(body);
    const ctx = context();
    await native().create({ body }, ctx);
    expect(fake.lastChatBody()).toEqual({ ...before, model: 'claude-haiku-4-5' });
    expect(Object.keys(fake.lastChatBody())).toEqual(Object.keys(before));
    expect(body).toEqual(before);
    expect(ctx.firstBytes).toBe(1);
    const sent = fake.requests.at(-1)!;
    expect(sent.path).toBe('/v1/messages');
    expect(sent.headers).toMatchObject({ 'x-api-key': 'sk-ant-unit-0002', 'anthropic-version': '2023-06-01', 'content-type': 'application/json' });
    expect(sent.headers['anthropic-beta']).toBeUndefined();
  });

  it('returns the upstream JSON text as it came, with usage in canonical terms', async () => {
    const recorded = fixture('message-cache-usage.json');
    fake.enqueue({ kind: 'raw', body: recorded });
    const { message, usage } = await native().create({ body: anthropicOnly() }, context());
    expect(toJson(message)).toBe(recorded);
    expect(message).toEqual(JSON.parse(recorded));
    const wire = (JSON.parse(recorded) as { usage: Record<string, number> }).usage;
    expect(usage).toMatchObject({
      prompt_tokens: wire.input_tokens! + wire.cache_read_input_tokens! + wire.cache_creation_input_tokens!,
      completion_tokens: wire.output_tokens,
      prompt_tokens_details: { cached_tokens: wire.cache_read_input_tokens },
    });
  });

  it('passes the client anthropic-beta header on, after the configured betas', async () => {
    await native().create({ body: anthropicOnly(), beta: 'files-api-2025-04-14' }, context());
    expect(fake.lastHeaders()['anthropic-beta']).toBe('files-api-2025-04-14');
    await native({ headers: { 'Anthropic-Beta': 'context-1m-2025-08-07' } }).create({ body: anthropicOnly(), beta: 'files-api-2025-04-14' }, context());
    expect(fake.lastHeaders()['anthropic-beta']).toBe('context-1m-2025-08-07,files-api-2025-04-14');
    await native({ headers: { 'anthropic-beta': 'context-1m-2025-08-07' } }).create({ body: anthropicOnly() }, context());
    expect(fake.lastHeaders()['anthropic-beta']).toBe('context-1m-2025-08-07');
  });

  it('maps errors like the canonical path: 529 retryable, 400 passed on with its message', async () => {
    fake.enqueue({ kind: 'http-error', errorClass: 'overloaded', message: 'Overloaded' });
    const overloaded = await failure(native().create({ body: anthropicOnly() }, context()));
    expect([overloaded.code, overloaded.status, overloaded.retryable]).toEqual(['upstream_error', 502, true]);
    fake.enqueue({ kind: 'http-error', errorClass: 'invalid_request', message: 'top_k: must be positive' });
    const invalid = await failure(native().create({ body: anthropicOnly() }, context()));
    expect([invalid.status, invalid.retryable]).toEqual([400, false]);
    expect(invalid.message).toContain('top_k: must be positive');
    fake.enqueue({ kind: 'garbage' });
    expect((await failure(native().create({ body: anthropicOnly() }, context()))).message).toContain('not valid JSON');
    fake.enqueue({ kind: 'raw', body: '{"type":"message"}' });
    expect((await failure(native().create({ body: anthropicOnly() }, context()))).status).toBe(502);
  });
});

describe('AnthropicAdapter.messages.stream', () => {
  it('asks for a stream and yields the upstream events, whose frames are the upstream bytes', async () => {
    fake.enqueue({ kind: 'reply', text: 'One two three', finish: 'stop', usage: { input: 4, output: 3 } });
    const events = await drain(await native().stream({ body: { ...anthropicOnly(), stream: true }, beta: 'x-beta' }, context()));
    expect(events.map(nativeFrame).join('')).toBe(fake.lastResponseText());
    expect(fake.lastChatBody()).toMatchObject({ stream: true, top_k: 5, model: 'claude-haiku-4-5' });
    expect(fake.lastHeaders()['anthropic-beta']).toBe('x-beta');
    expect(events.filter((e) => e.usage).at(-1)!.usage).toMatchObject({ prompt_tokens: 4, completion_tokens: 3 });
  });

  it('forwards a recorded stream byte for byte', async () => {
    const recorded = fixture('stream-web-search.sse.txt');
    fake.enqueue({ kind: 'raw', body: recorded });
    const events = await drain(await native().stream({ body: { ...anthropicOnly(), stream: true } }, context()));
    expect(events.map(nativeFrame).join('')).toBe(recorded);
  });

  it('rejects an HTTP error before the stream, and throws an in-stream error before output from the first read', async () => {
    fake.enqueue({ kind: 'http-error', errorClass: 'overloaded', message: 'Overloaded' });
    const rejected = await failure(native().stream({ body: { ...anthropicOnly(), stream: true } }, context()));
    expect([rejected.status, rejected.retryable]).toEqual([502, true]);
    expect(rejected.message).toContain('HTTP 529: Overloaded');

    fake.enqueue({ kind: 'stream-error-after-start', message: 'Overloaded' });
    const iterator = (await native().stream({ body: { ...anthropicOnly(), stream: true } }, context()))[Symbol.asyncIterator]();
    const error = await failure(iterator.next());
    expect([error.code, error.retryable]).toEqual(['upstream_error', true]);
  });
});

describe('AnthropicAdapter.messages.countTokens', () => {
  it('asks /v1/messages/count_tokens with the body as it is and returns the exact count as sent', async () => {
    const body = { model: 'smart', system: 'Be brief.', messages: [{ role: 'user' as const, content: 'How many tokens?' }], mcp_servers: [] };
    const counted = await native().countTokens({ body, beta: 'token-counting-2024-11-01' }, context());
    const sent = fake.requests.at(-1)!;
    expect(sent.path).toBe('/v1/messages/count_tokens');
    expect(sent.body).toEqual({ ...body, model: 'claude-haiku-4-5' });
    expect(sent.headers['anthropic-beta']).toBe('token-counting-2024-11-01');
    expect(counted.input_tokens).toBe(fakeTokenCount(body));
    expect(toJson(counted)).toBe(fake.lastResponseText());
  });

  it('maps upstream errors like every other call', async () => {
    const bad = await failure(native({ apiKey: 'sk-ant-wrong' }).countTokens({ body: { model: 'm', messages: [{ role: 'user', content: 'x' }] } }, context()));
    expect([bad.status, bad.retryable]).toEqual([502, true]);
    expect(bad.message).toContain('HTTP 401');
  });
});

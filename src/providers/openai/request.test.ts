import { describe, expect, it } from 'vitest';
import { clientJsonOf, withClientJson } from '../../gateway/client-json.js';
import type { ChatRequest, EmbeddingsRequest } from '../../gateway/types.js';
import { buildChatBody, buildEmbeddingsBody, buildHeaders, withReasoningTokenLimit } from './request.js';

function chatRequest(extra: Partial<ChatRequest> = {}): ChatRequest {
  return {
    model: 'smart',
    messages: [
      { role: 'developer', content: 'Answer in French.' },
      { role: 'user', content: [{ type: 'text', text: 'Hello' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] },
    ],
    temperature: 0.3,
    seed: 7,
    tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { location: { type: 'string' } } } } }],
    tool_choice: 'auto',
    metadata: { team: 'search' },
    future_field: { a: [1, { b: null }] },
    ...extra,
  };
}

const parse = (body: string | Buffer): Record<string, unknown> => JSON.parse(body.toString()) as Record<string, unknown>;

describe('buildChatBody', () => {
  it('changes only `model` for a non-streaming request, keeping every other field as it was', () => {
    const request = chatRequest();
    const body = parse(buildChatBody(request, 'gpt-4o-2024-08-06', true));
    expect(body).toEqual({ ...JSON.parse(JSON.stringify(request)), model: 'gpt-4o-2024-08-06' });
    expect(body).not.toHaveProperty('stream_options');
  });

  it('keeps `stream: false` and a client stream_options on a non-streaming request untouched', () => {
    const request = chatRequest({ stream: false });
    expect(parse(buildChatBody(request, 'up', true))).toEqual({ ...JSON.parse(JSON.stringify(request)), model: 'up' });
  });

  it('forces stream_options.include_usage for streams when streamUsage is on', () => {
    const body = parse(buildChatBody(chatRequest({ stream: true }), 'gpt-4o-mini', true));
    expect(body.stream).toBe(true);
    expect(body.stream_options).toEqual({ include_usage: true });
    expect(body.model).toBe('gpt-4o-mini');
  });

  it('overrides include_usage: false and keeps other stream_options fields', () => {
    const body = parse(buildChatBody(chatRequest({ stream: true, stream_options: { include_usage: false, include_obfuscation: false } }), 'm', true));
    expect(body.stream_options).toEqual({ include_usage: true, include_obfuscation: false });
  });

  it('handles stream_options: null from the client', () => {
    expect(parse(buildChatBody(chatRequest({ stream: true, stream_options: null }), 'm', true)).stream_options).toEqual({ include_usage: true });
  });

  it('leaves stream_options as the client sent it when streamUsage is off (older servers reject it)', () => {
    expect(parse(buildChatBody(chatRequest({ stream: true }), 'm', false))).not.toHaveProperty('stream_options');
    expect(parse(buildChatBody(chatRequest({ stream: true, stream_options: { include_usage: true } }), 'm', false)).stream_options).toEqual({
      include_usage: true,
    });
  });

  it('apart from model and stream_options, a streaming body equals the request', () => {
    const request = chatRequest({ stream: true, n: 2 });
    const { stream_options: _ignored, ...rest } = parse(buildChatBody(request, 'm', true));
    expect(rest).toEqual({ ...JSON.parse(JSON.stringify(request)), model: 'm' });
  });

  it('does not mutate the request and gives the same body when run again (retries, other targets)', () => {
    const request = chatRequest({ stream: true, stream_options: { include_usage: false } });
    const before = structuredClone(request);
    const first = buildChatBody(request, 'gpt-4o', true);
    const second = buildChatBody(request, 'gpt-4o', true);
    expect(second).toBe(first);
    expect(request).toEqual(before);
    // A second target with another upstream model sees the original request, not the first body.
    expect(parse(buildChatBody(request, 'claude-sonnet-4-5', false))).toMatchObject({ model: 'claude-sonnet-4-5', stream_options: { include_usage: false } });
    expect(request).toEqual(before);
  });
});

describe('buildChatBody from the client\'s own bytes', () => {
  /** The request as the route hands it on: decoded from `text`, with the bytes kept. */
  const received = (text: string): ChatRequest => withClientJson(JSON.parse(text) as ChatRequest, Buffer.from(text));
  /** The same request without its bytes: what JSON.stringify makes of it. */
  const serialised = (request: ChatRequest, model: string, streamUsage: boolean) => parse(buildChatBody({ ...request }, model, streamUsage));

  const texts = {
    compact: JSON.stringify(chatRequest()),
    'model last, pretty-printed': JSON.stringify({ ...chatRequest(), model: undefined, extra: 'x' }, null, 2).replace(/\n}$/, ',\n  "model" : "smart"\n}'),
    stream: JSON.stringify(chatRequest({ stream: true })),
    'stream, usage asked': JSON.stringify(chatRequest({ stream: true, stream_options: { include_usage: true } })),
    'stream, options without usage': JSON.stringify(chatRequest({ stream: true, stream_options: { include_obfuscation: false } })),
    'stream, null options': JSON.stringify(chatRequest({ stream: true, stream_options: null })),
    'escapes and "model": in content': JSON.stringify(chatRequest({ messages: [{ role: 'user', content: 'say "model":"x" \\" {[' }] })),
  };

  for (const [name, text] of Object.entries(texts)) {
    it(`sends what JSON.stringify would: ${name}`, () => {
      for (const [model, streamUsage] of [['gpt-4o-2024-08-06', true], ['gpt-4o-2024-08-06', false], ['smart', true], ['é "quoted"', true]] as const) {
        const request = received(text);
        expect(parse(buildChatBody(request, model, streamUsage))).toEqual(serialised(request, model, streamUsage));
      }
    });
  }

  it('sends the client\'s bytes themselves when nothing changes, and edits only the model otherwise', () => {
    const text = texts['model last, pretty-printed'];
    const request = received(text);
    const same = buildChatBody(request, 'smart', true);
    expect(Buffer.isBuffer(same) && same.toString()).toBe(text);
    expect(buildChatBody(request, 'gpt-4o', true).toString()).toBe(text.replace('"model" : "smart"', '"model" : "gpt-4o"'));
    expect(buildChatBody(received(texts.stream), 'smart', true).toString()).toBe(`${texts.stream.slice(0, -1)},"stream_options":{"include_usage":true}}`);
  });

  it('serialises a request a stage changed (a copy) or whose text it cannot edit', () => {
    const request = received(texts.compact);
    expect(typeof buildChatBody({ ...request, temperature: 1 }, 'm', true)).toBe('string');
    expect(typeof buildChatBody(received(texts['stream, options without usage']), 'm', true)).toBe('string');
    expect(typeof buildChatBody(withClientJson(chatRequest(), Buffer.from(`\ufeff${texts.compact}`)), 'm', true)).toBe('string');
  });
});

describe('buildEmbeddingsBody', () => {
  it('changes only `model`', () => {
    const request: EmbeddingsRequest = { model: 'embed', input: ['a', 'b'], encoding_format: 'base64', dimensions: 256, user: 'u', extra: 1 };
    const before = structuredClone(request);
    expect(parse(buildEmbeddingsBody(request, 'text-embedding-3-small'))).toEqual({ ...before, model: 'text-embedding-3-small' });
    expect(request).toEqual(before);
  });

  it('edits only the model in the client\'s bytes, keeping their spelling', () => {
    const text = '{ "input": ["a", "b"], "dimensions": 256.0, "model": "embed" }';
    const request = withClientJson(JSON.parse(text) as EmbeddingsRequest, Buffer.from(text));
    expect(buildEmbeddingsBody(request, 'text-embedding-3-small').toString()).toBe(text.replace('"embed"', '"text-embedding-3-small"'));
    expect(buildEmbeddingsBody(request, 'embed')).toBe(clientJsonOf(request));
  });
});

describe('buildHeaders', () => {
  it('sends JSON, the request id and a bearer key', () => {
    expect(buildHeaders('sk-test', {}, 'req-1')).toEqual({ 'content-type': 'application/json', 'x-request-id': 'req-1', authorization: 'Bearer sk-test' });
  });

  it('sends no authorization header without a key (local servers)', () => {
    expect(buildHeaders(undefined, {}, 'req-1')).not.toHaveProperty('authorization');
    expect(buildHeaders('', {}, 'req-1')).not.toHaveProperty('authorization');
  });

  it('adds configured headers, but the configured key wins over a configured authorization header', () => {
    const headers = buildHeaders('sk-real', { 'openai-organization': 'org-1', authorization: 'Bearer other' }, 'r');
    expect(headers['openai-organization']).toBe('org-1');
    expect(headers.authorization).toBe('Bearer sk-real');
  });
});

describe('withReasoningTokenLimit', () => {
  const request: ChatRequest = { model: 'g', messages: [{ role: 'user', content: 'hi' }], max_tokens: 300, temperature: 1 };

  it.each(['o1', 'o3-mini', 'o4-mini-2025-04-16', 'gpt-5', 'gpt-5-mini', 'gpt-5.1'])('sends max_completion_tokens instead of max_tokens to %s', (model) => {
    expect(withReasoningTokenLimit(request, model)).toEqual({ model: 'g', messages: request.messages, max_completion_tokens: 300, temperature: 1 });
    expect(request.max_tokens).toBe(300); // the input is left as it was (a retry translates it again)
  });

  it.each(['gpt-4o', 'gpt-4.1-mini', 'omni-moderation-latest', 'gpt-50x'])('leaves %s alone', (model) => {
    expect(withReasoningTokenLimit(request, model)).toBe(request);
  });

  it('leaves a request that already sets max_completion_tokens (or no limit) alone', () => {
    const both = { ...request, max_completion_tokens: 100 };
    expect(withReasoningTokenLimit(both, 'o3')).toBe(both);
    const none: ChatRequest = { model: 'g', messages: [] };
    expect(withReasoningTokenLimit(none, 'o3')).toBe(none);
  });
});

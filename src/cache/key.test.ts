import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ChatRequest, EmbeddingsRequest } from '../gateway/types.js';
import { IGNORED_CHAT_FIELDS, IGNORED_EMBEDDINGS_FIELDS, IGNORED_MESSAGES_FIELDS, chatCacheKey, embeddingsCacheKey, messagesCacheKey, type CacheKeyInput } from './key.js';

const CHAT: CacheKeyInput = { namespace: 'team-a', group: 'gpt-4o', kind: 'chat' };
const EMBEDDINGS: CacheKeyInput = { namespace: 'team-a', group: 'embed-small', kind: 'embeddings' };

function chat(extra: Record<string, unknown> = {}): ChatRequest {
  return { model: 'gpt-4o', messages: [{ role: 'user', content: 'What is 2 + 2?' }], ...extra };
}

const key = (request: ChatRequest, input: CacheKeyInput = CHAT): string => chatCacheKey(request, input);
const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

describe('chatCacheKey: format', () => {
  it('is the SHA-256 of ["v1", kind, namespace, group, canonical request]', () => {
    const request: ChatRequest = { model: 'alias', stream: true, messages: [{ role: 'user', content: 'hi' }], temperature: 0 };
    const expected = sha256('["v1","chat","team-a","gpt-4o",{"messages":[{"content":"hi","role":"user"}],"temperature":0}]');
    expect(key(request)).toBe(expected);
    expect(key(request)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('does not change the request', () => {
    const request = chat({ tools: [{ type: 'function', function: { name: 'f', parameters: { b: 1, a: 2 } } }], user: 'u' });
    const before = structuredClone(request);
    key(request);
    expect(request).toEqual(before);
  });

  it('rejects an input whose kind is not the function’s', () => {
    expect(() => chatCacheKey(chat(), { ...CHAT, kind: 'embeddings' })).toThrow(/kind 'embeddings'/);
    expect(() => embeddingsCacheKey({ model: 'e', input: 'x' }, { ...EMBEDDINGS, kind: 'chat' })).toThrow(/kind 'chat'/);
  });
});

describe('chatCacheKey: canonical form', () => {
  it('ignores key order at every depth', () => {
    const a: ChatRequest = {
      model: 'm',
      messages: [{ role: 'user', content: 'hi', name: 'ann' }],
      temperature: 0.2,
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { x: { type: 'string' }, y: { type: 'number' } } } } }],
      response_format: { type: 'json_schema', json_schema: { name: 's', schema: { b: 1, a: 2 }, strict: true } },
    };
    const b: ChatRequest = {
      response_format: { json_schema: { strict: true, schema: { a: 2, b: 1 }, name: 's' }, type: 'json_schema' },
      tools: [{ function: { parameters: { properties: { y: { type: 'number' }, x: { type: 'string' } }, type: 'object' }, name: 'f' }, type: 'function' }],
      temperature: 0.2,
      messages: [{ name: 'ann', content: 'hi', role: 'user' }],
      model: 'm',
    };
    expect(key(a)).toBe(key(b));
  });

  it('drops undefined members at every depth', () => {
    const plain = chat({ tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }] });
    const withUndefined = chat({
      temperature: undefined,
      messages: [{ role: 'user', content: 'What is 2 + 2?', name: undefined }],
      tools: [{ type: 'function', function: { name: 'f', description: undefined, parameters: { type: 'object', extra: undefined } } }],
    });
    expect(key(withUndefined)).toBe(key(plain));
  });

  it.each([
    'n', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'stop', 'seed', 'tools', 'tool_choice',
    'response_format', 'logit_bias', 'logprobs', 'parallel_tool_calls', 'reasoning_effort', 'thinking',
  ])('treats %s: null as absent', (field) => {
    expect(key(chat({ [field]: null }))).toBe(key(chat()));
  });

  it('treats null as absent for known optional message fields', () => {
    const request = chat({ messages: [{ role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }], name: null }] });
    const without = chat({ messages: [{ role: 'assistant', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] }] });
    expect(key(request)).toBe(key(without));
  });

  it('keeps null on unknown fields and inside values, where it may mean something', () => {
    expect(key(chat({ top_k: null }))).not.toBe(key(chat()));
    const strictNull = chat({ response_format: { type: 'json_schema', json_schema: { name: 's', strict: null } } });
    const strictAbsent = chat({ response_format: { type: 'json_schema', json_schema: { name: 's' } } });
    expect(key(strictNull)).not.toBe(key(strictAbsent));
  });

  it('does not assume defaults: an absent parameter differs from its usual default', () => {
    expect(key(chat({ temperature: 1 }))).not.toBe(key(chat()));
    expect(key(chat({ n: 1 }))).not.toBe(key(chat()));
    expect(key(chat({ top_p: 1 }))).not.toBe(key(chat()));
  });

  it('encodes numbers by value (1 and 1.0 are the same number; non-finite numbers encode as null)', () => {
    expect(key(chat({ temperature: 1.0 }))).toBe(key(chat({ temperature: 1 })));
    expect(key(chat({ top_k: Number.NaN }))).toBe(key(chat({ top_k: null })));
  });
});

describe('chatCacheKey: ignored fields', () => {
  it('ignores exactly the documented list', () => {
    expect([...IGNORED_CHAT_FIELDS].sort()).toEqual(
      ['metadata', 'model', 'prompt_cache_key', 'prompt_cache_retention', 'safety_identifier', 'service_tier', 'store', 'stream', 'stream_options', 'user'],
    );
  });

  const sample: Record<string, unknown> = {
    model: 'another-alias',
    stream: true,
    stream_options: { include_usage: true },
    user: 'end-user-42',
    safety_identifier: 'hash-of-user',
    metadata: { trace: 'abc' },
    store: true,
    service_tier: 'flex',
    prompt_cache_key: 'conversation-7',
    prompt_cache_retention: '24h',
  };

  it.each(IGNORED_CHAT_FIELDS.map((field) => [field]))('ignores %s', (field) => {
    expect(sample).toHaveProperty(field);
    expect(key(chat({ [field]: sample[field] }))).toBe(key(chat()));
  });

  it('ignores them only at the top level (a message member named "user" still counts)', () => {
    const a = chat({ messages: [{ role: 'user', content: 'x', metadata: { a: 1 } }] });
    const b = chat({ messages: [{ role: 'user', content: 'x' }] });
    expect(key(a)).not.toBe(key(b));
  });
});

describe('chatCacheKey: fields that change the answer', () => {
  const tool = { type: 'function', function: { name: 'lookup', parameters: { type: 'object' } } };
  it.each<[string, unknown]>([
    ['n', 2],
    ['seed', 7],
    ['temperature', 0],
    ['top_p', 0.5],
    ['max_tokens', 100],
    ['max_completion_tokens', 100],
    ['stop', ['\n']],
    ['presence_penalty', 0.5],
    ['frequency_penalty', 0.5],
    ['logit_bias', { '50256': -100 }],
    ['logprobs', true],
    ['top_logprobs', 3],
    ['response_format', { type: 'json_object' }],
    ['tools', [tool]],
    ['tool_choice', 'required'],
    ['parallel_tool_calls', false],
    ['reasoning_effort', 'high'],
    ['thinking', { type: 'enabled', budget_tokens: 1024 }],
    ['modalities', ['text']],
    ['prediction', { type: 'content', content: 'x' }],
    ['functions', [tool.function]],
    ['top_k', 40],
    ['some_provider_extension', { anything: true }],
  ])('%s is part of the key', (field, value) => {
    const base = key(chat());
    const withField = key(chat({ [field]: value }));
    expect(withField).not.toBe(base);
    // A different value of the same field is a different key too.
    const other = typeof value === 'number' ? value + 1 : typeof value === 'boolean' ? !value : { changed: value };
    expect(key(chat({ [field]: other }))).not.toBe(withField);
  });

  it.each<[string, ChatRequest['messages']]>([
    ['another role', [{ role: 'system', content: 'What is 2 + 2?' }]],
    ['other text', [{ role: 'user', content: 'What is 2 + 3?' }]],
    ['a name', [{ role: 'user', content: 'What is 2 + 2?', name: 'bob' }]],
    ['one more message', [{ role: 'system', content: 'Be terse.' }, { role: 'user', content: 'What is 2 + 2?' }]],
    ['reasoning content', [{ role: 'user', content: 'What is 2 + 2?', reasoning_content: 'hm' }]],
  ])('messages with %s are a different key', (_label, messages) => {
    expect(key(chat({ messages }))).not.toBe(key(chat()));
  });

  it('keeps the order of messages and of tools', () => {
    const one = { role: 'user', content: 'a' };
    const two = { role: 'assistant', content: 'b' };
    expect(key(chat({ messages: [one, two] }))).not.toBe(key(chat({ messages: [two, one] })));
    const f = { type: 'function', function: { name: 'f' } };
    const g = { type: 'function', function: { name: 'g' } };
    expect(key(chat({ tools: [f, g] }))).not.toBe(key(chat({ tools: [g, f] })));
  });

  it('tells a string from a number or boolean of the same spelling', () => {
    expect(key(chat({ seed: 1 }))).not.toBe(key(chat({ seed: '1' })));
    expect(key(chat({ logprobs: true }))).not.toBe(key(chat({ logprobs: 'true' })));
  });
});

describe('chatCacheKey: message content', () => {
  const withContent = (content: unknown): ChatRequest => chat({ messages: [{ role: 'user', content }] });

  it('treats a single plain text part as its string', () => {
    expect(key(withContent([{ type: 'text', text: 'hello' }]))).toBe(key(withContent('hello')));
    expect(key(withContent([{ text: 'hello', type: 'text', extra: undefined }]))).toBe(key(withContent('hello')));
  });

  it('does not join several text parts', () => {
    const parts = [{ type: 'text', text: 'hel' }, { type: 'text', text: 'lo' }];
    expect(key(withContent(parts))).not.toBe(key(withContent('hello')));
    expect(key(withContent(parts))).not.toBe(key(withContent('hel\nlo')));
  });

  it('keeps a text part that carries anything besides its text', () => {
    const cached = [{ type: 'text', text: 'hello', cache_control: { type: 'ephemeral' } }];
    expect(key(withContent(cached))).not.toBe(key(withContent('hello')));
  });

  it('keeps non-text parts as they are', () => {
    const image = { type: 'image_url', image_url: { url: 'https://example.com/a.png' } };
    const a = key(withContent([{ type: 'text', text: 'what is this?' }, image]));
    const b = key(withContent([{ type: 'text', text: 'what is this?' }, { ...image, image_url: { url: 'https://example.com/b.png' } }]));
    expect(a).not.toBe(b);
    expect(key(withContent([image]))).not.toBe(key(withContent('https://example.com/a.png')));
  });

  it('tells an empty string from absent content', () => {
    expect(key(withContent(''))).not.toBe(key(chat({ messages: [{ role: 'user' }] })));
  });
});

describe('chatCacheKey: isolation', () => {
  it('separates namespaces and groups', () => {
    const request = chat();
    const keys = new Set([
      key(request, CHAT),
      key(request, { ...CHAT, namespace: 'team-b' }),
      key(request, { ...CHAT, group: 'claude' }),
      key(request, { ...CHAT, namespace: '' }),
    ]);
    expect(keys.size).toBe(4);
  });

  it('cannot be fooled by moving text between namespace and group', () => {
    const request = chat();
    expect(key(request, { ...CHAT, namespace: 'a","b', group: 'c' })).not.toBe(key(request, { ...CHAT, namespace: 'a', group: 'b","c' }));
    expect(key(request, { ...CHAT, namespace: 'ab', group: 'c' })).not.toBe(key(request, { ...CHAT, namespace: 'a', group: 'bc' }));
  });

  it('separates chat from embeddings with the same namespace, group and fields', () => {
    const input = { namespace: 'n', group: 'g' };
    const body = { model: 'm', messages: [], input: 'x' };
    expect(chatCacheKey(body, { ...input, kind: 'chat' })).not.toBe(embeddingsCacheKey(body, { ...input, kind: 'embeddings' }));
  });
});

describe('embeddingsCacheKey', () => {
  const ekey = (request: EmbeddingsRequest, input: CacheKeyInput = EMBEDDINGS): string => embeddingsCacheKey(request, input);
  const base: EmbeddingsRequest = { model: 'text-embedding-3-small', input: 'hello' };

  it('ignores model and user', () => {
    expect([...IGNORED_EMBEDDINGS_FIELDS].sort()).toEqual(['model', 'user']);
    expect(ekey({ ...base, model: 'other-alias', user: 'u1' })).toBe(ekey(base));
  });

  it.each<[string, Partial<EmbeddingsRequest>]>([
    ['other input', { input: 'goodbye' }],
    ['an array input', { input: ['hello'] }],
    ['token input', { input: [15339] }],
    ['dimensions', { dimensions: 256 }],
    ['encoding_format', { encoding_format: 'base64' }],
    ['an unknown field', { input_type: 'query' }],
  ])('%s changes the key', (_label, change) => {
    expect(ekey({ ...base, ...change })).not.toBe(ekey(base));
  });

  it('keeps the order of inputs', () => {
    expect(ekey({ ...base, input: ['a', 'b'] })).not.toBe(ekey({ ...base, input: ['b', 'a'] }));
  });

  it('takes encoding_format float as leaving it out (every embeddings API answers floats without it)', () => {
    expect(ekey({ ...base, encoding_format: 'float' })).toBe(ekey(base));
  });

  it('treats null dimensions and encoding_format as absent', () => {
    expect(ekey({ ...base, dimensions: null, encoding_format: null } as unknown as EmbeddingsRequest)).toBe(ekey(base));
  });

  it('separates namespaces and groups', () => {
    expect(ekey(base, { ...EMBEDDINGS, namespace: 'team-b' })).not.toBe(ekey(base));
    expect(ekey(base, { ...EMBEDDINGS, group: 'embed-large' })).not.toBe(ekey(base));
  });
});

describe('messagesCacheKey', () => {
  const MESSAGES: CacheKeyInput = { namespace: 'team-a', group: 'claude', kind: 'messages' };
  const body = { model: 'claude-sonnet-4-5', max_tokens: 256, messages: [{ role: 'user', content: 'Hi' }] };
  const mkey = (request: object, beta?: string, input: CacheKeyInput = MESSAGES): string => messagesCacheKey(request, beta, input);

  it('ignores model, stream, metadata and service_tier', () => {
    expect([...IGNORED_MESSAGES_FIELDS].sort()).toEqual(['metadata', 'model', 'service_tier', 'stream']);
    expect(mkey({ ...body, model: 'alias', stream: true, metadata: { user_id: 'u' }, service_tier: 'auto' })).toBe(mkey(body));
  });

  it.each<[string, object]>([
    ['the system prompt', { system: 'Be brief.' }],
    ['max_tokens', { max_tokens: 512 }],
    ['thinking', { thinking: { type: 'enabled', budget_tokens: 1024 } }],
    ['top_k', { top_k: 5 }],
    ['an unknown field', { container: 'c1' }],
  ])('%s changes the key', (_label, change) => {
    expect(mkey({ ...body, ...change })).not.toBe(mkey(body));
  });

  it('keeps the canonical form of a string-content body (existing entries still match)', () => {
    const expected = sha256('["v1","messages","team-a","claude",{"max_tokens":256,"messages":[{"content":"Hi","role":"user"}],"system":"Be brief."}]');
    expect(mkey({ ...body, system: 'Be brief.' })).toBe(expected);
  });

  describe('content normalisation (as for chat)', () => {
    const text = (t: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ type: 'text', text: t, ...extra });
    const withContent = (content: unknown, role = 'user'): object => ({ model: 'm', max_tokens: 10, messages: [{ role, content }] });

    it('treats a message content of one plain text block as its string', () => {
      expect(mkey(withContent([text('norm A')]))).toBe(mkey(withContent('norm A')));
      expect(mkey(withContent([{ text: 'norm A', type: 'text' }], 'assistant'))).toBe(mkey(withContent('norm A', 'assistant')));
      expect(mkey(withContent([text('norm A', { extra: undefined })]))).toBe(mkey(withContent('norm A')));
      const turns = [{ role: 'user', content: 'a' }, { role: 'assistant', content: [text('b')] }, { role: 'user', content: [text('c')] }];
      const strings = [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }, { role: 'user', content: 'c' }];
      expect(mkey({ ...body, messages: turns })).toBe(mkey({ ...body, messages: strings }));
    });

    it('treats a system of one plain text block as its string', () => {
      expect(mkey({ ...body, system: [text('Be brief.')] })).toBe(mkey({ ...body, system: 'Be brief.' }));
      expect(mkey({ ...body, system: [text('Be brief.')] })).not.toBe(mkey(body));
    });

    it('keeps a text block that carries cache_control or citations (while a plain one collapses)', () => {
      expect(mkey(withContent([text('norm A')]))).toBe(mkey(withContent('norm A')));
      const cached = text('norm A', { cache_control: { type: 'ephemeral' } });
      expect(mkey(withContent([cached]))).not.toBe(mkey(withContent('norm A')));
      expect(mkey({ ...body, system: [{ ...cached, text: 'Be brief.' }] })).not.toBe(mkey({ ...body, system: 'Be brief.' }));
      expect(mkey(withContent([text('norm A', { citations: null })]))).not.toBe(mkey(withContent('norm A')));
      expect(mkey(withContent([text('norm A', { citations: [] })]))).not.toBe(mkey(withContent('norm A')));
    });

    it('does not join several text blocks, and keeps other blocks as they are', () => {
      expect(mkey(withContent([text('norm'), text(' A')]))).not.toBe(mkey(withContent('norm A')));
      expect(mkey({ ...body, system: [text('Be'), text(' brief.')] })).not.toBe(mkey({ ...body, system: 'Be brief.' }));
      const image = { type: 'image', source: { type: 'url', url: 'https://example.com/a.png' } };
      expect(mkey(withContent([image]))).not.toBe(mkey(withContent('https://example.com/a.png')));
      expect(mkey(withContent([{ type: 'tool_result', tool_use_id: 't1', content: 'norm A' }]))).not.toBe(mkey(withContent('norm A')));
    });

    it('keeps null as given on Anthropic message members (no OpenAI null-as-absent there)', () => {
      expect(mkey({ ...body, messages: [{ role: 'user', content: 'Hi', name: null }] })).not.toBe(mkey(body));
    });
  });

  it('keys on the anthropic-beta header, and never equals a chat key of the same group', () => {
    expect(mkey(body, 'interleaved-thinking-2025-05-14')).not.toBe(mkey(body));
    const asChat = chatCacheKey({ model: 'x', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 256 }, { ...MESSAGES, kind: 'chat' });
    expect(mkey(body)).not.toBe(asChat);
  });
});

describe('unicode', () => {
  it('hashes text as given, without unicode normalisation (the tokens differ)', () => {
    const composed = 'caf\u00e9';
    const decomposed = 'cafe\u0301';
    expect(key(chat({ messages: [{ role: 'user', content: composed }] }))).not.toBe(key(chat({ messages: [{ role: 'user', content: decomposed }] })));
  });

  it('keeps distinct lone surrogates distinct (they are escaped, not replaced by U+FFFD)', () => {
    expect(key(chat({ messages: [{ role: 'user', content: '\ud800' }] }))).not.toBe(key(chat({ messages: [{ role: 'user', content: '\ud801' }] })));
  });

  it('sorts non-ASCII keys and matches across key orders', () => {
    const a = chat({ tools: [{ type: 'function', function: { name: 'f', parameters: { 'ключ': 1, '键': 2, '🔑': 3, z: 4 } } }] });
    const b = chat({ tools: [{ type: 'function', function: { name: 'f', parameters: { '🔑': 3, z: 4, '键': 2, 'ключ': 1 } } }] });
    expect(key(a)).toBe(key(b));
  });

  it('hashes emoji, CJK and control characters in namespaces and content', () => {
    const request = chat({ messages: [{ role: 'user', content: '日本語 🚀 \u0000\n"quoted"' }] });
    expect(key(request, { ...CHAT, namespace: 'équipe-🚀' })).not.toBe(key(request, { ...CHAT, namespace: 'equipe-🚀' }));
    expect(key(request)).not.toBe(key(chat({ messages: [{ role: 'user', content: '日本語 🚀 \u0000\n"quoted' }] })));
  });
});

describe('large inputs', () => {
  it('tells apart long contents that differ only in their last character', () => {
    const long = 'x'.repeat(1_000_000);
    expect(key(chat({ messages: [{ role: 'user', content: long + 'a' }] }))).not.toBe(key(chat({ messages: [{ role: 'user', content: long + 'b' }] })));
  });

  it('handles long conversations and deep tool schemas', () => {
    const messages = Array.from({ length: 2_000 }, (_, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content: `turn ${i}` }));
    let schema: Record<string, unknown> = { type: 'string' };
    for (let depth = 0; depth < 200; depth++) schema = { type: 'object', properties: { child: schema } };
    const request = chat({ messages, tools: [{ type: 'function', function: { name: 'deep', parameters: schema } }] });
    const reordered = chat({ tools: [{ type: 'function', function: { parameters: schema, name: 'deep' } }], messages: messages.map((m) => ({ content: m.content, role: m.role })) });
    expect(key(request)).toBe(key(reordered));
    const changed = messages.slice();
    changed[1_999] = { role: 'assistant', content: 'turn 1999!' };
    expect(key(chat({ messages: changed, tools: request.tools }))).not.toBe(key(request));
  });
});

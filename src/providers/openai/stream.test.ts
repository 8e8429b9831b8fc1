import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../gateway/errors.js';
import { isUsageOnlyChunk, type ChatCompletionChunk } from '../../gateway/types.js';
import { toJson } from '../../gateway/raw-json.js';
import { decodeChatStream } from './stream.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`./__fixtures__/${name}`, import.meta.url));

/** Yields `bytes` in pieces that end at the given offsets (and at the end). */
async function* splitAt(bytes: Uint8Array, offsets: number[]): AsyncGenerator<Uint8Array> {
  let start = 0;
  for (const end of [...offsets, bytes.length]) {
    if (end > start) yield bytes.subarray(start, end);
    start = Math.max(start, end);
  }
}

async function* whole(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

async function collect(body: AsyncIterable<Uint8Array>): Promise<ChatCompletionChunk[]> {
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of decodeChatStream(body, 'openai')) chunks.push(chunk);
  return chunks;
}

/** Collects what was yielded before the stream failed, and the failure. */
async function collectUntilError(body: AsyncIterable<Uint8Array>): Promise<{ chunks: ChatCompletionChunk[]; error: unknown }> {
  const chunks: ChatCompletionChunk[] = [];
  try {
    for await (const chunk of decodeChatStream(body, 'openai')) chunks.push(chunk);
  } catch (error) {
    return { chunks, error };
  }
  return { chunks, error: undefined };
}

/** The JSON events of a fixture whose events are single `data:` lines, parsed independently of the code under test. */
function dataEvents(text: string): unknown[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith('data: ') && line !== 'data: [DONE]')
    .map((line) => JSON.parse(line.slice('data: '.length)) as unknown);
}

const contentOf = (chunks: ChatCompletionChunk[]): string => chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');

describe('decodeChatStream: recorded OpenAI streams', () => {
  it('decodes a text stream into the chunks OpenAI sent, unknown fields kept', async () => {
    const bytes = fixture('stream-text.sse.txt');
    const chunks = await collect(whole(bytes));
    expect(chunks).toEqual(dataEvents(bytes.toString('utf8')));
    expect(chunks).toHaveLength(9);
    expect(chunks[0]!.choices[0]!.delta).toEqual({ role: 'assistant', content: '', refusal: null });
    expect(contentOf(chunks)).toBe('Bonjour ! こんにちは 👋 Ça va ?');
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
    for (const chunk of chunks) {
      expect(chunk).toMatchObject({ id: 'chatcmpl-BxQAb3Rt6YwPz1Kn9LsV4mHq2DcEj', object: 'chat.completion.chunk', system_fingerprint: 'fp_34a54ae93c' });
      expect(typeof chunk.obfuscation).toBe('string');
      expect('usage' in chunk).toBe(false);
    }
  });

  it('passes the include_usage trailer (choices [] + usage) through as the last chunk', async () => {
    const bytes = fixture('stream-text-usage.sse.txt');
    const chunks = await collect(whole(bytes));
    expect(chunks).toEqual(dataEvents(bytes.toString('utf8')));
    const trailer = chunks.at(-1)!;
    expect(isUsageOnlyChunk(trailer)).toBe(true);
    expect(trailer.choices).toEqual([]);
    expect(trailer.usage).toEqual({
      prompt_tokens: 19,
      completion_tokens: 12,
      total_tokens: 31,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    });
    // Every other chunk carries `usage: null` and is not a usage trailer.
    for (const chunk of chunks.slice(0, -1)) {
      expect(chunk.usage).toBeNull();
      expect(isUsageOnlyChunk(chunk)).toBe(false);
    }
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('stop');
  });

  it('decodes parallel tool calls whose arguments arrive in fragments', async () => {
    const bytes = fixture('stream-tool-calls.sse.txt');
    const chunks = await collect(whole(bytes));
    expect(chunks).toEqual(dataEvents(bytes.toString('utf8')));

    const calls = new Map<number, { id?: string; name?: string; arguments: string }>();
    for (const chunk of chunks) {
      for (const delta of chunk.choices[0]?.delta.tool_calls ?? []) {
        const call = calls.get(delta.index) ?? { arguments: '' };
        if (delta.id) call.id = delta.id;
        if (delta.function?.name) call.name = delta.function.name;
        call.arguments += delta.function?.arguments ?? '';
        calls.set(delta.index, call);
      }
    }
    expect(calls.get(0)).toEqual({ id: 'call_Qm3vX8kTzR1pL6nY4wJ2sB9d', name: 'get_weather', arguments: '{"location": "Paris, France", "unit": "celsius"}' });
    expect(JSON.parse(calls.get(0)!.arguments)).toEqual({ location: 'Paris, France', unit: 'celsius' });
    expect(calls.get(1)!.name).toBe('get_time');
    expect(JSON.parse(calls.get(1)!.arguments)).toEqual({ timezone: 'Europe/Paris' });
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('tool_calls');
    expect(chunks.at(-1)!.usage).toMatchObject({ prompt_tokens: 104, completion_tokens: 52, total_tokens: 156 });
  });

  it('stops at [DONE] and ignores anything after it', async () => {
    const text = `${fixture('stream-text.sse.txt').toString('utf8')}data: {"not":"read"}\n\ndata: not json either\n\n`;
    const chunks = await collect(whole(Buffer.from(text)));
    expect(chunks).toHaveLength(9);
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
  });

  it('stops reading the body at [DONE] (the upstream connection is released)', async () => {
    let pulledAfterDone = false;
    let closed = false;
    async function* body(): AsyncGenerator<Uint8Array> {
      try {
        yield fixture('stream-text.sse.txt');
        pulledAfterDone = true;
        yield Buffer.from('data: {"choices":[]}\n\n');
      } finally {
        closed = true;
      }
    }
    await collect(body());
    expect(pulledAfterDone).toBe(false);
    expect(closed).toBe(true);
  });

  it('accepts a stream that reached a finish_reason but never sent [DONE] (some compatible servers)', async () => {
    const bytes = fixture('stream-no-done.sse.txt');
    const chunks = await collect(whole(bytes));
    expect(chunks).toEqual(dataEvents(bytes.toString('utf8')));
    expect(contentOf(chunks)).toBe('Bonjour !');
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
  });
});

describe('decodeChatStream: failures', () => {
  it('turns an in-stream error event into a retryable upstream_error carrying the upstream type', async () => {
    const { chunks, error } = await collectUntilError(whole(fixture('stream-error.sse.txt')));
    expect(contentOf(chunks)).toBe('Bonjour');
    expect(error).toBeInstanceOf(GatewayError);
    const gatewayError = error as GatewayError;
    expect(gatewayError.code).toBe('upstream_error');
    expect(gatewayError.status).toBe(502);
    expect(gatewayError.retryable).toBe(true);
    expect(gatewayError.upstreamType).toBe('server_error');
    expect(gatewayError.provider).toBe('openai');
    expect(gatewayError.message).toContain('"openai" failed mid-stream: The server had an error processing your request.');
  });

  it.each([
    ['a null choice', 'data: {"choices":[null]}\n\n'],
    ['a delta that is a string', 'data: {"choices":[{"index":0,"delta":"hello"}]}\n\n'],
  ])('fails a chunk with %s as a retryable upstream_error, not a crash further on', async (_what, text) => {
    const { error } = await collectUntilError(whole(Buffer.from(text)));
    expect(error).toMatchObject({ code: 'upstream_error', retryable: true, message: 'The upstream provider "openai" sent a stream chunk whose choices are not all objects with a delta object.' });
  });

  it('fails a chunk whose tool_calls are not objects as a retryable upstream_error, not a crash further on', async () => {
    const { error } = await collectUntilError(whole(Buffer.from('data: {"choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[null]},"finish_reason":null}]}\n\n')));
    expect(error).toMatchObject({ code: 'upstream_error', retryable: true, message: 'The upstream provider "openai" sent a stream chunk whose tool_calls are not a list of objects.' });
  });

  it('fails a stream cut off before any finish_reason, after yielding what arrived', async () => {
    const { chunks, error } = await collectUntilError(whole(fixture('stream-truncated.sse.txt')));
    expect(contentOf(chunks)).toBe('Bonjour ! こんにちは');
    expect(error).toBeInstanceOf(GatewayError);
    expect(error).toMatchObject({ code: 'upstream_error', status: 502, retryable: true, provider: 'openai' });
    expect((error as Error).message).toBe('The upstream provider "openai" ended the stream before it was complete.');
  });

  it('fails an empty 200 body', async () => {
    const { chunks, error } = await collectUntilError(whole(new Uint8Array(0)));
    expect(chunks).toEqual([]);
    expect(error).toMatchObject({ code: 'upstream_error', retryable: true });
  });

  it('fails on an event that is not valid JSON', async () => {
    const text = 'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}\n\ndata: {"id":"chatcmpl-1","object":\n\n';
    const { chunks, error } = await collectUntilError(whole(Buffer.from(text)));
    expect(chunks).toHaveLength(1);
    expect(error).toMatchObject({ code: 'upstream_error', retryable: true });
    expect((error as Error).message).toBe('The upstream provider "openai" sent a stream event that is not valid JSON.');
  });

  it.each(['42', '"text"', 'null', 'true'])('fails on an event that is JSON but not an object: %s', async (data) => {
    const { error } = await collectUntilError(whole(Buffer.from(`data: ${data}\n\n`)));
    expect(error).toMatchObject({ code: 'upstream_error', retryable: true });
    expect((error as Error).message).toBe('The upstream provider "openai" sent an unexpected stream event.');
  });

  it('passes on a failure of the body itself (e.g. a reset connection)', async () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    async function* body(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}\n\n');
      throw reset;
    }
    const { chunks, error } = await collectUntilError(body());
    expect(chunks).toHaveLength(1);
    expect(error).toBe(reset);
  });
});

describe('decodeChatStream: framing', () => {
  it('decodes CRLF line endings the same as LF', async () => {
    const lf = fixture('stream-tool-calls.sse.txt').toString('utf8');
    const crlf = Buffer.from(lf.replace(/\n/g, '\r\n'));
    expect(await collect(whole(crlf))).toEqual(await collect(whole(Buffer.from(lf))));
  });

  it('ignores comments, keep-alive lines, event names and ids', async () => {
    const lf = fixture('stream-text.sse.txt').toString('utf8');
    const noisy = `: keep-alive\n\nretry: 3000\n\n${lf.replace(/data: /g, 'event: message\nid: 7\ndata: ')}`;
    expect(await collect(whole(Buffer.from(noisy)))).toEqual(await collect(whole(Buffer.from(lf))));
  });

  it('keeps no raw text for an event whose JSON spanned several data: lines (it is written out on one)', async () => {
    const text = 'data: {"id":"c1","object":"chat.completion.chunk","model":"m",\ndata: "choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n';
    const chunks = await collect(whole(Buffer.from(text)));
    expect(chunks).toHaveLength(1);
    expect(chunks[0]!.choices[0]!.delta.content).toBe('Hi');
    expect(toJson(chunks[0]!)).toBe(JSON.stringify(chunks[0]));
    const single = await collect(whole(Buffer.from('data: {"id":"c2","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n')));
    expect(toJson(single[0]!)).toBe('{"id":"c2","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]}');
  });

  it('skips events with empty data', async () => {
    const lf = fixture('stream-text.sse.txt').toString('utf8');
    expect(await collect(whole(Buffer.from(`data:\n\n${lf}`)))).toEqual(await collect(whole(Buffer.from(lf))));
  });

  it('gives the same chunks however the bytes are split, including inside multi-byte characters', async () => {
    const bytes = fixture('stream-text.sse.txt');
    const expected = await collect(whole(bytes));
    // Multi-byte characters (é, Japanese, emoji) are in this fixture: check the splits really cut them.
    const multiByteStarts = [...bytes.entries()].filter(([, b]) => b >= 0xc0).map(([i]) => i);
    expect(multiByteStarts.length).toBeGreaterThan(5);
    for (let offset = 1; offset < bytes.length; offset++) {
      const chunks = await collect(splitAt(bytes, [offset]));
      expect(chunks, `split at byte ${offset}`).toEqual(expected);
    }
  });

  it('gives the same chunks when the body arrives one byte at a time', async () => {
    for (const name of ['stream-text-usage.sse.txt', 'stream-tool-calls.sse.txt']) {
      const bytes = fixture(name);
      const oneByteEach = Array.from({ length: bytes.length - 1 }, (_, i) => i + 1);
      expect(await collect(splitAt(bytes, oneByteEach))).toEqual(await collect(whole(bytes)));
    }
  });

  it('gives the same chunks for CRLF endings split between CR and LF', async () => {
    const crlf = Buffer.from(fixture('stream-text.sse.txt').toString('utf8').replace(/\n/g, '\r\n'));
    const crOffsets = [...crlf.entries()].filter(([, b]) => b === 0x0d).map(([i]) => i + 1);
    expect(await collect(splitAt(crlf, crOffsets))).toEqual(await collect(whole(fixture('stream-text.sse.txt'))));
  });

  it('sets choices to [] on a chunk that has none (lenient upstreams)', async () => {
    const answer = 'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]}\n\n';
    const text = `${answer}data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}\n\ndata: [DONE]\n\n`;
    const chunks = await collect(whole(Buffer.from(text)));
    expect(chunks).toHaveLength(2);
    expect(chunks[1]!.choices).toEqual([]);
    expect(isUsageOnlyChunk(chunks[1]!)).toBe(true);
  });
});

describe('decodeChatStream: the opening role chunk', () => {
  const ROLE = 'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]}\n\n';
  const ERROR = 'data: {"error":{"message":"The server had an error processing your request.","type":"server_error","param":null,"code":null}}\n\n';

  it('is held until output arrives, so an error right after it fails the attempt with nothing yielded', async () => {
    const { chunks, error } = await collectUntilError(whole(Buffer.from(ROLE + ERROR)));
    expect(chunks).toEqual([]);
    expect(error).toMatchObject({ code: 'upstream_error', retryable: true, upstreamType: 'server_error' });
  });

  it('is not yielded while the upstream is silent after it (the first-chunk timeout still runs)', async () => {
    let release!: (piece: string) => void;
    let askedForMore!: () => void;
    const waiting = new Promise<void>((resolve) => (askedForMore = resolve));
    async function* body(): AsyncGenerator<Uint8Array> {
      yield Buffer.from(ROLE);
      askedForMore();
      yield Buffer.from(await new Promise<string>((resolve) => (release = resolve)));
    }
    const decoder = decodeChatStream(body(), 'openai');
    let settled = false;
    const first = decoder.next().finally(() => (settled = true));
    await Promise.race([waiting, first]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    release('data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hi"},"logprobs":null,"finish_reason":null}]}\n\n');
    expect((await first).value?.choices[0]?.delta).toEqual({ role: 'assistant', content: '', refusal: null });
    expect((await decoder.next()).value?.choices[0]?.delta).toEqual({ content: 'Hi' });
    await decoder.return(undefined);
  });

  it('fails the stream, retryable, when [DONE] comes with no output after it (no text, no finish reason)', async () => {
    for (const text of [ROLE + 'data: [DONE]\n\n', 'data: [DONE]\n\n']) {
      const { chunks, error } = await collectUntilError(whole(Buffer.from(text)));
      expect(chunks).toEqual([]);
      expect(error).toMatchObject({ code: 'upstream_error', status: 502, retryable: true, provider: 'openai' });
      expect((error as Error).message).toBe('The upstream provider "openai" ended the stream without an answer.');
    }
  });

  it('counts as output when it carries text, a tool call or a finish reason', async () => {
    for (const delta of ['{"role":"assistant","content":"Hi"}', '{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}}]}']) {
      const event = `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":${delta},"logprobs":null,"finish_reason":null}]}\n\n`;
      const { chunks, error } = await collectUntilError(whole(Buffer.from(event + ERROR)));
      expect(chunks).toHaveLength(1);
      expect(error).toMatchObject({ code: 'upstream_error' });
    }
    const finish = 'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}\n\n';
    const { chunks } = await collectUntilError(whole(Buffer.from(finish + ERROR)));
    expect(chunks).toHaveLength(1);
  });
});

describe('decodeChatStream: Azure prompt annotations', () => {
  it('passes the prompt_filter_results chunk on, first and untouched, once output follows', async () => {
    const bytes = fixture('azure-stream-prompt-filter.sse.txt');
    const chunks = await collect(whole(bytes));
    expect(chunks).toEqual(dataEvents(bytes.toString('utf8')));
    expect(chunks[0]!.choices).toEqual([]);
    expect(chunks[0]!.prompt_filter_results).toHaveLength(1);
    expect(contentOf(chunks.slice(1))).toBe('Bonjour !');
  });

  it('yields nothing before an error that follows the annotations, so the attempt can fail over', async () => {
    const { chunks, error } = await collectUntilError(whole(fixture('azure-stream-prompt-filter-error.sse.txt')));
    expect(chunks).toEqual([]);
    expect(error).toMatchObject({ code: 'upstream_error', retryable: true, upstreamType: 'server_error' });
  });

  it('fails, retryable, a stream of a role chunk and usage alone that ends at [DONE] (it answered nothing)', async () => {
    const text = 'data: {"id":"c","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\ndata: {"id":"c","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":0,"total_tokens":5}}\n\ndata: [DONE]\n\n';
    const { chunks, error } = await collectUntilError(whole(Buffer.from(text)));
    expect(chunks).toEqual([]);
    expect(error).toMatchObject({ code: 'upstream_error', retryable: true });
  });

  it('fails a stream of held annotations alone that ends at [DONE]', async () => {
    const text = 'data: {"choices":[],"id":"","prompt_filter_results":[]}\n\ndata: [DONE]\n\n';
    const { chunks, error } = await collectUntilError(whole(Buffer.from(text)));
    expect(chunks).toEqual([]);
    expect(error).toMatchObject({ code: 'upstream_error', retryable: true });
  });
});

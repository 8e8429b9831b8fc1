import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../gateway/errors.js';
import { nativeFrame } from '../../http/anthropic-sse.js';
import type { NativeStreamEvent } from '../types.js';
import { readNativeStream } from './native-stream.js';

const fixture = (name: string): string => readFileSync(new URL(`./__fixtures__/${name}`, import.meta.url), 'utf8');

async function* pieces(text: string, size = text.length): AsyncGenerator<Uint8Array> {
  const bytes = Buffer.from(text);
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function run(text: string, size?: number): Promise<{ events: NativeStreamEvent[]; error: GatewayError | undefined }> {
  const events: NativeStreamEvent[] = [];
  try {
    for await (const event of readNativeStream(pieces(text, size), 'claude')) events.push(event);
  } catch (error) {
    expect(error).toBeInstanceOf(GatewayError);
    return { events, error: error as GatewayError };
  }
  return { events, error: undefined };
}

const frames = (events: NativeStreamEvent[]): string => events.map(nativeFrame).join('');

const COMPLETE = ['stream-text.sse.txt', 'stream-tool-use.sse.txt', 'stream-thinking.sse.txt', 'stream-json-tool.sse.txt', 'stream-redacted-thinking-cache.sse.txt', 'stream-web-search.sse.txt'];

describe('readNativeStream: recorded Anthropic streams', () => {
  it('yields every event, pings included, whose frames give back the upstream bytes exactly', async () => {
    for (const name of COMPLETE) {
      const text = fixture(name);
      const { events, error } = await run(text);
      expect(error, name).toBeUndefined();
      expect(frames(events), name).toBe(text);
      expect(events.at(-1)!.name).toBe('message_stop');
    }
    const { events } = await run(fixture('stream-text.sse.txt'));
    expect(events.map((e) => e.name)).toEqual(['message_start', 'content_block_start', 'ping', 'content_block_delta', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
    expect(events[3]!.value).toEqual({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hello' } });
  });

  it('gives the same events whatever the network splits (byte by byte)', async () => {
    for (const name of COMPLETE) {
      const whole = await run(fixture(name));
      const split = await run(fixture(name), 1);
      expect(split.error).toBeUndefined();
      expect(split.events).toEqual(whole.events);
    }
  });

  it('reports the usage so far on message_start and message_delta, in canonical terms', async () => {
    const { events } = await run(fixture('stream-text.sse.txt'));
    expect(events.filter((e) => e.usage).map((e) => [e.name, e.usage])).toEqual([
      ['message_start', { prompt_tokens: 25, completion_tokens: 1, total_tokens: 26, prompt_tokens_details: { cached_tokens: 0 } }],
      ['message_delta', { prompt_tokens: 25, completion_tokens: 15, total_tokens: 40, prompt_tokens_details: { cached_tokens: 0 } }],
    ]);
    const cached = await run(fixture('stream-redacted-thinking-cache.sse.txt'));
    const last = cached.events.filter((e) => e.usage).at(-1)!.usage!;
    expect(last.prompt_tokens_details?.cached_tokens).toBeGreaterThan(0);
    expect(last.prompt_tokens).toBeGreaterThan(last.prompt_tokens_details!.cached_tokens!);
  });

  it('throws a retryable error before yielding anything when an error event comes before any output', async () => {
    const { events, error } = await run(fixture('stream-error-overloaded.sse.txt'));
    expect(events).toEqual([]);
    expect([error?.code, error?.status, error?.retryable]).toEqual(['upstream_error', 502, true]);
    expect(error?.message).toContain('overloaded_error: Overloaded');
  });

  it('still fails over when the error follows an opened but empty content block', async () => {
    const text = fixture('stream-error-after-output.sse.txt');
    const opened = text.slice(0, text.indexOf('event: content_block_delta')) + 'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n';
    const { events, error } = await run(opened);
    expect(events).toEqual([]);
    expect(error?.retryable).toBe(true);
  });

  it('yields the output, then throws, when the error event comes after output', async () => {
    const { events, error } = await run(fixture('stream-error-after-output.sse.txt'));
    expect(events.map((e) => e.name)).toEqual(['message_start', 'content_block_start', 'ping', 'content_block_delta']);
    expect([error?.code, error?.status]).toEqual(['upstream_error', 502]);
    expect(error?.message).toContain('api_error: Internal server error');
  });

  it('keeps the status of a client-side error type sent in the stream', async () => {
    const { error } = await run('event: error\ndata: {"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long"}}\n\n');
    expect([error?.status, error?.retryable]).toEqual([400, false]);
  });

  it('turns a stream that stops before message_stop into a 502', async () => {
    const { events, error } = await run(fixture('stream-truncated.sse.txt'));
    expect(events.at(-1)!.name).toBe('message_delta');
    expect([error?.code, error?.status]).toEqual(['upstream_error', 502]);
    expect(error?.message).toContain('before it was complete');
    expect((await run('')).error?.message).toContain('before it was complete');
  });

  it('turns bad data into 502s: not JSON, not an object, output before message_start', async () => {
    const start = fixture('stream-text.sse.txt').split('\n\n')[0]! + '\n\n';
    expect((await run(`${start}event: content_block_delta\ndata: {"type": "content_block_delta", "index": 0, "delta": {\n\n`)).error?.message).toContain('not valid JSON');
    expect((await run(`${start}event: ping\ndata: [1, 2]\n\n`)).error?.message).toContain('unexpected stream event');
    expect((await run('event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}}\n\n')).error?.message).toContain('before message_start');
    expect((await run('event: message_start\ndata: {"type":"message_start"}\n\n')).error?.message).toContain('without a message');
  });

  it('refuses a content block event a client SDK cannot use, and forwards nothing of it', async () => {
    const [start, blockStart] = fixture('stream-text.sse.txt').split('\n\n') as [string, string];
    const opened = `${start}\n\n${blockStart}\n\n`;
    const delta = (json: string): string => `event: content_block_delta\ndata: ${json}\n\n`;
    const cases: [string, string][] = [
      [delta('{"type":"content_block_delta","index":0,"delta":"hi"}'), 'without a delta'],
      [delta('{"type":"content_block_delta","index":0,"delta":{"type":"text_delta"}}'), 'whose text_delta has no "text" text'],
      [delta('{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":{}}}'), 'whose input_json_delta has no "partial_json" text'],
      [delta('{"type":"content_block_delta","index":3,"delta":{"type":"text_delta","text":"x"}}'), 'for a block that never started'],
      [delta('{"type":"content_block_delta","delta":{"type":"text_delta","text":"x"}}'), 'without a block index'],
      ['event: content_block_stop\ndata: {"type":"content_block_stop","index":"0"}\n\n', 'without a block index'],
      ['event: content_block_start\ndata: {"type":"content_block_start","index":1}\n\n', 'without a content_block'],
    ];
    for (const [bad, message] of cases) {
      // After a good delta (output: no failover), the bad event is thrown, not yielded.
      const good = delta('{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}');
      const { events, error } = await run(`${opened}${good}${bad}`);
      expect(error?.message).toContain(message);
      expect(error?.status).toBe(502);
      expect(events.at(-1)?.data).toContain('"text":"Hi"');
    }
    // Delta types this code does not know pass as they are.
    for (const type of ['future_delta', 'toString']) {
      const future = delta(`{"type":"content_block_delta","index":0,"delta":{"type":"${type}","anything":1}}`);
      const { events, error } = await run(`${opened}${future}`);
      expect(error?.message).not.toContain('content_block_delta');
      expect(events.at(-1)?.data).toContain(type);
    }
  });

  it('forwards event types it does not know, and stops reading at message_stop', async () => {
    const text = fixture('stream-text.sse.txt').replace('event: ping\n', 'event: future_event\ndata: {"type":"future_event","x":1}\n\nevent: ping\n');
    const { events, error } = await run(`${text}event: ping\ndata: {"type":"ping"}\n\n`);
    expect(error).toBeUndefined();
    expect(events.map((e) => e.name)).toContain('future_event');
    expect(frames(events)).toBe(text);
  });

  it('names an event after its data type when the upstream sent no event name; skips empty data', async () => {
    const text = fixture('stream-text.sse.txt').replaceAll(/^event: .*\n/gm, '');
    const { events, error } = await run(`data:\n\n${text}`);
    expect(error).toBeUndefined();
    expect(events.map((e) => e.name)).toEqual(['message_start', 'content_block_start', 'ping', 'content_block_delta', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
  });
});

describe('nativeFrame', () => {
  it('splits data that came on several data: lines back into lines', () => {
    const event: NativeStreamEvent = { name: 'ping', data: '{"type":\n"ping"}', value: { type: 'ping' } };
    expect(nativeFrame(event)).toBe('event: ping\ndata: {"type":\ndata: "ping"}\n\n');
  });
});

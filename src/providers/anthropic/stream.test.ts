import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../gateway/errors.js';
import { isUsageOnlyChunk, type ChatCompletionChunk } from '../../gateway/types.js';
import { decodeMessagesStream } from './stream.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`./__fixtures__/${name}`, import.meta.url));

async function* pieces(bytes: Uint8Array, size = bytes.length): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function run(bytes: Uint8Array, jsonTool = false, size?: number): Promise<{ chunks: ChatCompletionChunk[]; error: unknown }> {
  const chunks: ChatCompletionChunk[] = [];
  try {
    for await (const chunk of decodeMessagesStream(pieces(bytes, size), 'claude', jsonTool)) chunks.push(chunk);
  } catch (error) {
    return { chunks, error };
  }
  return { chunks, error: undefined };
}

async function collect(name: string, jsonTool = false): Promise<ChatCompletionChunk[]> {
  const { chunks, error } = await run(fixture(name), jsonTool);
  if (error) throw error;
  return chunks;
}

const deltas = (chunks: ChatCompletionChunk[]) => chunks.flatMap((c) => c.choices.map((choice) => choice.delta));
const contentOf = (chunks: ChatCompletionChunk[]) => deltas(chunks).map((d) => d.content ?? '').join('');
const reasoningOf = (chunks: ChatCompletionChunk[]) => deltas(chunks).map((d) => d.reasoning_content ?? '').join('');
const finishes = (chunks: ChatCompletionChunk[]) => chunks.flatMap((c) => c.choices.map((choice) => choice.finish_reason)).filter(Boolean);
const str = (value: string | Buffer): Uint8Array => (typeof value === 'string' ? Buffer.from(value) : value);

describe('decodeMessagesStream: recorded Anthropic streams', () => {
  it('translates a text stream: role first, content deltas, finish, then a usage-only trailer', async () => {
    const chunks = await collect('stream-text.sse.txt');
    expect(chunks.map((c) => c.choices[0]?.delta ?? null)).toEqual([{ role: 'assistant', content: 'Hello' }, { content: '!' }, {}, null]);
    expect(finishes(chunks)).toEqual(['stop']);
    const trailer = chunks.at(-1)!;
    expect(isUsageOnlyChunk(trailer)).toBe(true);
    expect(trailer.usage).toEqual({ prompt_tokens: 25, completion_tokens: 15, total_tokens: 40, prompt_tokens_details: { cached_tokens: 0 } });
    for (const chunk of chunks) {
      expect(chunk).toMatchObject({ id: 'msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY', object: 'chat.completion.chunk', model: 'claude-sonnet-4-5-20250929', created: chunks[0]!.created });
    }
    for (const chunk of chunks.slice(0, -1)) expect('usage' in chunk).toBe(false);
  });

  it('gives the same chunks whatever the network splits (byte by byte)', async () => {
    for (const name of ['stream-text.sse.txt', 'stream-tool-use.sse.txt', 'stream-thinking.sse.txt']) {
      const whole = await run(fixture(name));
      const split = await run(fixture(name), false, 1);
      expect(split.error).toBeUndefined();
      expect(split.chunks.map((c) => ({ ...c, created: 0 }))).toEqual(whole.chunks.map((c) => ({ ...c, created: 0 })));
    }
  });

  it('streams tool calls: index, id and name first, then the arguments in pieces; finish tool_calls', async () => {
    const chunks = await collect('stream-tool-use.sse.txt');
    expect(contentOf(chunks)).toBe("Okay, let's check the weather for San Francisco, CA:");
    const calls = deltas(chunks).flatMap((d) => d.tool_calls ?? []);
    expect(calls[0]).toEqual({ index: 0, id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6', type: 'function', function: { name: 'get_weather', arguments: '' } });
    expect(calls.slice(1).every((c) => c.index === 0 && c.id === undefined)).toBe(true);
    const args = calls.map((c) => c.function?.arguments ?? '').join('');
    expect(JSON.parse(args)).toEqual({ location: 'San Francisco, CA', unit: 'fahrenheit' });
    expect(finishes(chunks)).toEqual(['tool_calls']);
    expect(chunks.at(-1)!.usage).toMatchObject({ prompt_tokens: 472, completion_tokens: 89 });
  });

  it('streams thinking as reasoning_content and the signed block in thinking_blocks; usage missing is zero', async () => {
    const chunks = await collect('stream-thinking.sse.txt');
    const reasoning = reasoningOf(chunks);
    expect(reasoning).toBe('Let me solve this step by step:\n\n1. First break down 27 * 453\n2. 453 = 400 + 50 + 3\n3. 27 * 400 = 10,800\n4. 27 * 50 = 1,350\n5. 27 * 3 = 81\n6. 10,800 + 1,350 + 81 = 12,231');
    expect(deltas(chunks)[0]).toMatchObject({ role: 'assistant', reasoning_content: expect.any(String) as unknown });
    const blocks = deltas(chunks).flatMap((d) => d.thinking_blocks ?? []);
    expect(blocks).toEqual([{ type: 'thinking', thinking: reasoning, signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds...' }]);
    expect(contentOf(chunks)).toBe('27 * 453 = 12,231');
    expect(chunks.at(-1)!.usage).toEqual({ prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, prompt_tokens_details: { cached_tokens: 0 } });
  });

  it('keeps redacted thinking, reports cache tokens and maps stop_sequence to stop', async () => {
    const chunks = await collect('stream-redacted-thinking-cache.sse.txt');
    expect(deltas(chunks)[0]).toEqual({ role: 'assistant', thinking_blocks: [{ type: 'redacted_thinking', data: expect.stringMatching(/^EmwKAhgB/) as unknown }] });
    expect(contentOf(chunks)).toBe('Done.');
    expect(finishes(chunks)).toEqual(['stop']);
    expect(chunks.at(-1)!.usage).toEqual({
      prompt_tokens: 12 + 1800 + 300,
      completion_tokens: 90,
      total_tokens: 12 + 1800 + 300 + 90,
      prompt_tokens_details: { cached_tokens: 1800 },
      cache_creation_input_tokens: 300,
    });
  });

  it('skips server tool blocks and takes message_delta\'s cumulative usage over message_start\'s', async () => {
    const chunks = await collect('stream-web-search.sse.txt');
    expect(deltas(chunks).some((d) => d.tool_calls)).toBe(false);
    expect(contentOf(chunks)).toBe("I'll check the current weather in New York City for you.Here's the current weather information for New York City:\n\n# Weather in New York City\n\n");
    expect(chunks.at(-1)!.usage).toMatchObject({ prompt_tokens: 10682, completion_tokens: 510 });
  });

  it('turns the json_output tool into content with finish stop in JSON mode', async () => {
    const chunks = await collect('stream-json-tool.sse.txt', true);
    expect(JSON.parse(contentOf(chunks))).toEqual({ city: 'Paris', temperature_c: 21 });
    expect(deltas(chunks).some((d) => d.tool_calls)).toBe(false);
    expect(finishes(chunks)).toEqual(['stop']);
    // Without JSON mode it is an ordinary tool call.
    expect(finishes(await collect('stream-json-tool.sse.txt', false))).toEqual(['tool_calls']);
  });
});

describe('decodeMessagesStream: errors and bad streams', () => {
  it('fails before yielding anything when the error comes before output (so the executor can fail over)', async () => {
    const { chunks, error } = await run(fixture('stream-error-overloaded.sse.txt'));
    expect(chunks).toEqual([]);
    expect(error).toBeInstanceOf(GatewayError);
    expect(error).toMatchObject({ code: 'upstream_error', status: 502, retryable: true });
    expect((error as GatewayError).message).toContain('overloaded_error: Overloaded');
  });

  it('yields the output so far, then throws, when the error comes after output', async () => {
    const { chunks, error } = await run(fixture('stream-error-after-output.sse.txt'));
    expect(contentOf(chunks)).toBe('Once upon');
    expect(error).toMatchObject({ code: 'upstream_error', retryable: true });
    expect((error as GatewayError).message).toContain('api_error: Internal server error');
  });

  it('is a 502 when the stream ends without message_stop', async () => {
    const { chunks, error } = await run(fixture('stream-truncated.sse.txt'));
    expect(finishes(chunks)).toEqual(['stop']);
    expect(error).toMatchObject({ code: 'upstream_error', status: 502 });
    expect((error as GatewayError).message).toContain('before it was complete');
  });

  it('is a 502 for an empty body', async () => {
    expect((await run(str(''))).error).toMatchObject({ code: 'upstream_error' });
  });

  it.each([
    ['garbage JSON', 'event: message_start\ndata: {"type":"message_start",\n\n', 'not valid JSON'],
    ['a non-object event', 'data: 42\n\n', 'unexpected stream event'],
    ['content before message_start', 'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n', 'before message_start'],
    ['message_start without message', 'data: {"type":"message_start"}\n\n', 'without a message'],
    [
      'a delta for an unknown block',
      'data: {"type":"message_start","message":{"id":"m","model":"x"}}\n\ndata: {"type":"content_block_delta","index":3,"delta":{"type":"text_delta","text":"x"}}\n\n',
      'never started',
    ],
    ['a bad index', 'data: {"type":"message_start","message":{"id":"m","model":"x"}}\n\ndata: {"type":"content_block_start","index":"0","content_block":{"type":"text","text":""}}\n\n', 'valid block index'],
    // The SSE event name says what it is; the data's own type is missing: no "undefined" in the message.
    [
      'a bad index in an event whose data has no type',
      'data: {"type":"message_start","message":{"id":"m","model":"x"}}\n\nevent: content_block_delta\ndata: {"index":"zero","delta":{"type":"text_delta","text":"x"}}\n\n',
      'sent a content block event without a valid block index',
    ],
    [
      'a tool_use without a name',
      'data: {"type":"message_start","message":{"id":"m","model":"x"}}\n\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t","input":{}}}\n\n',
      'without id or name',
    ],
  ])('turns %s into a 502, never a TypeError', async (_name, text, message) => {
    const { error } = await run(str(text));
    expect(error).toBeInstanceOf(GatewayError);
    expect(error).toMatchObject({ code: 'upstream_error', status: 502 });
    expect((error as GatewayError).message).toContain(message);
  });

  it('ignores unknown event types and unknown delta types', async () => {
    const text = [
      'event: message_start\ndata: {"type":"message_start","message":{"id":"m","model":"x","usage":{"input_tokens":3,"output_tokens":1}}}',
      'event: future_event\ndata: {"type":"future_event","x":1}',
      'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":"Hi"}}',
      'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"citations_delta","citation":{}}}',
      'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}',
      'event: message_stop\ndata: {"type":"message_stop"}',
      '',
    ].join('\n\n');
    const { chunks, error } = await run(str(text));
    expect(error).toBeUndefined();
    expect(contentOf(chunks)).toBe('Hi');
    // message_stop without message_delta still finishes before the trailer.
    expect(finishes(chunks)).toEqual(['stop']);
    expect(chunks.at(-1)!.usage).toMatchObject({ prompt_tokens: 3, completion_tokens: 1 });
  });

  it('stops reading at message_stop', async () => {
    const text = `${fixture('stream-text.sse.txt').toString()}event: content_block_delta\ndata: not json\n\n`;
    const { error } = await run(str(text));
    expect(error).toBeUndefined();
  });

  it('sends a tool input that arrived whole at content_block_start when the block ends', async () => {
    const text = [
      'data: {"type":"message_start","message":{"id":"m","model":"x"}}',
      'data: {"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t1","name":"f","input":{"a":1}}}',
      'data: {"type":"content_block_stop","index":0}',
      'data: {"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":4}}',
      'data: {"type":"message_stop"}',
      '',
    ].join('\n\n');
    const { chunks } = await run(str(text));
    const args = deltas(chunks).flatMap((d) => d.tool_calls ?? []).map((c) => c.function?.arguments ?? '').join('');
    expect(args).toBe('{"a":1}');
  });

  it('gives a tool with no parameters the arguments {}, as the non-streamed answer has them', async () => {
    // What Anthropic sends for a call without input: `input: {}` and one empty input_json_delta.
    const text = [
      'data: {"type":"message_start","message":{"id":"m","model":"x"}}',
      'data: {"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_n","name":"now","input":{}}}',
      'data: {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":""}}',
      'data: {"type":"content_block_stop","index":0}',
      'data: {"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":4}}',
      'data: {"type":"message_stop"}',
      '',
    ].join('\n\n');
    const { chunks } = await run(str(text));
    const calls = deltas(chunks).flatMap((d) => d.tool_calls ?? []);
    expect(calls[0]).toMatchObject({ index: 0, id: 'toolu_n', function: { name: 'now' } });
    expect(calls.map((c) => c.function?.arguments ?? '').join('')).toBe('{}');
  });

  it('in JSON mode drops a preamble before json_output, and sends plain text when the tool never came', async () => {
    const head = 'data: {"type":"message_start","message":{"id":"m","model":"x"}}\n\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Here you go:"}}\n\n';
    const json = 'data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"t","name":"json_output","input":{}}}\n\ndata: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\\"a\\":1}"}}\n\n';
    const tail = 'data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":4}}\n\ndata: {"type":"message_stop"}\n\n';
    expect(contentOf((await run(str(head + json + tail), true)).chunks)).toBe('{"a":1}');
    const plain = (await run(str(head + tail), true)).chunks;
    expect(contentOf(plain)).toBe('Here you go:');
    expect(finishes(plain)).toEqual(['stop']);
  });
});

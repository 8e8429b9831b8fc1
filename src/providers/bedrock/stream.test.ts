import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../gateway/errors.js';
import type { ChatCompletionChunk } from '../../gateway/types.js';
import { chunked, encodeEvent, streamFixture, type FixtureEvent } from './__fixtures__/events.js';
import { decodeConverseStream, streamException, type StreamContext } from './stream.js';

const CTX: StreamContext = { provider: 'aws', id: 'chatcmpl-req-9', model: 'anthropic.claude-3-5-sonnet-20241022-v2:0', jsonTool: undefined };

async function run(body: Uint8Array, ctx: StreamContext = CTX, size = 37): Promise<{ chunks: ChatCompletionChunk[]; error?: GatewayError }> {
  const chunks: ChatCompletionChunk[] = [];
  try {
    for await (const chunk of decodeConverseStream(chunked(body, size), ctx)) chunks.push(chunk);
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    return { chunks, error: err as GatewayError };
  }
  return { chunks };
}

function events(list: FixtureEvent[]): Buffer {
  return Buffer.concat(list.map(encodeEvent));
}

const text = (chunks: ChatCompletionChunk[]): string => chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');

describe('decodeConverseStream', () => {
  it('streams text as OpenAI chunks: role on the first, the finish reason, then a usage-only trailer', async () => {
    const { chunks, error } = await run(streamFixture('stream-text'));
    expect(error).toBeUndefined();
    expect(text(chunks)).toBe('Hello! How can I help you today?');
    expect(chunks[0]).toEqual({ id: 'chatcmpl-req-9', object: 'chat.completion.chunk', created: expect.any(Number) as unknown, model: CTX.model, choices: [{ index: 0, delta: { role: 'assistant', content: 'Hello' }, finish_reason: null }] });
    expect(chunks.filter((c) => c.choices[0]?.delta.role)).toHaveLength(1);
    const finish = chunks.at(-2)!;
    expect(finish.choices).toEqual([{ index: 0, delta: {}, finish_reason: 'stop' }]);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 12, completion_tokens: 10, total_tokens: 22 } });
    expect(new Set(chunks.map((c) => c.id))).toEqual(new Set(['chatcmpl-req-9']));
  });

  it('streams a tool use as a tool call: id and name first, then the partial JSON input', async () => {
    const { chunks } = await run(streamFixture('stream-tool-use'), CTX, 11);
    expect(text(chunks)).toBe('Let me check the weather.');
    const calls = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(calls[0]).toEqual({ index: 0, id: 'tooluse_Qx3b0mPDSvGZtfBsVc5Qiw', type: 'function', function: { name: 'get_weather', arguments: '' } });
    expect(calls.slice(1).every((c) => c.index === 0 && c.id === undefined)).toBe(true);
    expect(JSON.parse(calls.map((c) => c.function?.arguments ?? '').join(''))).toEqual({ city: 'Paris', unit: 'celsius' });
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('tool_calls');
  });

  it('streams reasoning as reasoning_content, then the signed thinking block at its end', async () => {
    const { chunks } = await run(streamFixture('stream-reasoning'));
    const reasoning = chunks.map((c) => c.choices[0]?.delta.reasoning_content ?? '').join('');
    expect(reasoning).toBe('The user asks for 17 * 23. 17 * 20 = 340 and 17 * 3 = 51, so 391.');
    const blocks = chunks.flatMap((c) => c.choices[0]?.delta.thinking_blocks ?? []);
    expect(blocks).toEqual([{ type: 'thinking', thinking: reasoning, signature: expect.stringMatching(/^ErUBCkYI/) as unknown }]);
    expect(text(chunks)).toBe('17 × 23 = 391.');
    expect(chunks.at(-1)!.usage).toEqual({ prompt_tokens: 46 + 1280, completion_tokens: 88, total_tokens: 1414, prompt_tokens_details: { cached_tokens: 1280 }, cache_creation_input_tokens: 0 });
  });

  it('streams the forced JSON tool\'s input as content and finishes with stop', async () => {
    const { chunks } = await run(streamFixture('stream-json-tool'), { ...CTX, jsonTool: 'json_response' });
    expect(JSON.parse(text(chunks))).toEqual({ name: 'Ada Lovelace', born: 1815 });
    expect(chunks.some((c) => c.choices[0]?.delta.tool_calls)).toBe(false);
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('stop');
  });

  it("drops the model's text before the JSON tool's call: the tool's input is the whole answer", async () => {
    const { chunks, error } = await run(
      events([
        { event: 'messageStart', payload: { role: 'assistant' } },
        { event: 'contentBlockDelta', payload: { contentBlockIndex: 0, delta: { text: 'Here you go:' } } },
        { event: 'contentBlockStop', payload: { contentBlockIndex: 0 } },
        { event: 'contentBlockStart', payload: { contentBlockIndex: 1, start: { toolUse: { toolUseId: 'tooluse_j', name: 'json_response' } } } },
        { event: 'contentBlockDelta', payload: { contentBlockIndex: 1, delta: { toolUse: { input: '{"answer":' } } } },
        { event: 'contentBlockDelta', payload: { contentBlockIndex: 1, delta: { toolUse: { input: '"42"}' } } } },
        { event: 'contentBlockStop', payload: { contentBlockIndex: 1 } },
        { event: 'messageStop', payload: { stopReason: 'tool_use' } },
      ]),
      { ...CTX, jsonTool: 'json_response' },
    );
    expect(error).toBeUndefined();
    expect(text(chunks)).toBe('{"answer":"42"}');
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
  });

  it('sends the text of a JSON-mode answer that never called the tool with the finish', async () => {
    const { chunks } = await run(
      events([
        { event: 'messageStart', payload: { role: 'assistant' } },
        { event: 'contentBlockDelta', payload: { contentBlockIndex: 0, delta: { text: '{"answer": ' } } },
        { event: 'contentBlockDelta', payload: { contentBlockIndex: 0, delta: { text: '"42"}' } } },
        { event: 'contentBlockStop', payload: { contentBlockIndex: 0 } },
        { event: 'messageStop', payload: { stopReason: 'end_turn' } },
      ]),
      { ...CTX, jsonTool: 'json_response' },
    );
    expect(chunks).toHaveLength(1);
    expect(chunks[0]!.choices[0]).toEqual({ index: 0, delta: { role: 'assistant', content: '{"answer": "42"}' }, finish_reason: 'stop' });
  });

  it('throws a throttling exception after messageStart before yielding any chunk (so the request can fail over)', async () => {
    const { chunks, error } = await run(streamFixture('stream-throttled'));
    expect(chunks).toEqual([]);
    expect(error).toMatchObject({ code: 'upstream_rate_limited', status: 429, retryable: true, message: 'Too many tokens, please wait before trying again.', upstreamType: 'throttlingException' });
  });

  it('throws a model stream error after the output that already went out', async () => {
    const { chunks, error } = await run(streamFixture('stream-model-error-after-output'));
    expect(text(chunks)).toBe('The first part of the answer');
    expect(error).toMatchObject({ code: 'upstream_error', status: 502, retryable: true });
    expect(error!.message).toContain('Received error from the model: connection reset.');
  });

  it('fails a stream that ends without messageStop', async () => {
    const { chunks, error } = await run(streamFixture('stream-truncated'));
    expect(text(chunks)).toBe('This answer never');
    expect(error).toMatchObject({ code: 'upstream_error', status: 502 });
    expect(error!.message).toContain('ended the stream before it was complete');
  });

  it('ends cleanly after messageStop even without metadata (no usage trailer)', async () => {
    const { chunks, error } = await run(events([{ event: 'contentBlockDelta', payload: { contentBlockIndex: 0, delta: { text: 'ok' } } }, { event: 'messageStop', payload: { stopReason: 'max_tokens' } }]));
    expect(error).toBeUndefined();
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('length');
  });

  it('puts the role on the finish chunk of an empty answer', async () => {
    const { chunks } = await run(events([{ event: 'messageStart', payload: { role: 'assistant' } }, { event: 'messageStop', payload: { stopReason: 'end_turn' } }]));
    expect(chunks).toEqual([expect.objectContaining({ choices: [{ index: 0, delta: { role: 'assistant' }, finish_reason: 'stop' }] })]);
  });

  it('gives a tool with no parameters (no input delta) the arguments {}, as the non-streamed answer has them', async () => {
    const { chunks, error } = await run(
      events([
        { event: 'messageStart', payload: { role: 'assistant' } },
        { event: 'contentBlockStart', payload: { contentBlockIndex: 0, start: { toolUse: { toolUseId: 'tooluse_n', name: 'now' } } } },
        { event: 'contentBlockStop', payload: { contentBlockIndex: 0 } },
        { event: 'messageStop', payload: { stopReason: 'tool_use' } },
      ]),
    );
    expect(error).toBeUndefined();
    const calls = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(calls[0]).toMatchObject({ index: 0, id: 'tooluse_n', function: { name: 'now' } });
    expect(calls.map((c) => c.function?.arguments ?? '').join('')).toBe('{}');
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('tool_calls');
  });

  it('ignores event types it does not know (added later)', async () => {
    const { chunks, error } = await run(events([{ event: 'somethingNew', payload: { x: 1 } }, { event: 'contentBlockDelta', payload: { contentBlockIndex: 0, delta: { text: 'a' } } }, { event: 'messageStop', payload: { stopReason: 'end_turn' } }]));
    expect(error).toBeUndefined();
    expect(text(chunks)).toBe('a');
  });

  it.each([
    ['a tool input delta without a start', [{ event: 'contentBlockDelta', payload: { contentBlockIndex: 2, delta: { toolUse: { input: '{"a":' } } } }]],
    ['a tool use without a name', [{ event: 'contentBlockStart', payload: { contentBlockIndex: 0, start: { toolUse: { toolUseId: 'x' } } } }]],
    ['no contentBlockIndex', [{ event: 'contentBlockDelta', payload: { delta: { text: 'a' } } }]],
  ] as [string, FixtureEvent[]][])('turns invalid events (%s) into a 502', async (_name, list) => {
    const { error } = await run(events(list));
    expect(error).toMatchObject({ code: 'upstream_error', status: 502 });
  });

  it('maps a validation exception in the stream to a non-retryable 400', async () => {
    const { error } = await run(events([{ exception: 'validationException', payload: { message: 'Input is too long for requested model.' } }]));
    expect(error).toMatchObject({ code: 'upstream_client_error', status: 400, retryable: false, message: 'Input is too long for requested model.' });
  });
});

describe('streamException', () => {
  it.each(['internalServerException', 'serviceUnavailableException', 'modelStreamErrorException', 'InternalFailure'])('makes %s a retryable 502', (type) => {
    expect(streamException(type, 'boom', 'aws')).toMatchObject({ code: 'upstream_error', status: 502, retryable: true, message: 'The upstream provider "aws" failed mid-stream: boom' });
  });

  it('reads PascalCase error codes too', () => {
    expect(streamException('ThrottlingException', 'slow down', 'aws')).toMatchObject({ code: 'upstream_rate_limited', status: 429 });
  });

  it('makes a model timeout a retryable 504', () => {
    expect(streamException('modelTimeoutException', undefined, 'aws')).toMatchObject({ code: 'upstream_timeout', status: 504, retryable: true });
  });
});

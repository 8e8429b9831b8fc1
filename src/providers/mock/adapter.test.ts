import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../gateway/errors.js';
import { isUsageOnlyChunk, type ChatCompletionChunk, type ChatRequest, type ToolDefinition } from '../../gateway/types.js';
import type { AttemptContext } from '../types.js';
import { MockAdapter } from './adapter.js';
import { planReply } from './reply.js';
import { CallAbort, type CallSignal } from '../call-signal.js';

const context = (signal: CallSignal = new CallAbort().signal): AttemptContext => ({
  upstreamModel: 'mock-1',
  signal,
  requestId: 'req-test',
  firstByte: () => undefined,
});

const adapter = (latencyMs = 0, tokensPerSecond = 0): MockAdapter => new MockAdapter({ id: 'mock', latencyMs, tokensPerSecond });

const ask = (content: string, extra: Partial<ChatRequest> = {}): ChatRequest => ({ model: 'mock', messages: [{ role: 'user', content }], ...extra });

async function drain(stream: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

const weather: ToolDefinition = {
  type: 'function',
  function: { name: 'get_weather', parameters: { type: 'object', properties: { location: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } } } },
};

describe('MockAdapter.chat', () => {
  it('answers with an OpenAI chat.completion for the upstream model', async () => {
    const request = ask('Hello');
    const completion = await adapter().chat(request, context());
    expect(completion.object).toBe('chat.completion');
    expect(completion.id).toMatch(/^chatcmpl-/);
    expect(completion.model).toBe('mock-1');
    expect(Number.isInteger(completion.created)).toBe(true);
    expect(Math.abs(completion.created - Date.now() / 1000)).toBeLessThan(5);
    expect(completion.choices).toEqual([
      { index: 0, message: { role: 'assistant', content: 'This is a mock reply. You said: Hello' }, logprobs: null, finish_reason: 'stop' },
    ]);
    const plan = planReply(request);
    expect(completion.usage).toEqual(plan.usage);
  });

  it('gives the same content to the same request (ids differ)', async () => {
    const [a, b] = await Promise.all([adapter().chat(ask('same'), context()), adapter().chat(ask('same'), context())]);
    expect(a.choices).toEqual(b.choices);
    expect(a.id).not.toBe(b.id);
  });

  it('returns n choices with indexes 0..n-1 and counts completion tokens for all of them', async () => {
    const completion = await adapter().chat(ask('Hello', { n: 3 }), context());
    expect(completion.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    const single = planReply(ask('Hello')).usage;
    expect(completion.usage).toEqual({
      prompt_tokens: single.prompt_tokens,
      completion_tokens: single.completion_tokens * 3,
      total_tokens: single.prompt_tokens + single.completion_tokens * 3,
    });
  });

  it('answers a tool call with content null and finish_reason tool_calls', async () => {
    const completion = await adapter().chat(ask('x', { tools: [weather], tool_choice: 'required' }), context());
    const choice = completion.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    expect(choice.message.tool_calls![0]!.function.name).toBe('get_weather');
  });

  it('waits latency_ms before answering', async () => {
    const started = performance.now();
    await adapter(60).chat(ask('x'), context());
    expect(performance.now() - started).toBeGreaterThanOrEqual(55);
  });

  it('stops waiting when the signal aborts, rejecting with its reason', async () => {
    const controller = new CallAbort();
    const reason = new GatewayError('upstream_timeout', 'The upstream provider "mock" did not finish within 20 ms.');
    setTimeout(() => controller.abort(reason), 20);
    const started = performance.now();
    await expect(adapter(10_000).chat(ask('x'), context(controller.signal))).rejects.toBe(reason);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('rejects at once when the signal is already aborted', async () => {
    const controller = new CallAbort();
    const reason = new GatewayError('client_closed_request', 'gone');
    controller.abort(reason);
    await expect(adapter().chat(ask('x'), context(controller.signal))).rejects.toBe(reason);
  });
});

describe('MockAdapter.chatStream', () => {
  it('streams role first, then the content pieces, then a finish chunk, then a usage trailer with choices []', async () => {
    const request = ask('Hello stream', { stream: true });
    const chunks = await drain(await adapter().chatStream(request, context()));
    const plan = planReply(request);

    expect(chunks[0]!.choices).toEqual([{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]);
    const contentChunks = chunks.slice(1, -2);
    expect(contentChunks.map((c) => c.choices[0]!.delta)).toEqual(plan.pieces.map((content) => ({ content })));
    for (const chunk of contentChunks) expect(chunk.choices[0]!.finish_reason).toBeNull();

    const finish = chunks.at(-2)!;
    expect(finish.choices).toEqual([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]);
    expect(finish.usage).toBeUndefined();

    const trailer = chunks.at(-1)!;
    expect(isUsageOnlyChunk(trailer)).toBe(true);
    expect(trailer.choices).toEqual([]);
    expect(trailer.usage).toEqual(plan.usage);

    const ids = new Set(chunks.map((c) => c.id));
    expect(ids.size).toBe(1);
    for (const chunk of chunks) expect(chunk).toMatchObject({ object: 'chat.completion.chunk', model: 'mock-1', created: chunks[0]!.created });
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('This is a mock reply. You said: Hello stream');
  });

  it('streams the same text the non-streaming answer has', async () => {
    const request = ask('consistency check');
    const completion = await adapter().chat(request, context());
    const chunks = await drain(await adapter().chatStream({ ...request, stream: true }, context()));
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(completion.choices[0]!.message.content);
  });

  it('ends with finish_reason "length" when max_tokens cut the answer', async () => {
    const chunks = await drain(await adapter().chatStream(ask('a long enough prompt to cut', { stream: true, max_tokens: 3 }), context()));
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('length');
    expect(chunks.at(-1)!.usage!.completion_tokens).toBeLessThanOrEqual(3);
  });

  it('streams n choices in every chunk and counts usage for all of them', async () => {
    const request = ask('multi', { stream: true, n: 2 });
    const chunks = await drain(await adapter().chatStream(request, context()));
    for (const chunk of chunks.slice(0, -1)) expect(chunk.choices.map((c) => c.index)).toEqual([0, 1]);
    const single = planReply(request).usage;
    expect(chunks.at(-1)!.usage).toEqual({
      prompt_tokens: single.prompt_tokens,
      completion_tokens: single.completion_tokens * 2,
      total_tokens: single.prompt_tokens + single.completion_tokens * 2,
    });
  });

  it('streams a tool call: id and name first, then argument fragments that join to the arguments', async () => {
    const request = ask('x', { stream: true, tools: [weather], tool_choice: 'required' });
    const chunks = await drain(await adapter().chatStream(request, context()));
    const plan = planReply(request);
    const first = chunks[0]!.choices[0]!.delta;
    expect(first).toEqual({
      role: 'assistant',
      content: null,
      tool_calls: [{ index: 0, id: plan.toolCalls[0]!.id, type: 'function', function: { name: 'get_weather', arguments: '' } }],
    });
    const fragments = chunks.slice(1, -2).map((c) => {
      const call = c.choices[0]!.delta.tool_calls![0]!;
      expect(call.index).toBe(0);
      expect(call.id).toBeUndefined();
      return call.function!.arguments!;
    });
    expect(fragments.length).toBeGreaterThan(1);
    expect(fragments.join('')).toBe(plan.toolCalls[0]!.function.arguments);
    expect(JSON.parse(fragments.join(''))).toMatchObject({ unit: 'celsius' });
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('tool_calls');
  });

  it('paces pieces at tokens_per_second', async () => {
    const request = ask('one two three', { stream: true });
    const pieces = planReply(request).pieces.length;
    const started = performance.now();
    await drain(await adapter(0, 200).chatStream(request, context()));
    // 5 ms per piece at 200/s (timers may fire a little early, never much).
    expect(performance.now() - started).toBeGreaterThanOrEqual(pieces * 5 * 0.8);
  });

  it('stops streaming when the signal aborts, throwing its reason', async () => {
    const controller = new CallAbort();
    const stream = await adapter(0, 50).chatStream(ask('a b c d e f g h i j k l m n o p', { stream: true }), context(controller.signal));
    const iterator = stream[Symbol.asyncIterator]();
    const received: ChatCompletionChunk[] = [(await iterator.next()).value as ChatCompletionChunk];
    const reason = new GatewayError('client_closed_request', 'The client closed the connection before the answer was complete.');
    controller.abort(reason);
    await expect(iterator.next()).rejects.toBe(reason);
    expect(received).toHaveLength(1);
    // The stream is over after the abort.
    expect(await iterator.next()).toEqual({ done: true, value: undefined });
  });

  it('stops an unpaced stream too when aborted between chunks', async () => {
    const controller = new CallAbort();
    const stream = await adapter().chatStream(ask('a b c d e f', { stream: true }), context(controller.signal));
    const seen: ChatCompletionChunk[] = [];
    const reason = new GatewayError('upstream_timeout', 'late');
    await expect(
      (async () => {
        for await (const chunk of stream) {
          seen.push(chunk);
          if (seen.length === 2) controller.abort(reason);
        }
      })(),
    ).rejects.toBe(reason);
    expect(seen).toHaveLength(2);
  });

  it('waits latency_ms before the stream starts, and an abort during that wait rejects chatStream itself', async () => {
    const controller = new CallAbort();
    const reason = new GatewayError('upstream_timeout', 'first byte too late');
    setTimeout(() => controller.abort(reason), 20);
    await expect(adapter(10_000).chatStream(ask('x', { stream: true }), context(controller.signal))).rejects.toBe(reason);
  });
});

describe('MockAdapter.embeddings', () => {
  it('answers with mock embeddings for the upstream model', async () => {
    const response = await adapter().embeddings({ model: 'embed', input: ['a', 'b'], dimensions: 16 }, context());
    expect(response.model).toBe('mock-1');
    expect(response.data).toHaveLength(2);
    expect(response.data[0]!.embedding).toHaveLength(16);
  });
});

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../gateway/errors.js';
import { isUsageOnlyChunk, type ChatCompletionChunk } from '../../gateway/types.js';
import { decodeGeminiStream } from './stream.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`./__fixtures__/${name}`, import.meta.url));

async function* whole(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

/** One byte at a time: events, lines and multi-byte characters split everywhere. */
async function* byteByByte(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i++) yield bytes.subarray(i, i + 1);
}

async function run(body: AsyncIterable<Uint8Array>): Promise<{ chunks: ChatCompletionChunk[]; error: unknown }> {
  const chunks: ChatCompletionChunk[] = [];
  try {
    for await (const chunk of decodeGeminiStream(body, 'gemini-2.5-flash', 'gem')) chunks.push(chunk);
  } catch (error) {
    return { chunks, error };
  }
  return { chunks, error: undefined };
}

const text = (s: string) => Buffer.from(s, 'utf8');
const contentOf = (chunks: ChatCompletionChunk[]): string => chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');

describe('decodeGeminiStream: recorded Gemini streams', () => {
  it('turns a text stream into OpenAI chunks: role first, content deltas, finish, usage trailer', async () => {
    const { chunks, error } = await run(whole(fixture('stream-text.sse.txt')));
    expect(error).toBeUndefined();
    expect(chunks).toHaveLength(4);
    expect(chunks[0]!.choices[0]).toEqual({ index: 0, delta: { role: 'assistant', content: 'Bonjour ! こんにちは' }, finish_reason: null });
    expect(chunks[1]!.choices[0]).toEqual({ index: 0, delta: { content: ' 👋 Ça va ? x < y && z > 1' }, finish_reason: null });
    expect(chunks[2]!.choices[0]).toEqual({ index: 0, delta: { content: '' }, finish_reason: 'stop', native_finish_reason: 'STOP' });
    for (const chunk of chunks) {
      expect(chunk).toMatchObject({ id: 'IZI2acSKMoWl0-kPmYj2yQc', object: 'chat.completion.chunk', model: 'gemini-2.5-flash' });
      expect(chunk.created).toBe(chunks[0]!.created);
    }
    for (const chunk of chunks.slice(0, -1)) expect('usage' in chunk).toBe(false);
    const trailer = chunks[3]!;
    expect(isUsageOnlyChunk(trailer)).toBe(true);
    // The last event's cumulative usage, not a sum over events.
    expect(trailer.usage).toEqual({ prompt_tokens: 9, completion_tokens: 14, total_tokens: 23, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 } });
  });

  it('gives the same chunks however the bytes are split, CRLF or LF framing', async () => {
    const whole1 = await run(whole(fixture('stream-text.sse.txt')));
    const split = await run(byteByByte(fixture('stream-text.sse.txt')));
    expect(split.chunks.map((c) => c.choices)).toEqual(whole1.chunks.map((c) => c.choices));
    expect(split.chunks.at(-1)!.usage).toEqual(whole1.chunks.at(-1)!.usage);
    const lf = await run(byteByByte(fixture('stream-text-lf.sse.txt')));
    expect(lf.error).toBeUndefined();
    expect(contentOf(lf.chunks)).toBe('Hello world');
  });

  it('streams thoughts as reasoning_content and each complete function call as one tool_calls delta', async () => {
    const { chunks, error } = await run(whole(fixture('stream-thinking-tools.sse.txt')));
    expect(error).toBeUndefined();
    expect(chunks[0]!.choices[0]!.delta).toEqual({ role: 'assistant', content: '', reasoning_content: '**Planning the lookup**\n\nI need the weather in Paris and the local time.' });
    expect(chunks[1]!.choices[0]!.delta).toEqual({ reasoning_content: " I'll call both tools." });
    const calls = chunks[2]!.choices[0]!;
    expect(calls.finish_reason).toBe('tool_calls');
    expect(calls.native_finish_reason).toBe('STOP');
    expect(calls.delta.tool_calls).toEqual([
      {
        index: 0,
        id: 'call_IZI2acSKMoWl0-kPmYj2yQc_0_0',
        type: 'function',
        function: { name: 'get_weather', arguments: '{"location":"Paris"}' },
        extra_content: { google: { thought_signature: expect.stringMatching(/^[A-Za-z0-9+/]+=*$/) as unknown } },
      },
      { index: 1, id: 'call_IZI2acSKMoWl0-kPmYj2yQc_0_1', type: 'function', function: { name: 'get_time', arguments: '{"timezone":"Europe/Paris"}' } },
    ]);
    expect(chunks[3]!.usage).toEqual({ prompt_tokens: 83, completion_tokens: 132, total_tokens: 215, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 104 } });
  });

  it('answers a blocked prompt with one content_filter chunk that says why', async () => {
    const { chunks, error } = await run(whole(fixture('stream-prompt-blocked.sse.txt')));
    expect(error).toBeUndefined();
    expect(chunks[0]!.choices).toEqual([
      { index: 0, delta: { role: 'assistant', content: '', refusal: 'Gemini blocked the prompt (blockReason SAFETY).' }, finish_reason: 'content_filter', native_finish_reason: 'SAFETY' },
    ]);
    expect(isUsageOnlyChunk(chunks[1]!)).toBe(true);
    expect(chunks[1]!.usage).toMatchObject({ prompt_tokens: 12, completion_tokens: 0 });
  });

  it('ends a stream the safety filter stopped with finish_reason content_filter', async () => {
    const { chunks, error } = await run(whole(fixture('stream-safety.sse.txt')));
    expect(error).toBeUndefined();
    expect(contentOf(chunks)).toBe('Here is how you');
    expect(chunks[1]!.choices[0]).toMatchObject({ finish_reason: 'content_filter', native_finish_reason: 'SAFETY', delta: { refusal: 'Gemini stopped the answer (finishReason SAFETY).' } });
  });

  it('throws a retryable 502 after the output when the stream ends without a finishReason', async () => {
    const { chunks, error } = await run(whole(fixture('stream-no-finish.sse.txt')));
    expect(contentOf(chunks)).toBe('The first part and then the connection');
    expect(error).toBeInstanceOf(GatewayError);
    expect(error).toMatchObject({ code: 'upstream_error', status: 502, retryable: true });
    expect((error as Error).message).toContain('before it was complete');
  });

  it('throws a retryable 502 when the model stops on a malformed tool call, instead of ending with an empty "stop"', async () => {
    const events = [
      { candidates: [{ content: { role: 'model', parts: [{ text: 'Let me check.' }] } }], responseId: 'r1' },
      { candidates: [{ content: {}, finishReason: 'MALFORMED_FUNCTION_CALL', finishMessage: 'Malformed function call: get_weather(' }], usageMetadata: { promptTokenCount: 9, totalTokenCount: 9 }, responseId: 'r1' },
    ];
    const { chunks, error } = await run(whole(text(events.map((e) => `data: ${JSON.stringify(e)}\r\n\r\n`).join(''))));
    expect(contentOf(chunks)).toBe('Let me check.');
    expect(error).toMatchObject({ code: 'upstream_error', status: 502, retryable: true });
    expect((error as Error).message).toBe('The upstream provider "gem" could not produce a valid tool call (finishReason MALFORMED_FUNCTION_CALL): Malformed function call: get_weather(');
  });

  it("keeps an in-stream 4xx the client's (not retried, its status) and gives a 5xx the provider's own type", async () => {
    const invalid = await run(whole(text(`data: ${JSON.stringify({ error: { code: 400, message: 'Request contains an invalid argument.', status: 'INVALID_ARGUMENT' } })}\r\n\r\n`)));
    expect(invalid.error).toMatchObject({ code: 'upstream_client_error', status: 400, retryable: false, message: 'Request contains an invalid argument.' });
    const internal = await run(whole(text(`data: ${JSON.stringify({ error: { code: 500, message: 'Internal error encountered.', status: 'INTERNAL' } })}\r\n\r\n`)));
    expect(internal.error).toMatchObject({ code: 'upstream_error', status: 502, retryable: true, upstreamType: 'INTERNAL' });
  });

  it("streams each event's log probabilities on its chunk", async () => {
    const step = (token: string, logProbability: number) => ({ topCandidates: [{ candidates: [{ token, logProbability }] }], chosenCandidates: [{ token, logProbability }] });
    const events = [
      { candidates: [{ content: { role: 'model', parts: [{ text: 'Hi' }] }, logprobsResult: step('Hi', -0.5) }], responseId: 'r2' },
      { candidates: [{ content: { role: 'model', parts: [{ text: '!' }] }, finishReason: 'STOP', logprobsResult: step('!', -0.25) }], responseId: 'r2' },
    ];
    const { chunks, error } = await run(whole(text(events.map((e) => `data: ${JSON.stringify(e)}\r\n\r\n`).join(''))));
    expect(error).toBeUndefined();
    expect(chunks.map((c) => (c.choices[0]?.logprobs as { content: { token: string; logprob: number }[] } | undefined)?.content.map((t) => [t.token, t.logprob]))).toEqual([[['Hi', -0.5]], [['!', -0.25]]]);
  });

  it('throws the in-stream error after the output that came before it', async () => {
    const { chunks, error } = await run(whole(fixture('stream-error.sse.txt')));
    expect(contentOf(chunks)).toBe('Partial answer');
    expect(error).toMatchObject({ code: 'upstream_error', retryable: true });
    expect((error as Error).message).toContain('The model is overloaded');
  });

  it('throws before any chunk when the first event is an error (so the router can fail over)', async () => {
    const { chunks, error } = await run(whole(text('data: {"error": {"code": 429,"message": "Resource has been exhausted","status": "RESOURCE_EXHAUSTED","details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo","retryDelay": "2s"}]}}\r\n\r\n')));
    expect(chunks).toEqual([]);
    expect(error).toMatchObject({ code: 'upstream_rate_limited', retryable: true, retryAfterMs: 2000 });
  });

  it('sends nothing for events without output (no parts, an empty text part with a signature), so a failure after them still fails over', async () => {
    const events = [
      '{"candidates": [{"content": {"role": "model","parts": []},"index": 0}],"usageMetadata": {"promptTokenCount": 9,"totalTokenCount": 9},"responseId": "r1"}',
      '{"candidates": [{"content": {"role": "model","parts": [{"text": "","thoughtSignature": "c2ln"}]},"index": 0}],"responseId": "r1"}',
      '{"error": {"code": 503,"message": "The model is overloaded.","status": "UNAVAILABLE"}}',
    ];
    const { chunks, error } = await run(whole(text(events.map((event) => `data: ${event}\r\n\r\n`).join(''))));
    expect(chunks).toEqual([]);
    expect(error).toMatchObject({ code: 'upstream_error', retryable: true });
  });

  it('sends the role with the first output after events without any', async () => {
    const events = [
      '{"candidates": [{"content": {"role": "model","parts": []},"index": 0}],"responseId": "r1"}',
      '{"candidates": [{"content": {"role": "model","parts": [{"text": "Hi"}]},"index": 0}],"responseId": "r1"}',
      '{"candidates": [{"content": {"role": "model","parts": [{"text": "!"}]},"finishReason": "STOP","index": 0}],"responseId": "r1"}',
    ];
    const { chunks, error } = await run(whole(text(events.map((event) => `data: ${event}\r\n\r\n`).join(''))));
    expect(error).toBeUndefined();
    expect(chunks.map((chunk) => chunk.choices[0]!.delta)).toEqual([{ role: 'assistant', content: 'Hi' }, { content: '!' }]);
  });

  it('treats an empty body, garbage and non-object events as 502s', async () => {
    for (const body of ['', 'data: {"candidates": [\r\n\r\n', 'data: 42\r\n\r\n', 'data: [1]\r\n\r\n']) {
      const { error } = await run(whole(text(body)));
      expect(error).toMatchObject({ code: 'upstream_error', status: 502 });
    }
  });

  it('streams several candidates as separate choices and waits for each to finish', async () => {
    const event = (candidates: unknown[]) => `data: ${JSON.stringify({ candidates, responseId: 'r1' })}\r\n\r\n`;
    const body =
      event([{ content: { parts: [{ text: 'A' }] }, index: 0 }, { content: { parts: [{ text: 'B' }] }, index: 1 }]) +
      event([{ content: { parts: [{ text: '!' }] }, finishReason: 'STOP', index: 0 }]) +
      event([{ content: { parts: [{ text: '?' }] }, finishReason: 'MAX_TOKENS', index: 1 }]);
    const { chunks, error } = await run(whole(text(body)));
    expect(error).toBeUndefined();
    expect(chunks.map((c) => [c.choices[0]!.index, c.choices[0]!.delta.content, c.choices[0]!.finish_reason])).toEqual([
      [0, 'A', null],
      [1, 'B', null],
      [0, '!', 'stop'],
      [1, '?', 'length'],
    ]);
    // No usageMetadata at all: no trailer.
    const unfinished = await run(whole(text(event([{ content: { parts: [{ text: 'A' }] }, finishReason: 'STOP', index: 0 }, { content: { parts: [{ text: 'B' }] }, index: 1 }]))));
    expect(unfinished.error).toMatchObject({ status: 502 });
  });
});

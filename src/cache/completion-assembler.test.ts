import { describe, expect, it } from 'vitest';
import { streamFixture, jsonFixture, assemble, viaJson } from './__fixtures__/openai-streams.js';
import type { ChatCompletion, ChatCompletionChunk, ThinkingBlock } from '../gateway/types.js';
import { CompletionAssembler } from './completion-assembler.js';

describe('CompletionAssembler: recorded streams', () => {
  /** The recorded non-streamed answer, as the stream's id and time would have it; streams carry no `annotations`. */
  function nonStreamAnswer(stream: ChatCompletionChunk[]): ChatCompletion {
    const answer = jsonFixture('chat-completion.json');
    answer.id = stream[0]!.id;
    answer.created = stream[0]!.created;
    delete answer.choices[0]!.message.annotations;
    return answer;
  }

  it('a text stream with the usage trailer assembles into the non-streamed answer', () => {
    const stream = streamFixture('stream-text-usage.sse.txt');
    const assembler = assemble(stream);
    expect(assembler.complete).toBe(true);
    expect(viaJson(assembler.result())).toStrictEqual(nonStreamAnswer(stream));
  });

  it('a text stream without usage assembles into the answer without usage', () => {
    const stream = streamFixture('stream-text.sse.txt');
    const expected = nonStreamAnswer(stream);
    delete expected.usage;
    const result = assemble(stream).result();
    expect(viaJson(result)).toStrictEqual(expected);
    expect('obfuscation' in result).toBe(false);
  });

  it('a parallel tool-call stream merges the calls by index', () => {
    const stream = streamFixture('stream-tool-calls.sse.txt');
    const assembler = assemble(stream);
    expect(assembler.complete).toBe(true);
    const result = assembler.result();
    expect(viaJson(result)).toStrictEqual({
      id: 'chatcmpl-BxQCu1Wm8Rz3Tp6Lq9NvK2sYj5XeHb',
      object: 'chat.completion',
      created: 1753714502,
      model: 'gpt-4o-mini-2024-07-18',
      choices: [{
        index: 0,
        message: {
          role: 'assistant',
          content: null,
          refusal: null,
          tool_calls: [
            { id: 'call_Qm3vX8kTzR1pL6nY4wJ2sB9d', type: 'function', function: { name: 'get_weather', arguments: '{"location": "Paris, France", "unit": "celsius"}' } },
            { id: 'call_Hn7bV2cXsK9qW4rT1mZ8pL3y', type: 'function', function: { name: 'get_time', arguments: '{"timezone": "Europe/Paris"}' } },
          ],
        },
        logprobs: null,
        finish_reason: 'tool_calls',
      }],
      usage: streamFixture('stream-tool-calls.sse.txt').at(-1)!.usage,
      service_tier: 'default',
      system_fingerprint: 'fp_34a54ae93c',
    });
    // Same shape as OpenAI's recorded non-streamed tool-call answer (less `annotations`).
    const recorded = jsonFixture('chat-completion-tool-calls.json');
    expect(Object.keys(result.choices[0]!.message).sort()).toEqual(Object.keys(recorded.choices[0]!.message).filter((k) => k !== 'annotations').sort());
  });

  it("Azure's stream: id and time from the real chunks, prompt filter results and the content filter results kept", () => {
    const stream = streamFixture('azure-stream-prompt-filter.sse.txt');
    const assembler = assemble(stream);
    expect(assembler.complete).toBe(true);
    const result = assembler.result();
    expect(result).toMatchObject({ id: 'chatcmpl-BxQJw2Lk7Rt9Vp4Nz6Hc1Ys8Dm3Fq', created: 1753714890, model: 'gpt-4o-mini-2024-07-18', object: 'chat.completion', system_fingerprint: 'fp_efad92c60b' });
    expect(result.prompt_filter_results).toEqual(stream[0]!.prompt_filter_results);
    expect(result.choices[0]!.message).toStrictEqual({ role: 'assistant', content: 'Bonjour !', refusal: null });
    expect(result.choices[0]!.content_filter_results).toEqual(stream[3]!.choices[0]!.content_filter_results);
    expect(result.usage).toEqual(stream.at(-1)!.usage);
  });

  it("Ollama's stream (role on every chunk, no [DONE]) is complete", () => {
    const assembler = assemble(streamFixture('stream-no-done.sse.txt'));
    expect(assembler.complete).toBe(true);
    expect(assembler.result().choices).toStrictEqual([{ index: 0, message: { role: 'assistant', content: 'Bonjour !' }, finish_reason: 'stop' }]);
  });

  it('a stream cut off early, or ended by an error event, is not complete', () => {
    const truncated = assemble(streamFixture('stream-truncated.sse.txt'));
    expect(truncated.complete).toBe(false);
    expect(truncated.result().choices[0]).toMatchObject({ finish_reason: null, message: { content: 'Bonjour ! こんにちは' } });
    expect(assemble(streamFixture('stream-error.sse.txt')).complete).toBe(false);
    expect(assemble(streamFixture('azure-stream-prompt-filter-error.sse.txt')).complete).toBe(false);
    expect(new CompletionAssembler().complete).toBe(false);
  });
});

describe('CompletionAssembler: merging rules', () => {
  const base = { id: 'chatcmpl-1', object: 'chat.completion.chunk' as const, created: 100, model: 'gpt-4o' };
  const chunk = (choices: ChatCompletionChunk['choices'], extra: Record<string, unknown> = {}): ChatCompletionChunk => ({ ...base, choices, ...extra });

  it('n=2 interleaved: complete only once every choice has finished', () => {
    const assembler = new CompletionAssembler();
    assembler.push(chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]));
    assembler.push(chunk([{ index: 1, delta: { role: 'assistant', content: '' }, finish_reason: null }]));
    assembler.push(chunk([{ index: 1, delta: { content: 'B' }, finish_reason: null }]));
    assembler.push(chunk([{ index: 0, delta: { content: 'A' }, finish_reason: null }]));
    assembler.push(chunk([{ index: 1, delta: {}, finish_reason: 'length' }]));
    expect(assembler.complete).toBe(false);
    assembler.push(chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]));
    expect(assembler.complete).toBe(true);
    expect(assembler.result().choices.map((c) => [c.index, c.message.content, c.finish_reason])).toEqual([[0, 'A', 'stop'], [1, 'B', 'length']]);
  });

  it('a usage-only stream (no choices) is not complete', () => {
    const assembler = new CompletionAssembler();
    assembler.push(chunk([], { usage: { prompt_tokens: 1, completion_tokens: 0, total_tokens: 1 } }));
    expect(assembler.complete).toBe(false);
  });

  it('a refusal stream gives content null and the refusal text', () => {
    const assembler = new CompletionAssembler();
    assembler.push(chunk([{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }]));
    assembler.push(chunk([{ index: 0, delta: { refusal: "I'm sorry, " }, logprobs: null, finish_reason: null }]));
    assembler.push(chunk([{ index: 0, delta: { refusal: 'I cannot help.' }, logprobs: null, finish_reason: null }]));
    assembler.push(chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]));
    expect(assembler.result().choices[0]!.message).toStrictEqual({ role: 'assistant', content: null, refusal: "I'm sorry, I cannot help." });
  });

  it('an empty answer keeps content "" (no tool calls, no refusal)', () => {
    const assembler = new CompletionAssembler();
    assembler.push(chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]));
    assembler.push(chunk([{ index: 0, delta: {}, finish_reason: 'length' }]));
    expect(assembler.result().choices[0]!.message).toStrictEqual({ role: 'assistant', content: '' });
  });

  it('DeepSeek-style reasoning: reasoning_content and content concatenated, nulls ignored', () => {
    const assembler = new CompletionAssembler();
    assembler.push(chunk([{ index: 0, delta: { role: 'assistant', content: null, reasoning_content: '' }, finish_reason: null }]));
    assembler.push(chunk([{ index: 0, delta: { content: null, reasoning_content: 'Think' }, finish_reason: null }]));
    assembler.push(chunk([{ index: 0, delta: { content: null, reasoning_content: 'ing.' }, finish_reason: null }]));
    assembler.push(chunk([{ index: 0, delta: { content: 'Ans', reasoning_content: null } as never, finish_reason: null }]));
    assembler.push(chunk([{ index: 0, delta: { content: 'wer' }, finish_reason: 'stop' }]));
    expect(assembler.result().choices[0]!.message).toStrictEqual({ role: 'assistant', content: 'Answer', reasoning_content: 'Thinking.' });
  });

  it('thinking blocks are appended in order', () => {
    const assembler = new CompletionAssembler();
    const first: ThinkingBlock = { type: 'thinking', thinking: 'a', signature: 's1' };
    const second: ThinkingBlock = { type: 'redacted_thinking', data: 'xyz' };
    assembler.push(chunk([{ index: 0, delta: { role: 'assistant', reasoning_content: 'a' }, finish_reason: null }]));
    assembler.push(chunk([{ index: 0, delta: { thinking_blocks: [first] }, finish_reason: null }]));
    assembler.push(chunk([{ index: 0, delta: { thinking_blocks: [second] }, finish_reason: null }]));
    assembler.push(chunk([{ index: 0, delta: { content: 'ok' }, finish_reason: 'stop' }]));
    expect(assembler.result().choices[0]!.message.thinking_blocks).toEqual([first, second]);
  });

  it('logprobs: content arrays concatenated across chunks; null stays null', () => {
    const entry = (token: string): unknown => ({ token, logprob: -0.5, bytes: [1], top_logprobs: [] });
    const assembler = new CompletionAssembler();
    assembler.push(chunk([{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: { content: [], refusal: null }, finish_reason: null }]));
    assembler.push(chunk([{ index: 0, delta: { content: 'He' }, logprobs: { content: [entry('He')], refusal: null }, finish_reason: null }]));
    assembler.push(chunk([{ index: 0, delta: { content: 'llo' }, logprobs: { content: [entry('llo')], refusal: null }, finish_reason: null }]));
    assembler.push(chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]));
    const first = assembler.result();
    expect(first.choices[0]!.logprobs).toEqual({ content: [entry('He'), entry('llo')], refusal: null });

    const noLogprobs = new CompletionAssembler();
    noLogprobs.push(chunk([{ index: 0, delta: { content: 'x' }, logprobs: null, finish_reason: 'stop' }]));
    expect(noLogprobs.result().choices[0]!.logprobs).toBeNull();
    const absent = new CompletionAssembler();
    absent.push(chunk([{ index: 0, delta: { content: 'x' }, finish_reason: 'stop' }]));
    expect('logprobs' in absent.result().choices[0]!).toBe(false);
  });

  it('a result already built does not change when more chunks arrive', () => {
    const assembler = new CompletionAssembler();
    assembler.push(chunk([{ index: 0, delta: { content: 'a', thinking_blocks: [{ type: 'thinking', thinking: 't', signature: 's' }] }, logprobs: { content: [{ token: 'a' }] }, finish_reason: null }]));
    const early = viaJson(assembler.result());
    const earlyObject = assembler.result();
    assembler.push(chunk([{ index: 0, delta: { content: 'b', thinking_blocks: [{ type: 'redacted_thinking', data: 'd' }] }, logprobs: { content: [{ token: 'b' }] }, finish_reason: 'stop' }]));
    expect(viaJson(earlyObject)).toStrictEqual(early);
    expect(assembler.result().choices[0]!.message.content).toBe('ab');
  });

  it('tool calls: name pieces concatenated, id and type from the first delta, index order kept', () => {
    const assembler = new CompletionAssembler();
    assembler.push(chunk([{ index: 0, delta: { role: 'assistant', content: '', tool_calls: [{ index: 1, id: 'b', type: 'function', function: { name: 'se', arguments: '' } }] }, finish_reason: null }]));
    assembler.push(chunk([{ index: 0, delta: { tool_calls: [{ index: 0, id: 'a', type: 'function', function: { name: 'f', arguments: '{' } }] }, finish_reason: null }]));
    assembler.push(chunk([{ index: 0, delta: { tool_calls: [{ index: 1, function: { name: 'arch', arguments: '{"q":1}' } }, { index: 0, id: 'ignored', function: { arguments: '}' } }] }, finish_reason: null }]));
    assembler.push(chunk([{ index: 0, delta: {}, finish_reason: 'tool_calls' }]));
    expect(assembler.result().choices[0]!.message).toStrictEqual({
      role: 'assistant',
      content: null, // only "" arrived and there are tool calls, as OpenAI answers
      tool_calls: [
        { id: 'a', type: 'function', function: { name: 'f', arguments: '{}' } },
        { id: 'b', type: 'function', function: { name: 'search', arguments: '{"q":1}' } },
      ],
    });
  });

  it('tool calls streamed without index (Gemini\'s OpenAI endpoint): a new id is the next call, not more of the last one', () => {
    const assembler = new CompletionAssembler();
    const call = (delta: Record<string, unknown>) => chunk([{ index: 0, delta: { tool_calls: [delta as never] }, finish_reason: null }]);
    assembler.push(call({ id: 'call_A', type: 'function', function: { name: 'get_weather', arguments: '{"city":' } }));
    assembler.push(call({ function: { arguments: '"Oslo"}' } }));
    assembler.push(call({ id: 'call_B', type: 'function', function: { name: 'get_time', arguments: '{}' } }));
    assembler.push(chunk([{ index: 0, delta: {}, finish_reason: 'tool_calls' }]));
    expect(assembler.result().choices[0]!.message.tool_calls).toStrictEqual([
      { id: 'call_A', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
      { id: 'call_B', type: 'function', function: { name: 'get_time', arguments: '{}' } },
    ]);
  });

  it('a tool call of another type keeps its type and own member, with no invented function', () => {
    const assembler = new CompletionAssembler();
    assembler.push(chunk([{ index: 0, delta: { role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'c1', type: 'custom' as 'function', custom: { name: 'sql', input: 'SELECT 1' } }] }, finish_reason: 'tool_calls' }]));
    expect(assembler.result().choices[0]!.message.tool_calls).toStrictEqual([{ id: 'c1', type: 'custom', custom: { name: 'sql', input: 'SELECT 1' } }]);
  });

  it("a custom tool call's input streamed in pieces is joined", () => {
    const assembler = new CompletionAssembler();
    assembler.push(chunk([{ index: 0, delta: { role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'c1', type: 'custom' as 'function', custom: { name: 'sql', input: '' } }] }, finish_reason: null }]));
    assembler.push(chunk([{ index: 0, delta: { tool_calls: [{ index: 0, custom: { input: 'SELECT ' } } as never] }, finish_reason: null }]));
    assembler.push(chunk([{ index: 0, delta: { tool_calls: [{ index: 0, custom: { input: '1' } } as never] }, finish_reason: 'tool_calls' }]));
    expect(assembler.result().choices[0]!.message.tool_calls).toStrictEqual([{ id: 'c1', type: 'custom', custom: { name: 'sql', input: 'SELECT 1' } }]);
  });

  it("an audio answer's data and transcript streamed in pieces are joined, its id and expiry kept", () => {
    const assembler = new CompletionAssembler();
    assembler.push(chunk([{ index: 0, delta: { role: 'assistant', content: null, audio: { id: 'audio_abc', transcript: 'Hello', data: 'AAAA', expires_at: 1800000000 } } as never, finish_reason: null }]));
    assembler.push(chunk([{ index: 0, delta: { audio: { transcript: ' world', data: 'BBBB' } } as never, finish_reason: null }]));
    assembler.push(chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]));
    expect((assembler.result().choices[0]!.message as { audio?: unknown }).audio).toStrictEqual({ id: 'audio_abc', transcript: 'Hello world', data: 'AAAABBBB', expires_at: 1800000000 });
  });

  it('the legacy function_call is merged like a tool call', () => {
    const assembler = new CompletionAssembler();
    assembler.push(chunk([{ index: 0, delta: { role: 'assistant', content: null, function_call: { name: 'get', arguments: '' } }, finish_reason: null }]));
    assembler.push(chunk([{ index: 0, delta: { function_call: { arguments: '{"a":' } }, finish_reason: null }]));
    assembler.push(chunk([{ index: 0, delta: { function_call: { arguments: '2}' } }, finish_reason: 'function_call' }]));
    expect(assembler.result().choices[0]!.message).toStrictEqual({ role: 'assistant', content: null, function_call: { name: 'get', arguments: '{"a":2}' } });
  });

  it('unknown delta members keep their last non-null value; unknown response members their first', () => {
    const assembler = new CompletionAssembler();
    assembler.push(chunk([{ index: 0, delta: { role: 'assistant', content: 'x', annotations: null, custom: 1 }, finish_reason: null }], { provider_meta: { a: 1 } }));
    assembler.push(chunk([{ index: 0, delta: { annotations: [{ type: 'url_citation' }], custom: 2 }, finish_reason: null }], { provider_meta: { a: 2 } }));
    assembler.push(chunk([{ index: 0, delta: { annotations: null }, native_finish_reason: 'STOP', finish_reason: 'stop' }]));
    const result = assembler.result();
    expect(result.choices[0]!.message).toStrictEqual({ role: 'assistant', content: 'x', annotations: [{ type: 'url_citation' }], custom: 2 });
    expect(result.choices[0]!.native_finish_reason).toBe('STOP');
    expect(result.provider_meta).toEqual({ a: 1 });
  });

  it('usage carried on a chunk with choices (compatible servers) counts; the last one wins', () => {
    const assembler = new CompletionAssembler();
    assembler.push(chunk([{ index: 0, delta: { content: 'a' }, finish_reason: null }], { usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 } }));
    assembler.push(chunk([{ index: 0, delta: { content: 'b' }, finish_reason: 'stop' }], { usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 } }));
    assembler.push(chunk([], { usage: null }));
    expect(assembler.result().usage).toEqual({ prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 });
  });
});

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { seeded } from '../../test/helpers/random.js';
import type { ChatChoice, ChatCompletion, ChatCompletionChunk, ChatMessage, ThinkingBlock, ToolCall, Usage } from '../gateway/types.js';
import { CompletionAssembler, completionChunks } from './replay.js';

const fixturePath = (name: string): URL => new URL(`../providers/openai/__fixtures__/${name}`, import.meta.url);

/** The JSON events of a recorded stream (single `data:` lines), parsed independently of the code under test. */
function streamFixture(name: string): ChatCompletionChunk[] {
  return readFileSync(fixturePath(name), 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('data: ') && line !== 'data: [DONE]')
    .map((line) => JSON.parse(line.slice('data: '.length)) as Record<string, unknown>)
    .filter((event) => !('error' in event)) as ChatCompletionChunk[];
}

const jsonFixture = (name: string): ChatCompletion => JSON.parse(readFileSync(fixturePath(name), 'utf8')) as ChatCompletion;

function assemble(chunks: ChatCompletionChunk[]): CompletionAssembler {
  const assembler = new CompletionAssembler();
  for (const chunk of chunks) assembler.push(chunk);
  return assembler;
}

/** As a client would see it: through JSON, so `undefined` members and shared references do not count. */
const viaJson = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

// ---------------------------------------------------------------------------------------------
// Seeded generator of completions in normal form (see replay.ts for the normalisations).

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const chance = (random: Random, p: number): boolean => random() < p;

const WORDS = ['Bonjour', 'le', 'monde', 'こんにちは', '👋', 'Ça', 'va', '?', '"quoted"', 'back\\slash', 'new\nline', 'tab\t', 'naïve', '東京', 'é', '{', '}', 'x'];

function text(random: Random, maxWords: number): string {
  const count = 1 + Math.floor(random() * maxWords);
  return Array.from({ length: count }, () => pick(random, WORDS)).join(pick(random, [' ', '', ' ']));
}

function usage(random: Random): Usage {
  const prompt = Math.floor(random() * 500);
  const completion = Math.floor(random() * 500);
  const result: Usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
  if (chance(random, 0.7)) {
    result.prompt_tokens_details = { cached_tokens: Math.floor(random() * prompt), audio_tokens: 0 };
    result.completion_tokens_details = { reasoning_tokens: Math.floor(random() * completion), audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 };
  }
  if (chance(random, 0.2)) result.cache_creation_input_tokens = 12;
  return result;
}

function logprobEntries(random: Random, count: number): unknown[] {
  return Array.from({ length: count }, (_, i) => ({
    token: `t${i}`,
    logprob: -random(),
    bytes: [116, 48 + (i % 10)],
    top_logprobs: chance(random, 0.5) ? [{ token: `t${i}`, logprob: -0.1, bytes: [116] }] : [],
  }));
}

function toolCall(random: Random, index: number): ToolCall {
  const args = chance(random, 0.2) ? '' : JSON.stringify({ location: text(random, 3), unit: pick(random, ['celsius', 'fahrenheit']), n: index });
  return { id: `call_${index}_${Math.floor(random() * 1e9)}`, type: 'function', function: { name: pick(random, ['get_weather', 'get_time', 'search']), arguments: args } };
}

function message(random: Random): { message: ChatMessage; finish: ChatChoice['finish_reason'] } {
  const kind = pick(random, ['text', 'text', 'tools', 'refusal', 'empty'] as const);
  const msg: ChatMessage = { role: 'assistant', content: null };
  let finish: ChatChoice['finish_reason'] = pick(random, ['stop', 'length']);
  if (kind === 'text') msg.content = text(random, 40);
  if (kind === 'empty') msg.content = '';
  if (kind === 'tools') {
    msg.content = chance(random, 0.3) ? text(random, 5) : null;
    msg.tool_calls = Array.from({ length: 1 + Math.floor(random() * 3) }, (_, i) => toolCall(random, i));
    finish = 'tool_calls';
  }
  if (kind === 'refusal') {
    msg.refusal = "I'm sorry, I can't help with that.";
    finish = 'stop';
  } else if (chance(random, 0.5)) {
    msg.refusal = null; // OpenAI's own answers always carry it
  }
  if (chance(random, 0.3)) msg.reasoning_content = text(random, 20);
  if (chance(random, 0.25)) {
    const blocks: ThinkingBlock[] = [{ type: 'thinking', thinking: text(random, 10), signature: 'sig-' + Math.floor(random() * 1e6) }];
    if (chance(random, 0.3)) blocks.push({ type: 'redacted_thinking', data: 'ZW5jcnlwdGVk' });
    msg.thinking_blocks = blocks;
  }
  if (chance(random, 0.3)) msg.annotations = [];
  return { message: msg, finish };
}

function completion(random: Random): ChatCompletion {
  const n = chance(random, 0.3) ? 2 + Math.floor(random() * 2) : 1;
  const withLogprobs = pick(random, ['absent', 'null', 'object'] as const);
  const choices: ChatChoice[] = Array.from({ length: n }, (_, index) => {
    const { message: msg, finish } = message(random);
    const choice: ChatChoice = { index, message: msg, finish_reason: finish };
    if (withLogprobs === 'null') choice.logprobs = null;
    if (withLogprobs === 'object') {
      const refused = typeof msg.refusal === 'string';
      choice.logprobs = { content: refused ? null : logprobEntries(random, 1 + Math.floor(random() * 4)), refusal: refused ? logprobEntries(random, 2) : null };
    }
    if (chance(random, 0.15)) choice.content_filter_results = { hate: { filtered: false, severity: 'safe' } };
    return choice;
  });
  const result: ChatCompletion = { id: `chatcmpl-${Math.floor(random() * 1e12)}`, object: 'chat.completion', created: 1_753_714_000 + Math.floor(random() * 1000), model: 'gpt-4o-mini-2024-07-18', choices };
  if (chance(random, 0.8)) result.usage = usage(random);
  if (chance(random, 0.7)) result.service_tier = 'default';
  if (chance(random, 0.7)) result.system_fingerprint = 'fp_34a54ae93c';
  if (chance(random, 0.1)) result.prompt_filter_results = [{ prompt_index: 0, content_filter_results: {} }];
  return result;
}

/** Re-splits every text delta into 1–4 pieces (anywhere, surrogate pairs included), like a real stream. */
function resplit(chunks: ChatCompletionChunk[], random: Random): ChatCompletionChunk[] {
  const cut = (value: string): string[] => {
    if (value.length < 2) return [value];
    const at = [...new Set(Array.from({ length: Math.floor(random() * 4) }, () => 1 + Math.floor(random() * (value.length - 1))))].sort((a, b) => a - b);
    return [0, ...at].map((start, i) => value.slice(start, at[i] ?? value.length));
  };
  const out: ChatCompletionChunk[] = [];
  for (const chunk of chunks) {
    const choice = chunk.choices[0];
    const delta = choice?.delta;
    const field = delta && (['content', 'reasoning_content', 'refusal'] as const).find((key) => typeof delta[key] === 'string' && Object.keys(delta).length === 1);
    const call = delta?.tool_calls?.[0];
    if (choice && field) {
      cut(delta[field] as string).forEach((piece, i) => {
        const pieceChoice = { ...choice, delta: { [field]: piece } };
        if (i > 0 && 'logprobs' in choice) pieceChoice.logprobs = null;
        out.push({ ...chunk, choices: [pieceChoice] });
      });
    } else if (choice && call?.function?.arguments) {
      cut(call.function.arguments).forEach((piece, i) => {
        const delta = i === 0 ? { ...call, function: { ...call.function, arguments: piece } } : { index: call.index, function: { arguments: piece } };
        out.push({ ...chunk, choices: [{ ...choice, delta: { tool_calls: [delta] } }] });
      });
    } else {
      out.push(chunk);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

describe('completionChunks → CompletionAssembler round trip', () => {
  it('gives back every generated completion (200 seeded cases, with and without usage)', () => {
    const random = seeded(20_250_728);
    const seen = { tools: 0, parallel: 0, reasoning: 0, thinking: 0, multi: 0, logprobs: 0, refusal: 0, details: 0 };
    for (let i = 0; i < 200; i++) {
      const original = completion(random);
      const includeUsage = chance(random, 0.5);
      const chunks = viaJson(completionChunks(original, { includeUsage }));
      const assembler = assemble(chunks);
      expect(assembler.complete).toBe(true);
      const expected = viaJson(original);
      if (!includeUsage) delete expected.usage;
      expect(viaJson(assembler.result())).toStrictEqual(expected);

      const messages = original.choices.map((c) => c.message);
      if (messages.some((m) => m.tool_calls)) seen.tools++;
      if (messages.some((m) => (m.tool_calls?.length ?? 0) > 1)) seen.parallel++;
      if (messages.some((m) => m.reasoning_content)) seen.reasoning++;
      if (messages.some((m) => m.thinking_blocks)) seen.thinking++;
      if (original.choices.length > 1) seen.multi++;
      if (original.choices.some((c) => c.logprobs)) seen.logprobs++;
      if (messages.some((m) => typeof m.refusal === 'string')) seen.refusal++;
      if (includeUsage && original.usage?.prompt_tokens_details) seen.details++;
    }
    // The generator really produced every kind of answer the test claims to cover.
    for (const [kind, count] of Object.entries(seen)) expect(count, kind).toBeGreaterThan(5);
  });

  it('still assembles the same completion when the deltas are re-split into many pieces', () => {
    const random = seeded(7);
    let whole = 0;
    let split = 0;
    for (let i = 0; i < 200; i++) {
      const original = completion(random);
      const replayed = viaJson(completionChunks(original, { includeUsage: true }));
      const chunks = resplit(replayed, random);
      whole += replayed.length;
      split += chunks.length;
      expect(viaJson(assemble(chunks).result())).toStrictEqual(viaJson(original));
    }
    expect(split).toBeGreaterThan(whole * 1.3);
  });
});

describe('completionChunks: the stream OpenAI would send', () => {
  const nonStream = jsonFixture('chat-completion.json');

  it('matches a recorded OpenAI stream in its opening, finish and usage chunks', () => {
    const recorded = streamFixture('stream-text-usage.sse.txt').map((chunk) => {
      const { obfuscation: _padding, ...rest } = chunk;
      return rest;
    });
    // The same answer as the recording, under the recording's id and time.
    const answer: ChatCompletion = { ...nonStream, id: recorded[0]!.id, created: recorded[0]!.created };
    answer.choices = [{ ...answer.choices[0]!, message: { role: 'assistant', content: 'Bonjour ! こんにちは 👋 Ça va ?', refusal: null } }];
    const chunks = completionChunks(answer, { includeUsage: true });
    expect(chunks).toHaveLength(4);
    expect(chunks[0]).toStrictEqual(recorded[0]);
    expect(chunks[1]!.choices[0]!.delta).toStrictEqual({ content: 'Bonjour ! こんにちは 👋 Ça va ?' });
    expect(chunks.slice(-2)).toStrictEqual(recorded.slice(-2));
  });

  it('without includeUsage no chunk has a usage member; with it only the last carries one', () => {
    const without = completionChunks(nonStream, { includeUsage: false });
    for (const chunk of without) expect('usage' in chunk).toBe(false);
    expect(without.every((chunk) => chunk.choices.length === 1)).toBe(true);

    const withUsage = completionChunks(nonStream, { includeUsage: true });
    expect(withUsage.slice(0, -1).every((chunk) => chunk.usage === null && chunk.choices.length === 1)).toBe(true);
    expect(withUsage.at(-1)).toMatchObject({ choices: [], usage: nonStream.usage });
  });

  it('sends no usage chunk when the completion has no usage, even when asked', () => {
    const { usage: _usage, ...noUsage } = nonStream;
    const chunks = completionChunks(noUsage as ChatCompletion, { includeUsage: true });
    expect(chunks.some((chunk) => chunk.usage != null)).toBe(false);
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
  });

  it('sends each tool call as one delta with index, id, type, name and arguments', () => {
    const answer = jsonFixture('chat-completion-tool-calls.json');
    const second: ToolCall = { id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '{"timezone":"Europe/Paris"}' } };
    answer.choices[0]!.message.tool_calls!.push(second);
    const deltas = completionChunks(answer, { includeUsage: false }).map((chunk) => chunk.choices[0]!.delta);
    expect(deltas).toStrictEqual([
      { role: 'assistant', content: null, refusal: null, annotations: [] },
      { tool_calls: [{ index: 0, id: 'call_Qm3vX8kTzR1pL6nY4wJ2sB9d', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Paris, France","unit":"celsius"}' } }] },
      { tool_calls: [{ index: 1, id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '{"timezone":"Europe/Paris"}' } }] },
      {},
    ]);
  });

  it('sends reasoning and thinking blocks before the text, and logprobs on the content chunk', () => {
    const answer: ChatCompletion = {
      id: 'c1', object: 'chat.completion', created: 1, model: 'm',
      choices: [{
        index: 0,
        message: { role: 'assistant', content: 'Paris.', reasoning_content: 'The capital…', thinking_blocks: [{ type: 'thinking', thinking: 'The capital…', signature: 'abc' }] },
        logprobs: { content: [{ token: 'Paris', logprob: -0.01 }], refusal: null },
        finish_reason: 'stop',
      }],
    };
    const choices = completionChunks(answer, { includeUsage: false }).map((chunk) => chunk.choices[0]!);
    expect(choices.map((choice) => Object.keys(choice.delta))).toEqual([['role', 'content'], ['reasoning_content'], ['thinking_blocks'], ['content'], []]);
    expect(choices.map((choice) => choice.logprobs)).toEqual([null, null, null, answer.choices[0]!.logprobs, null]);
    expect(choices.map((choice) => choice.finish_reason)).toEqual([null, null, null, null, 'stop']);
  });

  it('interleaves the choices of an n=2 answer, one choice per chunk', () => {
    const answer: ChatCompletion = {
      id: 'c2', object: 'chat.completion', created: 1, model: 'm',
      choices: [
        { index: 0, message: { role: 'assistant', content: 'A' }, finish_reason: 'stop' },
        { index: 1, message: { role: 'assistant', content: null, tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: '{}' } }] }, finish_reason: 'tool_calls' },
      ],
      usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
    };
    const chunks = completionChunks(answer, { includeUsage: true });
    expect(chunks.map((chunk) => chunk.choices.map((choice) => choice.index))).toEqual([[0], [1], [0], [1], [0], [1], []]);
    expect(new Set(chunks.map((chunk) => chunk.id))).toEqual(new Set(['c2']));
  });

  it('returns fresh objects: changing a chunk changes neither the completion nor the other chunks', () => {
    const answer = jsonFixture('chat-completion-tool-calls.json');
    const before = viaJson(answer);
    const chunks = completionChunks(answer, { includeUsage: true });
    for (const chunk of chunks) {
      delete chunk.usage;
      for (const choice of chunk.choices) {
        choice.delta.role = 'changed';
        if (choice.delta.tool_calls) choice.delta.tool_calls[0]!.function!.name = 'changed';
      }
    }
    expect(viaJson(answer)).toStrictEqual(before);
    expect(chunks.filter((chunk) => chunk.choices[0]?.delta.role === 'changed')).toHaveLength(3);
  });
});

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

  it('a tool call of another type keeps its type and own member, with no invented function', () => {
    const assembler = new CompletionAssembler();
    assembler.push(chunk([{ index: 0, delta: { role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'c1', type: 'custom' as 'function', custom: { name: 'sql', input: 'SELECT 1' } }] }, finish_reason: 'tool_calls' }]));
    expect(assembler.result().choices[0]!.message.tool_calls).toStrictEqual([{ id: 'c1', type: 'custom', custom: { name: 'sql', input: 'SELECT 1' } }]);
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

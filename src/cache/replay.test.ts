import { describe, expect, it } from 'vitest';
import { streamFixture, jsonFixture, assemble, viaJson } from './__fixtures__/openai-streams.js';
import { seeded } from '../../test/helpers/random.js';
import type { ChatChoice, ChatCompletion, ChatCompletionChunk, ChatMessage, ThinkingBlock, ToolCall, Usage } from '../gateway/types.js';
import { completionChunks } from './replay.js';


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

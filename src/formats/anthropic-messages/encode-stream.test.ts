import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ChatCompletionChunk, ChunkChoice, Usage } from '../../gateway/types.js';
import type { StreamEvent } from '../../providers/anthropic/api.js';
import { MessageStreamEncoder } from './encode-stream.js';

/** The events of a documented Anthropic stream (`event:` name checked against the data's type). */
function fixtureEvents(name: string): Record<string, unknown>[] {
  const text = readFileSync(new URL(`./__fixtures__/${name}`, import.meta.url), 'utf8');
  return text
    .split('\n\n')
    .filter((frame) => frame.trim() !== '')
    .map((frame) => {
      const [eventLine, dataLine] = frame.split('\n');
      const data = JSON.parse(dataLine!.slice('data: '.length)) as Record<string, unknown>;
      expect(eventLine).toBe(`event: ${String(data.type)}`);
      return data;
    });
}

/**
 * What the encoder must reproduce of a documented stream: everything but pings, Anthropic's
 * leading empty `partial_json` piece, and the message_start usage (checked on its own).
 */
function comparable(events: Record<string, unknown>[]): Record<string, unknown>[] {
  return events
    .filter((e) => e.type !== 'ping')
    .filter((e) => !(e.type === 'content_block_delta' && (e.delta as { partial_json?: string }).partial_json === ''))
    .map((e) => {
      if (e.type !== 'message_start') return e;
      const { usage: _usage, ...message } = e.message as Record<string, unknown>;
      return { ...e, message };
    });
}

const base = { id: 'chatcmpl-abc123', object: 'chat.completion.chunk' as const, created: 1741569952, model: 'gpt-4o' };

function chunk(delta: ChunkChoice['delta'], finish: ChunkChoice['finish_reason'] = null, extra: Partial<ChunkChoice> = {}): ChatCompletionChunk {
  return { ...base, choices: [{ index: 0, delta, finish_reason: finish, logprobs: null, ...extra }] };
}

function usageChunk(usage: Usage): ChatCompletionChunk {
  return { ...base, choices: [], usage };
}

function encode(chunks: ChatCompletionChunk[], model = 'claude-opus-4-6', stopSequences?: string[]): StreamEvent[] {
  const encoder = new MessageStreamEncoder({ model, stopSequences });
  const out: StreamEvent[] = [];
  for (const c of chunks) encoder.push(c, out);
  encoder.end(out);
  return out;
}

describe('MessageStreamEncoder against the documented streams', () => {
  it('reproduces the basic text stream', () => {
    const events = encode([
      { ...chunk({ role: 'assistant', content: '' }), id: 'msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY' },
      chunk({ content: 'Hello' }),
      chunk({ content: '!' }),
      chunk({}, 'stop'),
      usageChunk({ prompt_tokens: 25, completion_tokens: 15, total_tokens: 40 }),
    ]);
    expect(events).toMatchObject(comparable(fixtureEvents('stream-text.sse.txt')));
    expect(events[0]).toMatchObject({ message: { usage: { input_tokens: 0, output_tokens: 0 } } });
    expect(events.at(-2)).toEqual({
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { input_tokens: 25, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 15 },
    });
  });

  it('reproduces the tool use stream (text block, then a tool_use block with input_json_delta pieces)', () => {
    const expected = fixtureEvents('stream-tool-use.sse.txt');
    const textPieces = expected.flatMap((e) => (e.type === 'content_block_delta' && e.index === 0 ? [(e.delta as { text: string }).text] : []));
    const argPieces = expected.flatMap((e) => (e.type === 'content_block_delta' && e.index === 1 ? [(e.delta as { partial_json: string }).partial_json] : []));
    const chunks = [
      { ...chunk({ role: 'assistant', content: '' }), id: 'msg_014p7gG3wDgGV9EUtLvnow3U', usage: { prompt_tokens: 472, completion_tokens: 0, total_tokens: 472 } },
      ...textPieces.map((text) => chunk({ content: text })),
      chunk({ tool_calls: [{ index: 0, id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6', type: 'function', function: { name: 'get_weather', arguments: '' } }] }),
      ...argPieces.map((piece) => chunk({ tool_calls: [{ index: 0, function: { arguments: piece } }] })),
      chunk({}, 'tool_calls'),
      usageChunk({ prompt_tokens: 472, completion_tokens: 89, total_tokens: 561 }),
    ];
    const events = encode(chunks);
    expect(events).toMatchObject(comparable(expected));
    // Usage known up front (as from an Anthropic upstream) is reported in message_start.
    expect(events[0]).toMatchObject({ message: { usage: { input_tokens: 472, output_tokens: 0 } } });
    const input = events.flatMap((e) => (e.type === 'content_block_delta' && e.delta.type === 'input_json_delta' ? [e.delta.partial_json] : [])).join('');
    expect(JSON.parse(input)).toEqual({ location: 'San Francisco, CA', unit: 'fahrenheit' });
  });

  it('reproduces the extended thinking stream (thinking deltas, signature, then text)', () => {
    const expected = fixtureEvents('stream-thinking.sse.txt');
    const thoughts = expected.flatMap((e) => (e.type === 'content_block_delta' && (e.delta as { type: string }).type === 'thinking_delta' ? [(e.delta as { thinking: string }).thinking] : []));
    const signature = 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds...';
    const events = encode([
      { ...chunk({ role: 'assistant' }), id: 'msg_01...' },
      ...thoughts.map((thought) => chunk({ reasoning_content: thought })),
      chunk({ thinking_blocks: [{ type: 'thinking', thinking: thoughts.join(''), signature }] }),
      chunk({ content: 'The greatest common divisor of 1071 and 462 is **21**.' }),
      chunk({}, 'stop'),
    ]);
    expect(events).toMatchObject(comparable(expected));
    expect(events[1]).toEqual({ type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } });
    // No usage trailer arrived: the message_delta still carries the required output_tokens.
    expect(events.at(-2)).toMatchObject({ usage: { output_tokens: 0 } });
  });
});

describe('MessageStreamEncoder', () => {
  it("streams vLLM's and OpenRouter's `reasoning` deltas as a thinking block", () => {
    const events = encode([chunk({ reasoning: 'Let me ' }), chunk({ reasoning: 'think.' }), chunk({ content: 'Answer.' }), chunk({}, 'stop')]);
    const deltas = events.flatMap((e) => (e.type === 'content_block_delta' ? [[e.index, e.delta]] : []));
    expect(deltas).toEqual([
      [0, { type: 'thinking_delta', thinking: 'Let me ' }],
      [0, { type: 'thinking_delta', thinking: 'think.' }],
      [1, { type: 'text_delta', text: 'Answer.' }],
    ]);
  });

  it('numbers parallel tool calls as consecutive blocks, closing each before the next opens', () => {
    const events = encode([
      chunk({ role: 'assistant', content: 'Checking both.' }),
      chunk({ tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '{"city":' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
      chunk({ tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '{}' } }] }),
      chunk({}, 'tool_calls'),
    ]);
    expect(events.map((e) => [e.type, 'index' in e ? e.index : null])).toEqual([
      ['message_start', null],
      ['content_block_start', 0],
      ['content_block_delta', 0],
      ['content_block_stop', 0],
      ['content_block_start', 1],
      ['content_block_delta', 1],
      ['content_block_delta', 1],
      ['content_block_stop', 1],
      ['content_block_start', 2],
      ['content_block_delta', 2],
      ['content_block_stop', 2],
      ['message_delta', null],
      ['message_stop', null],
    ]);
    expect(events[4]).toEqual({ type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'call_a', name: 'get_weather', input: {} } });
    expect(events[8]).toMatchObject({ content_block: { type: 'tool_use', id: 'call_b', name: 'get_time' } });
    expect(events.at(-2)).toMatchObject({ delta: { stop_reason: 'tool_use' } });
  });

  it('holds the later calls while the first streams, so interleaved pieces all come before their block\'s stop', () => {
    const events = encode([
      chunk({ tool_calls: [{ index: 0, id: 'a', function: { name: 'f', arguments: '{"x":' } }] }),
      chunk({ tool_calls: [{ index: 1, id: 'b', function: { name: 'g', arguments: '{"y":' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '1}' } }] }),
      chunk({ tool_calls: [{ index: 1, function: { arguments: '2}' } }] }),
      chunk({}, 'tool_calls'),
    ]);
    expect(events.map((e) => [e.type, 'index' in e ? e.index : null, e.type === 'content_block_delta' && e.delta.type === 'input_json_delta' ? e.delta.partial_json : null])).toEqual([
      ['message_start', null, null],
      ['content_block_start', 0, null],
      ['content_block_delta', 0, '{"x":'],
      ['content_block_delta', 0, '1}'],
      ['content_block_stop', 0, null],
      ['content_block_start', 1, null],
      ['content_block_delta', 1, '{"y":2}'],
      ['content_block_stop', 1, null],
      ['message_delta', null, null],
      ['message_stop', null, null],
    ]);
    expect(events[5]).toMatchObject({ content_block: { type: 'tool_use', id: 'b', name: 'g' } });
  });

  it('sends held calls before text that follows them', () => {
    const events = encode([
      chunk({ tool_calls: [{ index: 0, id: 'a', function: { name: 'f', arguments: '{}' } }] }),
      chunk({ tool_calls: [{ index: 1, id: 'b', function: { name: 'g', arguments: '{}' } }] }),
      chunk({ content: 'Done.' }),
      chunk({}, 'stop'),
    ]);
    expect(events.filter((e) => e.type === 'content_block_start').map((e) => [e.index, (e as { content_block: { type: string } }).content_block.type])).toEqual([
      [0, 'tool_use'],
      [1, 'tool_use'],
      [2, 'text'],
    ]);
  });

  it('opens a tool_use block per call when the stream gives tool calls no index (a new id is a new call)', () => {
    const events = encode([
      chunk({ tool_calls: [{ id: 'call_A', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } } as never] }),
      chunk({ tool_calls: [{ id: 'call_B', function: { name: 'get_time', arguments: '{}' } } as never] }),
      chunk({}, 'tool_calls'),
    ]);
    const starts = events.flatMap((e) => (e.type === 'content_block_start' ? [[e.index, e.content_block]] : []));
    expect(starts).toEqual([
      [0, { type: 'tool_use', id: 'call_A', name: 'get_weather', input: {} }],
      [1, { type: 'tool_use', id: 'call_B', name: 'get_time', input: {} }],
    ]);
    const pieces = events.flatMap((e) => (e.type === 'content_block_delta' && e.delta.type === 'input_json_delta' ? [[e.index, e.delta.partial_json]] : []));
    expect(pieces).toEqual([[0, '{"city":"Oslo"}'], [1, '{}']]);
  });

  it("carries a Gemini tool call's thought signature in the tool_use id", () => {
    const events = encode([
      chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' }, extra_content: { google: { thought_signature: 'SIG' } } } as never] }),
      chunk({}, 'tool_calls'),
    ]);
    expect(events[1]).toMatchObject({ content_block: { type: 'tool_use', id: `call_1__thought__${Buffer.from('SIG').toString('base64url')}`, name: 'f' } });
  });

  it('gives a tool call without an id a toolu_ id of its own', () => {
    const events = encode([chunk({ tool_calls: [{ index: 0, function: { name: 'f', arguments: '{}' } }] }), chunk({}, 'tool_calls')]);
    expect(events[1]).toMatchObject({ content_block: { type: 'tool_use', id: 'toolu_abc123_0', name: 'f' } });
  });

  it('reports tool_use when tool calls finish with "stop", max_tokens for "length"', () => {
    expect(encode([chunk({ tool_calls: [{ index: 0, id: 'a', function: { name: 'f', arguments: '{}' } }] }), chunk({}, 'stop')]).at(-2)).toMatchObject({ delta: { stop_reason: 'tool_use' } });
    expect(encode([chunk({ content: 'cut' }), chunk({}, 'length')]).at(-2)).toMatchObject({ delta: { stop_reason: 'max_tokens' } });
  });

  it('streams a refusal as text with stop_reason refusal, as a JSON answer has it', () => {
    // OpenAI sends a refusal in pieces and finishes with "stop"; Gemini's filter finishes with content_filter.
    const events = encode([chunk({ role: 'assistant', content: null, refusal: '' }), chunk({ refusal: "I'm sorry, " }), chunk({ refusal: "I can't help." }), chunk({}, 'stop')]);
    expect(events.filter((e) => e.type.startsWith('content_block'))).toEqual([
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: "I'm sorry, " } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: "I can't help." } },
      { type: 'content_block_stop', index: 0 },
    ]);
    expect(events.at(-2)).toMatchObject({ delta: { stop_reason: 'refusal' } });
    const filtered = encode([chunk({ role: 'assistant', content: '', refusal: 'Gemini stopped the answer (finishReason SAFETY).' }, 'content_filter')]);
    expect(filtered.filter((e) => e.type === 'content_block_delta')).toEqual([
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Gemini stopped the answer (finishReason SAFETY).' } },
    ]);
    expect(filtered.at(-2)).toMatchObject({ delta: { stop_reason: 'refusal' } });
  });

  it("starts the message with the upstream id after Azure's opening filter-results chunk (no choices, empty id)", () => {
    const filterResults = { id: '', object: 'chat.completion.chunk' as const, created: 0, model: '', choices: [], prompt_filter_results: [{ prompt_index: 0, content_filter_results: {} }] };
    const events = encode([filterResults, { ...chunk({ role: 'assistant', content: 'Hi' }), id: 'chatcmpl-azure1' }, chunk({}, 'stop')]);
    expect(events[0]).toMatchObject({ type: 'message_start', message: { id: 'msg_azure1' } });
    expect(events.filter((e) => e.type === 'message_start')).toHaveLength(1);
  });

  it('reports stop_sequence when the server names the matched sequence', () => {
    const events = encode([chunk({ content: 'one' }), chunk({}, 'stop', { stop_reason: 'END' })], 'm', ['END']);
    expect(events.at(-2)).toMatchObject({ delta: { stop_reason: 'stop_sequence', stop_sequence: 'END' } });
  });

  it('emits a redacted thinking block whole, and a whole signed thinking block given at once', () => {
    const events = encode([
      chunk({ thinking_blocks: [{ type: 'redacted_thinking', data: 'EmwKAhgB' }] }),
      chunk({ thinking_blocks: [{ type: 'thinking', thinking: 'Because.', signature: 'sig-1' }] }),
      chunk({ reasoning_content: 'More.' }),
      chunk({ content: 'Done' }),
      chunk({}, 'stop'),
    ]);
    expect(events.slice(1, -2)).toEqual([
      { type: 'content_block_start', index: 0, content_block: { type: 'redacted_thinking', data: 'EmwKAhgB' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'content_block_start', index: 1, content_block: { type: 'thinking', thinking: '', signature: '' } },
      { type: 'content_block_delta', index: 1, delta: { type: 'thinking_delta', thinking: 'Because.' } },
      { type: 'content_block_delta', index: 1, delta: { type: 'signature_delta', signature: 'sig-1' } },
      { type: 'content_block_stop', index: 1 },
      // A signed block is complete: further reasoning opens a new one.
      { type: 'content_block_start', index: 2, content_block: { type: 'thinking', thinking: '', signature: '' } },
      { type: 'content_block_delta', index: 2, delta: { type: 'thinking_delta', thinking: 'More.' } },
      { type: 'content_block_stop', index: 2 },
      { type: 'content_block_start', index: 3, content_block: { type: 'text', text: '' } },
      { type: 'content_block_delta', index: 3, delta: { type: 'text_delta', text: 'Done' } },
      { type: 'content_block_stop', index: 3 },
    ]);
  });

  it('reports cache reads and writes in message_delta usage', () => {
    const events = encode([
      chunk({ content: 'x' }, 'stop'),
      usageChunk({ prompt_tokens: 1000, completion_tokens: 7, total_tokens: 1007, prompt_tokens_details: { cached_tokens: 900 }, cache_creation_input_tokens: 50 }),
    ]);
    expect(events.at(-2)).toMatchObject({ usage: { input_tokens: 50, cache_read_input_tokens: 900, cache_creation_input_tokens: 50, output_tokens: 7 } });
  });

  it('ignores choices other than the first and empty content pieces', () => {
    const events = encode([
      { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }, { index: 1, delta: { content: 'other' }, finish_reason: null }] },
      chunk({ content: 'mine' }, 'stop'),
    ]);
    const texts = events.flatMap((e) => (e.type === 'content_block_delta' && e.delta.type === 'text_delta' ? [e.delta.text] : []));
    expect(texts).toEqual(['mine']);
  });

  it('still frames a complete message when the stream had no content, and ends once', () => {
    const encoder = new MessageStreamEncoder({ model: 'm' });
    const out: StreamEvent[] = [];
    encoder.end(out);
    encoder.end(out);
    expect(out.map((e) => e.type)).toEqual(['message_start', 'message_delta', 'message_stop']);
    expect(out[0]).toMatchObject({ message: { id: expect.stringMatching(/^msg_/) as unknown, model: 'm', content: [], stop_reason: null } });
  });
});

import { readFileSync } from 'node:fs';
import { MessageStream } from '@anthropic-ai/sdk/lib/MessageStream';
import { describe, expect, it } from 'vitest';
import { seeded } from '../../test/helpers/random.js';
import type { AnthropicUsage, ContentBlock, Message, StreamEvent } from '../providers/anthropic/api.js';
import { MessageAssembler, messageEvents } from './message-replay.js';

type Event = Record<string, unknown>;

const PROVIDER_FIXTURES = '../providers/anthropic/__fixtures__/';
const FORMAT_FIXTURES = '../formats/anthropic-messages/__fixtures__/';

/** The JSON events of a recorded stream (its `data:` lines), parsed independently of the code under test. */
function streamFixture(path: string): Event[] {
  return readFileSync(new URL(path, import.meta.url), 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('data: '))
    .map((line) => JSON.parse(line.slice('data: '.length)) as Event);
}

function assemble(events: readonly (StreamEvent | Event)[]): MessageAssembler {
  const assembler = new MessageAssembler();
  for (const event of events) assembler.push(event);
  return assembler;
}

/** As a client would see it: through JSON (members in order, no `undefined`s). */
const json = (value: unknown): string => JSON.stringify(value);
const viaJson = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}

/** The final message of the official SDK's accumulator (MessageStream) fed with these events. */
async function sdkFinalMessage(events: readonly unknown[]): Promise<Record<string, unknown>> {
  const body = new ReadableStream({
    start(controller) {
      for (const event of events) controller.enqueue(new TextEncoder().encode(`${JSON.stringify(event)}\n`));
      controller.close();
    },
  });
  const { parsed_output: _parsedOutput, ...message } = (await MessageStream.fromReadableStream(body).finalMessage()) as unknown as Record<string, unknown>;
  return viaJson(message);
}

// ---------------------------------------------------------------------------------------------
// Seeded generator of messages.

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const chance = (random: Random, p: number): boolean => random() < p;
const count = (random: Random, max: number): number => Math.floor(random() * (max + 1));

const WORDS = ['Bonjour', 'le', 'monde', 'こんにちは', '👋', 'Ça', '"quoted"', 'back\\slash', 'new\nline', 'tab\t', '東京', '{', '}', '</s>', 'x'];

function text(random: Random, maxWords: number): string {
  return Array.from({ length: 1 + count(random, maxWords - 1) }, () => pick(random, WORDS)).join(pick(random, [' ', '']));
}

/** A JSON value with nesting, as tool inputs have. */
function jsonValue(random: Random, depth: number): unknown {
  const kind = depth > 2 ? count(random, 3) : count(random, 5);
  switch (kind) {
    case 0: return text(random, 4);
    case 1: return Math.round(random() * 1e6) / 100 - 5000;
    case 2: return pick(random, [true, false, null]);
    case 3: return count(random, 3);
    case 4: return Array.from({ length: count(random, 3) }, () => jsonValue(random, depth + 1));
    default: return toolInput(random, depth + 1);
  }
}

function toolInput(random: Random, depth = 0): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (let i = count(random, 4); i > 0; i--) input[pick(random, ['city', 'unit', 'query', 'nested', 'q', 'ünïcödé', 'a b'])] = jsonValue(random, depth);
  return input;
}

const citation = (random: Random): unknown => ({
  type: 'char_location',
  cited_text: text(random, 5),
  document_index: count(random, 2),
  document_title: chance(random, 0.5) ? null : 'Doc',
  start_char_index: 0,
  end_char_index: 10,
});

function block(random: Random, index: number): ContentBlock {
  const id = `${index}_${count(random, 1e6)}`;
  switch (count(random, 8)) {
    case 0: return { type: 'thinking', thinking: text(random, 30), signature: `EqQBCgIYAh${id}==` };
    case 1: return { type: 'redacted_thinking', data: `EmwKAhgB${id}` };
    case 2: return { type: 'tool_use', id: `toolu_${id}`, name: pick(random, ['get_weather', 'search']), input: toolInput(random) };
    case 3: return { type: 'server_tool_use', id: `srvtoolu_${id}`, name: 'web_search', input: { query: text(random, 4) } } as unknown as ContentBlock;
    case 4:
      return {
        type: 'web_search_tool_result',
        tool_use_id: `srvtoolu_${id}`,
        content: [{ type: 'web_search_result', title: text(random, 3), url: 'https://example.com/', encrypted_content: 'Ev0D', page_age: null }],
      } as unknown as ContentBlock;
    case 5: return { type: 'text', text: text(random, 12), citations: Array.from({ length: 1 + count(random, 2) }, () => citation(random)) };
    case 6: return { type: 'text', text: text(random, 12), citations: null };
    case 7: return { type: 'future_block', payload: { nested: [1, 2, { deep: text(random, 2) }] } } as unknown as ContentBlock;
    default: return { type: 'text', text: text(random, 40) };
  }
}

function usage(random: Random): AnthropicUsage {
  const result: AnthropicUsage = { input_tokens: count(random, 5000), output_tokens: 1 + count(random, 2000) };
  if (chance(random, 0.6)) {
    result.cache_creation_input_tokens = count(random, 200_000);
    result.cache_read_input_tokens = count(random, 2000);
  }
  if (chance(random, 0.3)) result.cache_creation = { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: count(random, 100) };
  if (chance(random, 0.3)) result.server_tool_use = { web_search_requests: count(random, 3) };
  if (chance(random, 0.3)) result.output_tokens_details = { thinking_tokens: count(random, 50) };
  if (chance(random, 0.3)) result.service_tier = 'standard';
  return result;
}

function message(random: Random, n: number): Message {
  const content = Array.from({ length: count(random, 5) }, (_, index) => block(random, index));
  const stop = pick(random, ['end_turn', 'max_tokens', 'stop_sequence', 'tool_use', 'pause_turn', 'refusal'] as const);
  const result: Message = {
    id: `msg_${n}`,
    type: 'message',
    role: 'assistant',
    model: 'claude-sonnet-4-5-20250929',
    content,
    stop_reason: stop,
    stop_sequence: stop === 'stop_sequence' ? pick(random, ['\n\nHuman:', '###', '</answer>']) : null,
    usage: usage(random),
  };
  if (chance(random, 0.3)) {
    result.stop_details = stop === 'refusal' ? { type: 'refusal', category: 'cyber', explanation: null } : null;
    result.container = chance(random, 0.5) ? { id: 'container_1', expires_at: '2026-01-01T00:00:00Z' } : null;
  }
  return result;
}

/** The same stream with its text, thinking and JSON deltas cut into several pieces (emoji halves included). */
function resplit(events: StreamEvent[], random: Random): Event[] {
  const out: Event[] = [];
  for (const event of events as Event[]) {
    const delta = event.delta as Record<string, unknown> | undefined;
    const key = event.type === 'content_block_delta' && delta ? (['text', 'thinking', 'partial_json'] as const).find((name) => typeof delta[name] === 'string') : undefined;
    if (!key) {
      out.push(event);
      continue;
    }
    const whole = delta![key] as string;
    let at = 0;
    while (at < whole.length) {
      const size = 1 + count(random, 6);
      out.push({ ...event, delta: { ...delta, [key]: whole.slice(at, at + size) } });
      at += size;
    }
    if (chance(random, 0.2)) out.push({ ...event, delta: { ...delta, [key]: '' } });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

describe('messageEvents → MessageAssembler round trip', () => {
  it('gives back every generated message, members in the same order (300 seeded cases)', () => {
    const random = seeded(20250929);
    for (let n = 0; n < 300; n++) {
      const original = message(random, n);
      const expected = json(original);
      const assembler = assemble(messageEvents(deepFreeze(original)));
      expect(assembler.complete, `case ${n}`).toBe(true);
      expect(json(assembler.result()), `case ${n}`).toBe(expected);
    }
  });

  it('gives back the same message from the events sent as JSON, re-split into small pieces, with pings between', () => {
    const random = seeded(7);
    for (let n = 0; n < 100; n++) {
      const original = message(random, n);
      const events = resplit(viaJson(messageEvents(original)), random);
      for (let pings = count(random, 3); pings > 0; pings--) events.splice(1 + count(random, events.length - 2), 0, { type: 'ping' });
      const assembler = assemble(deepFreeze(events));
      expect(assembler.complete, `case ${n}`).toBe(true);
      expect(json(assembler.result()), `case ${n}`).toBe(json(original));
    }
  });

  it('is read by the official SDK into the same message', async () => {
    const random = seeded(99);
    for (let n = 0; n < 40; n++) {
      const original = message(random, n);
      // The SDK sets stop_details from every message_delta; messages without it come out the same through JSON.
      expect(await sdkFinalMessage(messageEvents(original)), `case ${n}`).toEqual(viaJson(original));
    }
  });

  it('covers the recorded non-streaming fixtures', () => {
    for (const name of ['message-cache-usage.json', 'message-json-tool.json', 'message-refusal.json', 'message-text.json', 'message-thinking.json', 'message-tool-use.json']) {
      const original = JSON.parse(readFileSync(new URL(PROVIDER_FIXTURES + name, import.meta.url), 'utf8')) as Message;
      const assembler = assemble(viaJson(messageEvents(original)));
      expect(assembler.complete, name).toBe(true);
      expect(json(assembler.result()), name).toBe(json(original));
    }
  });
});

describe('messageEvents: the stream Anthropic would send', () => {
  const original: Message = {
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    model: 'claude-sonnet-4-5-20250929',
    content: [
      { type: 'thinking', thinking: 'Weather, then.', signature: 'sig==' },
      { type: 'redacted_thinking', data: 'EmwK' },
      { type: 'text', text: 'Checking.', citations: [{ type: 'char_location', cited_text: 'x' }] },
      { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { location: { city: 'Paris' }, days: [1, 2] } },
    ],
    stop_reason: 'tool_use',
    stop_sequence: null,
    usage: { input_tokens: 12, cache_creation_input_tokens: 300, cache_read_input_tokens: 1800, output_tokens: 90 },
  };

  it('opens with message_start, sends each block whole, and ends with message_delta and message_stop', () => {
    expect(messageEvents(original)).toEqual([
      {
        type: 'message_start',
        message: {
          id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5-20250929', content: [], stop_reason: null, stop_sequence: null,
          usage: { input_tokens: 12, cache_creation_input_tokens: 300, cache_read_input_tokens: 1800, output_tokens: 0 },
        },
      },
      { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'Weather, then.' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'sig==' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'content_block_start', index: 1, content_block: { type: 'redacted_thinking', data: 'EmwK' } },
      { type: 'content_block_stop', index: 1 },
      { type: 'content_block_start', index: 2, content_block: { type: 'text', text: '', citations: [] } },
      { type: 'content_block_delta', index: 2, delta: { type: 'citations_delta', citation: { type: 'char_location', cited_text: 'x' } } },
      { type: 'content_block_delta', index: 2, delta: { type: 'text_delta', text: 'Checking.' } },
      { type: 'content_block_stop', index: 2 },
      { type: 'content_block_start', index: 3, content_block: { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: {} } },
      { type: 'content_block_delta', index: 3, delta: { type: 'input_json_delta', partial_json: '{"location":{"city":"Paris"},"days":[1,2]}' } },
      { type: 'content_block_stop', index: 3 },
      {
        type: 'message_delta',
        delta: { stop_reason: 'tool_use', stop_sequence: null },
        usage: { input_tokens: 12, cache_creation_input_tokens: 300, cache_read_input_tokens: 1800, output_tokens: 90 },
      },
      { type: 'message_stop' },
    ]);
  });

  it('leaves the message unchanged', () => {
    const before = json(original);
    messageEvents(deepFreeze(viaJson(original)));
    messageEvents(original);
    expect(json(original)).toBe(before);
  });

  it('sends a stop sequence, stop details and container in message_delta', () => {
    const stopped = { ...original, content: [], stop_reason: 'stop_sequence', stop_sequence: '###', stop_details: null, container: { id: 'c1' } } as Message;
    const events = messageEvents(stopped) as Event[];
    expect((events[0]!.message as Message).stop_details).toBeNull();
    expect(events[1]).toEqual({ type: 'message_delta', delta: { stop_reason: 'stop_sequence', stop_sequence: '###', stop_details: null, container: { id: 'c1' } }, usage: original.usage });
  });

  it('sends an empty message as message_start, message_delta and message_stop only', () => {
    const refusal = { ...original, content: [], stop_reason: 'refusal' } as Message;
    expect(messageEvents(refusal).map((event) => event.type)).toEqual(['message_start', 'message_delta', 'message_stop']);
  });
});

describe('MessageAssembler on recorded streams', () => {
  const complete = [
    PROVIDER_FIXTURES + 'stream-text.sse.txt',
    PROVIDER_FIXTURES + 'stream-tool-use.sse.txt',
    PROVIDER_FIXTURES + 'stream-json-tool.sse.txt',
    PROVIDER_FIXTURES + 'stream-redacted-thinking-cache.sse.txt',
    PROVIDER_FIXTURES + 'stream-web-search.sse.txt',
    FORMAT_FIXTURES + 'stream-text.sse.txt',
    FORMAT_FIXTURES + 'stream-tool-use.sse.txt',
  ];

  it.each(complete)('assembles %s into the message the official SDK makes of it', async (path) => {
    const events = deepFreeze(streamFixture(path));
    const assembler = assemble(events);
    expect(assembler.complete).toBe(true);
    expect(viaJson(assembler.result())).toEqual(await sdkFinalMessage(events));
  });

  it('assembles a text and tool-use stream (pings, empty JSON pieces) into the whole message', () => {
    const assembler = assemble(streamFixture(PROVIDER_FIXTURES + 'stream-tool-use.sse.txt'));
    expect(assembler.complete).toBe(true);
    expect(json(assembler.result())).toBe(json({
      id: 'msg_014p7gG3wDgGV9EUtLvnow3U',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5-20250929',
      stop_sequence: null,
      usage: { input_tokens: 472, output_tokens: 89 },
      content: [
        { type: 'text', text: "Okay, let's check the weather for San Francisco, CA:" },
        { type: 'tool_use', id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6', name: 'get_weather', input: { location: 'San Francisco, CA', unit: 'fahrenheit' } },
      ],
      stop_reason: 'tool_use',
    }));
  });

  it('takes the cumulative usage of message_delta over message_start (web search)', () => {
    const result = assemble(streamFixture(PROVIDER_FIXTURES + 'stream-web-search.sse.txt')).result();
    expect(result.usage).toEqual({ input_tokens: 10682, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 510, server_tool_use: { web_search_requests: 1 } });
    expect(result.content.map((block) => block.type)).toEqual(['text', 'server_tool_use', 'web_search_tool_result', 'text']);
    expect(result.content[1]).toEqual({ type: 'server_tool_use', id: 'srvtoolu_014hJH82Qum7Td6UV8gDXThB', name: 'web_search', input: { query: 'weather NYC today' } });
    expect((result.content[2] as unknown as Event).content).toEqual([expect.objectContaining({ type: 'web_search_result', page_age: null })]);
  });

  it('keeps the cache counts of message_start, the stop sequence and a redacted thinking block', () => {
    const result = assemble(streamFixture(PROVIDER_FIXTURES + 'stream-redacted-thinking-cache.sse.txt')).result();
    expect(result.stop_reason).toBe('stop_sequence');
    expect(result.stop_sequence).toBe('\n\nHuman:');
    expect(result.usage).toEqual({ input_tokens: 12, cache_creation_input_tokens: 300, cache_read_input_tokens: 1800, output_tokens: 90 });
    expect(result.content).toEqual([
      { type: 'redacted_thinking', data: expect.stringMatching(/^EmwK/) as unknown },
      { type: 'text', text: 'Done.' },
    ]);
  });

  it.each([PROVIDER_FIXTURES + 'stream-thinking.sse.txt', FORMAT_FIXTURES + 'stream-thinking.sse.txt'])('assembles thinking with its signature (%s)', (path) => {
    const events = streamFixture(path);
    const assembler = assemble(events);
    expect(assembler.complete).toBe(true);
    const [thinking, answer] = assembler.result().content;
    const pieces = events.filter((event) => (event.delta as Event | undefined)?.type === 'thinking_delta').map((event) => (event.delta as Event).thinking as string);
    expect(pieces.length).toBeGreaterThan(2);
    expect(thinking).toEqual({ type: 'thinking', thinking: pieces.join(''), signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds...' });
    expect(answer?.type).toBe('text');
  });

  it('is not complete for a stream cut before message_stop, yet gives what came', () => {
    const assembler = assemble(streamFixture(PROVIDER_FIXTURES + 'stream-truncated.sse.txt'));
    expect(assembler.complete).toBe(false);
    expect(assembler.result()).toMatchObject({ id: 'msg_01Tr4uN8cA7tE9dQ2wS5xZ1v', content: [{ type: 'text', text: 'Hello' }], stop_reason: 'end_turn', usage: { input_tokens: 25, output_tokens: 2 } });
  });

  it.each(['stream-error-after-output.sse.txt', 'stream-error-overloaded.sse.txt'])('is not complete after an error event (%s)', (name) => {
    expect(assemble(streamFixture(PROVIDER_FIXTURES + name)).complete).toBe(false);
  });
});

describe('MessageAssembler: when a stream is complete', () => {
  const full = messageEvents({
    id: 'msg_1', type: 'message', role: 'assistant', model: 'm',
    content: [{ type: 'text', text: 'Hi' }, { type: 'tool_use', id: 't', name: 'f', input: { a: 1 } }],
    stop_reason: 'tool_use', stop_sequence: null, usage: { input_tokens: 1, output_tokens: 2 },
  }) as Event[];

  it('is complete only with every event, not for any prefix of them', () => {
    for (let cut = 0; cut < full.length; cut++) expect(assemble(full.slice(0, cut)).complete, `first ${cut}`).toBe(false);
    expect(assemble(full).complete).toBe(true);
  });

  it('is not complete with an error event anywhere, even after message_stop', () => {
    const error = { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } };
    expect(assemble([...full.slice(0, 3), error, ...full.slice(3)]).complete).toBe(false);
    expect(assemble([...full, error]).complete).toBe(false);
  });

  it('is not complete when a block never stopped or no stop reason came', () => {
    expect(assemble(full.filter((event) => !(event.type === 'content_block_stop' && event.index === 1))).complete).toBe(false);
    const noReason = full.map((event) => (event.type === 'message_delta' ? { ...event, delta: { stop_reason: null, stop_sequence: null } } : event));
    expect(assemble(noReason).complete).toBe(false);
  });

  it('ignores pings and event types it does not know', () => {
    const noisy = [full[0]!, { type: 'ping' }, ...full.slice(1, 4), { type: 'ping' }, { type: 'future_event', x: 1 }, ...full.slice(4)];
    const assembler = assemble(noisy);
    expect(assembler.complete).toBe(true);
    expect(assembler.result()).toEqual(assemble(full).result());
  });

  const start = full[0]!;
  const tail = full.slice(-2);
  const cases: [string, Event[]][] = [
    ['a delta of an unknown type', [{ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }, { type: 'content_block_delta', index: 0, delta: { type: 'audio_delta', audio: 'x' } }, { type: 'content_block_stop', index: 0 }]],
    ['a text delta for a tool block', [{ type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 't', name: 'f', input: {} } }, { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'x' } }, { type: 'content_block_stop', index: 0 }]],
    ['tool input that is not JSON', [{ type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 't', name: 'f', input: {} } }, { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{"a":' } }, { type: 'content_block_stop', index: 0 }]],
    ['a delta for a block never started', [{ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'x' } }]],
    ['a delta after its block stopped', [{ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }, { type: 'content_block_stop', index: 0 }, { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'x' } }]],
    ['a block started twice', [{ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }, { type: 'content_block_stop', index: 0 }, { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }, { type: 'content_block_stop', index: 0 }]],
  ];
  it.each(cases)('is not complete after %s (the message could not be rebuilt faithfully)', (_name, middle) => {
    expect(assemble([start, ...middle, ...tail]).complete).toBe(false);
    expect(assemble([start, ...tail]).complete).toBe(true); // the same stream without them is
  });

  it('is not complete for blocks before message_start or a second message_start', () => {
    expect(assemble([full[1]!, start, ...full.slice(2)]).complete).toBe(false);
    expect(assemble([start, ...full.slice(1, -1), start, full.at(-1)!]).complete).toBe(false);
  });

  it('keeps the started input of a tool block whose JSON does not parse', () => {
    const result = assemble([start, ...cases[2]![1], ...tail]).result();
    expect(result.content).toEqual([{ type: 'tool_use', id: 't', name: 'f', input: {} }]);
  });
});

describe('MessageAssembler: merging', () => {
  const start: Event = { type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'm', content: [], stop_reason: null, stop_sequence: null, stop_details: null, usage: { input_tokens: 20, cache_read_input_tokens: 7, output_tokens: 1 } } };
  const stop: Event = { type: 'message_stop' };

  it('merges usage: message_delta counts win, its nulls do not erase counts, its new members are added', () => {
    const result = assemble([
      start,
      { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 30, input_tokens: 25, cache_read_input_tokens: null, output_tokens_details: { thinking_tokens: 4 } } },
      stop,
    ]).result();
    expect(result.usage).toEqual({ input_tokens: 25, cache_read_input_tokens: 7, output_tokens: 30, output_tokens_details: { thinking_tokens: 4 } });
  });

  it('sets stop details, container and other message_delta members that are not null', () => {
    const result = assemble([
      start,
      { type: 'message_delta', delta: { stop_reason: 'refusal', stop_sequence: null, stop_details: { type: 'refusal', category: 'cyber' }, container: null }, usage: { output_tokens: 3 }, context_management: { applied_edits: [] } },
      stop,
    ]).result();
    expect(result).toMatchObject({ stop_reason: 'refusal', stop_details: { type: 'refusal', category: 'cyber' }, container: null, context_management: { applied_edits: [] } });
  });

  it('appends citations to those a text block started with, takes the last signature, and a compaction block’s final values', () => {
    const result = assemble([
      start,
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: 'A', citations: [{ n: 0 }] } },
      { type: 'content_block_delta', index: 0, delta: { type: 'citations_delta', citation: { n: 1 } } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'B' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'citations_delta', citation: { n: 2 } } },
      { type: 'content_block_stop', index: 0 },
      { type: 'content_block_start', index: 1, content_block: { type: 'thinking', thinking: '' } },
      { type: 'content_block_delta', index: 1, delta: { type: 'signature_delta', signature: 'old' } },
      { type: 'content_block_delta', index: 1, delta: { type: 'signature_delta', signature: 'new' } },
      { type: 'content_block_stop', index: 1 },
      { type: 'content_block_start', index: 2, content_block: { type: 'compaction', content: null } },
      { type: 'content_block_delta', index: 2, delta: { type: 'compaction_delta', content: 'Summary.', encrypted_content: 'enc' } },
      { type: 'content_block_stop', index: 2 },
    ]).result();
    expect(result.content).toEqual([
      { type: 'text', text: 'AB', citations: [{ n: 0 }, { n: 1 }, { n: 2 }] },
      { type: 'thinking', thinking: '', signature: 'new' },
      { type: 'compaction', content: 'Summary.', encrypted_content: 'enc' },
    ]);
  });

  it('gives {} for tool input sent as empty pieces, and keeps a started input no delta replaced', () => {
    const assembler = assemble([
      start,
      { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'a', name: 'f', input: {} } },
      { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'b', name: 'g', input: { given: true } } },
      { type: 'content_block_stop', index: 1 },
      { type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 5 } },
      stop,
    ]);
    expect(assembler.complete).toBe(true);
    expect(assembler.result().content).toEqual([
      { type: 'tool_use', id: 'a', name: 'f', input: {} },
      { type: 'tool_use', id: 'b', name: 'g', input: { given: true } },
    ]);
  });

  it('returns answers that later events do not change, and leaves the events unchanged', () => {
    const events = deepFreeze([
      start,
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'one' } },
    ]);
    const assembler = assemble(events);
    const early = assembler.result();
    assembler.push({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: ' two' } });
    assembler.push({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 9 } });
    expect(early.content).toEqual([{ type: 'text', text: 'one' }]);
    expect(early.usage.output_tokens).toBe(1);
    expect(early.stop_reason).toBeNull();
    expect(assembler.result()).toMatchObject({ content: [{ type: 'text', text: 'one two' }], stop_reason: 'end_turn', usage: { output_tokens: 9 } });
  });

  it('gives an empty message before any message_start', () => {
    const assembler = new MessageAssembler();
    expect(assembler.complete).toBe(false);
    expect(assembler.result()).toMatchObject({ type: 'message', content: [], stop_reason: null });
  });
});

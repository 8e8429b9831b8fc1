import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../gateway/errors.js';
import type { ChatCompletion, ChatMessage, FinishReason, Usage } from '../../gateway/types.js';
import { anthropicUsage, encodeMessage, messageId } from './encode-response.js';

function completion(message: Partial<ChatMessage>, finish: FinishReason | null = 'stop', usage?: Usage, extra: Record<string, unknown> = {}): ChatCompletion {
  return {
    id: 'chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT',
    object: 'chat.completion',
    created: 1741569952,
    model: 'gpt-4o-2024-08-06',
    choices: [{ index: 0, message: { role: 'assistant', content: null, ...message }, finish_reason: finish, logprobs: null, ...extra }],
    usage: usage ?? { prompt_tokens: 19, completion_tokens: 10, total_tokens: 29 },
  };
}

describe('encodeMessage', () => {
  it('reproduces the API reference\'s example Message from the equivalent canonical completion', () => {
    const expected = JSON.parse(readFileSync(new URL('./__fixtures__/message-response.json', import.meta.url), 'utf8')) as Record<string, unknown>;
    const canonical: ChatCompletion = {
      ...completion({ content: 'Hi! My name is Claude.' }, 'stop', { prompt_tokens: 2095, completion_tokens: 503, total_tokens: 2598 }),
      id: 'msg_013Zva2CMHLNnXjNJJKqJ2EF',
    };
    const message = encodeMessage(canonical, { model: 'claude-3-7-sonnet-20250219' });
    expect(message).toEqual({ ...expected, usage: { ...(expected.usage as object), cache_creation_input_tokens: 0, cache_read_input_tokens: 0 } });
  });

  it('answers with the model the client asked for and a msg_ id derived from the upstream id', () => {
    const message = encodeMessage(completion({ content: 'Hello' }), { model: 'smart' });
    expect(message.model).toBe('smart');
    expect(message.id).toBe('msg_B9MBs8CjcvOU2jLn4n570S5qMJKcT');
    expect(messageId('msg_01ABC')).toBe('msg_01ABC');
    expect(messageId('gen-123')).toBe('msg_gen-123');
    expect(messageId(undefined)).toMatch(/^msg_[0-9a-f]{32}$/);
  });

  it('orders thinking blocks first, then text, then one tool_use block per call', () => {
    const message = encodeMessage(
      completion(
        {
          content: 'Let me check both cities.',
          thinking_blocks: [
            { type: 'thinking', thinking: 'Two lookups needed.', signature: 'EqQBCgIYAhIM' },
            { type: 'redacted_thinking', data: 'EmwKAhgBEgy3va3pzix' },
          ],
          reasoning_content: 'Two lookups needed.',
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Paris"}' } },
            { id: 'call_2', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Rome"}' } },
          ],
        },
        'tool_calls',
      ),
      { model: 'smart' },
    );
    expect(message.content).toEqual([
      { type: 'thinking', thinking: 'Two lookups needed.', signature: 'EqQBCgIYAhIM' },
      { type: 'redacted_thinking', data: 'EmwKAhgBEgy3va3pzix' },
      { type: 'text', text: 'Let me check both cities.' },
      { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { location: 'Paris' } },
      { type: 'tool_use', id: 'call_2', name: 'get_weather', input: { location: 'Rome' } },
    ]);
    expect(message.stop_reason).toBe('tool_use');
  });

  it('turns reasoning_content without thinking_blocks into an unsigned thinking block', () => {
    const message = encodeMessage(completion({ content: '21', reasoning_content: 'GCD via Euclid' }), { model: 'smart' });
    expect(message.content).toEqual([
      { type: 'thinking', thinking: 'GCD via Euclid', signature: '' },
      { type: 'text', text: '21' },
    ]);
  });

  it("reads vLLM's and OpenRouter's `reasoning` as reasoning_content, and prefers reasoning_content when both came", () => {
    expect(encodeMessage(completion({ content: '21', reasoning: 'Euclid again' }), { model: 'smart' }).content).toEqual([
      { type: 'thinking', thinking: 'Euclid again', signature: '' },
      { type: 'text', text: '21' },
    ]);
    expect(encodeMessage(completion({ content: '21', reasoning_content: 'A', reasoning: 'A' }), { model: 'smart' }).content[0]).toEqual({ type: 'thinking', thinking: 'A', signature: '' });
  });

  it('gives broken or non-object tool arguments the input {} and reports the tool', () => {
    const reported: string[] = [];
    const message = encodeMessage(
      completion({
        tool_calls: [
          { id: 'c1', type: 'function', function: { name: 'broken', arguments: '{"location": "Par' } },
          { id: 'c2', type: 'function', function: { name: 'array', arguments: '[1,2]' } },
          { id: 'c3', type: 'function', function: { name: 'empty', arguments: '' } },
          // Encoding 5,000 levels again would overflow the stack.
          { id: 'c4', type: 'function', function: { name: 'deep', arguments: `{"a":${'['.repeat(5000)}${']'.repeat(5000)}}` } },
        ],
      }, 'tool_calls'),
      { model: 'smart', onInvalidToolInput: (name) => reported.push(name) },
    );
    expect(message.content.map((block) => (block.type === 'tool_use' ? block.input : null))).toEqual([{}, {}, {}, {}]);
    expect(reported).toEqual(['broken', 'array', 'deep']);
    expect(() => JSON.stringify(message)).not.toThrow();
  });

  it('takes arguments sent as the object itself, and reports other non-text arguments', () => {
    const reported: string[] = [];
    const calls = [
      { id: 'c1', type: 'function', function: { name: 'object', arguments: { city: 'Paris' } } },
      { id: 'c2', type: 'function', function: { name: 'number', arguments: 42 } },
    ] as unknown as ChatMessage['tool_calls'];
    const message = encodeMessage(completion({ tool_calls: calls }, 'tool_calls'), { model: 'smart', onInvalidToolInput: (name) => reported.push(name) });
    expect(message.content.map((block) => (block.type === 'tool_use' ? block.input : null))).toEqual([{ city: 'Paris' }, {}]);
    expect(reported).toEqual(['number']);
  });

  it('gives a tool call without an id (or with an empty one) an id of its own, unique in the message', () => {
    const calls = [
      { type: 'function', function: { name: 'a', arguments: '{}' } },
      { id: '', type: 'function', function: { name: 'b', arguments: '{}' } },
      { id: 'call_3', type: 'function', function: { name: 'c', arguments: '{}' } },
    ] as unknown as ChatMessage['tool_calls'];
    const message = encodeMessage(completion({ tool_calls: calls }, 'tool_calls'), { model: 'smart' });
    expect(message.content.map((block) => (block.type === 'tool_use' ? block.id : null))).toEqual(['toolu_B9MBs8CjcvOU2jLn4n570S5qMJKcT_0', 'toolu_B9MBs8CjcvOU2jLn4n570S5qMJKcT_1', 'call_3']);
  });

  it.each([
    ['stop', 'end_turn'],
    ['length', 'max_tokens'],
    ['tool_calls', 'tool_use'],
    ['function_call', 'tool_use'],
    ['content_filter', 'refusal'],
    [null, 'end_turn'],
  ] as const)('maps finish_reason %s to stop_reason %s', (finish, stop) => {
    expect(encodeMessage(completion({ content: 'x' }, finish), { model: 'm' }).stop_reason).toBe(stop);
  });

  it('reports tool_use when a server finishes tool calls with "stop"', () => {
    const message = encodeMessage(completion({ tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }] }, 'stop'), { model: 'm' });
    expect(message.stop_reason).toBe('tool_use');
  });

  it('reports stop_sequence when the server names the matched sequence (vLLM\'s stop_reason)', () => {
    const matched = completion({ content: 'one two' }, 'stop', undefined, { stop_reason: 'END' });
    expect(encodeMessage(matched, { model: 'm', stopSequences: ['END'] })).toMatchObject({ stop_reason: 'stop_sequence', stop_sequence: 'END' });
    // A string that is not one of the request's sequences (or no sequences at all) is an ordinary end.
    expect(encodeMessage(matched, { model: 'm', stopSequences: ['STOP'] })).toMatchObject({ stop_reason: 'end_turn', stop_sequence: null });
    expect(encodeMessage(matched, { model: 'm' })).toMatchObject({ stop_reason: 'end_turn', stop_sequence: null });
  });

  it('turns an OpenAI refusal into a text block with stop_reason refusal', () => {
    const message = encodeMessage(completion({ content: null, refusal: "I'm sorry, I can't help with that." }), { model: 'm' });
    expect(message.content).toEqual([{ type: 'text', text: "I'm sorry, I can't help with that." }]);
    expect(message.stop_reason).toBe('refusal');
  });

  it('reads text parts of array content and drops empty text', () => {
    const message = encodeMessage(completion({ content: [{ type: 'text', text: 'a' }, { type: 'text', text: '' }, { type: 'text', text: 'b' }] }), { model: 'm' });
    expect(message.content).toEqual([{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }]);
    expect(encodeMessage(completion({ content: '' }), { model: 'm' }).content).toEqual([]);
  });

  it('answers 502 when the upstream gave no choice', () => {
    const empty = { ...completion({ content: 'x' }), choices: [] };
    expect(() => encodeMessage(empty, { model: 'm' })).toThrow(GatewayError);
    try {
      encodeMessage(empty, { model: 'm' });
    } catch (err) {
      expect((err as GatewayError).status).toBe(502);
    }
  });
});

describe('anthropicUsage', () => {
  it('takes cache reads and writes out of input_tokens (their sum is the whole input)', () => {
    expect(
      anthropicUsage({ prompt_tokens: 2095, completion_tokens: 503, total_tokens: 2598, prompt_tokens_details: { cached_tokens: 1800 }, cache_creation_input_tokens: 200 }),
    ).toEqual({ input_tokens: 95, cache_creation_input_tokens: 200, cache_read_input_tokens: 1800, output_tokens: 503 });
  });

  it('is all zeros without usage and never negative', () => {
    expect(anthropicUsage(undefined)).toEqual({ input_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 0 });
    expect(anthropicUsage({ prompt_tokens: 5, completion_tokens: 1, total_tokens: 6, prompt_tokens_details: { cached_tokens: 9 } }).input_tokens).toBe(0);
  });
});

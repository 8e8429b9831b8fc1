import { countTokens } from 'gpt-tokenizer';
import { describe, expect, it } from 'vitest';
import type { ChatRequest, ToolDefinition } from '../../gateway/types.js';
import { countPromptTokens, messageText, planReply, sampleFromSchema } from './reply.js';

const ask = (content: string, extra: Partial<ChatRequest> = {}): ChatRequest => ({ model: 'mock', messages: [{ role: 'user', content }], ...extra });

const weather: ToolDefinition = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: {
      type: 'object',
      properties: { location: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] }, days: { type: 'integer' } },
      required: ['location'],
    },
  },
};
const time: ToolDefinition = { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: { timezone: { type: 'string' } } } } };

describe('planReply: text', () => {
  it('is deterministic: the same request gets the same answer', () => {
    const request = ask('What is the capital of France?');
    expect(planReply(request)).toEqual(planReply(structuredClone(request)));
  });

  it('echoes the last message and stops', () => {
    const reply = planReply(ask('Hello there'));
    expect(reply.pieces.join('')).toBe('This is a mock reply. You said: Hello there');
    expect(reply.finishReason).toBe('stop');
    expect(reply.toolCalls).toEqual([]);
  });

  it('answers differently to different prompts', () => {
    expect(planReply(ask('one')).pieces.join('')).not.toBe(planReply(ask('two')).pieces.join(''));
  });

  it('streams the text in word pieces that keep their leading whitespace', () => {
    const { pieces } = planReply(ask('alpha beta'));
    expect(pieces.length).toBeGreaterThan(3);
    for (const piece of pieces.slice(1)) expect(piece).toMatch(/^\s+\S+$/);
  });

  it('reads text content parts and answers a tool result', () => {
    expect(planReply(ask('', { messages: [{ role: 'user', content: [{ type: 'text', text: 'Look at' }, { type: 'image_url', image_url: { url: 'x' } }, { type: 'text', text: 'this' }] }] })).pieces.join('')).toBe(
      'This is a mock reply. You said: Look at this',
    );
    const afterTool = planReply({
      model: 'mock',
      messages: [
        { role: 'user', content: 'weather?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: '{"temperature_c":18}' },
      ],
      tools: [weather],
    });
    expect(afterTool.toolCalls).toEqual([]);
    expect(afterTool.pieces.join('')).toBe('The tool returned: {"temperature_c":18}');
  });

  it('says "(nothing)" to an empty message', () => {
    expect(planReply(ask('   ')).pieces.join('')).toBe('This is a mock reply. You said: (nothing)');
  });
});

describe('planReply: max_tokens', () => {
  it('truncates to the limit and reports finish_reason "length"', () => {
    const full = planReply(ask('tell me a long story about many things'));
    const reply = planReply(ask('tell me a long story about many things', { max_tokens: 4 }));
    expect(reply.finishReason).toBe('length');
    expect(full.pieces.join('').startsWith(reply.pieces.join(''))).toBe(true);
    expect(reply.pieces.length).toBeLessThan(full.pieces.length);
  });

  it.each([1, 2, 3, 5, 7, 9, 12])('never reports more completion tokens than max_tokens = %d', (limit) => {
    const reply = planReply(ask('Summarize: the quick brown fox jumps over the lazy dog.', { max_tokens: limit }));
    expect(reply.usage.completion_tokens).toBeLessThanOrEqual(limit);
    expect(reply.usage.completion_tokens).toBe(countTokens(reply.pieces.join('')));
    expect(reply.finishReason).toBe('length');
  });

  it('truncates when the answer has fewer words than max_tokens but more tokens', () => {
    const prompt = 'Summarize: the quick brown fox jumps over the lazy dog.';
    const full = planReply(ask(prompt));
    expect(full.usage.completion_tokens).toBeGreaterThan(full.pieces.length);
    const reply = planReply(ask(prompt, { max_tokens: full.usage.completion_tokens - 1 }));
    expect(reply.finishReason).toBe('length');
    expect(reply.usage.completion_tokens).toBeLessThanOrEqual(full.usage.completion_tokens - 1);
    expect(reply.pieces).toEqual(full.pieces.slice(0, reply.pieces.length));
  });

  it('uses max_completion_tokens over max_tokens', () => {
    const reply = planReply(ask('a b c d e f g h', { max_tokens: 100, max_completion_tokens: 3 }));
    expect(reply.finishReason).toBe('length');
    expect(reply.usage.completion_tokens).toBeLessThanOrEqual(3);
  });

  it('does not truncate when the answer fits exactly', () => {
    const full = planReply(ask('fits'));
    const reply = planReply(ask('fits', { max_tokens: full.usage.completion_tokens }));
    expect(reply.finishReason).toBe('stop');
    expect(reply.pieces).toEqual(full.pieces);
  });
});

describe('planReply: tools', () => {
  it('rejects a named tool_choice that is not among the tools, as OpenAI does (400, param tool_choice)', () => {
    const request = { model: 'mock', messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'function', function: { name: 'get_weather' } }], tool_choice: { type: 'function' as const, function: { name: 'get_time' } } };
    expect(() => planReply(request)).toThrow(expect.objectContaining({ code: 'invalid_request', status: 400, param: 'tool_choice' }));
  });

  it('calls the first tool when tool_choice is "required", with arguments matching its schema', () => {
    const reply = planReply(ask('hi', { tools: [weather, time], tool_choice: 'required' }));
    expect(reply.finishReason).toBe('tool_calls');
    expect(reply.pieces).toEqual([]);
    expect(reply.toolCalls).toHaveLength(1);
    const call = reply.toolCalls[0]!;
    expect(call.type).toBe('function');
    expect(call.id).toMatch(/^call_[0-9a-f]{24}$/);
    expect(call.function.name).toBe('get_weather');
    const args = JSON.parse(call.function.arguments) as Record<string, unknown>;
    expect(typeof args.location).toBe('string');
    expect(['celsius', 'fahrenheit']).toContain(args.unit);
    expect(Number.isInteger(args.days)).toBe(true);
  });

  it('calls the named tool of tool_choice {"type":"function"}', () => {
    const reply = planReply(ask('hi', { tools: [weather, time], tool_choice: { type: 'function', function: { name: 'get_time' } } }));
    expect(reply.toolCalls[0]!.function.name).toBe('get_time');
    expect(JSON.parse(reply.toolCalls[0]!.function.arguments)).toEqual({ timezone: 'mock' });
  });

  it('with tool_choice "auto" (or none given) calls a tool the user mentions, else answers', () => {
    expect(planReply(ask('please use get_time now', { tools: [weather, time] })).toolCalls[0]!.function.name).toBe('get_time');
    expect(planReply(ask('please use get_weather', { tools: [weather, time], tool_choice: 'auto' })).toolCalls[0]!.function.name).toBe('get_weather');
    const plain = planReply(ask('just chatting', { tools: [weather, time], tool_choice: 'auto' }));
    expect(plain.toolCalls).toEqual([]);
    expect(plain.finishReason).toBe('stop');
  });

  it('never calls a tool with tool_choice "none"', () => {
    const reply = planReply(ask('use get_weather', { tools: [weather], tool_choice: 'none' }));
    expect(reply.toolCalls).toEqual([]);
    expect(reply.finishReason).toBe('stop');
  });

  it('gives the same call id for the same request', () => {
    const request = ask('x', { tools: [weather], tool_choice: 'required' });
    expect(planReply(request).toolCalls[0]!.id).toBe(planReply(structuredClone(request)).toolCalls[0]!.id);
  });

  it('counts completion tokens for the call', () => {
    const reply = planReply(ask('x', { tools: [weather], tool_choice: 'required' }));
    const call = reply.toolCalls[0]!;
    expect(reply.usage.completion_tokens).toBe(countTokens(call.function.name) + countTokens(call.function.arguments) + 3);
  });
});

describe('planReply: response_format', () => {
  it('json_object: the answer is a JSON object', () => {
    const text = planReply(ask('give me json', { response_format: { type: 'json_object' } })).pieces.join('');
    const value = JSON.parse(text) as unknown;
    expect(value).toEqual({ reply: 'This is a mock reply. You said: give me json' });
  });

  it('json_schema: the answer parses and has the schema\'s shape', () => {
    const schema = {
      type: 'object',
      properties: {
        name: { type: 'string' },
        age: { type: 'integer' },
        score: { type: 'number' },
        active: { type: 'boolean' },
        tags: { type: 'array', items: { type: 'string' } },
        address: { type: 'object', properties: { city: { type: 'string' }, zip: { type: ['string', 'null'] } }, required: ['city', 'zip'], additionalProperties: false },
        status: { type: 'string', enum: ['draft', 'published'] },
        kind: { const: 'person' },
        nickname: { anyOf: [{ type: 'string' }, { type: 'null' }] },
      },
      required: ['name', 'age', 'score', 'active', 'tags', 'address', 'status', 'kind', 'nickname'],
      additionalProperties: false,
    };
    const text = planReply(ask('profile', { response_format: { type: 'json_schema', json_schema: { name: 'profile', schema, strict: true } } })).pieces.join('');
    const value = JSON.parse(text) as Record<string, unknown>;
    expect(Object.keys(value).sort()).toEqual(schema.required.slice().sort());
    expect(typeof value.name).toBe('string');
    expect(Number.isInteger(value.age)).toBe(true);
    expect(typeof value.score).toBe('number');
    expect(typeof value.active).toBe('boolean');
    expect(Array.isArray(value.tags)).toBe(true);
    for (const tag of value.tags as unknown[]) expect(typeof tag).toBe('string');
    expect(value.address).toEqual({ city: expect.any(String), zip: expect.any(String) });
    expect(['draft', 'published']).toContain(value.status);
    expect(value.kind).toBe('person');
    expect(typeof value.nickname).toBe('string');
  });
});

describe('planReply: usage', () => {
  it('counts prompt tokens as OpenAI does: 3 per message plus its text, plus 3 to prime the reply', () => {
    const messages = [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Hello, world!' },
    ];
    const expected = 3 + (3 + countTokens('You are terse.')) + (3 + countTokens('Hello, world!'));
    expect(countPromptTokens(messages)).toBe(expected);
    const reply = planReply({ model: 'mock', messages });
    expect(reply.usage.prompt_tokens).toBe(expected);
  });

  it('adds the tool definitions to the prompt tokens', () => {
    const without = planReply(ask('hi'));
    const withTools = planReply(ask('hi', { tools: [weather], tool_choice: 'none' }));
    expect(withTools.usage.prompt_tokens - without.usage.prompt_tokens).toBe(countTokens(JSON.stringify([weather])));
  });

  it('counts completion tokens of the answer text, and total = prompt + completion', () => {
    const reply = planReply(ask('count me'));
    expect(reply.usage.completion_tokens).toBe(countTokens(reply.pieces.join('')));
    expect(reply.usage.total_tokens).toBe(reply.usage.prompt_tokens + reply.usage.completion_tokens);
  });
});

describe('messageText', () => {
  it('reads strings, text parts, and nothing else', () => {
    expect(messageText({ role: 'user', content: 'plain' })).toBe('plain');
    expect(messageText({ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'input_audio' }, { type: 'text', text: 'b' }] })).toBe('a b');
    expect(messageText({ role: 'assistant', content: null })).toBe('');
    expect(messageText({ role: 'assistant' })).toBe('');
  });
});

describe('sampleFromSchema', () => {
  it('produces the first enum value, const values and typed defaults', () => {
    expect(sampleFromSchema({ enum: ['b', 'a'] })).toBe('b');
    expect(sampleFromSchema({ const: 3 })).toBe(3);
    expect(sampleFromSchema({ type: 'string' }, 'txt')).toBe('txt');
    expect(sampleFromSchema({ type: 'number' })).toBe(0);
    expect(sampleFromSchema({ type: 'boolean' })).toBe(false);
    expect(sampleFromSchema({ type: 'null' })).toBeNull();
    expect(sampleFromSchema({ type: 'array' })).toEqual([]);
    expect(sampleFromSchema({ oneOf: [{ type: 'integer' }, { type: 'string' }] })).toBe(0);
  });
});

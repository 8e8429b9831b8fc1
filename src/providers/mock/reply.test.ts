import { countTokens } from 'gpt-tokenizer';
import { describe, expect, it } from 'vitest';
import type { ChatRequest, ToolDefinition } from '../../gateway/types.js';
import { IMAGE_TOKENS_ESTIMATE, estimateInputTokens } from '../../formats/anthropic-messages/count-tokens.js';
import { decodeMessagesRequest } from '../../formats/anthropic-messages/decode-request.js';
import type { CountTokensRequest } from '../../providers/anthropic/api.js';
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

  it('calls function tools only: a custom tool is never chosen, and forcing one is a 400', () => {
    const custom = { type: 'custom', custom: { name: 'code_exec' } };
    expect(planReply(ask('hi', { tools: [custom], tool_choice: 'required' })).toolCalls).toEqual([]);
    expect(planReply(ask('hi', { tools: [custom, time], tool_choice: 'required' })).toolCalls[0]!.function.name).toBe('get_time');
    expect(() => planReply(ask('hi', { tools: [custom], tool_choice: { type: 'custom', custom: { name: 'code_exec' } } }))).toThrow(expect.objectContaining({ status: 400, param: 'tool_choice' }));
  });

  it('chooses among the tools allowed_tools leaves, in its mode', () => {
    const allowed = (mode: 'auto' | 'required') => ({ type: 'allowed_tools' as const, allowed_tools: { mode, tools: [{ type: 'function', function: { name: 'get_time' } }] } });
    expect(planReply(ask('hi', { tools: [weather, time], tool_choice: allowed('required') })).toolCalls[0]!.function.name).toBe('get_time');
    expect(planReply(ask('use get_weather', { tools: [weather, time], tool_choice: allowed('auto') })).toolCalls).toEqual([]);
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

describe('planReply: prompt tokens are what /v1/messages/count_tokens estimates', () => {
  // A 1×1 PNG, as the SDK would send it.
  const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
  const billed = (body: CountTokensRequest): number => planReply(decodeMessagesRequest(body)).usage.prompt_tokens;
  const counted = (body: CountTokensRequest): number => estimateInputTokens(decodeMessagesRequest(body));
  const user = (content: CountTokensRequest['messages'][number]['content']): CountTokensRequest => ({ model: 'mock', messages: [{ role: 'user', content }] });

  it('bills a base64 image at the flat estimate, as count_tokens does (1607, not 7)', () => {
    const body = user([{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } }, { type: 'text', text: 'what' }]);
    expect(billed(body)).toBe(3 + 3 + countTokens('what') + IMAGE_TOKENS_ESTIMATE);
    expect(billed(body)).toBe(counted(body));
  });

  it('bills URL and Files API images at the flat estimate each', () => {
    const body = user([
      { type: 'text', text: 'Compare' },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
      { type: 'image', source: { type: 'file', file_id: 'file_011CNha8iCJcU1wXNR6q4V8w' } },
    ]);
    expect(billed(body)).toBe(3 + 3 + countTokens('Compare') + 2 * IMAGE_TOKENS_ESTIMATE);
    expect(billed(body)).toBe(counted(body));
  });

  it('bills images inside a tool result (they follow as a user message)', () => {
    const body: CountTokensRequest = {
      model: 'mock',
      messages: [
        { role: 'user', content: 'Take a screenshot' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'screenshot', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: 'done' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } }] }] },
      ],
    };
    const withoutImage = { ...body, messages: [...body.messages.slice(0, 2), { role: 'user' as const, content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: 'done' }] }] }] };
    // The image costs its estimate plus the framing of the user message it travels in.
    expect(billed(body) - billed(withoutImage)).toBe(3 + IMAGE_TOKENS_ESTIMATE);
    expect(billed(body)).toBe(counted(body));
  });

  it('bills documents and other non-text blocks as their JSON', () => {
    const document = { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'The grass is green. The sky is blue.' }, title: 'Facts' };
    const body = user([document, { type: 'text', text: 'What color is the grass?' }]);
    expect(billed(body)).toBe(3 + 3 + countTokens('What color is the grass?') + countTokens(JSON.stringify(document)));
    expect(billed(body)).toBe(counted(body));
    const pdf = user([{ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0xLjQK' } }, { type: 'text', text: 'Summarize' }]);
    expect(billed(pdf)).toBe(counted(pdf));
  });

  it('bills thinking and redacted thinking blocks of earlier turns', () => {
    const body: CountTokensRequest = {
      model: 'mock',
      messages: [
        { role: 'user', content: 'What is 27 * 453?' },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: '27 * 453 = 10,800 + 1,350 + 81.', signature: 'EqQB' },
            { type: 'redacted_thinking', data: 'EmwKAhgBEgy3va3pzix' },
            { type: 'text', text: '12,231' },
          ],
        },
        { role: 'user', content: 'Thanks' },
      ],
    };
    const plain = { ...body, messages: [body.messages[0]!, { role: 'assistant' as const, content: '12,231' }, body.messages[2]!] };
    expect(billed(body) - billed(plain)).toBe(countTokens('27 * 453 = 10,800 + 1,350 + 81.') + countTokens('EmwKAhgBEgy3va3pzix'));
    expect(billed(body)).toBe(counted(body));
  });

  it('matches on system blocks, tools, tool calls and mixed content together', () => {
    const body: CountTokensRequest = {
      model: 'mock',
      system: [{ type: 'text', text: 'You are terse.' }, { type: 'text', text: 'Answer in French.', cache_control: { type: 'ephemeral' } }],
      tools: [{ name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Weather here?' }, { type: 'image', source: { type: 'url', url: 'https://example.com/street.jpg' } }] },
        { role: 'assistant', content: [{ type: 'text', text: 'Checking.' }, { type: 'tool_use', id: 'toolu_2', name: 'get_weather', input: { city: 'Paris' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_2', content: '18 °C', is_error: false }, { type: 'text', text: 'And tomorrow?' }] },
      ],
    };
    expect(billed(body)).toBe(counted(body));
    expect(billed(body)).toBeGreaterThan(IMAGE_TOKENS_ESTIMATE);
  });

  it('counts the same way on /v1/chat/completions: image_url parts flat, other parts as JSON, empty tools as nothing', () => {
    const audio = { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } };
    const request: ChatRequest = {
      model: 'mock',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Describe' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${png}`, detail: 'low' } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
            audio,
            { type: 'text', text: 'both' },
          ],
        },
      ],
      tools: [],
    };
    expect(planReply(request).usage.prompt_tokens).toBe(3 + 3 + countTokens('Describe both') + 2 * IMAGE_TOKENS_ESTIMATE + countTokens(JSON.stringify(audio)));
    expect(planReply(request).usage.prompt_tokens).toBe(estimateInputTokens(request));
  });

  it('answers malformed thinking_blocks on /v1/chat/completions with a 400 naming them, not a TypeError', () => {
    for (const blocks of [{}, [null], [{ type: 'thinking', thinking: 5 }], 'text']) {
      const request = { model: 'mock', messages: [{ role: 'assistant', content: 'x', thinking_blocks: blocks as never }, { role: 'user', content: 'y' }] };
      expect(() => planReply(request)).toThrow(expect.objectContaining({ code: 'invalid_request', status: 400, param: 'messages[0].thinking_blocks' }));
    }
    const fine = { model: 'mock', messages: [{ role: 'assistant', content: 'x', thinking_blocks: [{ type: 'redacted_thinking' as const, data: 'abc' }] }, { role: 'user', content: 'y' }] };
    expect(planReply(fine).usage.prompt_tokens).toBe(estimateInputTokens(fine));
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

import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../gateway/errors.js';
import type { ChatRequest } from '../../gateway/types.js';
import { thinksAdaptively } from './claude-models.js';
import { REASONING_BUDGETS } from './claude-models.js';
import { JSON_TOOL_NAME, buildMessagesRequest, type BuiltRequest } from './request.js';

const OPTIONS = { upstreamModel: 'claude-sonnet-4-5', stream: false, defaultMaxTokens: 4096 };

function build(request: Partial<ChatRequest>, options: Partial<typeof OPTIONS> = {}): BuiltRequest {
  return buildMessagesRequest({ model: 'group', messages: [{ role: 'user', content: 'Hi' }], ...request } as ChatRequest, { ...OPTIONS, ...options });
}

function buildError(request: Partial<ChatRequest>): GatewayError {
  try {
    build(request);
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    return err as GatewayError;
  }
  throw new Error('expected the request to be rejected');
}

const weatherTool = { type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } };

describe('buildMessagesRequest: messages', () => {
  it('moves system and developer messages to `system`, keeps string content and defaults max_tokens', () => {
    const { body, jsonTool } = build({
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Hi' },
        { role: 'developer', content: 'Answer in French.' },
      ],
    });
    expect(body).toEqual({ model: 'claude-sonnet-4-5', max_tokens: 4096, system: 'You are terse.\n\nAnswer in French.', messages: [{ role: 'user', content: 'Hi' }] });
    expect(jsonTool).toBe(false);
    expect('stream' in body).toBe(false);
  });

  it('sends system as text blocks when a part carries cache_control', () => {
    const { body } = build({
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'Long manual', cache_control: { type: 'ephemeral' } }, { type: 'text', text: 'Be kind.' }] },
        { role: 'user', content: 'Hi' },
      ],
    });
    expect(body.system).toEqual([
      { type: 'text', text: 'Long manual', cache_control: { type: 'ephemeral' } },
      { type: 'text', text: 'Be kind.' },
    ]);
  });

  it('rejects non-text parts in system messages, naming the part', () => {
    const err = buildError({ messages: [{ role: 'system', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] }, { role: 'user', content: 'Hi' }] });
    expect(err.code).toBe('invalid_request');
    expect(err.param).toBe('messages[0].content[0]');
  });

  it('merges consecutive same-role messages so roles alternate', () => {
    const { body } = build({
      messages: [
        { role: 'user', content: 'First' },
        { role: 'user', content: [{ type: 'text', text: 'Second' }] },
        { role: 'assistant', content: 'Reply' },
        { role: 'assistant', content: 'More' },
      ],
    });
    expect(body.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'First' }, { type: 'text', text: 'Second' }] },
      { role: 'assistant', content: [{ type: 'text', text: 'Reply' }, { type: 'text', text: 'More' }] },
    ]);
  });

  it('turns a tool round trip into tool_use blocks and one user turn of tool_result blocks', () => {
    const { body } = build({
      messages: [
        { role: 'user', content: 'Weather in Paris and Rome?' },
        {
          role: 'assistant',
          content: null,
          thinking_blocks: [
            { type: 'thinking', thinking: 'Two cities.', signature: 'sig-1' },
            { type: 'redacted_thinking', data: 'opaque' },
          ],
          tool_calls: [
            { id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
            { id: 'toolu_2', type: 'function', function: { name: 'get_weather', arguments: '' } },
          ],
        },
        { role: 'tool', tool_call_id: 'toolu_1', content: '18C' },
        { role: 'tool', tool_call_id: 'toolu_2', content: [{ type: 'text', text: '24C' }] },
        { role: 'user', content: 'Thanks, which is warmer?' },
      ],
    });
    expect(body.messages).toEqual([
      { role: 'user', content: 'Weather in Paris and Rome?' },
      {
        role: 'assistant',
        content: [
          { type: 'thinking', thinking: 'Two cities.', signature: 'sig-1' },
          { type: 'redacted_thinking', data: 'opaque' },
          { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'toolu_2', name: 'get_weather', input: {} },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_1', content: '18C' },
          { type: 'tool_result', tool_use_id: 'toolu_2', content: [{ type: 'text', text: '24C' }] },
          { type: 'text', text: 'Thanks, which is warmer?' },
        ],
      },
    ]);
  });

  it('rejects tool call arguments that are not a JSON object, naming the message', () => {
    const call = { id: 'a', type: 'function' as const, function: { name: 'f', arguments: '{"city": Paris}' } };
    const messages = [
      { role: 'user', content: 'x' },
      { role: 'assistant', content: '', tool_calls: [call] },
    ];
    const err = buildError({ messages });
    expect(err.status).toBe(400);
    expect(err.param).toBe('messages[1].tool_calls[0].function.arguments');
    expect(err.message).toContain('messages[1].tool_calls[0].function.arguments is not valid JSON');
    call.function.arguments = '[1,2]';
    expect(buildError({ messages }).message).toContain('must be a JSON object');
  });

  it('requires tool_call_id on tool messages and rejects unknown roles', () => {
    expect(buildError({ messages: [{ role: 'tool', content: 'x' }] }).param).toBe('messages[0].tool_call_id');
    expect(buildError({ messages: [{ role: 'function', content: 'x', name: 'f' }] }).param).toBe('messages[0].role');
  });

  it('drops empty assistant turns and refusal parts', () => {
    const { body } = build({
      messages: [
        { role: 'user', content: 'a' },
        { role: 'assistant', content: '' },
        { role: 'user', content: 'b' },
        { role: 'assistant', content: [{ type: 'refusal', refusal: 'no' }, { type: 'text', text: 'ok' }] },
      ],
    });
    expect(body.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] },
      { role: 'assistant', content: [{ type: 'text', text: 'ok' }] },
    ]);
  });

  it('applies a message-level cache_control to the message\'s last block', () => {
    const { body } = build({ messages: [{ role: 'user', content: 'Long context', cache_control: { type: 'ephemeral' } }] });
    expect(body.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'Long context', cache_control: { type: 'ephemeral' } }] }]);
  });
});

describe('buildMessagesRequest: content parts', () => {
  it('leaves out empty text parts of a user message (Anthropic refuses empty text blocks), unless nothing else is there', () => {
    const { body } = build({
      messages: [
        { role: 'user', content: [{ type: 'text', text: '' }, { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } }, { type: 'text', text: 'What is this?' }] },
        { role: 'assistant', content: 'A cat.' },
        { role: 'user', content: [{ type: 'text', text: '' }] },
      ],
    });
    expect(body.messages[0]!.content).toEqual([
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
      { type: 'text', text: 'What is this?' },
    ]);
    expect(body.messages[2]!.content).toEqual([{ type: 'text', text: '' }]);
  });

  it('maps data: URLs to base64 sources and http(s) URLs to url sources, keeping cache_control', () => {
    const { body } = build({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Compare', cache_control: { type: 'ephemeral', ttl: '1h' } },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'high' } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' }, cache_control: { type: 'ephemeral' } },
            { type: 'image_url', image_url: 'data:IMAGE/JPEG;charset=binary;base64,/9j/4AAQ' },
          ],
        },
      ],
    });
    expect(body.messages[0]!.content).toEqual([
      { type: 'text', text: 'Compare', cache_control: { type: 'ephemeral', ttl: '1h' } },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' }, cache_control: { type: 'ephemeral' } },
      { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: '/9j/4AAQ' } },
    ]);
  });

  it.each([
    ['data:image/png,notbase64', 'must be a base64 data: URL'],
    ['data:;base64,AAAA', 'must be a base64 data: URL'],
    ['ftp://example.com/x.png', 'must be an https:// URL'],
  ])('rejects the image URL %s', (url, problem) => {
    const err = buildError({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url } }] }] });
    expect(err.param).toBe('messages[0].content[0].image_url.url');
    expect(err.message).toContain(problem);
  });

  it('maps an inline PDF file part to a document block and rejects file ids and audio', () => {
    const { body } = build({ messages: [{ role: 'user', content: [{ type: 'file', file: { file_data: 'data:application/pdf;base64,JVBERi0=', filename: 'a.pdf' } }] }] });
    expect(body.messages[0]!.content).toEqual([{ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' }, title: 'a.pdf' }]);
    expect(buildError({ messages: [{ role: 'user', content: [{ type: 'file', file: { file_id: 'file-abc' } }] }] }).param).toBe('messages[0].content[0].file.file_data');
    expect(buildError({ messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: '', format: 'wav' } }] }] }).message).toContain('audio');
  });

  it('passes Anthropic-native blocks through unchanged', () => {
    const native = { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'The grass is green.' }, citations: { enabled: true } };
    const { body } = build({ messages: [{ role: 'user', content: [native, { type: 'text', text: 'Cite it.' }] }] });
    expect(body.messages[0]!.content).toEqual([native, { type: 'text', text: 'Cite it.' }]);
  });
});

describe('buildMessagesRequest: parameters', () => {
  it('maps tools, keeping cache_control and passing Anthropic-native tools through', () => {
    const native = { type: 'web_search_20250305', name: 'web_search', max_uses: 5 };
    const { body } = build({ tools: [{ ...weatherTool, cache_control: { type: 'ephemeral' } }, { type: 'function', function: { name: 'now' } }, native] });
    expect(body.tools).toEqual([
      { name: 'get_weather', description: 'Weather for a city', input_schema: weatherTool.function.parameters, cache_control: { type: 'ephemeral' } },
      { name: 'now', input_schema: { type: 'object', properties: {} } },
      native,
    ]);
    expect(body.tool_choice).toBeUndefined();
  });

  it.each([
    ['auto', { type: 'auto' }],
    ['required', { type: 'any' }],
    ['none', { type: 'none' }],
    [{ type: 'function', function: { name: 'get_weather' } }, { type: 'tool', name: 'get_weather' }],
  ])('maps tool_choice %j', (choice, expected) => {
    expect(build({ tools: [weatherTool], tool_choice: choice as ChatRequest['tool_choice'] }).body.tool_choice).toEqual(expected);
  });

  it('maps parallel_tool_calls: false to disable_parallel_tool_use', () => {
    expect(build({ tools: [weatherTool], parallel_tool_calls: false }).body.tool_choice).toEqual({ type: 'auto', disable_parallel_tool_use: true });
    expect(build({ tools: [weatherTool], tool_choice: 'required', parallel_tool_calls: false }).body.tool_choice).toEqual({ type: 'any', disable_parallel_tool_use: true });
    expect(build({ tools: [weatherTool], tool_choice: 'none', parallel_tool_calls: false }).body.tool_choice).toEqual({ type: 'none' });
    expect(build({ parallel_tool_calls: false }).body.tool_choice).toBeUndefined();
  });

  it('maps stop, sampling, token limits and user; drops parameters Anthropic lacks', () => {
    const { body } = build({ stop: 'END', temperature: 0.2, top_p: 0.9, top_k: 40, max_tokens: 100, max_completion_tokens: 50, user: 'user-42', frequency_penalty: 1, seed: 7, logprobs: true });
    expect(body).toEqual({
      model: 'claude-sonnet-4-5',
      max_tokens: 50,
      messages: [{ role: 'user', content: 'Hi' }],
      stop_sequences: ['END'],
      temperature: 0.2,
      top_p: 0.9,
      top_k: 40,
      metadata: { user_id: 'user-42' },
    });
    expect(build({ stop: ['a', 'b'], max_tokens: 7 }).body).toMatchObject({ stop_sequences: ['a', 'b'], max_tokens: 7 });
    expect(build({ stop: null }).body.stop_sequences).toBeUndefined();
  });

  it('asks for a stream only when streaming', () => {
    expect(build({}, { stream: true }).body.stream).toBe(true);
  });

  it('rejects n > 1 and accepts n = 1', () => {
    const err = buildError({ n: 2 });
    expect([err.code, err.status, err.param]).toEqual(['invalid_request', 400, 'n']);
    expect(build({ n: 1 }).body).not.toHaveProperty('n');
  });
});

describe('buildMessagesRequest: thinking', () => {
  it('passes `thinking` through and gives the default max_tokens room on top of the budget', () => {
    const { body } = build({ thinking: { type: 'enabled', budget_tokens: 2000 } });
    expect(body.thinking).toEqual({ type: 'enabled', budget_tokens: 2000 });
    expect(body.max_tokens).toBe(4096 + 2000);
    expect(build({ thinking: { type: 'enabled', budget_tokens: 2000 }, max_tokens: 3000 }).body.max_tokens).toBe(3000);
  });

  it.each(Object.entries(REASONING_BUDGETS))('maps reasoning_effort %s to a budget of %i', (effort, budget) => {
    expect(build({ reasoning_effort: effort }).body.thinking).toEqual({ type: 'enabled', budget_tokens: budget });
  });

  it('has documented budgets that grow with effort and start at Anthropic\'s minimum', () => {
    expect(REASONING_BUDGETS.low).toBe(1024);
    expect(REASONING_BUDGETS.low! < REASONING_BUDGETS.medium! && REASONING_BUDGETS.medium! < REASONING_BUDGETS.high!).toBe(true);
  });

  it('leaves thinking off for reasoning_effort none and rejects unknown efforts', () => {
    expect(build({ reasoning_effort: 'none' }).body.thinking).toBeUndefined();
    expect(buildError({ reasoning_effort: 'extreme' }).param).toBe('reasoning_effort');
  });

  it('fits the effort\'s budget under a max_tokens the client set (Anthropic needs budget < max_tokens), or leaves thinking off below its minimum', () => {
    const small = build({ reasoning_effort: 'high', max_tokens: 1000 }).body;
    expect(small.max_tokens).toBe(1000);
    expect(small.thinking).toBeUndefined();
    expect(build({ reasoning_effort: 'high', max_tokens: 5000 }).body).toMatchObject({ max_tokens: 5000, thinking: { type: 'enabled', budget_tokens: 2500 } });
    expect(build({ reasoning_effort: 'medium', max_completion_tokens: 8192 }).body).toMatchObject({ max_tokens: 8192, thinking: { type: 'enabled', budget_tokens: 4096 } });
    expect(build({ reasoning_effort: 'low', max_tokens: 1024 }).body.thinking).toBeUndefined();
    expect(build({ reasoning_effort: 'low', max_tokens: 1500 }).body.thinking).toEqual({ type: 'enabled', budget_tokens: 1024 });
    expect(build({ reasoning_effort: 'high', max_tokens: 20_000 }).body.thinking).toEqual({ type: 'enabled', budget_tokens: 16384 });
  });

  it('leaves thinking off when the client forces a tool call, which Anthropic refuses with thinking on', () => {
    const tools = [{ type: 'function' as const, function: { name: 'f', parameters: { type: 'object' } } }];
    const required = build({ reasoning_effort: 'high', tools, tool_choice: 'required' }).body;
    expect(required.tool_choice).toEqual({ type: 'any' });
    expect(required.thinking).toBeUndefined();
    const named = build({ reasoning_effort: 'high', tools, tool_choice: { type: 'function', function: { name: 'f' } } }).body;
    expect(named.tool_choice).toEqual({ type: 'tool', name: 'f' });
    expect(named.thinking).toBeUndefined();
    expect(build({ reasoning_effort: 'high', tools, tool_choice: 'auto' }).body.thinking).toEqual({ type: 'enabled', budget_tokens: 16384 });
  });

  it('prefers an explicit `thinking` over reasoning_effort', () => {
    expect(build({ reasoning_effort: 'high', thinking: { type: 'disabled' } }).body.thinking).toEqual({ type: 'disabled' });
  });
});

describe('buildMessagesRequest: adaptive thinking (Opus 4.7 and later, the 5 generation)', () => {
  const opus47 = { upstreamModel: 'claude-opus-4-7' };

  it.each([
    ['claude-opus-4-7', true],
    ['claude-opus-4-7-20260416', true],
    ['claude-opus-4.8', true],
    ['claude-opus-4-8@20260528', true],
    ['claude-sonnet-5', true],
    ['claude-fable-5-20260801', true],
    ['us.anthropic.claude-opus-4-7-v1:0', true],
    ['anthropic.claude-sonnet-4-5-20250929-v1:0', false],
    ['claude-opus-4-6', false],
    ['claude-sonnet-4-6', false],
    ['claude-sonnet-4-5-20250929', false],
    ['claude-haiku-4-5', false],
    ['claude-opus-4-20250514', false],
    ['claude-opus-4-1-20250805', false],
    ['claude-3-7-sonnet-20250219', false],
    ['my-proxy-model', false],
  ])('tells %s thinks only adaptively: %s', (model, adaptive) => {
    expect(thinksAdaptively(model)).toBe(adaptive);
  });

  it('sends reasoning_effort as adaptive thinking and output_config.effort, with the budget\'s room on the default max_tokens', () => {
    const { body } = build({ reasoning_effort: 'high' }, opus47);
    expect(body.thinking).toEqual({ type: 'adaptive', display: 'summarized' });
    expect(body.output_config).toEqual({ effort: 'high' });
    expect(body.max_tokens).toBe(4096 + REASONING_BUDGETS.high!);
    expect(build({ reasoning_effort: 'minimal' }, opus47).body.output_config).toEqual({ effort: 'low' });
    expect(build({ reasoning_effort: 'xhigh' }, opus47).body.output_config).toEqual({ effort: 'xhigh' });
  });

  it('keeps the client\'s max_tokens whatever it is (the model fits its thinking in), and thinks not at all for none or a forced tool', () => {
    expect(build({ reasoning_effort: 'high', max_tokens: 1000 }, opus47).body).toMatchObject({ max_tokens: 1000, thinking: { type: 'adaptive', display: 'summarized' }, output_config: { effort: 'high' } });
    const none = build({ reasoning_effort: 'none' }, opus47).body;
    expect([none.thinking, none.output_config]).toEqual([undefined, undefined]);
    const tools = [{ type: 'function' as const, function: { name: 'f', parameters: { type: 'object' } } }];
    const forced = build({ reasoning_effort: 'high', tools, tool_choice: 'required' }, opus47).body;
    expect([forced.thinking, forced.output_config, forced.tool_choice]).toEqual([undefined, undefined, { type: 'any' }]);
  });

  it('asks for JSON output in the system prompt rather than by forcing its tool, as with any thinking', () => {
    const { body } = build({ reasoning_effort: 'medium', response_format: { type: 'json_object' } }, opus47);
    expect(body.thinking).toEqual({ type: 'adaptive', display: 'summarized' });
    expect(body.tool_choice).toEqual({ type: 'auto' });
  });

  it('leaves out temperature, top_p and top_k, which these models refuse', () => {
    const { body } = build({ temperature: 0.2, top_p: 0.9, top_k: 40 } as Partial<ChatRequest>, opus47);
    expect([body.temperature, body.top_p, body.top_k]).toEqual([undefined, undefined, undefined]);
    expect(build({ temperature: 0.2, top_p: 0.9 }, { upstreamModel: 'claude-opus-4-6' }).body).toMatchObject({ temperature: 0.2, top_p: 0.9 });
  });

  it('leaves older models on budgets', () => {
    expect(build({ reasoning_effort: 'high' }, { upstreamModel: 'claude-opus-4-6' }).body).toMatchObject({ thinking: { type: 'enabled', budget_tokens: 16384 } });
    expect(build({ reasoning_effort: 'high' }, { upstreamModel: 'claude-opus-4-6' }).body).not.toHaveProperty('output_config');
  });
});

describe('buildMessagesRequest: JSON output through a forced tool', () => {
  const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };

  it('adds json_output with the schema and forces it', () => {
    const { body, jsonTool } = build({ response_format: { type: 'json_schema', json_schema: { name: 'place', schema } } });
    expect(jsonTool).toBe(true);
    expect(body.tools).toEqual([{ name: JSON_TOOL_NAME, description: expect.stringContaining('place') as unknown, input_schema: schema }]);
    expect(body.tool_choice).toEqual({ type: 'tool', name: JSON_TOOL_NAME });
  });

  it('uses an any-object schema for json_object', () => {
    const { body } = build({ response_format: { type: 'json_object' } });
    expect(body.tools![0]!.input_schema).toEqual({ type: 'object', additionalProperties: true });
    expect(body.tool_choice).toEqual({ type: 'tool', name: JSON_TOOL_NAME });
  });

  it('lets the model pick a real tool or the answer when the client offered tools', () => {
    const { body } = build({ tools: [weatherTool], response_format: { type: 'json_object' } });
    expect(body.tools!.map((t) => t.name)).toEqual(['get_weather', JSON_TOOL_NAME]);
    expect(body.tool_choice).toEqual({ type: 'any' });
    expect(build({ tools: [weatherTool], tool_choice: 'none', response_format: { type: 'json_object' } }).body.tool_choice).toEqual({ type: 'tool', name: JSON_TOOL_NAME });
  });

  it('adds nothing when the client forces one of its own tools', () => {
    const built = build({ tools: [weatherTool], tool_choice: 'required', response_format: { type: 'json_object' } });
    expect(built.jsonTool).toBe(false);
    expect(built.body.tools!.map((t) => t.name)).toEqual(['get_weather']);
  });

  it('asks for the tool instead of forcing it while thinking (Anthropic rejects forced tools then)', () => {
    const { body } = build({ reasoning_effort: 'low', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }], response_format: { type: 'json_object' } });
    expect(body.tool_choice).toEqual({ type: 'auto' });
    expect(body.system).toContain('Be brief.\n\n');
    expect(body.system).toContain(JSON_TOOL_NAME);
  });

  it('rejects a json_schema without a schema and a client tool named json_output', () => {
    expect(buildError({ response_format: { type: 'json_schema', json_schema: { name: 'x' } } }).param).toBe('response_format.json_schema.schema');
    expect(buildError({ tools: [{ type: 'function', function: { name: JSON_TOOL_NAME } }], response_format: { type: 'json_object' } }).param).toBe('tools');
  });

  it('ignores response_format text', () => {
    expect(build({ response_format: { type: 'text' } }).jsonTool).toBe(false);
  });
});

describe('buildMessagesRequest: purity', () => {
  it('never mutates its input and gives the same body when run again', () => {
    const request = {
      model: 'g',
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'S', cache_control: { type: 'ephemeral' } }] },
        { role: 'user', content: 'a', cache_control: { type: 'ephemeral' } },
        { role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/gif;base64,R0lG' } }] },
        { role: 'assistant', content: 'x', tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] },
        { role: 'tool', tool_call_id: 't', content: 'r' },
      ],
      tools: [weatherTool],
      response_format: { type: 'json_object' },
      parallel_tool_calls: false,
    } as ChatRequest;
    const snapshot = structuredClone(request);
    const first = JSON.stringify(buildMessagesRequest(request, OPTIONS));
    const second = JSON.stringify(buildMessagesRequest(request, OPTIONS));
    expect(request).toEqual(snapshot);
    expect(second).toBe(first);
  });
});

import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../gateway/errors.js';
import type { ChatRequest } from '../../gateway/types.js';
import { JSON_TOOL_NAME, buildConverseRequest } from './request.js';

const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
const WEATHER_TOOL = { type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } };

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

function build(request: Partial<ChatRequest>, options = {}) {
  return buildConverseRequest(deepFreeze({ model: 'claude', messages: [{ role: 'user', content: 'Hi' }], ...request } as ChatRequest), options);
}

function rejection(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    return err as GatewayError;
  }
  throw new Error('expected a GatewayError');
}

describe('buildConverseRequest: messages', () => {
  it('moves system and developer messages to `system` and keeps the turns', () => {
    const { body } = build({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: [{ type: 'text', text: 'Answer in French.' }] },
        { role: 'user', content: 'Hello' },
        { role: 'assistant', content: 'Bonjour' },
        { role: 'user', content: [{ type: 'text', text: 'How are you?' }] },
      ],
    });
    expect(body.system).toEqual([{ text: 'Be brief.' }, { text: 'Answer in French.' }]);
    expect(body.messages).toEqual([
      { role: 'user', content: [{ text: 'Hello' }] },
      { role: 'assistant', content: [{ text: 'Bonjour' }] },
      { role: 'user', content: [{ text: 'How are you?' }] },
    ]);
  });

  it('merges consecutive turns of one role (Bedrock requires alternation)', () => {
    const { body } = build({ messages: [{ role: 'user', content: 'One' }, { role: 'user', content: 'Two' }, { role: 'assistant', content: 'Three' }, { role: 'assistant', content: 'Four' }] });
    expect(body.messages).toEqual([
      { role: 'user', content: [{ text: 'One' }, { text: 'Two' }] },
      { role: 'assistant', content: [{ text: 'Three' }, { text: 'Four' }] },
    ]);
  });

  it('sends tool calls as toolUse and tool results as toolResult blocks in one user turn', () => {
    const { body } = build({
      messages: [
        { role: 'user', content: 'Weather in Paris and Rome?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
            { id: 'call_2', type: 'function', function: { name: 'get_weather', arguments: '' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '18°C' },
        { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: '21°C' }] },
        { role: 'user', content: 'Thanks. Which is warmer?' },
      ],
      tools: [WEATHER_TOOL],
    });
    expect(body.messages).toEqual([
      { role: 'user', content: [{ text: 'Weather in Paris and Rome?' }] },
      {
        role: 'assistant',
        content: [
          { toolUse: { toolUseId: 'call_1', name: 'get_weather', input: { city: 'Paris' } } },
          { toolUse: { toolUseId: 'call_2', name: 'get_weather', input: {} } },
        ],
      },
      {
        role: 'user',
        content: [
          { toolResult: { toolUseId: 'call_1', content: [{ text: '18°C' }] } },
          { toolResult: { toolUseId: 'call_2', content: [{ text: '21°C' }] } },
          { text: 'Thanks. Which is warmer?' },
        ],
      },
    ]);
  });

  it('sends data-URL images as image blocks with their format and base64 bytes', () => {
    const { body } = build({
      messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } }, { type: 'image_url', image_url: { url: `data:image/jpeg;base64,${PNG}` } }] }],
    });
    expect(body.messages[0]!.content).toEqual([
      { text: 'What is this?' },
      { image: { format: 'png', source: { bytes: PNG } } },
      { image: { format: 'jpeg', source: { bytes: PNG } } },
    ]);
  });

  it('rejects image links (Converse takes bytes) and unsupported image types with a 400 naming the part', () => {
    const link = rejection(() => build({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] }] }));
    expect(link.status).toBe(400);
    expect(link.param).toBe('messages[0].content[0].image_url.url');
    expect(link.message).toMatch(/data URL/);
    const bmp = rejection(() => build({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/bmp;base64,${PNG}` } }] }] }));
    expect(bmp.status).toBe(400);
    const audio = rejection(() => build({ messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] }] }));
    expect(audio.param).toBe('messages[0].content[0].type');
  });

  it('leaves out blank text (Bedrock rejects blank blocks) and empty turns', () => {
    const { body } = build({ messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: '' }, { role: 'user', content: [{ type: 'text', text: '  ' }, { type: 'text', text: 'there' }] }] });
    expect(body.messages).toEqual([{ role: 'user', content: [{ text: 'Hi' }, { text: 'there' }] }]);
  });

  it('sends thinking blocks back first and verbatim', () => {
    const { body } = build({
      messages: [
        { role: 'user', content: '17*23?' },
        { role: 'assistant', content: '391', reasoning_content: 'ignored without blocks', thinking_blocks: [{ type: 'thinking', thinking: '17*23=391', signature: 'sig' }, { type: 'redacted_thinking', data: 'enc' }] },
        { role: 'user', content: 'Thanks' },
      ],
    });
    expect(body.messages[1]!.content).toEqual([{ reasoningContent: { reasoningText: { text: '17*23=391', signature: 'sig' } } }, { reasoningContent: { redactedContent: 'enc' } }, { text: '391' }]);
  });

  it('rejects tool call arguments that are not JSON, naming the field', () => {
    const error = rejection(() =>
      build({ messages: [{ role: 'user', content: 'x' }, { role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{city:' } }] }] }),
    );
    expect(error.param).toBe('messages[1].tool_calls[0].function.arguments');
  });

  it('rejects n > 1 (one choice per Converse call)', () => {
    expect(rejection(() => build({ n: 2 })).param).toBe('n');
    expect(build({ n: 1 }).body.messages).toHaveLength(1);
  });

  it('marks cache_control parts, messages, system parts and tools with cache points after them', () => {
    const { body } = build({
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'Long rules', cache_control: { type: 'ephemeral' } }] },
        { role: 'user', content: [{ type: 'text', text: 'Big document', cache_control: { type: 'ephemeral' } }, { type: 'text', text: 'Question' }] },
        { role: 'assistant', content: 'Answer', cache_control: { type: 'ephemeral' } },
      ],
      tools: [{ ...WEATHER_TOOL, cache_control: { type: 'ephemeral' } }],
    });
    const point = { cachePoint: { type: 'default' } };
    expect(body.system).toEqual([{ text: 'Long rules' }, point]);
    expect(body.messages[0]!.content).toEqual([{ text: 'Big document' }, point, { text: 'Question' }]);
    expect(body.messages[1]!.content).toEqual([{ text: 'Answer' }, point]);
    expect(body.toolConfig!.tools).toEqual([{ toolSpec: expect.objectContaining({ name: 'get_weather' }) as unknown }, point]);
  });

  it('puts one cache point where a part and its message are both marked, and none before any content', () => {
    const { body } = build({
      messages: [
        { role: 'system', content: '  ', cache_control: { type: 'ephemeral' } },
        { role: 'user', content: [{ type: 'text', text: 'Doc', cache_control: { type: 'ephemeral' } }], cache_control: { type: 'ephemeral' } },
      ],
    });
    expect(body.system).toBeUndefined();
    expect(body.messages[0]!.content).toEqual([{ text: 'Doc' }, { cachePoint: { type: 'default' } }]);
  });

  it('does not change the request and gives the same body when run again (retries)', () => {
    const request = deepFreeze({ model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi', cache_control: { type: 'ephemeral' } }] }], tools: [WEATHER_TOOL], response_format: { type: 'json_object' } } as ChatRequest);
    expect(JSON.stringify(buildConverseRequest(request))).toBe(JSON.stringify(buildConverseRequest(request)));
  });
});

describe('buildConverseRequest: parameters', () => {
  it('maps max tokens (max_completion_tokens first, then max_tokens, then the default), temperature, top_p and stop', () => {
    expect(build({ max_completion_tokens: 100, max_tokens: 50, temperature: 0.2, top_p: 0.9, stop: 'END' }, { defaultMaxTokens: 4096 }).body.inferenceConfig).toEqual({
      maxTokens: 100,
      temperature: 0.2,
      topP: 0.9,
      stopSequences: ['END'],
    });
    expect(build({ max_tokens: 50, stop: ['a', 'b'] }).body.inferenceConfig).toEqual({ maxTokens: 50, stopSequences: ['a', 'b'] });
    expect(build({}, { defaultMaxTokens: 4096 }).body.inferenceConfig).toEqual({ maxTokens: 4096 });
    expect(build({}).body.inferenceConfig).toBeUndefined();
  });

  it('leaves temperature and top_p out for Claude models that refuse them (Opus 4.7 and later)', () => {
    const sampled = { max_tokens: 50, temperature: 0.2, top_p: 0.9 };
    expect(build(sampled, { modelId: 'us.anthropic.claude-opus-4-7-v1:0' }).body.inferenceConfig).toEqual({ maxTokens: 50 });
    expect(build(sampled, { modelId: 'anthropic.claude-sonnet-4-5-20250929-v1:0' }).body.inferenceConfig).toEqual({ maxTokens: 50, temperature: 0.2, topP: 0.9 });
    expect(build(sampled, { modelId: 'amazon.nova-pro-v1:0' }).body.inferenceConfig).toEqual({ maxTokens: 50, temperature: 0.2, topP: 0.9 });
  });

  it('passes `thinking` to the model as an additional request field, with room for it on top of the default max tokens', () => {
    const { body } = build({ thinking: { type: 'enabled', budget_tokens: 2048 } }, { defaultMaxTokens: 4096, modelId: 'anthropic.claude-sonnet-4-5-20250929-v1:0' });
    expect(body.additionalModelRequestFields).toEqual({ thinking: { type: 'enabled', budget_tokens: 2048 } });
    expect(body.inferenceConfig).toEqual({ maxTokens: 4096 + 2048 });
  });

  it("gives thinking room on top of 4096 when neither the client nor default_max_tokens sets max tokens (Claude refuses a budget not below them)", () => {
    const sonnet = { modelId: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0' };
    expect(build({ reasoning_effort: 'high' }, sonnet).body).toMatchObject({ additionalModelRequestFields: { thinking: { budget_tokens: 16384 } }, inferenceConfig: { maxTokens: 4096 + 16384 } });
    expect(build({ thinking: { type: 'enabled', budget_tokens: 2048 } }, sonnet).body.inferenceConfig).toEqual({ maxTokens: 4096 + 2048 });
    // Without thinking the model's own default stands.
    expect(build({}, sonnet).body.inferenceConfig).toBeUndefined();
  });

  it('turns reasoning_effort into Claude thinking as the Anthropic API does, and refuses an unknown effort for any model', () => {
    const sonnet = { defaultMaxTokens: 4096, modelId: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0' };
    expect(build({ reasoning_effort: 'medium' }, sonnet).body).toMatchObject({ additionalModelRequestFields: { thinking: { type: 'enabled', budget_tokens: 4096 } }, inferenceConfig: { maxTokens: 4096 + 4096 } });
    // OpenAI's limit includes reasoning: a smaller max_tokens gets half of it as budget.
    expect(build({ reasoning_effort: 'high', max_tokens: 8000 }, sonnet).body.additionalModelRequestFields).toEqual({ thinking: { type: 'enabled', budget_tokens: 4000 } });
    expect(build({ reasoning_effort: 'high' }, { modelId: 'us.anthropic.claude-opus-4-7-v1:0' }).body.additionalModelRequestFields).toEqual({
      thinking: { type: 'adaptive', display: 'summarized' },
      output_config: { effort: 'high' },
    });
    // A forced tool call runs without thinking (Claude refuses both at once).
    expect(build({ reasoning_effort: 'high', tools: [WEATHER_TOOL], tool_choice: 'required' }, sonnet).body.additionalModelRequestFields).toBeUndefined();
    expect(build({ reasoning_effort: 'none' }, sonnet).body.additionalModelRequestFields).toBeUndefined();
    // Other models have no common field for it.
    expect(build({ reasoning_effort: 'high' }, { modelId: 'amazon.nova-pro-v1:0' }).body.additionalModelRequestFields).toBeUndefined();
    for (const modelId of ['amazon.nova-pro-v1:0', 'anthropic.claude-sonnet-4-5-20250929-v1:0']) {
      const error = rejection(() => build({ reasoning_effort: 'ultra' as never }, { modelId }));
      expect(error).toMatchObject({ status: 400, param: 'reasoning_effort' });
    }
  });

  it('passes top_k to Claude models that take it, and leaves it out elsewhere', () => {
    expect(build({ top_k: 40 }, { modelId: 'anthropic.claude-sonnet-4-5-20250929-v1:0' }).body.additionalModelRequestFields).toEqual({ top_k: 40 });
    expect(build({ top_k: 40 }, { modelId: 'us.anthropic.claude-opus-4-7-v1:0' }).body.additionalModelRequestFields).toBeUndefined();
    expect(build({ top_k: 40 }, { modelId: 'amazon.nova-pro-v1:0' }).body.additionalModelRequestFields).toBeUndefined();
  });
});

describe('buildConverseRequest: tools', () => {
  it('declares function tools as toolSpecs with their JSON schema', () => {
    const { body, jsonTool } = build({ tools: [WEATHER_TOOL, { type: 'function', function: { name: 'now' } }] });
    expect(body.toolConfig).toEqual({
      tools: [
        { toolSpec: { name: 'get_weather', description: 'Weather for a city', inputSchema: { json: WEATHER_TOOL.function.parameters } } },
        { toolSpec: { name: 'now', inputSchema: { json: { type: 'object', properties: {} } } } },
      ],
    });
    expect(jsonTool).toBeUndefined();
  });

  it.each([
    ['auto', { auto: {} }],
    ['required', { any: {} }],
    [{ type: 'function', function: { name: 'get_weather' } }, { tool: { name: 'get_weather' } }],
  ] as const)('maps tool_choice %j', (choice, expected) => {
    expect(build({ tools: [WEATHER_TOOL], tool_choice: choice as ChatRequest['tool_choice'] }).body.toolConfig!.toolChoice).toEqual(expected);
  });

  it('leaves the tools out for tool_choice "none", unless the conversation holds tool calls', () => {
    expect(build({ tools: [WEATHER_TOOL], tool_choice: 'none' }).body.toolConfig).toBeUndefined();
    const withHistory = build({
      tools: [WEATHER_TOOL],
      tool_choice: 'none',
      messages: [
        { role: 'user', content: 'Weather?' },
        { role: 'assistant', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: '3°C' },
      ],
    });
    expect(withHistory.body.toolConfig).toEqual({ tools: [expect.objectContaining({ toolSpec: expect.objectContaining({ name: 'get_weather' }) as unknown })] });
  });

  it('rejects tools that are not functions', () => {
    expect(rejection(() => build({ tools: [{ type: 'web_search' }] })).param).toBe('tools[0].type');
  });
});

describe('buildConverseRequest: response_format', () => {
  it('json_schema → a forced tool whose input schema is the requested schema', () => {
    const schema = { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] };
    const { body, jsonTool } = build({ response_format: { type: 'json_schema', json_schema: { name: 'person', schema } } });
    expect(jsonTool).toBe(JSON_TOOL_NAME);
    expect(body.toolConfig).toEqual({ tools: [{ toolSpec: { name: JSON_TOOL_NAME, description: expect.any(String) as unknown, inputSchema: { json: schema } } }], toolChoice: { tool: { name: JSON_TOOL_NAME } } });
  });

  it('json_object → a forced tool taking any object', () => {
    const { body } = build({ response_format: { type: 'json_object' } });
    expect(body.toolConfig!.tools).toEqual([{ toolSpec: expect.objectContaining({ name: JSON_TOOL_NAME, inputSchema: { json: { type: 'object' } } }) as unknown }]);
  });

  it('beside client tools, forces some tool call (a real tool or the JSON answer)', () => {
    const { body } = build({ tools: [WEATHER_TOOL], response_format: { type: 'json_object' } });
    expect(body.toolConfig!.tools.map((t) => ('toolSpec' in t ? t.toolSpec.name : 'cache'))).toEqual(['get_weather', JSON_TOOL_NAME]);
    expect(body.toolConfig!.toolChoice).toEqual({ any: {} });
  });

  it('with thinking on, offers the tool without forcing it (Claude refuses a forced tool while thinking) and asks for it in the system prompt', () => {
    const sonnet = { modelId: 'anthropic.claude-sonnet-4-5-20250929-v1:0' };
    for (const thinking of [{ thinking: { type: 'enabled', budget_tokens: 1024 } }, { reasoning_effort: 'low' }] as Partial<ChatRequest>[]) {
      const { body, jsonTool } = build({ ...thinking, max_tokens: 4000, response_format: { type: 'json_object' } }, sonnet);
      expect(jsonTool).toBe(JSON_TOOL_NAME);
      expect(body.toolConfig!.toolChoice).toEqual({ auto: {} });
      expect(body.system).toEqual([{ text: `Give your final answer by calling the ${JSON_TOOL_NAME} tool; its input is the answer.` }]);
    }
  });

  it('type "text" changes nothing', () => {
    expect(build({ response_format: { type: 'text' } })).toEqual({ body: { messages: [{ role: 'user', content: [{ text: 'Hi' }] }] }, jsonTool: undefined });
  });
});

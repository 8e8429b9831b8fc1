import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../gateway/errors.js';
import type { ChatRequest } from '../../gateway/types.js';
import { buildGenerateContentRequest } from './request.js';

const MODEL = 'gemini-2.5-flash';
const build = (request: Partial<ChatRequest>, model = MODEL) => buildGenerateContentRequest({ model: 'group', messages: [], ...request } as ChatRequest, model);

function invalidParam(fn: () => unknown): string | null {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).status).toBe(400);
    return (err as GatewayError).param;
  }
  throw new Error('expected a 400');
}

describe('buildGenerateContentRequest: messages', () => {
  it('puts system and developer messages into systemInstruction and the rest into user/model turns', () => {
    const body = build({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello!' },
        { role: 'developer', content: [{ type: 'text', text: 'Answer in French.' }] },
        { role: 'user', content: [{ type: 'text', text: 'How are you?' }] },
      ],
    });
    expect(body.systemInstruction).toEqual({ parts: [{ text: 'Be brief.' }, { text: 'Answer in French.' }] });
    expect(body.contents).toEqual([
      { role: 'user', parts: [{ text: 'Hi' }] },
      { role: 'model', parts: [{ text: 'Hello!' }] },
      { role: 'user', parts: [{ text: 'How are you?' }] },
    ]);
    expect(body).not.toHaveProperty('generationConfig');
    expect(body).not.toHaveProperty('tools');
  });

  it('merges consecutive turns of the same role', () => {
    const body = build({ messages: [{ role: 'user', content: 'one' }, { role: 'user', content: 'two' }, { role: 'assistant', content: 'a' }, { role: 'assistant', content: 'b' }] });
    expect(body.contents).toEqual([
      { role: 'user', parts: [{ text: 'one' }, { text: 'two' }] },
      { role: 'model', parts: [{ text: 'a' }, { text: 'b' }] },
    ]);
  });

  it('sends a request of only system messages as the user turn (Gemini needs contents)', () => {
    const body = build({ messages: [{ role: 'system', content: 'Say hello.' }] });
    expect(body.contents).toEqual([{ role: 'user', parts: [{ text: 'Say hello.' }] }]);
    expect(body).not.toHaveProperty('systemInstruction');
  });

  it('maps images: data URLs to inlineData, http(s) URLs to fileData with a MIME type from the extension', () => {
    const body = build({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Compare' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.WEBP?size=large', detail: 'high' } },
            { type: 'image_url', image_url: { url: 'https://example.com/photo' } },
            { type: 'image_url', image_url: { url: 'data:text/plain,hello%20there' } },
          ],
        },
      ],
    });
    expect(body.contents[0]!.parts).toEqual([
      { text: 'Compare' },
      { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } },
      { fileData: { mimeType: 'image/webp', fileUri: 'https://example.com/cat.WEBP?size=large' } },
      { fileData: { mimeType: 'image/jpeg', fileUri: 'https://example.com/photo' } },
      { inlineData: { mimeType: 'text/plain', data: Buffer.from('hello there').toString('base64') } },
    ]);
  });

  it('maps input_audio and file data parts to inlineData', () => {
    const body = build({
      messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'mp3' } }, { type: 'file', file: { file_data: 'data:application/pdf;base64,JVBERi0=' } }] }],
    });
    expect(body.contents[0]!.parts).toEqual([{ inlineData: { mimeType: 'audio/mpeg', data: 'UklGRg==' } }, { inlineData: { mimeType: 'application/pdf', data: 'JVBERi0=' } }]);
  });

  it('refuses parts and URLs it cannot send, naming the field', () => {
    expect(invalidParam(() => build({ messages: [{ role: 'user', content: [{ type: 'video_url', video_url: 'x' }] }] }))).toBe('messages[0].content[0].type');
    expect(invalidParam(() => build({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'ftp://x/y.png' } }] }] }))).toBe('messages[0].content[0].image_url.url');
    expect(invalidParam(() => build({ messages: [{ role: 'system', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,AA==' } }] }] }))).toBe('messages[0].content[0].type');
    expect(invalidParam(() => build({ messages: [{ role: 'critic', content: 'x' }] }))).toBe('messages[0].role');
  });

  it('does not modify the request it translates (a retry translates it again)', () => {
    const request = {
      model: 'g',
      messages: [
        { role: 'system', content: 'S' },
        { role: 'user', content: [{ type: 'text', text: 'U' }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: '{"ok":true}' },
      ],
      tools: [{ type: 'function', function: { name: 'f', parameters: { $schema: 'x', type: 'object' } } }],
      response_format: { type: 'json_schema', json_schema: { name: 'n', schema: { $schema: 'y', type: 'object' } } },
    } as ChatRequest;
    const snapshot = structuredClone(request);
    const first = build(request);
    expect(request).toEqual(snapshot);
    expect(build(request)).toEqual(first);
  });
});

describe('buildGenerateContentRequest: tools', () => {
  const assistantWithCalls = {
    role: 'assistant',
    content: 'Let me check.',
    tool_calls: [
      { id: 'call_a', type: 'function' as const, function: { name: 'get_weather', arguments: '{"location":"Paris"}' }, extra_content: { google: { thought_signature: 'c2lnbmF0dXJl' } } },
      { id: 'call_b', type: 'function' as const, function: { name: 'get_time', arguments: '' } },
    ],
  };

  it('maps assistant tool calls to functionCall parts with their ids and thought signature', () => {
    const body = build({ messages: [{ role: 'user', content: 'Weather?' }, assistantWithCalls] });
    expect(body.contents[1]).toEqual({
      role: 'model',
      parts: [
        { text: 'Let me check.' },
        { functionCall: { id: 'call_a', name: 'get_weather', args: { location: 'Paris' } }, thoughtSignature: 'c2lnbmF0dXJl' },
        { functionCall: { id: 'call_b', name: 'get_time', args: {} } },
      ],
    });
  });

  it('groups tool results into one user turn of functionResponse parts, names looked up by call id', () => {
    const body = build({
      messages: [
        { role: 'user', content: 'Weather?' },
        assistantWithCalls,
        { role: 'tool', tool_call_id: 'call_a', content: '{"temperature": 21, "unit": "C"}' },
        { role: 'tool', tool_call_id: 'call_b', content: [{ type: 'text', text: '14:05' }] },
        { role: 'tool', tool_call_id: 'call_b', content: '[1, 2]' },
      ],
    });
    expect(body.contents).toHaveLength(3);
    expect(body.contents[2]).toEqual({
      role: 'user',
      parts: [
        { functionResponse: { id: 'call_a', name: 'get_weather', response: { temperature: 21, unit: 'C' } } },
        { functionResponse: { id: 'call_b', name: 'get_time', response: { output: '14:05' } } },
        { functionResponse: { id: 'call_b', name: 'get_time', response: { output: '[1, 2]' } } },
      ],
    });
  });

  it('refuses a tool result that answers no known call, and arguments that are not a JSON object', () => {
    expect(invalidParam(() => build({ messages: [{ role: 'tool', tool_call_id: 'nope', content: 'x' }] }))).toBe('messages[0].tool_call_id');
    const bad = (args: string) => build({ messages: [{ role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: args } }] }] });
    expect(invalidParam(() => bad('{"a":'))).toBe('messages[0].tool_calls[0].function.arguments');
    expect(invalidParam(() => bad('[1,2]'))).toBe('messages[0].tool_calls[0].function.arguments');
  });

  it('uses the legacy function message name when there is no call id', () => {
    const body = build({ messages: [{ role: 'function', name: 'lookup', content: 'found' }] });
    expect(body.contents).toEqual([{ role: 'user', parts: [{ functionResponse: { name: 'lookup', response: { output: 'found' } } }] }]);
  });

  it('declares tools with their JSON Schema as parametersJsonSchema (only $schema dropped)', () => {
    const parameters = { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', properties: { q: { type: 'string' } }, required: ['q'], additionalProperties: false };
    const body = build({
      messages: [{ role: 'user', content: 'x' }],
      tools: [
        { type: 'function', function: { name: 'search', description: 'Search the web', parameters, strict: true } },
        { type: 'function', function: { name: 'now' } },
      ],
    });
    expect(body.tools).toEqual([
      {
        functionDeclarations: [
          { name: 'search', description: 'Search the web', parametersJsonSchema: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'], additionalProperties: false } },
          { name: 'now' },
        ],
      },
    ]);
    expect(invalidParam(() => build({ messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'web_search' }] }))).toBe('tools[0].type');
    expect(invalidParam(() => build({ messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function' }] }))).toBe('tools[0].function');
  });

  it.each([
    ['auto', { mode: 'AUTO' }],
    ['none', { mode: 'NONE' }],
    ['required', { mode: 'ANY' }],
    [{ type: 'function', function: { name: 'now' } }, { mode: 'ANY', allowedFunctionNames: ['now'] }],
  ] as const)('maps tool_choice %j to functionCallingConfig %j', (choice, config) => {
    const body = build({ messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 'now' } }], tool_choice: choice as ChatRequest['tool_choice'] });
    expect(body.toolConfig).toEqual({ functionCallingConfig: config });
  });

  it('sends no toolConfig when there are no tools', () => {
    expect(build({ messages: [{ role: 'user', content: 'x' }], tool_choice: 'required' })).not.toHaveProperty('toolConfig');
  });
});

describe('buildGenerateContentRequest: generationConfig', () => {
  it('asks for log probabilities (and top candidates) when the client does', () => {
    expect(build({ messages: [{ role: 'user', content: 'x' }], logprobs: true, top_logprobs: 3 }).generationConfig).toEqual({ responseLogprobs: true, logprobs: 3 });
    expect(build({ messages: [{ role: 'user', content: 'x' }], logprobs: true }).generationConfig).toEqual({ responseLogprobs: true });
    expect(build({ messages: [{ role: 'user', content: 'x' }], logprobs: false, top_logprobs: 3 })).not.toHaveProperty('generationConfig');
  });

  it('maps sampling, length, stop, n, seed and penalties', () => {
    const body = build({
      messages: [{ role: 'user', content: 'x' }],
      temperature: 0.3,
      top_p: 0.9,
      top_k: 40,
      max_tokens: 50,
      max_completion_tokens: 100,
      stop: 'END',
      n: 2,
      seed: 7,
      presence_penalty: 0.5,
      frequency_penalty: -0.5,
    });
    expect(body.generationConfig).toEqual({
      temperature: 0.3,
      topP: 0.9,
      topK: 40,
      maxOutputTokens: 100,
      stopSequences: ['END'],
      candidateCount: 2,
      seed: 7,
      presencePenalty: 0.5,
      frequencyPenalty: -0.5,
    });
    expect(build({ messages: [{ role: 'user', content: 'x' }], max_tokens: 50, stop: ['a', 'b'], n: 1 }).generationConfig).toEqual({ maxOutputTokens: 50, stopSequences: ['a', 'b'] });
  });

  it('maps response_format to responseMimeType and responseJsonSchema', () => {
    expect(build({ messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_object' } }).generationConfig).toEqual({ responseMimeType: 'application/json' });
    const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false };
    expect(build({ messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_schema', json_schema: { name: 'city', schema, strict: true } } }).generationConfig).toEqual({
      responseMimeType: 'application/json',
      responseJsonSchema: schema,
    });
    expect(build({ messages: [{ role: 'user', content: 'x' }], response_format: { type: 'text' } })).not.toHaveProperty('generationConfig');
  });

  it.each([
    ['gemini-2.5-flash', 'low', { thinkingBudget: 1024, includeThoughts: true }],
    ['gemini-2.5-flash', 'high', { thinkingBudget: 24576, includeThoughts: true }],
    ['gemini-2.5-flash', 'none', { thinkingBudget: 0 }],
    ['gemini-3-pro-preview', 'high', { thinkingLevel: 'high', includeThoughts: true }],
    ['models/gemini-3-flash-preview', 'minimal', { thinkingLevel: 'minimal', includeThoughts: true }],
    ['gemini-3-flash-preview', 'none', { thinkingLevel: 'minimal' }],
  ])('maps reasoning_effort for %s: %s → %j', (model, effort, config) => {
    expect(build({ messages: [{ role: 'user', content: 'x' }], reasoning_effort: effort }, model).generationConfig).toEqual({ thinkingConfig: config });
  });

  it('maps the thinking extension and refuses an unknown effort', () => {
    expect(build({ messages: [{ role: 'user', content: 'x' }], thinking: { type: 'enabled', budget_tokens: 2000 } }).generationConfig).toEqual({ thinkingConfig: { thinkingBudget: 2000, includeThoughts: true } });
    expect(build({ messages: [{ role: 'user', content: 'x' }], thinking: { type: 'disabled' } }).generationConfig).toEqual({ thinkingConfig: { thinkingBudget: 0 } });
    expect(invalidParam(() => build({ messages: [{ role: 'user', content: 'x' }], reasoning_effort: 'maximum' }))).toBe('reasoning_effort');
  });

  it('passes Gemini-native safety settings and cached content on', () => {
    const safety = [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_NONE' }];
    const body = build({ messages: [{ role: 'user', content: 'x' }], safety_settings: safety, cached_content: 'cachedContents/abc' });
    expect(body.safetySettings).toEqual(safety);
    expect(body.cachedContent).toBe('cachedContents/abc');
  });
});

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { MessagesRequest, ToolParam } from '../../providers/anthropic/api.js';
import { decodeMessagesRequest, TOOL_ERROR_PREFIX } from './decode-request.js';
import { validateMessagesRequest } from './validate.js';

function fixture(name: string): MessagesRequest {
  return validateMessagesRequest(JSON.parse(readFileSync(new URL(`./__fixtures__/${name}`, import.meta.url), 'utf8')));
}

const base = { model: 'smart', max_tokens: 256 };

describe('decodeMessagesRequest', () => {
  it('decodes the API reference\'s basic request', () => {
    expect(decodeMessagesRequest(fixture('message-request.json'))).toEqual({
      model: 'claude-3-7-sonnet-20250219',
      max_tokens: 1024,
      messages: [{ role: 'user', content: 'Hello, world' }],
    });
  });

  it('turns a base64 image into a data: URL image_url part, in order with the text', () => {
    const out = decodeMessagesRequest(fixture('message-request-image.json'));
    expect(out.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'image_url', image_url: { url: 'data:image/jpeg;base64,/9j/4AAQSkZJRg...' } },
          { type: 'text', text: 'What is in this image?' },
        ],
      },
    ]);
  });

  it('turns a url image into an image_url part and keeps cache_control on parts', () => {
    const out = decodeMessagesRequest({
      ...base,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' }, cache_control: { type: 'ephemeral' } },
            { type: 'text', text: 'Describe it', cache_control: { type: 'ephemeral', ttl: '1h' } },
          ],
        },
      ],
    });
    expect(out.messages[0]!.content).toEqual([
      { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' }, cache_control: { type: 'ephemeral' } },
      { type: 'text', text: 'Describe it', cache_control: { type: 'ephemeral', ttl: '1h' } },
    ]);
  });

  it('decodes tools, tool_choice any and the documented tool_use → tool_result turn', () => {
    const tools = decodeMessagesRequest(fixture('message-request-tools.json'));
    expect(tools.stream).toBe(true);
    expect(tools.tool_choice).toBe('required');
    expect(tools.tools).toEqual([
      {
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'Get the current weather in a given location',
          parameters: {
            type: 'object',
            properties: { location: { type: 'string', description: 'The city and state, e.g. San Francisco, CA' } },
            required: ['location'],
          },
        },
      },
    ]);

    const turn = decodeMessagesRequest(fixture('message-request-tool-result.json'));
    expect(turn.messages).toEqual([
      { role: 'user', content: "What's the weather like in San Francisco?" },
      {
        role: 'assistant',
        content: '<thinking>I need to use get_weather, and the user wants SF, which is likely San Francisco, CA.</thinking>',
        tool_calls: [
          {
            id: 'toolu_01A09q90qw90lq917835lq9',
            type: 'function',
            function: { name: 'get_weather', arguments: '{"location":"San Francisco, CA","unit":"celsius"}' },
          },
        ],
      },
      { role: 'tool', tool_call_id: 'toolu_01A09q90qw90lq917835lq9', content: '15 degrees' },
    ]);
  });

  it('puts tool results first, in order, then the rest of the user turn (with tool result images)', () => {
    const out = decodeMessagesRequest({
      ...base,
      messages: [
        { role: 'assistant', content: [
          { type: 'tool_use', id: 'toolu_a', name: 'a', input: {} },
          { type: 'tool_use', id: 'toolu_b', name: 'b', input: { x: [1, 2] } },
        ] },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_a', content: [{ type: 'text', text: 'line 1' }, { type: 'text', text: 'line 2' }] },
            {
              type: 'tool_result',
              tool_use_id: 'toolu_b',
              is_error: true,
              content: [{ type: 'text', text: 'failed' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBOR' } }],
            },
            { type: 'text', text: 'Now summarise' },
          ],
        },
      ],
    });
    expect(out.messages).toEqual([
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'toolu_a', type: 'function', function: { name: 'a', arguments: '{}' } },
          { id: 'toolu_b', type: 'function', function: { name: 'b', arguments: '{"x":[1,2]}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'toolu_a', content: 'line 1\nline 2' },
      { role: 'tool', tool_call_id: 'toolu_b', content: `${TOOL_ERROR_PREFIX}failed` },
      {
        role: 'user',
        content: [
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBOR' } },
          { type: 'text', text: 'Now summarise' },
        ],
      },
    ]);
  });

  it('notes is_error on an empty tool result and keeps a tool result\'s cache_control', () => {
    const out = decodeMessagesRequest({
      ...base,
      messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', is_error: true, cache_control: { type: 'ephemeral' } }] }],
    });
    expect(out.messages).toEqual([{ role: 'tool', tool_call_id: 't1', content: [{ type: 'text', text: 'Error: ', cache_control: { type: 'ephemeral' } }] }]);
  });

  it('decodes the system prompt, string or text blocks (cache_control kept)', () => {
    expect(decodeMessagesRequest({ ...base, system: 'Be brief.', messages: [{ role: 'user', content: 'Hi' }] }).messages[0]).toEqual({ role: 'system', content: 'Be brief.' });
    const blocks = decodeMessagesRequest({
      ...base,
      system: [{ type: 'text', text: "Today's date is 2024-06-01." }, { type: 'text', text: 'Long context', cache_control: { type: 'ephemeral' } }],
      messages: [{ role: 'user', content: 'Hi' }],
    });
    expect(blocks.messages[0]).toEqual({
      role: 'system',
      content: [{ type: 'text', text: "Today's date is 2024-06-01." }, { type: 'text', text: 'Long context', cache_control: { type: 'ephemeral' } }],
    });
    expect(decodeMessagesRequest({ ...base, system: [], messages: [{ role: 'user', content: 'Hi' }] }).messages).toHaveLength(1);
  });

  it('keeps thinking and redacted thinking of assistant turns as thinking_blocks', () => {
    const out = decodeMessagesRequest({
      ...base,
      messages: [
        { role: 'user', content: 'GCD?' },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: '1071 = 2 × 462 + 147', signature: 'EqQBCg' },
            { type: 'redacted_thinking', data: 'EmwKAhgB' },
            { type: 'text', text: 'It is ' },
            { type: 'text', text: '21.' },
          ],
        },
      ],
    });
    expect(out.messages[1]).toEqual({
      role: 'assistant',
      content: 'It is 21.',
      thinking_blocks: [
        { type: 'thinking', thinking: '1071 = 2 × 462 + 147', signature: 'EqQBCg' },
        { type: 'redacted_thinking', data: 'EmwKAhgB' },
      ],
    });
  });

  it('maps the sampling fields, stop_sequences, metadata.user_id and thinking', () => {
    const out = decodeMessagesRequest({
      ...base,
      messages: [{ role: 'user', content: 'Hi' }],
      stop_sequences: ['\n\nHuman:', 'END'],
      temperature: 0.2,
      top_p: 0.9,
      top_k: 5,
      metadata: { user_id: 'user-42' },
      thinking: { type: 'enabled', budget_tokens: 2048 },
    });
    expect(out).toEqual({
      model: 'smart',
      max_tokens: 256,
      messages: [{ role: 'user', content: 'Hi' }],
      stop: ['\n\nHuman:', 'END'],
      temperature: 0.2,
      top_p: 0.9,
      top_k: 5,
      user: 'user-42',
      thinking: { type: 'enabled', budget_tokens: 2048 },
    });
  });

  it('maps output_config: a json_schema format to response_format, effort to reasoning_effort', () => {
    const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'] };
    const out = decodeMessagesRequest({ ...base, messages: [{ role: 'user', content: 'Hi' }], output_config: { effort: 'low', format: { type: 'json_schema', schema } } });
    expect(out.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'output', schema, strict: true } });
    expect(out.reasoning_effort).toBe('low');
  });

  it.each([
    [{ type: 'auto' }, 'auto'],
    [{ type: 'any' }, 'required'],
    [{ type: 'none' }, 'none'],
    [{ type: 'tool', name: 'get_weather' }, { type: 'function', function: { name: 'get_weather' } }],
  ] as const)('maps tool_choice %j', (choice, expected) => {
    const tools = [{ name: 'get_weather', input_schema: { type: 'object' } }];
    expect(decodeMessagesRequest({ ...base, messages: [{ role: 'user', content: 'Hi' }], tools, tool_choice: choice }).tool_choice).toEqual(expected);
  });

  it('turns disable_parallel_tool_use into parallel_tool_calls: false, only with tools', () => {
    const request = { ...base, messages: [{ role: 'user' as const, content: 'Hi' }], tool_choice: { type: 'auto' as const, disable_parallel_tool_use: true } };
    expect(decodeMessagesRequest({ ...request, tools: [{ name: 't', input_schema: {} }] }).parallel_tool_calls).toBe(false);
    expect(decodeMessagesRequest(request)).not.toHaveProperty('parallel_tool_calls');
  });

  it('keeps tool cache_control, passes server tools and unknown blocks on unchanged', () => {
    const document = { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'The grass is green.' } };
    const webSearch = { type: 'web_search_20250305', name: 'web_search', max_uses: 5 };
    const out = decodeMessagesRequest({
      ...base,
      messages: [{ role: 'user', content: [document, { type: 'text', text: 'Cite it' }] }],
      // Server tools carry no input_schema (api.ts's ToolParam requires one).
      tools: [{ name: 'lookup', input_schema: { type: 'object' }, cache_control: { type: 'ephemeral' } }, webSearch as unknown as ToolParam],
    });
    expect(out.messages[0]!.content).toEqual([document, { type: 'text', text: 'Cite it' }]);
    expect(out.tools).toEqual([{ type: 'function', function: { name: 'lookup', parameters: { type: 'object' } }, cache_control: { type: 'ephemeral' } }, webSearch]);
  });

  it('passes an assistant prefill and a string-content turn as strings', () => {
    const out = decodeMessagesRequest({
      ...base,
      messages: [
        { role: 'user', content: "What's the Greek name for Sun? (A) Sol (B) Helios (C) Sun" },
        { role: 'assistant', content: 'The best answer is (' },
      ],
    });
    expect(out.messages.at(-1)).toEqual({ role: 'assistant', content: 'The best answer is (' });
  });

  it('never changes its input and gives the same answer twice', () => {
    const request = fixture('message-request-tool-result.json');
    const before = structuredClone(request);
    const first = decodeMessagesRequest(request);
    const second = decodeMessagesRequest(request);
    expect(request).toEqual(before);
    expect(second).toEqual(first);
  });
});

import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../gateway/types.js';
import { buildMessagesRequest } from './anthropic/request.js';
import { buildConverseRequest } from './bedrock/request.js';
import { buildGenerateContentRequest } from './gemini/request.js';

const customTool = { type: 'custom', custom: { name: 'code_exec' } };
const withCustomCall = {
  model: 'g',
  messages: [
    { role: 'user', content: 'Run it' },
    { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'custom', custom: { name: 'code_exec', input: 'print(1)' } }] },
    { role: 'tool', tool_call_id: 'call_1', content: '1' },
  ],
} as unknown as ChatRequest;
const withCustomChoice = { model: 'g', messages: [{ role: 'user', content: 'Run it' }], tools: [customTool], tool_choice: { type: 'custom', custom: { name: 'code_exec' } } } as unknown as ChatRequest;
const withAllowedTools = {
  model: 'g',
  messages: [{ role: 'user', content: 'Hi' }],
  tools: [{ type: 'function', function: { name: 'f' } }],
  tool_choice: { type: 'allowed_tools', allowed_tools: { mode: 'auto', tools: [{ type: 'function', function: { name: 'f' } }] } },
} as unknown as ChatRequest;

const builders: [string, (request: ChatRequest) => unknown][] = [
  ['Anthropic', (request) => buildMessagesRequest(request, { upstreamModel: 'claude-sonnet-4-5', defaultMaxTokens: 1024 } as Parameters<typeof buildMessagesRequest>[1])],
  ['Gemini', (request) => buildGenerateContentRequest(request, 'gemini-2.5-flash')],
  ['Amazon Bedrock', (request) => buildConverseRequest(request)],
];

describe.each(builders)("%s: OpenAI's custom tools", (api, build) => {
  it('refuses a custom tool call in the history with a 400 naming it', () => {
    expect(() => build(withCustomCall)).toThrow(expect.objectContaining({ status: 400, code: 'invalid_request', param: 'messages[1].tool_calls[0]', message: expect.stringContaining(api) }));
  });

  it('refuses a custom or allowed_tools tool_choice with a 400 naming it', () => {
    for (const request of [withCustomChoice, withAllowedTools]) {
      expect(() => build(request)).toThrow(expect.objectContaining({ status: 400, code: 'invalid_request', param: 'tool_choice' }));
    }
  });
});

import { describe, expect, it } from 'vitest';
import { decodeMessagesRequest } from './decode-request.js';
import { encodeMessage } from './encode-response.js';
import { splitToolUseId, toolUseId } from './tool-use-id.js';
import type { ChatCompletion } from '../../gateway/types.js';
import type { MessagesRequest } from '../../providers/anthropic/api.js';

const SIGNATURE = 'CiQBVKhc7+fmHZ/h1A2x==';

describe("Gemini's thought signatures in tool_use ids", () => {
  it('rides in the id as base64url (letters, digits, _ and -), and comes back out whole', () => {
    const id = toolUseId({ id: 'call_resp123_0_0', extra_content: { google: { thought_signature: SIGNATURE } } });
    expect(id).toMatch(/^call_resp123_0_0__thought__[A-Za-z0-9_-]+$/);
    expect(splitToolUseId(id)).toEqual({ id: 'call_resp123_0_0', thoughtSignature: SIGNATURE });
  });

  it('leaves ids without a signature as they are', () => {
    expect(toolUseId({ id: 'toolu_01A' })).toBe('toolu_01A');
    expect(splitToolUseId('toolu_01A')).toEqual({ id: 'toolu_01A', thoughtSignature: undefined });
  });

  it('goes out on the answer and back in on the next turn, on the tool call and its result', () => {
    const completion = {
      id: 'chatcmpl-1',
      object: 'chat.completion',
      created: 1,
      model: 'gemini-3-pro',
      choices: [
        {
          index: 0,
          finish_reason: 'tool_calls',
          message: {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' }, extra_content: { google: { thought_signature: SIGNATURE } } }],
          },
        },
      ],
    } as unknown as ChatCompletion;
    const answer = encodeMessage(completion, { model: 'gem' });
    const use = answer.content.find((block) => block.type === 'tool_use') as { id: string; name: string; input: unknown };
    const next = decodeMessagesRequest({
      model: 'gem',
      max_tokens: 100,
      messages: [
        { role: 'user', content: 'Weather in Oslo?' },
        { role: 'assistant', content: [{ type: 'tool_use', id: use.id, name: use.name, input: use.input }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '12 °C' }] },
      ],
    } as MessagesRequest);
    const assistant = next.messages.find((message) => message.role === 'assistant')!;
    expect(assistant.tool_calls).toEqual([{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' }, extra_content: { google: { thought_signature: SIGNATURE } } }]);
    expect(next.messages.find((message) => message.role === 'tool')).toMatchObject({ tool_call_id: 'call_1' });
  });
});

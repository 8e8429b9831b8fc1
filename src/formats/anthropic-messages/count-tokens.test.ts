import { describe, expect, it } from 'vitest';
import { countTokens } from '../../governance/tokens.js';
import { countPromptTokens } from '../../providers/mock/reply.js';
import { IMAGE_TOKENS_ESTIMATE, estimateInputTokens } from './count-tokens.js';
import { decodeMessagesRequest } from './decode-request.js';

describe('estimateInputTokens', () => {
  it('counts framing, text and tools (the mock provider reports the same prompt_tokens)', () => {
    const request = decodeMessagesRequest({
      model: 'mock',
      system: 'You are terse.',
      messages: [
        { role: 'user', content: 'What is the weather in Paris?' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: '21 degrees' }] },
      ],
      tools: [{ name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }],
    });
    const expected = countPromptTokens(request.messages) + countTokens(JSON.stringify(request.tools));
    expect(estimateInputTokens(request)).toBe(expected);
    expect(expected).toBeGreaterThan(30);
  });

  it('adds a flat estimate per image and counts thinking text', () => {
    const text = decodeMessagesRequest({ model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'Look' }] }] });
    const image = decodeMessagesRequest({
      model: 'm',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Look' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo' } }] }],
    });
    expect(estimateInputTokens(image) - estimateInputTokens(text)).toBe(IMAGE_TOKENS_ESTIMATE);

    const thinking = decodeMessagesRequest({
      model: 'm',
      messages: [{ role: 'assistant', content: [{ type: 'thinking', thinking: 'a long chain of thought', signature: 's' }, { type: 'text', text: 'ok' }] }],
    });
    const plain = decodeMessagesRequest({ model: 'm', messages: [{ role: 'assistant', content: 'ok' }] });
    expect(estimateInputTokens(thinking) - estimateInputTokens(plain)).toBe(countTokens('a long chain of thought'));
  });
});

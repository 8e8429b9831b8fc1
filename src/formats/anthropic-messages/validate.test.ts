import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../gateway/errors.js';
import { validateCountTokensRequest, validateMessagesRequest } from './validate.js';

const hello = { model: 'smart', max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] };

function rejection(call: () => unknown): GatewayError {
  try {
    call();
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    return err as GatewayError;
  }
  throw new Error('expected the request to be rejected');
}

describe('validateMessagesRequest', () => {
  it.each(['message-request.json', 'message-request-image.json', 'message-request-tools.json', 'message-request-tool-result.json'])(
    'accepts the API reference example %s and returns the same object',
    (name) => {
      const body: unknown = JSON.parse(readFileSync(new URL(`./__fixtures__/${name}`, import.meta.url), 'utf8'));
      expect(validateMessagesRequest(body)).toBe(body);
    },
  );

  it('accepts thinking blocks, documents, server tools and a system role message', () => {
    const body = {
      ...hello,
      system: [{ type: 'text', text: 'Be brief', cache_control: { type: 'ephemeral' } }],
      messages: [
        { role: 'system', content: 'Also be kind' },
        { role: 'user', content: [{ type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'x' } }] },
        { role: 'assistant', content: [{ type: 'thinking', thinking: 'hmm', signature: 'sig' }, { type: 'redacted_thinking', data: 'abc' }] },
      ],
      tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 5 }],
      thinking: { type: 'enabled', budget_tokens: 1024 },
      metadata: { user_id: null },
    };
    expect(validateMessagesRequest(body)).toBe(body);
  });

  it.each([
    [{ ...hello, max_tokens: undefined }, 'max_tokens: Field required'],
    [{ ...hello, max_tokens: 0 }, 'max_tokens: must be at least 1'],
    [{ ...hello, model: undefined }, 'model: Field required'],
    [{ ...hello, messages: [] }, 'messages: at least one message is required'],
    [{ ...hello, messages: [{ role: 'robot', content: 'Hi' }] }, 'messages.0.role: must be one of "user", "assistant", "system"'],
    [{ ...hello, messages: [{ role: 'user', content: 42 }] }, 'messages.0.content: must be a string or an array of content blocks'],
    [{ ...hello, messages: [{ role: 'user' }] }, 'messages.0.content: Field required'],
    [{ ...hello, messages: [{ role: 'user', content: [{ type: 'text', text: 'a' }, { text: 'b' }] }] }, 'messages.0.content.1.type: Field required'],
    [{ ...hello, messages: [{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text' }] }] }, 'messages.0.content.1.text: Field required'],
    [{ ...hello, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', data: 'x' } }] }] }, 'messages.0.content.0.source: must be'],
    [{ ...hello, messages: [{ role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'x', input: 'nope' }] }] }, 'messages.0.content.0.input: must be an object'],
    [{ ...hello, messages: [{ role: 'user', content: [{ type: 'tool_result', content: 'x' }] }] }, 'messages.0.content.0.tool_use_id: Field required'],
    [{ ...hello, messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: [{ type: 'text', text: 7 }] }] }] }, 'messages.0.content.0.content.0.text: must be a string, not a number'],
    [{ ...hello, temperature: 1.5 }, 'temperature: must be at most 1'],
    [{ ...hello, stream: 'yes' }, 'stream: must be true or false, not a string'],
    [{ ...hello, stop_sequences: 'END' }, 'stop_sequences: must be an array, not a string'],
    [{ ...hello, tools: [{ name: 'get_weather' }] }, 'tools.0.input_schema: Field required'],
    [{ ...hello, tool_choice: { type: 'sometimes' } }, 'tool_choice.type: must be'],
    [{ ...hello, tool_choice: { type: 'tool' } }, 'tool_choice.name: Field required'],
    [{ ...hello, system: 5 }, 'system: must be a string or an array of text blocks'],
  ])('rejects %j with "%s"', (body, message) => {
    const error = rejection(() => validateMessagesRequest(body));
    expect(error.status).toBe(400);
    expect(error.code).toBe('invalid_request');
    expect(error.message.startsWith(message)).toBe(true);
    expect(error.param).toBe(message.split(':')[0]);
  });

  it.each([[null], [[]], ['text'], [42]])('rejects the body %j as not an object', (body) => {
    expect(rejection(() => validateMessagesRequest(body)).message).toBe('The request body must be a JSON object.');
  });
});

describe('validateCountTokensRequest', () => {
  it('needs no max_tokens but checks the messages the same way', () => {
    const body = { model: 'smart', messages: [{ role: 'user', content: 'Hi' }] };
    expect(validateCountTokensRequest(body)).toBe(body);
    expect(rejection(() => validateCountTokensRequest({ model: 'smart', messages: [{ role: 'user', content: [{ type: 'text' }] }] })).message).toBe(
      'messages.0.content.0.text: Field required',
    );
  });
});

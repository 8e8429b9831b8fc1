import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../gateway/errors.js';
import { validateChatRequest, validateEmbeddingsRequest } from './validate.js';

/** The GatewayError thrown by `fn` (fails the test when nothing is thrown). */
function errorOf(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    return err as GatewayError;
  }
  throw new Error('expected a GatewayError, but the request was accepted');
}

const user = { role: 'user', content: 'Hello!' };

describe('validateChatRequest: valid requests', () => {
  it('returns the very same object, unknown fields and all', () => {
    const body = {
      model: 'gpt-4o-mini',
      messages: [{ role: 'developer', content: 'Be brief.' }, user],
      temperature: 0.2,
      seed: 42,
      logit_bias: { '50256': -100 },
      metadata: { team: 'search' },
      parallel_tool_calls: false,
      reasoning_effort: 'low',
      some_future_field: { nested: [1, 2, 3] },
    };
    const snapshot = structuredClone(body);
    const result = validateChatRequest(body);
    expect(result).toBe(body);
    expect(body).toEqual(snapshot);
  });

  it('accepts the full range of documented message shapes', () => {
    const body = {
      model: 'smart',
      messages: [
        { role: 'system', content: 'You are helpful.' },
        { role: 'user', content: [{ type: 'text', text: 'What is in this image?' }, { type: 'image_url', image_url: { url: 'https://example.com/cat.png', detail: 'low' } }] },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'call_Vf9lYtJ3mB2kQ8xR4nW6pZ1c', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Paris"}' } }],
          refusal: null,
        },
        { role: 'tool', tool_call_id: 'call_Vf9lYtJ3mB2kQ8xR4nW6pZ1c', content: '{"temperature_c":18}' },
        { role: 'function', name: 'legacy', content: 'ok' },
        { role: 'assistant' },
      ],
      stream: true,
      stream_options: { include_usage: true },
      n: 2,
      max_tokens: 100,
      max_completion_tokens: 200,
      top_p: 1,
      tools: [{ type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: {} }, strict: true } }],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      response_format: { type: 'json_schema', json_schema: { name: 'w', schema: { type: 'object' }, strict: true } },
      user: 'user-1234',
    };
    expect(validateChatRequest(body)).toBe(body);
  });

  it('accepts null for the optional fields SDKs send as null', () => {
    const body = {
      model: 'm',
      messages: [user],
      stream: null,
      stream_options: null,
      n: null,
      max_tokens: null,
      max_completion_tokens: null,
      temperature: null,
      top_p: null,
      tools: null,
      tool_choice: null,
      response_format: null,
    };
    expect(validateChatRequest(body)).toBe(body);
  });

  it.each(['none', 'auto', 'required'])('accepts tool_choice "%s"', (choice) => {
    const tools = [{ type: 'function', function: { name: 'f' } }];
    expect(() => validateChatRequest({ model: 'm', messages: [user], tools, tool_choice: choice })).not.toThrow();
  });

  it("accepts OpenAI's custom tools: a custom or allowed_tools tool_choice, and a custom tool's call in the history", () => {
    const custom = { type: 'custom', custom: { name: 'code_exec' } };
    for (const tool_choice of [{ type: 'custom', custom: { name: 'code_exec' } }, { type: 'allowed_tools', allowed_tools: { mode: 'auto', tools: [{ type: 'custom', custom: { name: 'code_exec' } }] } }]) {
      expect(() => validateChatRequest({ model: 'm', messages: [user], tools: [custom], tool_choice })).not.toThrow();
    }
    const history = [user, { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'custom', custom: { name: 'code_exec', input: 'print(1)' } }] }, { role: 'tool', tool_call_id: 'call_1', content: '1' }];
    expect(() => validateChatRequest({ model: 'm', messages: history, tools: [custom] })).not.toThrow();
    expect(() => validateChatRequest({ model: 'm', messages: [user, { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'custom' }] }] })).toThrow(GatewayError);
    expect(() => validateChatRequest({ model: 'm', messages: [user], tool_choice: { type: 'allowed_tools', allowed_tools: { mode: 'sometimes', tools: [] } } })).toThrow(GatewayError);
    // A function choice is of type "function": another type with a function object is none of the shapes.
    expect(() => validateChatRequest({ model: 'm', messages: [user], tool_choice: { type: 'allowed_tools', function: { name: 'f' } } })).toThrow(GatewayError);
  });

  it('accepts stop as a string or a list, a seed beyond 2^53, and tool_choice "auto" or "none" without tools', () => {
    for (const extra of [{ stop: 'END' }, { stop: ['a', 'b'] }, { stop: null }, { seed: 2 ** 63 }, { seed: -7 }, { tool_choice: 'auto' }, { tool_choice: 'none' }]) {
      const body = { model: 'm', messages: [user], ...extra };
      expect(validateChatRequest(body)).toBe(body);
    }
  });

  it('accepts the boundary values of n, temperature and top_p', () => {
    for (const extra of [{ n: 1 }, { n: 128 }, { temperature: 0 }, { temperature: 2 }, { top_p: 0 }, { top_p: 1 }]) {
      expect(() => validateChatRequest({ model: 'm', messages: [user], ...extra })).not.toThrow();
    }
  });
});

describe('validateChatRequest: invalid requests', () => {
  it.each([
    ['null', null],
    ['an array', [{ model: 'm' }]],
    ['a string', 'hello'],
    ['a number', 7],
  ])('rejects a body that is %s', (_what, body) => {
    const error = errorOf(() => validateChatRequest(body));
    expect(error.code).toBe('invalid_request');
    expect(error.status).toBe(400);
    expect(error.param).toBeNull();
    expect(error.message).toBe('The request body must be a JSON object.');
  });

  it.each([
    ['missing model', { messages: [user] }, 'model', "Invalid request: 'model' is required."],
    ['missing messages', { model: 'm' }, 'messages', "Invalid request: 'messages' is required."],
    ['empty model', { model: '', messages: [user] }, 'model', "Invalid request: 'model' must not be empty."],
    ['empty messages', { model: 'm', messages: [] }, 'messages', "Invalid request: 'messages' must contain at least one message."],
    ['an over-long model', { model: 'm'.repeat(513), messages: [user] }, 'model', "Invalid request: 'model' must be at most 512 characters."],
    ['n = 0', { model: 'm', messages: [user], n: 0 }, 'n', "Invalid request: 'n' must be at least 1."],
    ['n = 1.5', { model: 'm', messages: [user], n: 1.5 }, 'n', "Invalid request: 'n' must be an integer."],
    ['temperature as a string', { model: 'm', messages: [user], temperature: 'hot' }, 'temperature', "Invalid request: 'temperature' must be a number, not a string."],
    ['an unknown role', { model: 'm', messages: [{ role: 'robot', content: 'x' }] }, 'messages[0].role', `Invalid request: 'messages[0].role' must be one of "system", "developer", "user", "assistant", "tool", "function".`],
  ])('rejects %s', (_what, body, param, message) => {
    const error = errorOf(() => validateChatRequest(body));
    expect(error).toMatchObject({ code: 'invalid_request', status: 400, param, message, retryable: false });
  });

  it.each([
    ['a numeric model', 'model', { model: 4, messages: [user] }],
    ['messages as an object', 'messages', { model: 'm', messages: { role: 'user', content: 'hi' } }],
    ['messages as a string', 'messages', { model: 'm', messages: 'hi' }],
    ['a message that is not an object', 'messages[1]', { model: 'm', messages: [user, 'hi'] }],
    ['an unknown role', 'messages[1].role', { model: 'm', messages: [user, { role: 'superuser', content: 'x' }] }],
    ['a missing role', 'messages[0].role', { model: 'm', messages: [{ content: 'x' }] }],
    ['numeric content', 'messages[0].content', { model: 'm', messages: [{ role: 'user', content: 42 }] }],
    ['a content part without type', 'messages[0].content', { model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'a' }, { text: 'b' }] }] }],
    ['tool call arguments as an object', 'messages[0].tool_calls[0].function.arguments', { model: 'm', messages: [{ role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: { a: 1 } } }] }] }],
    ['stream as a string', 'stream', { model: 'm', messages: [user], stream: 'true' }],
    ['include_usage as a string', 'stream_options.include_usage', { model: 'm', messages: [user], stream_options: { include_usage: 'yes' } }],
    ['n = 0', 'n', { model: 'm', messages: [user], n: 0 }],
    ['n = 1.5', 'n', { model: 'm', messages: [user], n: 1.5 }],
    ['n = 129', 'n', { model: 'm', messages: [user], n: 129 }],
    ['n as a string', 'n', { model: 'm', messages: [user], n: '2' }],
    ['max_tokens = 0', 'max_tokens', { model: 'm', messages: [user], max_tokens: 0 }],
    ['max_completion_tokens = -1', 'max_completion_tokens', { model: 'm', messages: [user], max_completion_tokens: -1 }],
    ['temperature = 2.5', 'temperature', { model: 'm', messages: [user], temperature: 2.5 }],
    ['top_p = 1.1', 'top_p', { model: 'm', messages: [user], top_p: 1.1 }],
    ['tools as an object', 'tools', { model: 'm', messages: [user], tools: { type: 'function' } }],
    ['a tool with an empty function name', 'tools[0].function.name', { model: 'm', messages: [user], tools: [{ type: 'function', function: { name: '' } }] }],
    ['tool_choice "always"', 'tool_choice', { model: 'm', messages: [user], tool_choice: 'always' }],
    ['tool_choice without function name', 'tool_choice', { model: 'm', messages: [user], tool_choice: { type: 'function', function: {} } }],
    ['response_format of type "xml"', 'response_format.type', { model: 'm', messages: [user], response_format: { type: 'xml' } }],
    ['user as a number', 'user', { model: 'm', messages: [user], user: 12 }],
    ['stop as a number', 'stop', { model: 'm', messages: [user], stop: 123 }],
    ['a stop sequence that is not a string', 'stop', { model: 'm', messages: [user], stop: ['end', 7] }],
    ['seed as a string', 'seed', { model: 'm', messages: [user], seed: 'abc' }],
    ['a fractional seed', 'seed', { model: 'm', messages: [user], seed: 1.5 }],
    ['a function tool without its function', 'tools[0].function', { model: 'm', messages: [user], tools: [{ type: 'function' }] }],
    ['tool_choice "required" without tools', 'tool_choice', { model: 'm', messages: [user], tool_choice: 'required' }],
    ['a named tool_choice with an empty tools list', 'tool_choice', { model: 'm', messages: [user], tools: [], tool_choice: { type: 'function', function: { name: 'f' } } }],
  ])('rejects %s (param %s)', (_what, param, body) => {
    const error = errorOf(() => validateChatRequest(body));
    expect(error.code).toBe('invalid_request');
    expect(error.status).toBe(400);
    expect(error.param).toBe(param);
    expect(error.message.startsWith(`Invalid request: '${param}' `)).toBe(true);
  });

  it('says what a bad tool_choice must be', () => {
    const error = errorOf(() => validateChatRequest({ model: 'm', messages: [user], tool_choice: 'always' }));
    expect(error.message).toBe(
      `Invalid request: 'tool_choice' must be "none", "auto", "required", {"type": "function", "function": {"name": ...}}, {"type": "custom", "custom": {"name": ...}} or {"type": "allowed_tools", "allowed_tools": {...}}.`,
    );
  });

  it('says what message content must be', () => {
    const error = errorOf(() => validateChatRequest({ model: 'm', messages: [{ role: 'user', content: 42 }] }));
    expect(error.message).toBe("Invalid request: 'messages[0].content' must be a string, an array of content parts, or null.");
  });

  it('names the allowed roles for a bad role', () => {
    const error = errorOf(() => validateChatRequest({ model: 'm', messages: [{ role: 'superuser', content: 'x' }] }));
    for (const role of ['system', 'developer', 'user', 'assistant', 'tool']) expect(error.message).toContain(role);
  });

  it('produces an OpenAI-shaped invalid_request_error for the client', () => {
    const error = errorOf(() => validateChatRequest({ model: 'm', messages: [user], n: 0 }));
    expect(error.spec.openaiType).toBe('invalid_request_error');
  });
});

describe('validateEmbeddingsRequest', () => {
  it.each([
    ['a string', 'The food was delicious and the waiter...'],
    ['an array of strings', ['first', 'second']],
    ['a token array', [1212, 318, 257, 1332]],
    ['an array of token arrays', [[1212, 318], [257]]],
    ['2,048 strings (the most one request takes)', Array.from({ length: 2048 }, () => 'x')],
    ['one token array of 5,000 tokens (one input, however long)', Array.from({ length: 5000 }, () => 1)],
  ])('accepts input as %s and returns the same object', (_what, input) => {
    const body = { model: 'text-embedding-3-small', input, encoding_format: 'float', dimensions: 256, user: 'u', extra: true };
    expect(validateEmbeddingsRequest(body)).toBe(body);
  });

  it('takes null for its optional fields, as leaving them out (as on chat)', () => {
    const body = { model: 'e', input: 'x', encoding_format: null, dimensions: null, user: null };
    expect(validateEmbeddingsRequest(body)).toBe(body);
    expect(() => validateChatRequest({ model: 'm', messages: [user], user: null })).not.toThrow();
  });

  it.each([
    ['missing input', 'input', { model: 'e' }],
    ['an empty input list', 'input', { model: 'e', input: [] }],
    ['a list mixing strings and numbers', 'input', { model: 'e', input: ['a', 1] }],
    ['an empty token array inside a list', 'input[0]', { model: 'e', input: [[]] }],
    ['numeric input', 'input', { model: 'e', input: 5 }],
    ['an unknown encoding_format', 'encoding_format', { model: 'e', input: 'x', encoding_format: 'int8' }],
    ['dimensions = 0', 'dimensions', { model: 'e', input: 'x', dimensions: 0 }],
    ['missing model', 'model', { input: 'x' }],
    ['2,049 strings', 'input', { model: 'e', input: Array.from({ length: 2049 }, () => 'x') }],
    ['2,049 token arrays', 'input', { model: 'e', input: Array.from({ length: 2049 }, () => [1]) }],
    ['a token id that is not a whole number', 'input', { model: 'e', input: [1.5] }],
    ['a negative token id', 'input[0]', { model: 'e', input: [-1] }],
    ['a token id past 2^53', 'input[0]', { model: 'e', input: [1e300] }],
  ])('rejects %s (param %s)', (_what, param, body) => {
    const error = errorOf(() => validateEmbeddingsRequest(body));
    expect(error).toMatchObject({ code: 'invalid_request', status: 400, param });
  });
});

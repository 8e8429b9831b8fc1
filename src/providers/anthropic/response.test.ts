import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { toOpenAIErrorBody } from '../../gateway/errors.js';
import { GatewayError } from '../../gateway/errors.js';
import { finishReason, parseMessage, readErrorDetail, streamError, toChatCompletion, toUsage, upstreamHttpError } from './response.js';

const fixture = (name: string): string => readFileSync(new URL(`./__fixtures__/${name}`, import.meta.url), 'utf8');
const complete = (name: string, jsonTool = false) => toChatCompletion(parseMessage(fixture(name), 'claude'), jsonTool, 'claude');

describe('toChatCompletion: recorded Anthropic messages', () => {
  it('maps a text message: id and model from the response, usage, finish stop', () => {
    const before = Math.floor(Date.now() / 1000);
    const completion = complete('message-text.json');
    expect(completion).toMatchObject({ id: 'msg_013Zva2CMHLNnXjNJJKqJ2EF', object: 'chat.completion', model: 'claude-sonnet-4-5-20250929' });
    expect(completion.created).toBeGreaterThanOrEqual(before);
    expect(completion.choices).toEqual([{ index: 0, message: { role: 'assistant', content: 'Hi! My name is Claude.' }, finish_reason: 'stop', logprobs: null }]);
    expect(completion.usage).toEqual({ prompt_tokens: 2095, completion_tokens: 503, total_tokens: 2598, prompt_tokens_details: { cached_tokens: 0 } });
  });

  it('maps tool_use blocks to tool_calls with JSON-text arguments', () => {
    const { choices } = complete('message-tool-use.json');
    expect(choices[0]!.finish_reason).toBe('tool_calls');
    expect(choices[0]!.message).toEqual({
      role: 'assistant',
      content: "I'll check the current weather in San Francisco for you.",
      tool_calls: [
        { id: 'toolu_01A09q90qw90lq917835lq9', type: 'function', function: { name: 'get_weather', arguments: '{"location":"San Francisco, CA","unit":"celsius"}' } },
        { id: 'toolu_01B19q90qw90lq917835lq8', type: 'function', function: { name: 'get_time', arguments: '{}' } },
      ],
    });
  });

  it('exposes thinking as reasoning_content and thinking_blocks (signatures and redacted blocks kept)', () => {
    const { message } = complete('message-thinking.json').choices[0]!;
    expect(message.content).toBe('Based on my analysis...');
    expect(message.reasoning_content).toBe('Let me analyze this step by step...');
    expect(message.thinking_blocks).toEqual([
      { type: 'thinking', thinking: 'Let me analyze this step by step...', signature: 'WaUjzkypQ2mUEVM36O2TxuC06KN8xyfbJwyem2dw3URve/op91XWHOEBLLqIOMfFG/UvLEczmEsUjavL....' },
      { type: 'redacted_thinking', data: expect.stringMatching(/^EmwKAhgBEgy3va3pzix/) as unknown },
    ]);
  });

  it('counts cache reads and writes into prompt_tokens and reports them; max_tokens → length', () => {
    const completion = complete('message-cache-usage.json');
    expect(completion.choices[0]!.finish_reason).toBe('length');
    expect(completion.usage).toEqual({
      prompt_tokens: 21 + 188086 + 1200,
      completion_tokens: 10,
      total_tokens: 21 + 188086 + 1200 + 10,
      prompt_tokens_details: { cached_tokens: 1200 },
      cache_creation_input_tokens: 188086,
    });
  });

  it('returns the json_output call as the text with finish stop in JSON mode', () => {
    const completion = complete('message-json-tool.json', true);
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    expect(completion.choices[0]!.message).toEqual({ role: 'assistant', content: '{"city":"Paris","temperature_c":21,"tags":["sunny","mild"]}' });
    // Without JSON mode a tool named json_output is an ordinary tool call.
    expect(complete('message-json-tool.json', false).choices[0]!.message.tool_calls).toHaveLength(1);
  });

  it('maps a refusal to content_filter with null content', () => {
    const { choices } = complete('message-refusal.json');
    expect(choices[0]).toMatchObject({ finish_reason: 'content_filter', message: { role: 'assistant', content: null } });
  });
});

describe('finishReason and toUsage', () => {
  it.each([
    ['end_turn', false, 'stop'],
    ['stop_sequence', false, 'stop'],
    ['pause_turn', false, 'stop'],
    ['max_tokens', false, 'length'],
    ['model_context_window_exceeded', false, 'length'],
    ['tool_use', true, 'tool_calls'],
    ['tool_use', false, 'stop'],
    ['refusal', false, 'content_filter'],
    [null, false, 'stop'],
  ])('%s (tool calls: %s) → %s', (stop, hasTools, expected) => {
    expect(finishReason(stop, hasTools)).toBe(expected);
  });

  it('reads thinking tokens into completion_tokens_details and tolerates missing counts', () => {
    expect(toUsage({ input_tokens: 5, output_tokens: 9, output_tokens_details: { thinking_tokens: 4 } })).toMatchObject({ completion_tokens_details: { reasoning_tokens: 4 } });
    expect(toUsage({})).toEqual({ prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, prompt_tokens_details: { cached_tokens: 0 } });
    // One-hour cache writes cost more: their count rides along, in Anthropic's words.
    expect(toUsage({ input_tokens: 1, output_tokens: 2, cache_creation_input_tokens: 300, cache_creation: { ephemeral_5m_input_tokens: 100, ephemeral_1h_input_tokens: 200 } })).toEqual({
      prompt_tokens: 301, completion_tokens: 2, total_tokens: 303, prompt_tokens_details: { cached_tokens: 0 }, cache_creation_input_tokens: 300,
      cache_creation: { ephemeral_5m_input_tokens: 100, ephemeral_1h_input_tokens: 200 },
    });
    expect(toUsage({ input_tokens: 1, output_tokens: 2, cache_creation_input_tokens: 300, cache_creation: { ephemeral_5m_input_tokens: 300, ephemeral_1h_input_tokens: 0 } })).not.toHaveProperty('cache_creation');
  });
});

describe('parseMessage and toChatCompletion: bad upstream data', () => {
  it.each([
    ['not JSON', '<html>oops</html>', 'not valid JSON'],
    ['no content array', '{"type":"message","content":"hi"}', 'not an Anthropic message'],
    ['an array', '[]', 'not an Anthropic message'],
    // A native /v1/messages answer is passed on, but the gateway reads its blocks' types first.
    ['a null content block', '{"type":"message","role":"assistant","content":[null],"usage":{"input_tokens":1,"output_tokens":1}}', 'a malformed content block'],
    ['a block without a type', '{"type":"message","role":"assistant","content":[{"text":"hi"}]}', 'a malformed content block'],
    ['tool input nested 5,000 levels', `{"type":"message","content":[{"type":"tool_use","id":"t","name":"f","input":{"a":${'['.repeat(5000)}${']'.repeat(5000)}}}]}`, 'nested deeper than 512 levels'],
  ])('%s → 502 upstream_error', (_name, text, message) => {
    const err = (() => {
      try {
        parseMessage(text, 'claude');
      } catch (e) {
        return e as GatewayError;
      }
      throw new Error('expected a failure');
    })();
    expect([err.code, err.status, err.retryable]).toEqual(['upstream_error', 502, true]);
    expect(err.message).toContain(message);
  });

  it.each([
    ['a non-object block', [42]],
    ['a text block without text', [{ type: 'text' }]],
    ['a tool_use block without id', [{ type: 'tool_use', name: 'f', input: {} }]],
  ])('rejects %s with a 502', (_name, content) => {
    expect(() => toChatCompletion({ id: 'm', type: 'message', role: 'assistant', model: 'x', content, stop_reason: 'end_turn', stop_sequence: null } as never, false, 'claude')).toThrow(GatewayError);
  });

  it('skips block types OpenAI cannot carry and survives a missing usage', () => {
    const completion = toChatCompletion(
      { id: 'm', type: 'message', role: 'assistant', model: 'x', content: [{ type: 'server_tool_use', id: 's', name: 'web_search', input: {} }, { type: 'text', text: 'ok' }], stop_reason: 'end_turn' } as never,
      false,
      'claude',
    );
    expect(completion.choices[0]!.message).toEqual({ role: 'assistant', content: 'ok' });
    expect(completion.usage).toBeUndefined();
  });
});

describe('upstream errors', () => {
  const httpError = (status: number, name: string, headers: Record<string, string> = {}) => upstreamHttpError(status, fixture(name), headers, 'claude');

  it('passes a 400 through with Anthropic\'s message and type', () => {
    const err = httpError(400, 'error-400-invalid-request.json');
    expect([err.code, err.status, err.retryable, err.upstreamType]).toEqual(['upstream_client_error', 400, false, 'invalid_request_error']);
    expect(err.message).toBe('messages: roles must alternate between "user" and "assistant", but found multiple "user" roles in a row');
  });

  it('keeps 404 and 413 statuses', () => {
    expect(httpError(404, 'error-404-not-found.json').status).toBe(404);
    expect(httpError(413, 'error-413-request-too-large.json').status).toBe(413);
  });

  it('turns 401 / 403 into a retryable 502 that names the credential problem', () => {
    for (const [status, name] of [[401, 'error-401-authentication.json'], [403, 'error-403-permission.json']] as const) {
      const err = httpError(status, name);
      expect([err.code, err.status, err.retryable]).toEqual(['upstream_error', 502, true]);
      expect(err.message).toContain(`HTTP ${status}`);
    }
  });

  it('keeps retry-after on 429', () => {
    const err = httpError(429, 'error-429-rate-limit.json', { 'retry-after': '7' });
    expect([err.code, err.status, err.retryable, err.retryAfterMs]).toEqual(['upstream_rate_limited', 429, true, 7000]);
  });

  it('makes 500 and 529 retryable 502s carrying the detail', () => {
    for (const [status, name, text] of [[500, 'error-500-api-error.json', 'Internal server error'], [529, 'error-529-overloaded.json', 'Overloaded']] as const) {
      const err = httpError(status, name);
      expect([err.code, err.status, err.retryable]).toEqual(['upstream_error', 502, true]);
      expect(err.message).toBe(`The upstream provider "claude" failed with HTTP ${status}: ${text}`);
    }
  });

  it('reads the detail leniently: plain text kept, HTML and odd shapes dropped', () => {
    expect(readErrorDetail('upstream connect error')).toEqual({ message: 'upstream connect error' });
    expect(readErrorDetail('<html>502</html>')).toEqual({});
    expect(readErrorDetail('{"error":"x"}')).toEqual({});
    expect(readErrorDetail('{"type":"error","error":{"type":"overloaded_error","message":""}}')).toEqual({ type: 'overloaded_error' });
  });

  it('classifies in-stream error events: server-side retryable, client-side keeps its status', () => {
    const overloaded = streamError({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, 'claude');
    expect([overloaded.code, overloaded.status, overloaded.retryable]).toEqual(['upstream_error', 502, true]);
    expect(overloaded.message).toBe('The upstream provider "claude" failed mid-stream (overloaded_error: Overloaded).');
    // The error event that ends an OpenAI-format stream carries the provider's own type.
    expect(toOpenAIErrorBody(overloaded, 'stream').error.type).toBe('overloaded_error');
    const limited = streamError({ type: 'error', error: { type: 'rate_limit_error', message: 'slow down' } }, 'claude');
    expect([limited.code, limited.status, limited.retryable]).toEqual(['upstream_rate_limited', 429, true]);
    const invalid = streamError({ type: 'error', error: { type: 'invalid_request_error', message: 'bad' } }, 'claude');
    expect([invalid.status, invalid.retryable]).toEqual([400, false]);
    expect(streamError({ type: 'error' }, 'claude').message).toBe('The upstream provider "claude" failed mid-stream.');
  });
});

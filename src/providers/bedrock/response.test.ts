import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../gateway/errors.js';
import { bedrockHttpError, finishReason, mapUsage, parseConverseResponse, type ResponseContext } from './response.js';

function fixture(name: string): string {
  return readFileSync(new URL(`./__fixtures__/${name}`, import.meta.url), 'utf8');
}

interface ErrorFixture {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}
const ERRORS = JSON.parse(fixture('errors.json')) as Record<string, ErrorFixture>;

function httpError(name: string): GatewayError {
  const { status, headers, body } = ERRORS[name]!;
  return bedrockHttpError(status, typeof body === 'string' ? body : JSON.stringify(body), headers, 'aws');
}

const CTX: ResponseContext = { provider: 'aws', model: 'anthropic.claude-3-5-sonnet-20241022-v2:0', id: 'chatcmpl-req-1', jsonTool: undefined };

describe('parseConverseResponse', () => {
  it('maps a text answer, its stop reason and usage', () => {
    const completion = parseConverseResponse(fixture('converse-text.json'), CTX);
    expect(completion).toMatchObject({ id: 'chatcmpl-req-1', object: 'chat.completion', model: CTX.model });
    expect(completion.choices).toEqual([{ index: 0, message: { role: 'assistant', content: 'Hello! How can I help you today?' }, finish_reason: 'stop', logprobs: null }]);
    expect(completion.usage).toEqual({ prompt_tokens: 12, completion_tokens: 10, total_tokens: 22, prompt_tokens_details: { cached_tokens: 0 } });
  });

  it('maps tool use to tool_calls with the input as JSON arguments', () => {
    const { choices } = parseConverseResponse(fixture('converse-tool-use.json'), CTX);
    expect(choices[0]!.finish_reason).toBe('tool_calls');
    expect(choices[0]!.message.content).toBe("I'll check the weather in Paris for you.");
    expect(choices[0]!.message.tool_calls).toEqual([{ id: 'tooluse_kZJMlvQmRJ6eAyJE5GIl7Q', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris","unit":"celsius"}' } }]);
  });

  it('maps reasoning to reasoning_content and a signed thinking block', () => {
    const { message } = parseConverseResponse(fixture('converse-reasoning.json'), CTX).choices[0]!;
    expect(message.content).toBe('17 × 23 = 391.');
    expect(message.reasoning_content).toBe('The user asks for 17 * 23. 17 * 20 = 340 and 17 * 3 = 51, so 391.');
    expect(message.thinking_blocks).toEqual([{ type: 'thinking', thinking: message.reasoning_content, signature: expect.stringMatching(/^ErUBCkYI/) as unknown }]);
  });

  it('counts cache reads and writes into prompt_tokens and reports them apart', () => {
    expect(parseConverseResponse(fixture('converse-cache.json'), CTX).usage).toEqual({
      prompt_tokens: 18 + 1280 + 256,
      completion_tokens: 42,
      total_tokens: 1596,
      prompt_tokens_details: { cached_tokens: 1280 },
      cache_creation_input_tokens: 256,
    });
  });

  it('maps a guardrail intervention to content_filter', () => {
    expect(parseConverseResponse(fixture('converse-guardrail.json'), CTX).choices[0]!.finish_reason).toBe('content_filter');
  });

  it('turns the forced JSON tool back into the message text, finishing with stop', () => {
    const { message, finish_reason } = parseConverseResponse(fixture('converse-json-tool.json'), { ...CTX, jsonTool: 'json_response' }).choices[0]!;
    expect(message.content).toBe('{"name":"Ada Lovelace","born":1815}');
    expect(message.tool_calls).toBeUndefined();
    expect(finish_reason).toBe('stop');
  });

  it.each([
    ['not JSON', '<html>oops</html>'],
    ['no output', '{"stopReason":"end_turn"}'],
    ['content not a list', '{"output":{"message":{"role":"assistant","content":"hi"}}}'],
    ['tool use without id', '{"output":{"message":{"role":"assistant","content":[{"toolUse":{"name":"f","input":{}}}]}},"stopReason":"tool_use"}'],
  ])('turns a broken body (%s) into a 502', (_name, body) => {
    const error = (() => {
      try {
        parseConverseResponse(body, CTX);
      } catch (err) {
        return err;
      }
    })();
    expect(error).toBeInstanceOf(GatewayError);
    expect(error).toMatchObject({ code: 'upstream_error', status: 502 });
  });
});

describe('finishReason and mapUsage', () => {
  it.each([
    ['end_turn', false, 'stop'],
    ['stop_sequence', false, 'stop'],
    ['max_tokens', false, 'length'],
    ['model_context_window_exceeded', false, 'length'],
    ['tool_use', true, 'tool_calls'],
    ['tool_use', false, 'stop'],
    ['guardrail_intervened', false, 'content_filter'],
    ['content_filtered', false, 'content_filter'],
    ['something_new', false, 'stop'],
  ] as const)('%s (tools called: %s) → %s', (reason, called, expected) => {
    expect(finishReason(reason, called)).toBe(expected);
  });

  it('reads missing or garbage counts as 0 and a missing usage as none', () => {
    expect(mapUsage({ inputTokens: 'x', outputTokens: -3 })).toEqual({ prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, prompt_tokens_details: { cached_tokens: 0 } });
    expect(mapUsage(undefined)).toBeUndefined();
  });
});

describe('parseConverseResponse with the JSON tool', () => {
  const json = { ...CTX, jsonTool: 'json_response' };
  const body = (content: unknown[]) => JSON.stringify({ output: { message: { role: 'assistant', content } }, stopReason: 'tool_use', usage: { inputTokens: 5, outputTokens: 7, totalTokens: 12 } });

  it("answers with the tool's input alone: text before the call is the model's preamble", () => {
    const completion = parseConverseResponse(body([{ text: 'Here you go:' }, { toolUse: { toolUseId: 't1', name: 'json_response', input: { answer: '42' } } }]), json);
    expect(completion.choices[0]).toMatchObject({ message: { role: 'assistant', content: '{"answer":"42"}' }, finish_reason: 'stop' });
  });

  it('answers with the text when the model did not call the tool (thinking offers it without forcing it)', () => {
    const completion = parseConverseResponse(JSON.stringify({ output: { message: { role: 'assistant', content: [{ text: '{"answer": "42"}' }] } }, stopReason: 'end_turn' }), json);
    expect(completion.choices[0]!.message.content).toBe('{"answer": "42"}');
  });
});

describe('bedrockHttpError', () => {
  it('passes a ValidationException on as a 400 with its message and type (without the namespace suffix)', () => {
    const error = httpError('validation');
    expect(error).toMatchObject({ code: 'upstream_client_error', status: 400, retryable: false, upstreamType: 'ValidationException' });
    expect(error.message).toBe('A conversation must start with a user message. Try again with a conversation that starts with a user message.');
  });

  it.each(['invalid-signature', 'unrecognized-client', 'access-denied'])('turns a 403 (%s) into the retryable credentials 502', (name) => {
    const error = httpError(name);
    expect(error).toMatchObject({ code: 'upstream_error', status: 502, retryable: true });
    expect(error.message).toContain('refused the gateway\'s credentials');
  });

  it('makes a 424 ModelErrorException (the model failed while processing) a retryable 502', () => {
    const error = bedrockHttpError(424, JSON.stringify({ message: 'The model encountered an error while processing the request.' }), { 'x-amzn-errortype': 'ModelErrorException:http://internal.amazon.com/coral/com.amazon.bedrock/' }, 'aws');
    expect(error).toMatchObject({ code: 'upstream_error', status: 502, retryable: true });
    expect(error.message).toBe('The upstream provider "aws" failed with HTTP 424 (ModelErrorException): The model encountered an error while processing the request.');
  });

  it('keeps the 404 of an unknown model, and retries throttling (429) and timeouts (408)', () => {
    expect(httpError('not-found')).toMatchObject({ code: 'upstream_client_error', status: 404, retryable: false, upstreamType: 'ResourceNotFoundException' });
    expect(httpError('throttling')).toMatchObject({ code: 'upstream_rate_limited', status: 429, retryable: true, message: 'Too many requests, please wait before trying again.' });
    expect(httpError('model-not-ready')).toMatchObject({ code: 'upstream_rate_limited', retryable: true });
    expect(httpError('model-timeout')).toMatchObject({ status: 408, retryable: true });
  });

  it('turns 5xx into a retryable 502 naming the provider and the upstream message', () => {
    for (const name of ['internal-server', 'service-unavailable']) {
      const error = httpError(name);
      expect(error).toMatchObject({ code: 'upstream_error', status: 502, retryable: true });
      expect(error.message).toContain('"aws"');
    }
    expect(httpError('service-unavailable').message).toContain('Bedrock is unable to process your request.');
  });

  it('does not show a proxy\'s HTML page', () => {
    const error = httpError('gateway-html');
    expect(error.status).toBe(502);
    expect(error.message).not.toContain('<');
  });

  it('makes a ServiceQuotaExceededException (sent as a 400) a retryable 429, like throttling', () => {
    const error = bedrockHttpError(400, JSON.stringify({ message: 'Your request exceeds the service quota for your account. You can resubmit your request later.' }), { 'x-amzn-errortype': 'ServiceQuotaExceededException:http://internal.amazon.com/coral/com.amazon.bedrock/' }, 'aws');
    expect(error).toMatchObject({ code: 'upstream_rate_limited', status: 429, retryable: true, message: 'Your request exceeds the service quota for your account. You can resubmit your request later.' });
  });

  it('reads the type from a namespaced __type when the header is missing', () => {
    const error = bedrockHttpError(400, '{"__type":"com.amazon.coral.validate#ValidationException","Message":"bad input"}', {}, 'aws');
    expect(error).toMatchObject({ upstreamType: 'ValidationException', message: 'bad input' });
  });
});

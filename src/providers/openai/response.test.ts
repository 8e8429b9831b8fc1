import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { GatewayError, toOpenAIErrorBody } from '../../gateway/errors.js';
import type { ChatCompletion } from '../../gateway/types.js';
import { parseJsonBody, streamError, upstreamHttpError } from './response.js';

const fixture = (name: string): string => readFileSync(new URL(`./__fixtures__/${name}`, import.meta.url), 'utf8');

describe('parseJsonBody', () => {
  it('returns a recorded chat.completion unchanged, every field kept', () => {
    const text = fixture('chat-completion.json');
    const completion = parseJsonBody<ChatCompletion>(text, 'openai', 'choices');
    expect(completion).toEqual(JSON.parse(text));
    expect(completion.choices[0]!.message.content).toBe('Bonjour ! こんにちは 👋 Ça va ?');
    expect(completion.usage).toMatchObject({ prompt_tokens: 19, completion_tokens: 12, total_tokens: 31 });
    expect(completion.system_fingerprint).toBe('fp_34a54ae93c');
    expect(completion.service_tier).toBe('default');
  });

  it('keeps tool calls of a recorded tool-call completion', () => {
    const completion = parseJsonBody<ChatCompletion>(fixture('chat-completion-tool-calls.json'), 'openai', 'choices');
    expect(completion.choices[0]!.finish_reason).toBe('tool_calls');
    const call = completion.choices[0]!.message.tool_calls![0]!;
    expect(call.id).toBe('call_Qm3vX8kTzR1pL6nY4wJ2sB9d');
    expect(JSON.parse(call.function.arguments)).toEqual({ location: 'Paris, France', unit: 'celsius' });
  });

  const failure = (text: string, list: 'choices' | 'data'): unknown => {
    try {
      parseJsonBody(text, 'vllm', list);
    } catch (err) {
      return err;
    }
    return undefined;
  };

  it.each([
    ['an HTML page', fixture('error-502-bad-gateway.html')],
    ['truncated JSON', fixture('chat-completion.json').slice(0, 200)],
    ['an empty body', ''],
  ])('rejects %s as a retryable upstream_error (502)', (_what, text) => {
    const error = failure(text, 'choices');
    expect(error).toBeInstanceOf(GatewayError);
    expect(error).toMatchObject({ code: 'upstream_error', status: 502, retryable: true, provider: 'vllm' });
    expect((error as Error).message).toBe('The upstream provider "vllm" returned a response that is not valid JSON.');
  });

  it.each([
    ['JSON null', 'null'],
    ['a JSON string', '"ok"'],
    ['a JSON number', '200'],
    ['an array', '[]'],
    ['an object without choices', '{"foo": 1}'],
    ['choices that are not a list', '{"object": "chat.completion", "choices": null}'],
  ])('rejects %s, valid JSON but no chat completion, as a retryable upstream_error (502)', (_what, text) => {
    const error = failure(text, 'choices');
    expect(error).toMatchObject({ code: 'upstream_error', status: 502, retryable: true, provider: 'vllm' });
    expect((error as Error).message).toBe('The upstream provider "vllm" returned JSON that is not a chat completion (no "choices" array).');
  });

  it.each([
    ['an error object', '{"error": {"message": "model is overloaded", "type": "server_error"}}'],
    ['an error string', '{"error": "model is overloaded"}'],
  ])("passes on the message of a 200 that carries %s instead of an answer, as a retryable upstream_error", (_what, text) => {
    const error = failure(text, 'choices');
    expect(error).toMatchObject({ code: 'upstream_error', status: 502, retryable: true, provider: 'vllm' });
    expect((error as Error).message).toBe('The upstream provider "vllm" answered 200 with an error: model is overloaded');
  });

  it.each([
    ['null, number and string choices', '{"choices": [null, 5, "x"]}'],
    ['a message that is a string', '{"choices": [{"index": 0, "message": "hello", "finish_reason": "stop"}]}'],
  ])('rejects %s as a retryable upstream_error (502), not a crash further on', (_what, text) => {
    expect(failure(text, 'choices')).toMatchObject({
      code: 'upstream_error',
      retryable: true,
      message: 'The upstream provider "vllm" returned a chat completion whose choices are not all objects with a message.',
    });
  });

  it.each([
    ['null', '[null]'],
    ['a number', '5'],
    ['a call whose function is a string', '[{"id": "c", "type": "function", "function": "f"}]'],
  ])('rejects tool_calls of %s as a retryable upstream_error (502), not a crash further on', (_what, calls) => {
    expect(failure(`{"choices": [{"index": 0, "message": {"role": "assistant", "content": null, "tool_calls": ${calls}}, "finish_reason": "tool_calls"}]}`, 'choices')).toMatchObject({
      code: 'upstream_error',
      retryable: true,
      message: 'The upstream provider "vllm" returned a chat completion whose tool_calls are not a list of objects.',
    });
  });

  it('rejects JSON nested deeper than any answer (5,000 levels: encoding it again would overflow the stack) as unreadable', () => {
    const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    const text = `{"choices": [{"index": 0, "message": {"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": {"a": ${deep}}}}]}}]}`;
    expect(failure(text, 'choices')).toMatchObject({ code: 'upstream_error', retryable: true, message: 'The upstream provider "vllm" returned JSON nested deeper than 512 levels.' });
  });

  it('gives a choice without a message (a filtered answer from some servers) an empty assistant message', () => {
    const completion = parseJsonBody<ChatCompletion>('{"choices": [{"index": 0, "finish_reason": "content_filter"}]}', 'vllm', 'choices');
    expect(completion.choices[0]!.message).toEqual({ role: 'assistant', content: null });
  });

  it('asks an embeddings answer for its data list', () => {
    expect(failure('{"object": "list", "data": [], "model": "m"}', 'data')).toBeUndefined();
    expect(failure(fixture('chat-completion.json'), 'data')).toMatchObject({ code: 'upstream_error', message: 'The upstream provider "vllm" returned JSON that is not an embeddings list (no "data" array).' });
  });
});

describe('upstreamHttpError: client errors (4xx)', () => {
  it('400: keeps the status, the upstream message, param, type and code; not retryable', () => {
    const error = upstreamHttpError(400, fixture('error-400-invalid-value.json'), {}, 'openai');
    expect(error).toMatchObject({
      code: 'upstream_client_error',
      status: 400,
      retryable: false,
      param: 'messages[0].role',
      upstreamType: 'invalid_request_error',
      upstreamCode: 'invalid_value',
      provider: 'openai',
    });
    expect(error.message).toBe("Invalid value: 'superuser'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.");
    // What the client sees is OpenAI's own error, as if it had called OpenAI directly.
    expect(toOpenAIErrorBody(error)).toEqual(JSON.parse(fixture('error-400-invalid-value.json')));
  });

  it("401: the gateway's provider key is wrong, not the client's: a retryable 502 that reveals no part of the key", () => {
    const error = upstreamHttpError(401, fixture('error-401-invalid-api-key.json'), {}, 'openai');
    expect(error).toMatchObject({ code: 'upstream_error', status: 502, retryable: true, provider: 'openai' });
    // The provider's `invalid_api_key` is not passed on: the client would take it for its own key's.
    expect(toOpenAIErrorBody(error).error).toMatchObject({ type: 'api_error', code: 'upstream_error' });
    expect(error.message).toBe(
      'The upstream provider "openai" refused the gateway\'s credentials (HTTP 401): Incorrect API key provided: [redacted]. You can find your API key at https://platform.openai.com/account/api-keys. Check this provider\'s credentials (api_key) in the gateway configuration.',
    );
    expect(error.message).not.toMatch(/sk-|2aQA/);
  });

  it('403: also a credentials problem of the gateway (502, retryable)', () => {
    const error = upstreamHttpError(403, '{"error":{"message":"Project does not have access to model gpt-4o","type":"invalid_request_error","code":"model_not_found"}}', {}, 'openai');
    expect(error).toMatchObject({ code: 'upstream_error', status: 502, retryable: true });
    expect(error.message).toContain('Project does not have access to model gpt-4o');
  });

  it('404: keeps status 404 and model_not_found', () => {
    const error = upstreamHttpError(404, fixture('error-404-model-not-found.json'), {}, 'openai');
    expect(error).toMatchObject({ code: 'upstream_client_error', status: 404, retryable: false, upstreamCode: 'model_not_found' });
    expect(error.message).toBe('The model `gpt-5-turbo` does not exist or you do not have access to it.');
  });

  it.each([408, 409])('%d: retryable, status kept', (status) => {
    const error = upstreamHttpError(status, '', {}, 'openai');
    expect(error).toMatchObject({ code: 'upstream_client_error', status, retryable: true });
    expect(error.message).toBe(`The upstream provider "openai" rejected the request (HTTP ${status}).`);
  });

  it.each([413, 422])('%d: not retryable, status kept', (status) => {
    expect(upstreamHttpError(status, '{}', {}, 'openai')).toMatchObject({ code: 'upstream_client_error', status, retryable: false });
  });

  it('uses a short plain-text body as the message', () => {
    const error = upstreamHttpError(400, 'model "llama3" not found, try pulling it first\n', {}, 'ollama');
    expect(error.message).toBe('model "llama3" not found, try pulling it first');
  });

  it('reads `{"error": "text"}` and `{"message": ...}` bodies of compatible servers', () => {
    expect(upstreamHttpError(400, '{"error":"max_tokens must be at least 1"}', {}, 'x').message).toBe('max_tokens must be at least 1');
    expect(upstreamHttpError(400, '{"object":"error","message":"This model\'s maximum context length is 8192 tokens.","type":"BadRequestError","code":400}', {}, 'vllm').message).toBe(
      "This model's maximum context length is 8192 tokens.",
    );
  });

  it("reads FastAPI's detail bodies: a text, or the first validation problem with where it is", () => {
    expect(upstreamHttpError(400, '{"detail":"Model qwen-7b is not loaded"}', {}, 'local').message).toBe('Model qwen-7b is not loaded');
    const validation = '{"detail":[{"type":"greater_than_equal","loc":["body","max_tokens"],"msg":"Input should be greater than or equal to 1","input":0}]}';
    expect(upstreamHttpError(422, validation, {}, 'local').message).toBe('max_tokens: Input should be greater than or equal to 1');
    expect(upstreamHttpError(422, '{"detail":[{"foo":1}]}', {}, 'local').message).toBe('The upstream provider "local" rejected the request (HTTP 422).');
  });

  it('does not pass an HTML or oversized body on as the message', () => {
    const html = upstreamHttpError(413, '<html><head><title>413 Request Entity Too Large</title></head><body>nginx</body></html>', {}, 'local');
    expect(html.message).toBe('The upstream provider "local" rejected the request (HTTP 413).');
    const long = upstreamHttpError(400, 'x'.repeat(301), {}, 'local');
    expect(long.message).toBe('The upstream provider "local" rejected the request (HTTP 400).');
  });
});

describe('upstreamHttpError: rate limits (429)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('is a retryable upstream_rate_limited 429 with the upstream message, type and code', () => {
    const error = upstreamHttpError(429, fixture('error-429-rate-limit.json'), { 'retry-after': '1' }, 'openai');
    expect(error).toMatchObject({
      code: 'upstream_rate_limited',
      status: 429,
      retryable: true,
      retryAfterMs: 1000,
      upstreamType: 'requests',
      upstreamCode: 'rate_limit_exceeded',
    });
    expect(error.message).toMatch(/^Rate limit reached for gpt-4o-mini/);
  });

  it('prefers retry-after-ms (OpenAI) over retry-after', () => {
    expect(upstreamHttpError(429, '', { 'retry-after-ms': '120', 'retry-after': '1' }, 'openai').retryAfterMs).toBe(120);
    expect(upstreamHttpError(429, '', { 'retry-after-ms': '0' }, 'openai').retryAfterMs).toBe(0);
  });

  it('reads retry-after in (fractional) seconds', () => {
    expect(upstreamHttpError(429, '', { 'retry-after': '20' }, 'openai').retryAfterMs).toBe(20_000);
    expect(upstreamHttpError(429, '', { 'retry-after': '0.5' }, 'openai').retryAfterMs).toBe(500);
  });

  it('reads retry-after as an HTTP date', () => {
    vi.useFakeTimers({ now: new Date('2025-07-28T12:00:00Z') });
    expect(upstreamHttpError(429, '', { 'retry-after': 'Mon, 28 Jul 2025 12:00:30 GMT' }, 'openai').retryAfterMs).toBe(30_000);
    expect(upstreamHttpError(429, '', { 'retry-after': 'Mon, 28 Jul 2025 11:59:00 GMT' }, 'openai').retryAfterMs).toBe(0);
  });

  it('uses the first value of a repeated header', () => {
    expect(upstreamHttpError(429, '', { 'retry-after': ['3', '9'] }, 'openai').retryAfterMs).toBe(3000);
  });

  it('has no retryAfterMs without a usable header', () => {
    expect(upstreamHttpError(429, '', {}, 'openai').retryAfterMs).toBeUndefined();
    expect(upstreamHttpError(429, '', { 'retry-after': 'soon' }, 'openai').retryAfterMs).toBeUndefined();
    expect(upstreamHttpError(429, '', { 'retry-after-ms': 'soon' }, 'openai').retryAfterMs).toBeUndefined();
  });

  it('treats insufficient_quota like any 429 and keeps its code', () => {
    const error = upstreamHttpError(429, fixture('error-429-insufficient-quota.json'), {}, 'openai');
    expect(error).toMatchObject({ code: 'upstream_rate_limited', status: 429, upstreamCode: 'insufficient_quota', upstreamType: 'insufficient_quota' });
  });

  it('has a message of its own when the body has none', () => {
    expect(upstreamHttpError(429, '', {}, 'groq').message).toBe('The upstream provider "groq" is rate limiting requests.');
  });
});

describe('upstreamHttpError: server errors (5xx, 529)', () => {
  it('500: a retryable upstream_error answered as 502, with the upstream message appended', () => {
    const error = upstreamHttpError(500, fixture('error-500-server-error.json'), {}, 'openai');
    expect(error).toMatchObject({ code: 'upstream_error', status: 502, retryable: true, provider: 'openai', param: null });
    expect(error.message).toBe('The upstream provider "openai" failed with HTTP 500: The server had an error while processing your request. Sorry about that!');
  });

  it('503: retryable and keeps its Retry-After', () => {
    const error = upstreamHttpError(503, fixture('error-503-overloaded.json'), { 'retry-after': '2' }, 'openai');
    expect(error).toMatchObject({ code: 'upstream_error', status: 502, retryable: true, retryAfterMs: 2000 });
    expect(error.message).toContain('HTTP 503: The engine is currently overloaded');
  });

  it('529 (overloaded, Anthropic-style body): retryable upstream_error', () => {
    const error = upstreamHttpError(529, fixture('error-529-overloaded.json'), {}, 'anthropic-compat');
    expect(error).toMatchObject({ code: 'upstream_error', status: 502, retryable: true });
    expect(error.message).toBe('The upstream provider "anthropic-compat" failed with HTTP 529: Overloaded');
  });

  it('502 with an HTML page: the page does not leak into the message', () => {
    const error = upstreamHttpError(502, fixture('error-502-bad-gateway.html'), {}, 'openai');
    expect(error).toMatchObject({ code: 'upstream_error', status: 502, retryable: true });
    expect(error.message).toBe('The upstream provider "openai" failed with HTTP 502.');
  });

  it.each([501, 504, 599])('%d: retryable upstream_error', (status) => {
    expect(upstreamHttpError(status, '', {}, 'p')).toMatchObject({ code: 'upstream_error', status: 502, retryable: true });
  });

  it('does not take type/code of a 5xx body as the client-facing type', () => {
    const error = upstreamHttpError(500, fixture('error-500-server-error.json'), {}, 'openai');
    expect(toOpenAIErrorBody(error).error).toMatchObject({ type: 'api_error', code: 'upstream_error' });
  });
});

describe('streamError', () => {
  it('turns an in-stream error object into a retryable upstream_error with the upstream type', () => {
    const error = streamError({ error: { message: 'boom', type: 'server_error', code: null, param: null } }, 'openai');
    expect(error).toMatchObject({ code: 'upstream_error', status: 502, retryable: true, upstreamType: 'server_error', upstreamCode: undefined });
    expect(error.message).toBe('The upstream provider "openai" failed mid-stream: boom');
  });

  it('reads numeric codes and string errors', () => {
    expect(streamError({ error: { message: 'x', code: 500 } }, 'p').upstreamCode).toBe('500');
    expect(streamError({ error: 'Internal error' }, 'p').message).toBe('The upstream provider "p" failed mid-stream: Internal error');
  });
});

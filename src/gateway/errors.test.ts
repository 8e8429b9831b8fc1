import { describe, expect, it } from 'vitest';
import { ERROR_CODES, GatewayError, asGatewayError, isGatewayError, toAnthropicErrorBody, toOpenAIErrorBody, type ErrorCode } from './errors.js';

describe('ERROR_CODES', () => {
  // The statuses DESIGN.md §4 promises clients.
  it.each<[ErrorCode, number]>([
    ['invalid_json', 400],
    ['invalid_encoding', 400],
    ['invalid_request', 400],
    ['invalid_http', 400],
    ['invalid_api_key', 401],
    ['model_not_allowed', 403],
    ['model_not_found', 404],
    ['route_not_found', 404],
    ['request_timeout', 408],
    ['request_too_large', 413],
    ['expectation_failed', 417],
    ['headers_too_large', 431],
    ['rate_limit_exceeded', 429],
    ['upstream_rate_limited', 429],
    ['upstream_error', 502],
    ['upstream_timeout', 504],
    ['internal_error', 500],
  ])('%s → HTTP %d', (code, status) => {
    expect(ERROR_CODES[code].status).toBe(status);
    expect(new GatewayError(code, 'x').status).toBe(status);
  });

  it('makes only upstream failures retryable', () => {
    const retryable = Object.entries(ERROR_CODES)
      .filter(([, spec]) => spec.retryable)
      .map(([code]) => code)
      .sort();
    expect(retryable).toEqual(['upstream_error', 'upstream_rate_limited', 'upstream_timeout']);
  });

  it("uses types from OpenAI's and Anthropic's documented error vocabularies", () => {
    // insufficient_quota: OpenAI's 429 for a spent quota (the gateway's budget_exceeded).
    const openai = new Set(['invalid_request_error', 'authentication_error', 'permission_error', 'rate_limit_error', 'insufficient_quota', 'api_error', 'timeout_error']);
    const anthropic = new Set([
      'invalid_request_error',
      'authentication_error',
      'permission_error',
      'not_found_error',
      'request_too_large',
      'rate_limit_error',
      'api_error',
      'overloaded_error',
      'timeout_error',
    ]);
    for (const [code, spec] of Object.entries(ERROR_CODES)) {
      expect(openai.has(spec.openaiType), `${code}: ${spec.openaiType}`).toBe(true);
      expect(anthropic.has(spec.anthropicType), `${code}: ${spec.anthropicType}`).toBe(true);
    }
    expect(ERROR_CODES.invalid_api_key.anthropicType).toBe('authentication_error');
    expect(ERROR_CODES.model_not_found.anthropicType).toBe('not_found_error');
    expect(ERROR_CODES.request_too_large.anthropicType).toBe('request_too_large');
    expect(ERROR_CODES.rate_limit_exceeded.anthropicType).toBe('rate_limit_error');
  });
});

describe('GatewayError', () => {
  it('takes status and retryability from the table unless overridden where it is built', () => {
    const plain = new GatewayError('upstream_client_error', 'bad');
    expect(plain).toMatchObject({ status: 400, retryable: false, param: null, retryAfterMs: undefined });
    const overridden = new GatewayError('upstream_client_error', 'conflict', { status: 409, retryable: true, retryAfterMs: 250, provider: 'openai' });
    expect(overridden).toMatchObject({ code: 'upstream_client_error', status: 409, retryable: true, retryAfterMs: 250, provider: 'openai' });
    expect(overridden.spec).toBe(ERROR_CODES.upstream_client_error);
  });

  it('is an Error with a name, message and optional cause', () => {
    const cause = new Error('root');
    const error = new GatewayError('upstream_error', 'failed', { cause });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('GatewayError');
    expect(error.message).toBe('failed');
    expect(error.cause).toBe(cause);
    expect('cause' in new GatewayError('upstream_error', 'no cause')).toBe(false);
    expect(isGatewayError(error)).toBe(true);
    expect(isGatewayError(cause)).toBe(false);
  });
});

describe('toOpenAIErrorBody', () => {
  it('has exactly OpenAI\'s shape: {"error": {"message", "type", "param", "code"}}', () => {
    const body = toOpenAIErrorBody(new GatewayError('model_not_found', 'The model "gpt-5" does not exist on this gateway.', { param: 'model' }));
    expect(body).toEqual({ error: { message: 'The model "gpt-5" does not exist on this gateway.', type: 'invalid_request_error', param: 'model', code: 'model_not_found' } });
    expect(Object.keys(body.error)).toEqual(['message', 'type', 'param', 'code']);
  });

  it('uses param null when no field is at fault', () => {
    expect(toOpenAIErrorBody(new GatewayError('invalid_api_key', 'Invalid API key.')).error).toEqual({
      message: 'Invalid API key.',
      type: 'authentication_error',
      param: null,
      code: 'invalid_api_key',
    });
  });

  it("passes on the upstream's own type and code when it gave them", () => {
    const error = new GatewayError('upstream_rate_limited', 'Rate limit reached for gpt-4o-mini', { upstreamType: 'requests', upstreamCode: 'rate_limit_exceeded' });
    expect(toOpenAIErrorBody(error).error).toMatchObject({ type: 'requests', code: 'rate_limit_exceeded' });
  });

  it("gives an HTTP answer to a provider's failure the gateway's type and code, and keeps the provider's for the event that ends a stream", () => {
    // An OpenAI error event before any output (streamError) becomes a 502 when nothing else answers.
    const midStream = new GatewayError('upstream_error', 'The upstream provider "openai" failed mid-stream: boom', { upstreamType: 'server_error', upstreamCode: '500' });
    expect(toOpenAIErrorBody(midStream).error).toMatchObject({ type: 'api_error', code: 'upstream_error' });
    expect(toOpenAIErrorBody(midStream, 'stream').error).toMatchObject({ type: 'server_error', code: '500' });
    const timeout = new GatewayError('upstream_timeout', 'The upstream provider "bedrock" timed out mid-stream.', { upstreamType: 'modelStreamErrorException' });
    expect(toOpenAIErrorBody(timeout).error).toMatchObject({ type: 'timeout_error', code: 'upstream_timeout' });
    const refused = new GatewayError('upstream_client_error', 'bad model', { status: 404, upstreamType: 'invalid_request_error', upstreamCode: 'model_not_found' });
    expect(toOpenAIErrorBody(refused).error).toMatchObject({ type: 'invalid_request_error', code: 'model_not_found' });
  });

  it("masks keys in a provider's words (an error with a provider), and leaves the gateway's own messages as they are", () => {
    expect(new GatewayError('upstream_error', 'The upstream provider "p" failed with HTTP 500: bad key sk-live-abcdef123456.', { provider: 'p' }).message).toBe('The upstream provider "p" failed with HTTP 500: bad key [redacted].');
    expect(new GatewayError('invalid_request', 'model sk-like-name is not served').message).toBe('model sk-like-name is not served');
  });

  it('reveals nothing beyond the message (no cause, stack, provider or retry data)', () => {
    const error = new GatewayError('upstream_error', 'The upstream provider "openai" refused the connection.', {
      provider: 'openai',
      retryAfterMs: 10,
      cause: new Error('connect ECONNREFUSED 10.0.0.7:443 with key sk-secret'),
    });
    const json = JSON.stringify(toOpenAIErrorBody(error));
    expect(json).not.toContain('10.0.0.7');
    expect(json).not.toContain('sk-secret');
    expect(json).not.toContain('stack');
    expect(JSON.parse(json)).toEqual({ error: { message: 'The upstream provider "openai" refused the connection.', type: 'api_error', param: null, code: 'upstream_error' } });
  });
});

describe('toAnthropicErrorBody', () => {
  it('has exactly Anthropic\'s shape: {"type": "error", "error": {"type", "message"}}', () => {
    expect(toAnthropicErrorBody(new GatewayError('invalid_api_key', 'Invalid API key.'))).toEqual({
      type: 'error',
      error: { type: 'authentication_error', message: 'Invalid API key.' },
    });
    expect(toAnthropicErrorBody(new GatewayError('model_not_found', 'no such model'))).toEqual({ type: 'error', error: { type: 'not_found_error', message: 'no such model' } });
  });

  it('uses its own type vocabulary even when an OpenAI upstream gave a type', () => {
    const error = new GatewayError('upstream_rate_limited', 'slow down', { upstreamType: 'requests', upstreamCode: 'rate_limit_exceeded' });
    expect(toAnthropicErrorBody(error)).toEqual({ type: 'error', error: { type: 'rate_limit_error', message: 'slow down' } });
  });

  it('gives an upstream 4xx passed on the type of its status', () => {
    const of = (status: number) => toAnthropicErrorBody(new GatewayError('upstream_client_error', 'x', { status })).error.type;
    expect([of(400), of(401), of(403), of(404), of(413), of(422)]).toEqual([
      'invalid_request_error',
      'authentication_error',
      'permission_error',
      'not_found_error',
      'request_too_large',
      'invalid_request_error',
    ]);
  });

  it('reports timeouts as timeout_error and upstream failures as api_error', () => {
    expect(toAnthropicErrorBody(new GatewayError('upstream_timeout', 't')).error.type).toBe('timeout_error');
    expect(toAnthropicErrorBody(new GatewayError('upstream_error', 'u')).error.type).toBe('api_error');
  });
});

describe('asGatewayError', () => {
  it('passes a GatewayError through', () => {
    const error = new GatewayError('invalid_json', 'bad');
    expect(asGatewayError(error)).toBe(error);
  });

  it('turns anything else into a generic 500 that keeps the cause for logs but does not show it', () => {
    const cause = new Error('SQLITE_BUSY: database is locked at /srv/switchyard/data/switchyard.db');
    const error = asGatewayError(cause);
    expect(error).toMatchObject({ code: 'internal_error', status: 500, retryable: false, cause });
    expect(error.message).not.toContain('SQLITE');
    expect(JSON.stringify(toOpenAIErrorBody(error))).not.toContain('/srv/');
    expect(asGatewayError('thrown string')).toMatchObject({ code: 'internal_error' });
    expect(asGatewayError(undefined)).toMatchObject({ code: 'internal_error' });
  });
});

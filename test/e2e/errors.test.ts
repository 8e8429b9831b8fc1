/**
 * Every error row of DESIGN.md §4 against the real gateway process: bad input (400), unknown model
 * (404), body too large (413), upstream 4xx passed on (except 401/403, which concern the gateway's
 * own provider key: 502), upstream 5xx / refused / reset / garbage (502), upstream timeout (504).
 * Errors use OpenAI's shape, the SDK raises the matching class, and nothing is ever a 500.
 */
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import OpenAI, { APIError, BadRequestError, InternalServerError, NotFoundError, RateLimitError } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeOpenAI, OPENAI_ERRORS, refusedURL } from '../fakes/openai-upstream.js';
import { isOpenAIError, raw, rawExchange, sdk, type OpenAIErrorShape } from '../helpers/client.js';
import { startGateway, stopAllGateways, type Gateway } from '../helpers/gateway.js';
import { parseMetrics, total } from '../helpers/metrics.js';

let fake: FakeOpenAI;
let gateway: Gateway;
/** server.body_limit: 4kb, upstream.timeouts.first_byte_ms: 300 */
let strict: Gateway;
let client: OpenAI;
let deadURL: string;
/** A key without OpenAI's `sk-` shape (Groq's `gsk_`): masked because the config holds it, not by its looks. */
const GROQ_STYLE_KEY = 'gsk_ABCDEFghijkl1234567890MNOP';

beforeAll(async () => {
  fake = await FakeOpenAI.start({ apiKeys: ['sk-upstream-oai', GROQ_STYLE_KEY] });
  deadURL = await refusedURL();
  [gateway, strict] = await Promise.all([
    startGateway(`
providers:
  oai: { type: openai, base_url: ${fake.baseURL}, api_key: sk-upstream-oai }
  badkey: { type: openai, base_url: ${fake.baseURL}, api_key: sk-wrong-upstream-key-1234 }
  groqish: { type: openai-compatible, base_url: ${fake.baseURL}, api_key: ${GROQ_STYLE_KEY} }
  groqwrong: { type: openai-compatible, base_url: ${fake.baseURL}, api_key: gsk_WRONGkey0987654321zyxw }
  dead: { type: openai-compatible, base_url: ${deadURL}, api_key: sk-upstream-oai }
  slow: { type: openai, base_url: ${fake.baseURL}, api_key: sk-upstream-oai, timeouts: { first_byte_ms: 300 } }
models:
  gpt: { targets: [ { provider: oai, model: gpt-4o-mini } ] }
  misconfigured: { targets: [ { provider: badkey, model: gpt-4o-mini } ] }
  credentials-failover: { targets: [ { provider: badkey, model: gpt-4o-mini }, { provider: oai, model: gpt-4o-mini } ] }
  unreachable: { targets: [ { provider: dead, model: gpt-4o-mini } ] }
  slow: { targets: [ { provider: slow, model: gpt-4o-mini } ] }
  embed: { targets: [ { provider: oai, model: text-embedding-3-small } ] }
# One attempt per target: these tests check how a single failure is answered.
routing: { retry: { max_retries: 0 } }
`),
    startGateway(`
server: { body_limit: 4kb }
upstream: { timeouts: { first_byte_ms: 300 } }
providers:
  oai: { type: openai, base_url: ${fake.baseURL}, api_key: sk-upstream-oai }
models:
  gpt: { targets: [ { provider: oai, model: gpt-4o-mini } ] }
# One attempt per target: these tests check how a single failure is answered.
routing: { retry: { max_retries: 0 } }
`),
  ]);
  client = sdk(gateway);
});

afterAll(async () => {
  await stopAllGateways();
  await fake?.close();
});

beforeEach(() => fake.reset());

const hello: OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming = { model: 'gpt', messages: [{ role: 'user', content: 'hello' }] };

/** Awaits a call that must fail with an SDK APIError of `type` and `status`; returns the error. */
async function failure<T extends APIError>(call: Promise<unknown>, type: abstract new (...args: never[]) => T, status: number): Promise<T> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof APIError)) throw new Error(`expected an APIError, got ${String(error)}`);
  expect(error).toBeInstanceOf(type);
  expect(error.status).toBe(status);
  expect(isOpenAIError({ error: error.error })).toBe(true);
  expect(error.headers?.get('x-request-id')).toBeTruthy();
  expect(error.headers?.get('content-type')).toMatch(/^application\/json/);
  return error as T;
}

function rawError(body: unknown): OpenAIErrorShape['error'] {
  expect(isOpenAIError(body)).toBe(true);
  return (body as OpenAIErrorShape).error;
}

describe('requests the gateway rejects itself', () => {
  it('answers malformed JSON with 400 invalid_json', async () => {
    const res = await raw(gateway, '/v1/chat/completions', { body: '{"model": "gpt", "messages": [' });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-request-id')).toBeTruthy();
    expect(rawError(res.json)).toMatchObject({ type: 'invalid_request_error', code: 'invalid_json', param: null });
    expect(rawError(res.json).message).toMatch(/not valid JSON/);
  });

  it('answers JSON nested thousands of levels deep (a 10 KB body) with 400 invalid_request, not a 500', async () => {
    const deep = `{"model":"gpt","messages":[{"role":"user","content":"hi"}],"x":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    for (const path of ['/v1/chat/completions', '/v1/messages/count_tokens']) {
      const res = await raw(gateway, path, { body: deep });
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.json)).toContain('levels deep');
    }
    expect(fake.requests).toHaveLength(0);
  });

  it('answers a body that is not valid UTF-8 with 400 invalid_encoding', async () => {
    const body = Buffer.concat([Buffer.from('{"model":"gpt","messages":[{"role":"user","content":"'), Buffer.from([0xc3, 0x28, 0xff, 0xfe]), Buffer.from('"}]}')]);
    const res = await raw(gateway, '/v1/chat/completions', { body });
    expect(res.status).toBe(400);
    expect(rawError(res.json)).toMatchObject({ type: 'invalid_request_error', code: 'invalid_encoding' });
    expect(fake.requests).toHaveLength(0);
  });

  it('answers a compressed body with 415, saying to send it uncompressed', async () => {
    const body = gzipSync(JSON.stringify(hello));
    const res = await raw(gateway, '/v1/chat/completions', { body, headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } });
    expect(res.status).toBe(415);
    expect(rawError(res.json)).toMatchObject({ type: 'invalid_request_error', code: 'unsupported_media_type' });
    expect(rawError(res.json).message).toBe('Request bodies are not accepted with Content-Encoding "gzip"; send the JSON uncompressed.');
    const identity = await raw(gateway, '/v1/chat/completions', { body: JSON.stringify(hello), headers: { 'content-type': 'application/json', 'content-encoding': 'identity' } });
    expect(identity.status).toBe(200);
    expect(fake.requests).toHaveLength(1);
  });

  it.each(['', '[]', 'null', '"a string"', '42'])('answers the body %j with 400 in OpenAI\'s shape', async (body) => {
    const res = await raw(gateway, '/v1/chat/completions', { body });
    expect(res.status).toBe(400);
    expect(rawError(res.json).type).toBe('invalid_request_error');
  });

  it.each([
    ['messages', { model: 'gpt', messages: 'hi' }],
    ['temperature', { ...hello, temperature: 'hot' }],
    ['messages[0].role', { model: 'gpt', messages: [{ role: 'robot', content: 'hi' }] }],
    ['messages[0].content', { model: 'gpt', messages: [{ role: 'user', content: 42 }] }],
    ['stream', { ...hello, stream: 'yes' }],
    ['n', { ...hello, n: 0 }],
    ['max_tokens', { ...hello, max_tokens: -5 }],
    ['tools[0].function.name', { ...hello, tools: [{ type: 'function', function: { name: '' } }] }],
  ])('answers a wrong type with 400 naming param %s', async (param, body) => {
    const error = await failure(client.chat.completions.create(body as unknown as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming), BadRequestError, 400);
    expect(error.param).toBe(param);
    expect(error.type).toBe('invalid_request_error');
    expect(error.message).toContain(`'${param}'`);
    expect(fake.requests).toHaveLength(0);
  });

  it('counts a refused request for a configured group under that group (not model="")', async () => {
    const count = async (): Promise<number> => total(parseMetrics((await raw(gateway, '/metrics')).text), 'switchyard_requests_total', { route: 'chat', model: 'gpt', status: '400' });
    const before = await count();
    await failure(client.chat.completions.create({ model: 'gpt', messages: 'hi' } as unknown as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming), BadRequestError, 400);
    await expect.poll(count).toBe(before + 1);
    // A name that is no group stays out of the label.
    await failure(client.chat.completions.create({ model: 'no-such-group', messages: 'hi' } as unknown as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming), BadRequestError, 400);
    const samples = parseMetrics((await raw(gateway, '/metrics')).text);
    expect(total(samples, 'switchyard_requests_total', { model: 'no-such-group' })).toBe(0);
  });

  it('answers missing model and missing messages with 400 naming the field', async () => {
    const noModel = await failure(client.chat.completions.create({ messages: hello.messages } as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming), BadRequestError, 400);
    expect(noModel.param).toBe('model');
    expect(noModel.message).toMatch(/'model' is required/);
    const noMessages = await failure(client.chat.completions.create({ model: 'gpt' } as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming), BadRequestError, 400);
    expect(noMessages.param).toBe('messages');
    expect(noMessages.message).toMatch(/'messages' is required/);
    const noInput = await failure(client.embeddings.create({ model: 'embed' } as OpenAI.EmbeddingCreateParams), BadRequestError, 400);
    expect(noInput.param).toBe('input');
  });

  it('answers an end-user id over 512 characters with 400 naming the field, without governance too', async () => {
    const chat = await failure(client.chat.completions.create({ ...hello, user: 'u'.repeat(513) }), BadRequestError, 400);
    expect([chat.code, chat.param]).toEqual(['invalid_request', 'user']);
    const stream = await failure(client.chat.completions.create({ ...hello, user: 'u'.repeat(600), stream: true }), BadRequestError, 400);
    expect(stream.message).toBe("400 'user' must be at most 512 characters (it identifies the end user), but it has 600.");
    expect((await client.chat.completions.create({ ...hello, user: 'u'.repeat(512) })).choices).toHaveLength(1);
  });

  it('answers an unknown model with 404 model_not_found (chat, stream, embeddings, retrieve)', async () => {
    const chat = await failure(client.chat.completions.create({ ...hello, model: 'gpt-9' }), NotFoundError, 404);
    expect(chat.code).toBe('model_not_found');
    expect(chat.param).toBe('model');
    expect(chat.message).toContain('"gpt-9" does not exist');
    const stream = await failure(client.chat.completions.create({ ...hello, model: 'gpt-9', stream: true }), NotFoundError, 404);
    expect(stream.code).toBe('model_not_found');
    const unknownProvider = await failure(client.chat.completions.create({ ...hello, model: 'nosuch/gpt-4o' }), NotFoundError, 404);
    expect(unknownProvider.code).toBe('model_not_found');
    const embeddings = await failure(client.embeddings.create({ model: 'nope', input: 'x' }), NotFoundError, 404);
    expect(embeddings.code).toBe('model_not_found');
    await failure(client.models.retrieve('gpt-9'), NotFoundError, 404);
    expect(fake.requests).toHaveLength(0);
  });

  it('answers an unknown route with 404 in OpenAI\'s shape', async () => {
    const res = await raw(gateway, '/v1/completions', { body: '{"model":"gpt","prompt":"x"}' });
    expect(res.status).toBe(404);
    expect(rawError(res.json).code).toBe('route_not_found');
  });

  it('answers a method a path does not serve with 404, whatever the body (not a 400 for a body it would not read)', async () => {
    for (const body of ['', 'not json']) {
      const res = await raw(gateway, '/v1/chat/completions', { method: 'DELETE', body, headers: { 'content-type': 'application/json' } });
      expect(res.status).toBe(404);
      expect(rawError(res.json).code).toBe('route_not_found');
    }
  });
});

describe('body limits', () => {
  it('answers a body over a small configured server.body_limit with 413', async () => {
    const sdkStrict = sdk(strict);
    const error = await failure(sdkStrict.chat.completions.create({ ...hello, messages: [{ role: 'user', content: 'x'.repeat(5 * 1024) }] }), APIError, 413);
    expect(error.code).toBe('request_too_large');
    expect(error.message).toContain('server.body_limit');
    // Just under the limit is accepted.
    const ok = await sdkStrict.chat.completions.create({ ...hello, messages: [{ role: 'user', content: 'x'.repeat(3 * 1024) }] });
    expect(ok.choices[0]!.finish_reason).toBe('stop');
  });

  it('answers an ~11 MB body with 413 under the default 10 MB limit, and accepts ~9.5 MB', async () => {
    const big = JSON.stringify({ model: 'gpt', messages: [{ role: 'user', content: 'x'.repeat(11 * 1024 * 1024) }] });
    for (let i = 0; i < 5; i++) {
      // Several times: the 413 must reach the client every time, not a reset connection.
      const res = await raw(gateway, '/v1/chat/completions', { body: big });
      expect(res.status).toBe(413);
      expect(rawError(res.json).code).toBe('request_too_large');
    }
    // A body under 10 MB gets past the limit (and fails later, on the unknown model).
    const under = JSON.stringify({ model: 'no-such-model', messages: [{ role: 'user', content: 'x'.repeat(9.5 * 1024 * 1024) }] });
    const res = await raw(gateway, '/v1/chat/completions', { body: under });
    expect(res.status).toBe(404);
    expect(fake.requests).toHaveLength(0);
  });
});

describe('upstream errors', () => {
  it('passes an upstream 400 on with the same status and the provider\'s message, code and param', async () => {
    const upstream = OPENAI_ERRORS.contextLengthExceeded();
    fake.inject({ kind: 'http-error', error: upstream });
    const error = await failure(client.chat.completions.create(hello), BadRequestError, 400);
    expect(error.message).toBe(`400 ${upstream.body.error.message}`);
    expect(error.code).toBe('context_length_exceeded');
    expect(error.param).toBe('messages');
    expect(error.type).toBe('invalid_request_error');
    expect(error.headers?.get('x-switchyard-provider')).toBe('oai');

    // A stream that fails before its first chunk is an ordinary HTTP error too.
    fake.inject({ kind: 'http-error', error: upstream });
    const streamed = await failure(client.chat.completions.create({ ...hello, stream: true }), BadRequestError, 400);
    expect(streamed.code).toBe('context_length_exceeded');
  });

  it('turns an upstream 401 (the gateway\'s own provider key is wrong) into a 502 naming no part of the key', async () => {
    const error = await failure(client.chat.completions.create({ ...hello, model: 'misconfigured' }), InternalServerError, 502);
    expect(error.message).toContain('"badkey" refused the gateway\'s credentials (HTTP 401)');
    expect(error.message).toContain('Incorrect API key provided');
    // Not the provider's invalid_api_key: the client's own key was fine.
    expect(error.code).toBe('upstream_error');
    expect(error.type).toBe('api_error');
    expect(JSON.stringify(error.error)).not.toMatch(/1234|sk-wrong/);
    expect(fake.lastRequest().headers.authorization).toBe('Bearer sk-wrong-upstream-key-1234');

    fake.inject({
      kind: 'http-error',
      error: { status: 403, body: { error: { message: 'You are not allowed to sample from this model', type: 'invalid_request_error', param: null, code: null } } },
    });
    const forbidden = await failure(client.chat.completions.create(hello), InternalServerError, 502);
    expect(forbidden.message).toContain('"oai" refused the gateway\'s credentials (HTTP 403)');

    // It is retryable: the next target with working credentials answers.
    const { data, response } = await client.chat.completions.create({ ...hello, model: 'credentials-failover' }).withResponse();
    expect(data.choices[0]!.message.content).toBe('Hello from gpt-4o-mini. You said: hello');
    expect(response.headers.get('x-switchyard-attempts')).toBe('2');
    expect(response.headers.get('x-switchyard-provider')).toBe('oai');
  });

  it("never passes on the gateway's own provider key when an upstream error quotes it, whatever its shape", async () => {
    const quoting = (status: number) => ({
      status,
      body: { error: { message: `Invalid API key '${GROQ_STYLE_KEY}' (shown as gsk_AB****MNOP) for this org.`, type: 'invalid_request_error', param: null, code: null } },
    });
    for (const status of [401, 400, 500]) {
      fake.inject({ kind: 'http-error', error: quoting(status) });
      const error = await client.chat.completions.create({ ...hello, model: 'groqish/gpt-4o-mini' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(APIError);
      expect((error as APIError).status).toBe(status === 400 ? 400 : 502);
      expect((error as APIError).message).toContain("Invalid API key '[redacted]' (shown as [redacted]) for this org.");
    }
    expect(fake.lastRequest().headers.authorization).toBe(`Bearer ${GROQ_STYLE_KEY}`);
    // OpenAI's own echo of a wrong key (its first three and last four characters, the rest starred).
    const wrong = await failure(client.chat.completions.create({ ...hello, model: 'groqwrong/gpt-4o-mini' }), InternalServerError, 502);
    expect(wrong.message).toContain('Incorrect API key provided: [redacted].');
    await expect.poll(() => gateway.logs().filter((line) => JSON.stringify(line.error ?? null).includes('shown as [redacted]')).length).toBe(3);
    expect(gateway.stdout()).not.toMatch(/gsk_AB|MNOP|zyxw/);
    // The log line's failed attempts name the model asked of the provider, not the metrics' '*'.
    const failed = gateway.logs().find((line) => line.model === 'groqwrong/*' && line.status === 502);
    expect(failed?.failed_attempts).toEqual([{ provider: 'groqwrong', model: 'gpt-4o-mini', code: 'upstream_error', status: 502 }]);
  });

  it('passes an upstream 404 model_not_found on (direct addressing of a model the provider lacks)', async () => {
    const error = await failure(client.chat.completions.create({ ...hello, model: 'oai/gpt-5-imaginary' }), NotFoundError, 404);
    expect(error.code).toBe('model_not_found');
    expect(error.message).toBe('404 The model `gpt-5-imaginary` does not exist or you do not have access to it.');
  });

  it('passes an upstream 429 on with Retry-After', async () => {
    fake.inject({ kind: 'http-error', error: OPENAI_ERRORS.rateLimited() });
    const error = await failure(client.chat.completions.create(hello), RateLimitError, 429);
    expect(error.code).toBe('rate_limit_exceeded');
    expect(error.message).toContain('Rate limit reached for gpt-4o-mini');
    expect(error.headers?.get('retry-after')).toBe('20');
  });

  it.each([
    ['500 server_error', OPENAI_ERRORS.serverError()],
    ['503 overloaded', OPENAI_ERRORS.overloaded()],
  ])('answers an upstream %s with 502 carrying the provider\'s message', async (_name, upstream) => {
    fake.inject({ kind: 'http-error', error: upstream });
    const error = await failure(client.chat.completions.create(hello), InternalServerError, 502);
    expect(error.type).toBe('api_error');
    expect(error.message).toContain(`failed with HTTP ${upstream.status}`);
    expect(error.message).toContain(upstream.body.error.message);

    fake.inject({ kind: 'http-error', error: upstream });
    await failure(client.chat.completions.create({ ...hello, stream: true }), InternalServerError, 502);
    fake.inject({ kind: 'http-error', error: upstream });
    await failure(client.embeddings.create({ model: 'embed', input: 'x' }), InternalServerError, 502);
  });

  it("masks what looks like a key in a provider's error message before it reaches the client", async () => {
    const upstream = OPENAI_ERRORS.serverError();
    upstream.body.error.message = 'internal failure with key sk-upstreamsecret0123 at /srv/app.js:12';
    fake.inject({ kind: 'http-error', error: upstream });
    const error = await failure(client.chat.completions.create(hello), InternalServerError, 502);
    expect(error.message).toContain('internal failure with key [redacted] at /srv/app.js:12');
    expect(JSON.stringify(error.error)).not.toContain('upstreamsecret');
  });

  it("masks the upstream's own address in its error message (DESIGN.md §4: no upstream URL reaches the client)", async () => {
    const upstream = OPENAI_ERRORS.serverError();
    const { host } = new URL(fake.baseURL);
    upstream.body.error.message = `Bad request at ${fake.baseURL}/chat/completions, node ${host}`;
    fake.inject({ kind: 'http-error', error: upstream });
    const error = await failure(client.chat.completions.create(hello), InternalServerError, 502);
    expect(error.message).toContain('Bad request at [upstream], node [upstream]');
    expect(JSON.stringify(error.error)).not.toContain(host);
  });

  it("answers an error event before any stream output with the same 502 as an HTTP 5xx: the gateway's type and code, the provider's message", async () => {
    fake.inject({ kind: 'stream-error', afterChunks: 0, error: { error: { message: 'Upstream exploded early', type: 'server_error', param: null, code: 'boom' } } });
    const error = await failure(client.chat.completions.create({ ...hello, stream: true }), InternalServerError, 502);
    expect(error.type).toBe('api_error');
    expect(error.code).toBe('upstream_error');
    expect(error.message).toContain('Upstream exploded early');
  });

  it('answers a refused connection with 502 without revealing the upstream address', async () => {
    const error = await failure(client.chat.completions.create({ ...hello, model: 'unreachable' }), InternalServerError, 502);
    expect(error.message).toContain('"dead" refused the connection');
    const port = new URL(deadURL).port;
    expect(JSON.stringify(error.error)).not.toContain(port);
    expect(JSON.stringify(error.error)).not.toContain('127.0.0.1');
    await failure(client.chat.completions.create({ ...hello, model: 'unreachable', stream: true }), InternalServerError, 502);
    // The operator's log line has what the client's message leaves out: the system's own words.
    await expect.poll(() => gateway.logs().filter((line) => line.model === 'unreachable' && line.status === 502).length).toBe(2);
    const logged = gateway.logs().find((line) => line.model === 'unreachable' && line.status === 502);
    expect((logged?.error as { cause?: string } | undefined)?.cause).toMatch(new RegExp(`^ECONNREFUSED: connect ECONNREFUSED 127\\.0\\.0\\.1:${port}`));
  });

  it('answers a reset connection with 502', async () => {
    fake.inject({ kind: 'reset' });
    const error = await failure(client.chat.completions.create(hello), InternalServerError, 502);
    expect(error.message).toContain('closed the connection unexpectedly');
    fake.inject({ kind: 'reset' });
    await failure(client.chat.completions.create({ ...hello, stream: true }), InternalServerError, 502);
  });

  it('answers a 200 with a body that is not JSON with 502', async () => {
    fake.inject({ kind: 'garbage' });
    const error = await failure(client.chat.completions.create(hello), InternalServerError, 502);
    expect(error.message).toContain('not valid JSON');
    expect(error.message).not.toContain('<html>');
    fake.inject({ kind: 'garbage' });
    await failure(client.embeddings.create({ model: 'embed', input: 'x' }), InternalServerError, 502);
  });

  it('answers 504 when the provider\'s first_byte_ms timeout passes', async () => {
    fake.inject({ kind: 'delay-headers', ms: 3000 }, { times: 2 });
    const started = performance.now();
    const error = await failure(client.chat.completions.create({ ...hello, model: 'slow' }), InternalServerError, 504);
    expect(performance.now() - started).toBeLessThan(2500);
    expect(error.type).toBe('timeout_error');
    expect(error.code).toBe('upstream_timeout');
    await failure(client.chat.completions.create({ ...hello, model: 'slow', stream: true }), InternalServerError, 504);
  });

  it('answers 504 when upstream.timeouts.first_byte_ms passes', async () => {
    fake.inject({ kind: 'delay-headers', ms: 3000 });
    const started = performance.now();
    const error = await failure(sdk(strict).chat.completions.create(hello), InternalServerError, 504);
    expect(performance.now() - started).toBeLessThan(2500);
    expect(error.code).toBe('upstream_timeout');
    // A slow-but-in-time upstream is fine.
    fake.inject({ kind: 'delay-headers', ms: 50 });
    const ok = await sdk(strict).chat.completions.create(hello);
    expect(ok.choices[0]!.message.content).toBe('Hello from gpt-4o-mini. You said: hello');
  });
});

describe('requests the HTTP parser rejects', () => {
  function parse(answer: string): { status: number; headers: string; body: OpenAIErrorShape } {
    const [head = '', body = ''] = answer.split('\r\n\r\n');
    return { status: Number(head.split(' ')[1]), headers: head.toLowerCase(), body: JSON.parse(body) as OpenAIErrorShape };
  }

  it("answers an Expect header other than 100-continue with 417 expectation_failed in the API's shape", async () => {
    const answer = await rawExchange(gateway, 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nExpect: foo\r\nx-request-id: expect-foo\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}');
    const { status, headers, body } = parse(answer);
    expect(status).toBe(417);
    expect(headers).toContain('x-request-id: expect-foo\r\n');
    expect(body.error).toMatchObject({ code: 'expectation_failed', type: 'invalid_request_error', message: 'Unsupported Expect header "foo": only 100-continue is supported.' });
    // On /v1/messages: Anthropic's shape, naming the request in a request-id header and the body.
    const messages = parse(await rawExchange(gateway, 'POST /v1/messages HTTP/1.1\r\nHost: x\r\nExpect: nope\r\nx-request-id: expect-nope\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}'));
    expect(messages.status).toBe(417);
    expect(messages.headers).toMatch(/(^|\r\n)request-id: expect-nope\r\n/);
    expect(messages.body).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' }, request_id: 'expect-nope' });
  });

  it("answers a malformed percent-escape or an over-long path segment in the API's error shape, not Fastify's", async () => {
    const bad = await raw(gateway, '/v1/models/%ZZ');
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ error: { code: 'invalid_request', type: 'invalid_request_error', message: expect.stringContaining('malformed') } });
    expect(bad.headers.get('x-request-id')).toBeTruthy();
    const anthropic = await raw(gateway, '/v1/messages%ZZ', { body: '{}' });
    expect(anthropic.json).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    const long = await raw(gateway, `/v1/providers/${'a'.repeat(5000)}/health`);
    expect(long.status).toBe(414);
    expect(long.json).toMatchObject({ error: { code: 'invalid_request', message: 'A segment of the URL path is too long.' } });
    // An id as long as a model name may be (512 characters) is still a path the router takes.
    expect((await raw(gateway, `/v1/providers/${'m'.repeat(512)}/health`)).status).toBe(404);
  });

  it('keeps the connection open after a body it read whole but refused (not JSON, not UTF-8)', async () => {
    const refused = ['{bad', '\xff'].map((body) => `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body, 'latin1')}\r\n\r\n${body}`);
    const answer = await rawExchange(gateway, Buffer.from(`${refused.join('')}GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 'latin1'));
    const statuses = [...answer.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => Number(match[1]));
    expect(statuses).toEqual([400, 400, 200]);
    expect(answer).toContain('"code":"invalid_json"');
    expect(answer).toContain('"code":"invalid_encoding"');
  });

  it.each([
    ['a request line that is not HTTP', 'GARBAGE\r\n\r\n', 'Invalid method'],
    ['both Content-Length and Transfer-Encoding', 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}', 'Content-Length'],
    ['a bad chunk size', 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 'chunk size'],
  ])('answers %s with a 400 invalid_http in OpenAI\'s shape and closes', async (_what, bytes, reason) => {
    const { status, headers, body } = parse(await rawExchange(gateway, bytes));
    expect(status).toBe(400);
    expect(headers).toContain('content-type: application/json');
    expect(headers).toContain('connection: close');
    expect(body.error.code).toBe('invalid_http');
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toMatch(/^Malformed HTTP request: /);
    expect(body.error.message).toContain(reason);
  });

  it('records a request refused for a bad chunk in its body as the 400 it got, not as a client that left (499)', async () => {
    const answer = parse(await rawExchange(gateway, 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nx-request-id: bad-chunk-1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\nzz\r\n'));
    expect(answer.status).toBe(400);
    await expect.poll(() => gateway.logs().find((line) => line.request_id === 'bad-chunk-1')).toBeDefined();
    expect(gateway.logs().find((line) => line.request_id === 'bad-chunk-1')).toMatchObject({ status: 400, error: { code: 'invalid_http' } });
  });

  it('still records a client that closes its connection in the middle of its body as a client that left (499)', async () => {
    const { port, hostname } = new URL(gateway.url);
    const socket = connect(Number(port), hostname);
    socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nx-request-id: left-mid-body-1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"model":');
    await new Promise((resolve) => setTimeout(resolve, 100));
    socket.destroy();
    await expect.poll(() => gateway.logs().find((line) => line.request_id === 'left-mid-body-1')).toMatchObject({ status: 499, error: { code: 'client_closed_request' } });
  });

  it('answers headers over 16 KB with a 431 headers_too_large', async () => {
    const { status, headers, body } = parse(await rawExchange(gateway, `GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`));
    expect(status).toBe(431);
    // Its headers were never read: a new id, to quote when reporting it.
    expect(headers).toMatch(/\r\nx-request-id: [0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}\r\n/);
    expect(body.error.code).toBe('headers_too_large');
    expect(body.error.message).toContain('16384 bytes');
  });

  it("answers these on /v1/messages in Anthropic's error shape, the path read from the request line", async () => {
    const big = parse(await rawExchange(gateway, `POST /v1/messages HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`));
    expect(big.status).toBe(431);
    expect(big.body).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('16384 bytes') } });
    // Named as Anthropic's API names a request: request_id in the body, a request-id header.
    const id = /\r\nrequest-id: ([^\r]+)\r\n/.exec(`${big.headers}\r\n`)?.[1];
    expect(id).toBeDefined();
    expect((big.body as unknown as { request_id: string }).request_id).toBe(id);
    const framing = parse(await rawExchange(gateway, 'POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n'));
    expect(framing.status).toBe(400);
    expect(framing.body).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringMatching(/^Malformed HTTP request: /) } });
  });

  it('keeps serving afterwards', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toContain('gpt');
  });
});

describe('never a 500', () => {
  it('logged no unexpected error and answered no 500 during this file', async () => {
    // The gateway writes its log in batches, at the latest every 200 ms.
    await new Promise((resolve) => setTimeout(resolve, 400));
    for (const gw of [gateway, strict]) {
      const logs = gw.logs();
      expect(logs.filter((l) => l.msg === 'unexpected error')).toEqual([]);
      const settled = logs.filter((l) => typeof l.status === 'number');
      expect(settled.length).toBeGreaterThan(2);
      expect(settled.filter((l) => l.status === 500)).toEqual([]);
      expect(gw.process.exitCode).toBeNull();
    }
  });
});

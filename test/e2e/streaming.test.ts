/**
 * Streaming failure modes: an upstream error or a dropped upstream connection after the first
 * chunk ends the client's stream with an OpenAI-format error event (the SDK throws an APIError),
 * and a client that aborts mid-stream makes the gateway abort the upstream request.
 */
import { connect } from 'node:net';
import { APIError, InternalServerError, type OpenAI } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeOpenAI } from '../fakes/openai-upstream.js';
import { raw, rawExchange, sdk } from '../helpers/client.js';
import { startGateway, stopAllGateways, type Gateway } from '../helpers/gateway.js';

let fake: FakeOpenAI;
let gateway: Gateway;
let client: OpenAI;

beforeAll(async () => {
  fake = await FakeOpenAI.start();
  gateway = await startGateway(`
providers:
  oai: { type: openai, base_url: ${fake.baseURL}, api_key: sk-upstream-oai }
  backup: { type: openai-compatible, base_url: ${fake.baseURL} }
models:
  gpt: { targets: [ { provider: oai, model: gpt-4o-mini } ] }
  ha:
    targets:
      - { provider: oai, model: gpt-4o-mini }
      - { provider: backup, model: llama-3.1-8b-instruct }
# One attempt per target: these tests check how a single failure is answered.
routing: { retry: { max_retries: 0 } }
`);
  client = sdk(gateway);
});

afterAll(async () => {
  await stopAllGateways();
  await fake?.close();
});

beforeEach(() => fake.reset());

type Chunk = OpenAI.Chat.Completions.ChatCompletionChunk;

const request = (content: string, model = 'gpt'): OpenAI.Chat.Completions.ChatCompletionCreateParamsStreaming => ({
  model,
  messages: [{ role: 'user', content }],
  stream: true,
});

/** Reads a stream to its end or its error; returns the chunks and what was thrown. */
async function drain(stream: AsyncIterable<Chunk>): Promise<{ chunks: Chunk[]; error: unknown }> {
  const chunks: Chunk[] = [];
  try {
    for await (const chunk of stream) chunks.push(chunk);
  } catch (error) {
    return { chunks, error };
  }
  return { chunks, error: undefined };
}

/** The `data:` payloads of an SSE body. */
function sseData(text: string): string[] {
  return text
    .split('\n\n')
    .filter((event) => event.startsWith('data: '))
    .map((event) => event.slice('data: '.length));
}

describe('upstream failure mid-stream', () => {
  it('ends the stream with an OpenAI error event; the SDK throws an APIError with the message', async () => {
    fake.inject({ kind: 'stream-error', afterChunks: 3 });
    const { chunks, error } = await drain(await client.chat.completions.create(request('Tell me a long story')));
    expect(chunks).toHaveLength(3);
    expect(chunks.map((c) => c.choices[0]!.delta.content ?? '').join('')).toBe('Hello from');
    expect(error).toBeInstanceOf(APIError);
    const apiError = error as APIError;
    expect(apiError.message).toContain('The server had an error while processing your request. Sorry about that!');
    expect(apiError.message).toContain('"oai"');
    expect(apiError.type).toBe('server_error');
  });

  it('puts the error event last on the wire, in OpenAI\'s shape, with no [DONE]', async () => {
    fake.inject({ kind: 'stream-error', afterChunks: 2, error: { error: { message: 'Upstream exploded', type: 'server_error', param: null, code: 'boom' } } });
    const res = await raw(gateway, '/v1/chat/completions', { body: JSON.stringify(request('wire')) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = sseData(res.text);
    expect(events).toHaveLength(3);
    expect(events).not.toContain('[DONE]');
    const last = JSON.parse(events.at(-1)!) as { error: Record<string, unknown> };
    expect(Object.keys(last)).toEqual(['error']);
    expect(Object.keys(last.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(last.error).toMatchObject({ type: 'server_error', code: 'boom', param: null });
    expect(last.error.message).toContain('Upstream exploded');
  });

  it('ends the stream with an error event when the upstream connection drops mid-stream', async () => {
    fake.inject({ kind: 'stream-drop', afterChunks: 4 });
    const { chunks, error } = await drain(await client.chat.completions.create(request('drop me')));
    expect(chunks).toHaveLength(4);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).message).toContain('"oai"');
    expect(gateway.process.exitCode).toBeNull();
    // Its 200 went out before the failure: the log line's level is the error's, not "info".
    const failed = () => gateway.logs().filter((l) => l.status === 200 && (l.error as { message?: string } | undefined)?.message?.includes('"oai"'));
    await expect.poll(() => failed().length).toBeGreaterThan(0);
    for (const line of failed()) expect(line).toMatchObject({ level: 50, msg: 'request failed' });
    // /metrics tells it from a good stream: status 200 in the requests, and a stream error.
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(metrics).toMatch(/^switchyard_stream_errors_total\{route="chat",model="gpt",provider="oai",code="upstream_error"\} [1-9]/m);
  });

  it('fails over when the stream errors before its first chunk (nothing was sent yet)', async () => {
    fake.inject({ kind: 'stream-error', afterChunks: 0 }, { model: 'gpt-4o-mini' });
    const { data, response } = await client.chat.completions.create(request('retry me', 'ha')).withResponse();
    expect(response.headers.get('x-switchyard-attempts')).toBe('2');
    const { chunks, error } = await drain(data);
    expect(error).toBeUndefined();
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hello from llama-3.1-8b-instruct. You said: retry me');
  });

  it('fails over when the stream errors right after its opening role chunk (no output was sent)', async () => {
    fake.inject({ kind: 'stream-error', afterChunks: 1 }, { model: 'gpt-4o-mini' });
    const { data, response } = await client.chat.completions.create(request('retry me too', 'ha')).withResponse();
    expect(response.headers.get('x-switchyard-attempts')).toBe('2');
    const { chunks, error } = await drain(data);
    expect(error).toBeUndefined();
    expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant');
    expect(chunks.filter((c) => c.choices[0]?.delta.role !== undefined)).toHaveLength(1);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hello from llama-3.1-8b-instruct. You said: retry me too');
  });

  it('answers 502 (not a broken 200) when the only target errors before the first chunk', async () => {
    fake.inject({ kind: 'stream-error', afterChunks: 0 });
    const error = await client.chat.completions.create(request('no luck')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InternalServerError);
    expect((error as APIError).status).toBe(502);
    expect((error as APIError).message).toContain('The server had an error while processing your request');
  });
});

describe('an upstream that does not stream', () => {
  it('streams on the whole JSON completion a server answered instead of a stream, usage included when asked', async () => {
    const expected = await client.chat.completions.create({ model: 'gpt', messages: [{ role: 'user', content: 'no streaming here' }] });
    for (const includeUsage of [false, true]) {
      fake.inject({ kind: 'json-for-stream' });
      const { chunks, error } = await drain(
        await client.chat.completions.create({ ...request('no streaming here'), ...(includeUsage ? { stream_options: { include_usage: true } } : {}) }),
      );
      expect(error).toBeUndefined();
      expect(fake.lastRequest().body).toMatchObject({ stream: true });
      expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')).toBe(expected.choices[0]!.message.content);
      expect(chunks.some((chunk) => chunk.choices[0]?.finish_reason === 'stop')).toBe(true);
      expect(chunks.at(-1)!.usage ?? undefined).toEqual(includeUsage ? expected.usage : undefined);
    }
  });

  it('answers 502 when what came instead of a stream is not a completion either', async () => {
    fake.inject({ kind: 'garbage' });
    const error = await client.chat.completions.create(request('html please')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InternalServerError);
    expect((error as APIError).status).toBe(502);
    expect((error as APIError).message).toContain('"oai" returned a response that is not valid JSON');
  });
});

describe('slow streams and client disconnects', () => {
  it('relays a slow stream chunk by chunk, not buffered', async () => {
    fake.inject({ kind: 'slow-stream', chunkDelayMs: 60 });
    const started = performance.now();
    const arrivals: number[] = [];
    const { chunks, error } = await drain(
      (async function* () {
        for await (const chunk of await client.chat.completions.create(request('slowly now'))) {
          arrivals.push(performance.now() - started);
          yield chunk;
        }
      })(),
    );
    expect(error).toBeUndefined();
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hello from gpt-4o-mini. You said: slowly now');
    // 9 chunks 60 ms apart: the first arrives long before the last.
    expect(arrivals.at(-1)! - arrivals[0]!).toBeGreaterThan(300);
  });

  it('aborts the upstream request when the client aborts mid-stream', async () => {
    fake.inject({ kind: 'slow-stream', chunkDelayMs: 100 });
    const controller = new AbortController();
    const stream = await client.chat.completions.create(request('abort me please, this is a long one'), { signal: controller.signal });
    const received: Chunk[] = [];
    // The SDK ends the iteration quietly when its own signal aborts it.
    for await (const chunk of stream) {
      received.push(chunk);
      if (received.length === 2) controller.abort();
    }
    expect(received).toHaveLength(2);
    expect(received.some((c) => c.choices[0]?.finish_reason)).toBe(false);

    const aborted = await fake.waitForAbort(3000);
    expect(aborted.path).toBe('/v1/chat/completions');
    expect((aborted.body as { messages: { content: string }[] }).messages[0]!.content).toBe('abort me please, this is a long one');

    // The gateway books it as a client disconnect (499), not as an error or a success.
    await expect.poll(() => gateway.logs().find((l) => l.status === 499 && l.stream === true), { timeout: 3000 }).toBeTruthy();
    expect(gateway.process.exitCode).toBeNull();
  });
});

describe('a client that leaves while uploading', () => {
  it('is booked as 499 (the client left first), not as a 400', async () => {
    const { port, hostname } = new URL(gateway.url);
    const socket = connect(Number(port), hostname);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nx-request-id: left-while-uploading\r\nContent-Length: 1000\r\n\r\n{"model":');
    await new Promise((resolve) => setTimeout(resolve, 200));
    socket.destroy();
    await expect.poll(() => gateway.logs().find((l) => l.request_id === 'left-while-uploading'), { timeout: 3000 }).toMatchObject({ status: 499 });
  });
});

describe('a client that sends Connection: close', () => {
  it('gets its stream with connection: close, and the connection closed after data: [DONE]', async () => {
    const body = JSON.stringify({ model: 'gpt', stream: true, messages: [{ role: 'user', content: 'then hang up' }] });
    // rawExchange resolves when the gateway closes the connection: it would wait for the keep-alive timeout if the gateway kept it.
    const started = performance.now();
    const answer = await rawExchange(gateway, `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    const head = answer.slice(0, answer.indexOf('\r\n\r\n')).toLowerCase();
    expect(head).toContain('connection: close');
    expect(head).not.toContain('keep-alive');
    expect(answer).toContain('data: [DONE]');
    expect(performance.now() - started).toBeLessThan(3000);
  });
});

describe('an HTTP/1.0 client (nginx talks to its upstreams so by default)', () => {
  it('gets the stream unchunked, without keep-alive or trailers, ended by closing the connection, and the request is logged', async () => {
    const body = JSON.stringify({ model: 'gpt', stream: true, messages: [{ role: 'user', content: 'over HTTP/1.0' }] });
    const answer = await rawExchange(gateway, `POST /v1/chat/completions HTTP/1.0\r\nHost: x\r\nContent-Type: application/json\r\nx-request-id: http-1-0-stream\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    const [head = '', events = ''] = answer.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.[01] 200 OK/);
    expect(head.toLowerCase()).not.toContain('transfer-encoding');
    expect(head.toLowerCase()).not.toContain('connection: keep-alive');
    expect(head.toLowerCase()).not.toContain('trailer');
    expect(events).toContain('data: {');
    expect(events.trimEnd().endsWith('data: [DONE]')).toBe(true);
    await expect.poll(() => gateway.logs().find((l) => l.request_id === 'http-1-0-stream'), { timeout: 3000 }).toMatchObject({ status: 200, stream: true });
  });

  it('gets a lone surrogate in a direct model name answered in the API error shape, streamed or not, never a hang or a 500', async () => {
    for (const stream of [false, true]) {
      const body = `{"model":"oai/gpt-4o-mini\\ud800","stream":${stream},"messages":[{"role":"user","content":"a"}]}`;
      const answer = await rawExchange(gateway, `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      const status = Number(answer.split(' ')[1]);
      expect(status, answer).not.toBe(500);
      expect(answer.toLowerCase()).toContain('x-switchyard-model: gpt-4o-mini%ef%bf%bd');
    }
  });
});

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errors as undiciErrors } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../gateway/errors.js';
import { classifyTransportError, closeTransport, configureTransport, sendForText, sendStreaming } from './transport.js';
import { CallAbort } from './call-signal.js';

const systemError = (code: string, message: string): Error => Object.assign(new Error(message), { code, syscall: 'connect', address: '10.1.2.3', port: 443 });

describe('classifyTransportError', () => {
  it.each([
    ['ECONNREFUSED', 'connect ECONNREFUSED 10.1.2.3:443', 'refused the connection'],
    ['ECONNRESET', 'read ECONNRESET', 'closed the connection unexpectedly'],
    ['ENOTFOUND', 'getaddrinfo ENOTFOUND api.internal.example', 'could not be resolved (DNS)'],
    ['EAI_AGAIN', 'getaddrinfo EAI_AGAIN api.internal.example', 'could not be resolved (DNS)'],
    ['EHOSTUNREACH', 'connect EHOSTUNREACH 10.1.2.3:443', 'could not be reached'],
  ])('%s → upstream_error 502, retryable', (code, message, what) => {
    const cause = systemError(code, message);
    const error = classifyTransportError(cause, 'openai');
    expect(error).toBeInstanceOf(GatewayError);
    expect(error).toMatchObject({ code: 'upstream_error', status: 502, retryable: true, provider: 'openai', cause });
    expect((error as Error).message).toBe(`The upstream provider "openai" ${what}.`);
    // The address of the upstream stays out of what the client is told.
    expect((error as Error).message).not.toContain('10.1.2.3');
    expect((error as Error).message).not.toContain('internal.example');
  });

  it("undici's SocketError (other side closed) → upstream_error 502, retryable", () => {
    const error = classifyTransportError(new undiciErrors.SocketError('other side closed'), 'vllm');
    expect(error).toMatchObject({ code: 'upstream_error', status: 502, retryable: true });
    expect((error as Error).message).toBe('The upstream provider "vllm" closed the connection unexpectedly.');
  });

  it.each([
    ['HeadersTimeoutError', new undiciErrors.HeadersTimeoutError()],
    ['ConnectTimeoutError', new undiciErrors.ConnectTimeoutError()],
    ['BodyTimeoutError', new undiciErrors.BodyTimeoutError()],
  ])('undici %s → upstream_timeout 504, retryable', (_name, cause) => {
    const error = classifyTransportError(cause, 'openai');
    expect(error).toMatchObject({ code: 'upstream_timeout', status: 504, retryable: true, provider: 'openai', cause });
    expect((error as Error).message).toBe('The upstream provider "openai" did not answer in time.');
  });

  it('an unknown failure is still a retryable 502, never an internal error', () => {
    expect(classifyTransportError(new TypeError('something odd'), 'p')).toMatchObject({ code: 'upstream_error', status: 502, retryable: true });
    expect(classifyTransportError('a string', 'p')).toMatchObject({ code: 'upstream_error' });
    expect(classifyTransportError(null, 'p')).toMatchObject({ code: 'upstream_error' });
  });

  it('passes a GatewayError through unchanged', () => {
    const original = new GatewayError('upstream_rate_limited', 'slow down');
    expect(classifyTransportError(original, 'p')).toBe(original);
  });

  it('an aborted signal yields its reason (total timeout, client gone) instead of the abort error', () => {
    const controller = new CallAbort();
    const reason = new GatewayError('upstream_timeout', 'The upstream provider "p" did not finish within 50 ms.');
    controller.abort(reason);
    const abortError = new undiciErrors.RequestAbortedError();
    expect(classifyTransportError(abortError, 'p', controller.signal)).toBe(reason);
    // Even when the failure looks like something else (e.g. the socket was torn down by the abort).
    expect(classifyTransportError(systemError('ECONNRESET', 'read ECONNRESET'), 'p', controller.signal)).toBe(reason);
  });

  it('an abort whose reason is not a GatewayError is passed on as it is, not as an upstream failure', () => {
    const controller = new CallAbort();
    controller.abort();
    const abortError = new DOMException('This operation was aborted', 'AbortError');
    expect(classifyTransportError(abortError, 'p', controller.signal)).toBe(abortError);
  });

  it('a signal that did not abort does not change the classification', () => {
    const error = classifyTransportError(new undiciErrors.HeadersTimeoutError(), 'p', new CallAbort().signal);
    expect(error).toMatchObject({ code: 'upstream_timeout' });
  });
});

describe('sendForText / sendStreaming against real sockets', () => {
  let server: Server;
  let port: number;
  let closedPort: number;
  const responses: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/hang') return; // never answers
      if (req.url === '/two-parts') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('first|');
        res.on('close', () => responses.push(res.writableFinished ? 'finished' : 'aborted'));
        setTimeout(() => res.end('second|'), 30);
        return;
      }
      if (req.url === '/reset-midway') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('first|');
        setTimeout(() => res.socket?.destroy(), 20);
        return;
      }
      if (req.url === '/never-ends') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('first|');
        res.on('close', () => responses.push(res.writableFinished ? 'finished' : 'aborted'));
        return;
      }
      if (req.url === '/limited?x=1') {
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '7' });
        res.end('{"error":{"message":"slow down"}}');
        return;
      }
      if (req.url === '/slow-body') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"partial":');
        return; // body never finishes
      }
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ method: req.method, body, auth: req.headers.authorization ?? null }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    // A port nothing listens on: bind one, then close it.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    closedPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  });

  afterAll(async () => {
    await closeTransport();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const text = (path: string, signal = new CallAbort().signal, onFirstByte?: () => void) =>
    sendForText({ url: `http://127.0.0.1:${port}${path}`, headers: { authorization: 'Bearer sk-test' }, body: '{"model":"m"}', signal, onFirstByte, provider: 'local' });

  it('sendForText: posts the body and headers and reads the whole answer, calling onFirstByte first', async () => {
    const seen: string[] = [];
    const res = await text('/v1/chat/completions', undefined, () => seen.push('first byte'));
    seen.push('resolved');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(JSON.parse(res.text)).toEqual({ method: 'POST', body: '{"model":"m"}', auth: 'Bearer sk-test' });
    expect(seen).toEqual(['first byte', 'resolved']);
  });

  it('sendForText: passes on an error status with its headers and body (query string kept)', async () => {
    const res = await text('/limited?x=1');
    expect(res).toMatchObject({ statusCode: 429, text: '{"error":{"message":"slow down"}}' });
    expect(res.headers['retry-after']).toBe('7');
  });

  it('sendForText: a refused connection is a retryable upstream_error', async () => {
    const error: unknown = await sendForText({ url: `http://127.0.0.1:${closedPort}/v1/x`, headers: {}, body: '{}', signal: new CallAbort().signal, provider: 'local' }).catch((err: unknown) => err);
    expect(error).toMatchObject({ code: 'upstream_error', status: 502, retryable: true, provider: 'local' });
  });

  it('sendForText: an abort before the headers or in the middle of the body rejects with its reason', async () => {
    for (const path of ['/hang', '/slow-body']) {
      const controller = new CallAbort();
      const reason = new GatewayError('upstream_timeout', 'The upstream provider "local" did not finish within 50 ms.');
      setTimeout(() => controller.abort(reason), 50);
      await expect(text(path, controller.signal)).rejects.toBe(reason);
    }
    const already = new CallAbort();
    const gone = new GatewayError('client_closed_request', 'gone');
    already.abort(gone);
    await expect(text('/v1/chat/completions', already.signal)).rejects.toBe(gone);
  });

  const open = (path: string, signal = new CallAbort().signal, onFirstByte?: () => void) =>
    sendStreaming({ url: `http://127.0.0.1:${port}${path}`, headers: { authorization: 'Bearer sk-test' }, body: '{"model":"m"}', signal, onFirstByte, provider: 'local' });
  const firstPieceOnly = async function* (body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
    for await (const bytes of body) {
      yield Buffer.from(bytes).toString();
      return; // like a decoder stopping at [DONE]
    }
  };
  const allPieces = async function* (body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
    for await (const bytes of body) yield Buffer.from(bytes).toString();
  };

  it('sendStreaming: a decoder that stops early lets the rest of the body drain instead of aborting it', async () => {
    responses.length = 0;
    const signal = new CallAbort().signal;
    const items: string[] = [];
    for await (const item of firstPieceOnly((await open('/two-parts', signal)).body)) items.push(item);
    expect(items).toEqual(['first|']);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(responses).toEqual(['finished']);
  });

  it('sendStreaming: a body that does not end after the decoder stopped is destroyed within about a second', async () => {
    responses.length = 0;
    const signal = new CallAbort().signal;
    for await (const item of firstPieceOnly((await open('/never-ends', signal)).body)) expect(item).toBe('first|');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(responses).toEqual(['aborted']);
  });

  it('sendStreaming: a connection reset mid-body is a retryable upstream_error', async () => {
    const signal = new CallAbort().signal;
    const items: string[] = [];
    const failure: unknown = await (async () => {
      for await (const item of allPieces((await open('/reset-midway', signal)).body)) items.push(item);
    })().catch((err: unknown) => err);
    expect(items).toEqual(['first|']);
    expect(failure).toMatchObject({ code: 'upstream_error', status: 502, retryable: true, provider: 'local' });
  });

  it('cuts off an answer larger than max_response_bytes with a 502, whole or streamed', async () => {
    configureTransport({ connectTimeoutMs: 5000, keepAliveTimeoutMs: 1000, maxConnectionsPerOrigin: 8, maxResponseBytes: 16 });
    try {
      const tooBig = { code: 'upstream_error', status: 502, message: 'The upstream provider "local" sent an answer larger than upstream.max_response_bytes (16 bytes).' };
      await expect(text('/v1/chat/completions')).rejects.toMatchObject(tooBig);
      await expect((await open('/v1/chat/completions')).body.text()).rejects.toMatchObject(tooBig);
    } finally {
      configureTransport({ connectTimeoutMs: 5000, keepAliveTimeoutMs: 1000, maxConnectionsPerOrigin: 8, maxResponseBytes: 1024 * 1024 });
    }
    expect((await text('/v1/chat/completions')).statusCode).toBe(200);
  });

  it('sendStreaming: resolves at the headers (after onFirstByte) and streams the body', async () => {
    const seen: string[] = [];
    const res = await open('/v1/chat/completions', undefined, () => seen.push('first byte'));
    seen.push('resolved');
    expect(seen).toEqual(['first byte', 'resolved']);
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(await res.body.text())).toEqual({ method: 'POST', body: '{"model":"m"}', auth: 'Bearer sk-test' });
  });

  it('sendStreaming: a refused connection is a retryable upstream_error that does not name the address', async () => {
    const error: unknown = await sendStreaming({ url: `http://127.0.0.1:${closedPort}/v1/chat/completions`, headers: {}, body: '{}', signal: new CallAbort().signal, provider: 'local' }).catch((err: unknown) => err);
    expect(error).toMatchObject({ code: 'upstream_error', status: 502, retryable: true, provider: 'local' });
    expect((error as Error).message).toBe('The upstream provider "local" refused the connection.');
    expect((error as Error).message).not.toContain(String(closedPort));
  });

  it('sendStreaming: an abort while waiting for the headers rejects with the abort reason', async () => {
    const controller = new CallAbort();
    const reason = new GatewayError('client_closed_request', 'The client closed the connection before the answer was complete.');
    setTimeout(() => controller.abort(reason), 50);
    await expect(open('/hang', controller.signal)).rejects.toBe(reason);
  });

  it('sendStreaming: an abort while reading the body surfaces from the body with the abort reason', async () => {
    const controller = new CallAbort();
    const res = await open('/slow-body', controller.signal);
    const reason = new GatewayError('upstream_timeout', 'The upstream provider "local" did not finish within 50 ms.');
    setTimeout(() => controller.abort(reason), 50);
    await expect(res.body.text()).rejects.toBe(reason);
  });
});

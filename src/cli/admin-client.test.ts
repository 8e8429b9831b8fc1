import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AdminError,
  AdminUsageError,
  apiErrorMessage,
  callAdmin,
  DEFAULT_URL,
  requestUrl,
  resolveConnection,
  runAdminCommand,
  unreachableMessage,
  type CliIo,
} from './admin-client.js';

describe('resolveConnection', () => {
  it('takes the flags first, then SWITCHYARD_URL and SWITCHYARD_MASTER_KEY, then the default URL', () => {
    const env = { SWITCHYARD_URL: 'http://env:1234', SWITCHYARD_MASTER_KEY: 'sk-env' };
    expect(resolveConnection({ url: 'https://flag.example/gw/', 'master-key': 'sk-flag' }, env)).toEqual({ url: 'https://flag.example/gw', masterKey: 'sk-flag' });
    expect(resolveConnection({}, env)).toEqual({ url: 'http://env:1234', masterKey: 'sk-env' });
    expect(resolveConnection({}, { SWITCHYARD_MASTER_KEY: 'sk-env', SWITCHYARD_URL: '' })).toEqual({ url: DEFAULT_URL, masterKey: 'sk-env' });
  });

  it('refuses to go on without a master key, saying where to put it', () => {
    expect(() => resolveConnection({}, { SWITCHYARD_MASTER_KEY: '' })).toThrow(AdminUsageError);
    expect(() => resolveConnection({}, {})).toThrow(/SWITCHYARD_MASTER_KEY or pass --master-key/);
  });

  it('refuses a URL that is not http(s)', () => {
    expect(() => resolveConnection({ url: 'localhost:8080', 'master-key': 'k' }, {})).toThrow(/not an http\(s\) URL/);
    expect(() => resolveConnection({ url: 'not a url', 'master-key': 'k' }, {})).toThrow(/is not a URL/);
  });
});

describe('requestUrl', () => {
  it('puts /admin after the base (and its path prefix) and leaves out undefined query values', () => {
    expect(requestUrl('http://gw:8080', { method: 'GET', path: '/keys' })).toBe('http://gw:8080/admin/keys');
    expect(requestUrl('https://proxy.example/switchyard', { method: 'GET', path: '/spend', query: { group_by: 'key', key_id: undefined, from: '2026-01-01' } })).toBe(
      'https://proxy.example/switchyard/admin/spend?group_by=key&from=2026-01-01',
    );
    expect(requestUrl('http://gw', { method: 'GET', path: '/keys', query: { team_id: 'a b&c' } })).toBe('http://gw/admin/keys?team_id=a+b%26c');
  });
});

describe('apiErrorMessage', () => {
  it("shows the API's message from OpenAI's error shape", () => {
    expect(apiErrorMessage(404, JSON.stringify({ error: { message: 'No key with id "key_x".', type: 'invalid_request_error', param: null, code: 'not_found' } }))).toBe(
      'No key with id "key_x".',
    );
  });

  it('falls back to the status and the start of any other body', () => {
    expect(apiErrorMessage(502, '<html>Bad Gateway</html>')).toBe('the gateway answered HTTP 502: <html>Bad Gateway</html>');
    expect(apiErrorMessage(500, '')).toBe('the gateway answered HTTP 500');
    expect(apiErrorMessage(400, '{"error":"flat"}')).toBe('the gateway answered HTTP 400: {"error":"flat"}');
  });
});

describe('unreachableMessage', () => {
  it('names a refused connection, also when it comes as an AggregateError', () => {
    const refused = Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    expect(unreachableMessage('http://gw', refused)).toBe('cannot reach the gateway at http://gw: is it running? (set --url or SWITCHYARD_URL)');
    const aggregate = Object.assign(new TypeError('fetch failed'), { cause: new AggregateError([Object.assign(new Error('a'), { code: 'ECONNREFUSED' })]) });
    expect(unreachableMessage('http://gw', aggregate)).toBe('cannot reach the gateway at http://gw: is it running? (set --url or SWITCHYARD_URL)');
  });

  it("adds other causes' messages", () => {
    const notFound = Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('getaddrinfo ENOTFOUND gw'), { code: 'ENOTFOUND' }) });
    expect(unreachableMessage('http://gw', notFound)).toBe('cannot reach the gateway at http://gw (getaddrinfo ENOTFOUND gw): is it running? (set --url or SWITCHYARD_URL)');
  });
});

describe('callAdmin against a real HTTP server', () => {
  let server: Server;
  let url: string;
  const seen: { method?: string; url?: string; authorization?: string; contentType?: string; body: string }[] = [];

  beforeAll(async () => {
    server = createServer((request: IncomingMessage, response) => {
      let body = '';
      request.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      request.on('end', () => {
        seen.push({ method: request.method, url: request.url, authorization: request.headers.authorization, contentType: request.headers['content-type'], body });
        if (request.url === '/admin/missing') {
          response.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'No key with id "missing".', type: 'x', param: null, code: 'not_found' } }));
        } else if (request.url === '/admin/html') {
          response.writeHead(200, { 'content-type': 'text/html' }).end('<html>hi</html>');
        } else {
          response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, echo: body }));
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('sends the master key as a bearer token and the body as JSON, and returns the parsed answer', async () => {
    const answer = await callAdmin<{ ok: boolean; echo: string }>({ url, masterKey: 'sk-master' }, { method: 'POST', path: '/keys', body: { name: 'ci' } });
    expect(answer).toEqual({ ok: true, echo: '{"name":"ci"}' });
    expect(seen.at(-1)).toEqual({ method: 'POST', url: '/admin/keys', authorization: 'Bearer sk-master', contentType: 'application/json', body: '{"name":"ci"}' });
    await callAdmin({ url, masterKey: 'sk-master' }, { method: 'GET', path: '/keys', query: { include_revoked: 'true' } });
    expect(seen.at(-1)).toMatchObject({ method: 'GET', url: '/admin/keys?include_revoked=true', contentType: undefined, body: '' });
  });

  it("throws the API's error message on an error status", async () => {
    await expect(callAdmin({ url, masterKey: 'k' }, { method: 'DELETE', path: '/missing' })).rejects.toThrow(new AdminError('No key with id "missing".'));
  });

  it('says so when the answer is not JSON', async () => {
    await expect(callAdmin({ url, masterKey: 'k' }, { method: 'GET', path: '/html' })).rejects.toThrow(/answered 200 with something other than JSON/);
  });

  it('names the gateway and how to point elsewhere when nothing listens there', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const gone = `http://127.0.0.1:${port}`;
    await expect(callAdmin({ url: gone, masterKey: 'k' }, { method: 'GET', path: '/keys' })).rejects.toThrow(
      new AdminError(`cannot reach the gateway at ${gone}: is it running? (set --url or SWITCHYARD_URL)`),
    );
  });
});

describe('runAdminCommand', () => {
  const capture = (): CliIo & { out: string; err: string } => {
    const io = { out: '', err: '', stdout: (text: string) => void (io.out += text), stderr: (text: string) => void (io.err += text) };
    return io;
  };

  it('returns 0 when the command succeeds', async () => {
    const io = capture();
    expect(await runAdminCommand('USAGE', io, async () => io.stdout('done\n'))).toBe(0);
    expect(io).toMatchObject({ out: 'done\n', err: '' });
  });

  it('prints an AdminError as is and returns 1', async () => {
    const io = capture();
    expect(await runAdminCommand('USAGE', io, () => Promise.reject(new AdminError('No key with id "x".')))).toBe(1);
    expect(io.err).toBe('switchyard: No key with id "x".\n');
  });

  it("prints a usage error, or node:util's parse errors, with the usage and returns 1", async () => {
    const io = capture();
    expect(await runAdminCommand('USAGE', io, () => Promise.reject(new AdminUsageError('keys create needs --name NAME')))).toBe(1);
    expect(io.err).toBe('switchyard: keys create needs --name NAME\n\nUSAGE\n');
    const parseError = Object.assign(new TypeError("Unknown option '--nope'"), { code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' });
    expect(await runAdminCommand('USAGE', io, () => Promise.reject(parseError))).toBe(1);
    expect(io.err).toContain("switchyard: Unknown option '--nope'\n\nUSAGE\n");
  });

  it('lets anything else (a bug) propagate', async () => {
    await expect(runAdminCommand('USAGE', capture(), () => Promise.reject(new RangeError('bug')))).rejects.toThrow('bug');
  });
});

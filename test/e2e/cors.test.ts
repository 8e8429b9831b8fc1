/**
 * CORS for browser clients (server.cors.origins): preflights answered before authentication,
 * Access-Control-Allow-Origin on answers and errors for allowed origins only, nothing when off.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, stopAllGateways, type Gateway } from '../helpers/gateway.js';

const MASTER_KEY = 'sk-sy-cors-master-key-0123456789';
const APP = 'https://app.example.com';
let listed: Gateway;
let open: Gateway;
let off: Gateway;

beforeAll(async () => {
  const config = (cors: string) => `
server: { cors: ${cors} }
auth: { master_key: ${MASTER_KEY} }
providers: { demo: { type: mock } }
models: { mock: { targets: [ { provider: demo, model: mock } ] } }
`;
  [listed, open, off] = await Promise.all([
    startGateway(config(`{ origins: ["https://App.example.com", "http://localhost:3000"] }`)),
    startGateway(config('{ origins: ["*"] }')),
    startGateway(config('{}')),
  ]);
});

afterAll(async () => {
  await stopAllGateways();
});

const preflight = (gateway: Gateway, origin: string) =>
  fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, x-switchyard-cache' },
  });

const chat = (gateway: Gateway, headers: Record<string, string>) =>
  fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'mock', messages: [{ role: 'user', content: 'hi' }] }),
  });

describe('CORS', () => {
  it('answers an allowed origin\'s preflight with 204 and what it may send, without a key', async () => {
    const res = await preflight(listed, APP);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(APP);
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    expect(res.headers.get('access-control-allow-headers')).toBe('authorization, content-type, x-switchyard-cache');
    expect(res.headers.get('access-control-max-age')).toBe('600');
    expect(res.headers.get('vary')).toBe('Origin');
  });

  it("gives other origins' preflights the unknown route's 404, with no CORS headers", async () => {
    const res = await preflight(listed, 'https://evil.example.com');
    expect(res.status).toBe(404);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('route_not_found');
  });

  it('lets an allowed origin read answers and errors, every header exposed', async () => {
    const ok = await chat(listed, { origin: 'http://localhost:3000', authorization: `Bearer ${MASTER_KEY}` });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe('http://localhost:3000');
    expect(ok.headers.get('access-control-expose-headers')).toBe('*');
    expect(ok.headers.get('x-switchyard-provider')).toBe('demo');
    const refused = await chat(listed, { origin: APP });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('access-control-allow-origin')).toBe(APP);
  });

  it('says nothing to requests without an Origin, or from an origin not listed', async () => {
    const plain = await chat(listed, { authorization: `Bearer ${MASTER_KEY}` });
    expect(plain.status).toBe(200);
    expect(plain.headers.get('access-control-allow-origin')).toBeNull();
    const other = await chat(listed, { origin: 'https://evil.example.com', authorization: `Bearer ${MASTER_KEY}` });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('allows any origin with "*", and is off by default', async () => {
    const any = await preflight(open, 'https://anywhere.example');
    expect(any.status).toBe(204);
    expect(any.headers.get('access-control-allow-origin')).toBe('*');
    expect(any.headers.get('vary')).toBeNull();
    const none = await preflight(off, APP);
    expect(none.status).toBe(404);
    expect(none.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('a gateway without auth', () => {
  let noAuth: Gateway;
  let noAuthListed: Gateway;
  beforeAll(async () => {
    const config = (cors: string) => `
server: { cors: ${cors} }
providers: { demo: { type: mock } }
models: { mock: { targets: [ { provider: demo, model: mock } ] } }
`;
    [noAuth, noAuthListed] = await Promise.all([startGateway(config('{}')), startGateway(config(`{ origins: ["${APP}"] }`))]);
  });

  const simplePost = (gateway: Gateway, origin?: string) =>
    fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      // What a web page can send another origin without a preflight: text/plain, no key.
      headers: { 'content-type': 'text/plain', ...(origin && { origin }) },
      body: JSON.stringify({ model: 'mock', messages: [{ role: 'user', content: 'hi' }] }),
    });

  it("refuses another origin's web page (a cross-site POST needs no preflight) and serves clients without an Origin", async () => {
    const refused = await simplePost(noAuth, 'https://evil.example');
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'access_denied', message: expect.stringContaining('server.cors.origins') });
    expect((await simplePost(noAuth)).status).toBe(200);
    // Its own origin (a page served under the same host name) is not another.
    expect((await simplePost(noAuth, noAuth.url)).status).toBe(200);
  });

  it('serves an origin listed in server.cors.origins', async () => {
    expect((await simplePost(noAuthListed, APP)).status).toBe(200);
    expect((await simplePost(noAuthListed, 'https://evil.example')).status).toBe(403);
  });
});

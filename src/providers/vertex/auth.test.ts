/**
 * Service-account access tokens against the fake Vertex token endpoint, which verifies every
 * assertion's RS256 signature (jose, with the account's public key) and its claims. Keys are real
 * RSA keys generated per run.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeVertex } from '../../../test/fakes/vertex-upstream.js';
import { GatewayError } from '../../gateway/errors.js';
import { closeTransport } from '../transport.js';
import { CLOUD_PLATFORM_SCOPE, JWT_BEARER_GRANT, ServiceAccountTokens, type CredentialsSource, type ServiceAccountTokensOptions } from './auth.js';

let fake: FakeVertex;
let dir: string;

beforeAll(async () => {
  fake = await FakeVertex.start();
  dir = await mkdtemp(join(tmpdir(), 'switchyard-vertex-auth-'));
});
afterAll(async () => {
  await closeTransport();
  await fake.close();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => {
  fake.reset();
  fake.tokenLifetimeSeconds = 3599;
  fake.tokenDelayMs = 0;
});

const open = (): AbortSignal => new AbortController().signal;
const inline = (key: object = fake.serviceAccountKey()): CredentialsSource => ({ kind: 'json', text: JSON.stringify(key) });
const tokens = (options: Partial<ServiceAccountTokensOptions> = {}): ServiceAccountTokens => new ServiceAccountTokens({ provider: 'vx', credentials: inline(), ...options });

async function failure(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    return err as GatewayError;
  }
  throw new Error('expected a failure');
}

/** Pieces of a PEM key's body: none may appear in any message. */
function keyPieces(pem: string): string[] {
  const body = pem.replace(/-----[^-]+-----/g, '').replace(/\s/g, '');
  return [body.slice(0, 40), body.slice(400, 440), body.slice(-40), 'PRIVATE KEY'];
}

function expectNoSecrets(message: string, ...secrets: string[]): void {
  for (const secret of [...keyPieces(fake.privateKeyPem), ...secrets]) expect(message).not.toContain(secret);
}

describe('the JWT bearer grant', () => {
  it('posts a form with the grant type and an RS256 assertion the endpoint verifies: iss, aud, scope, iat and exp = iat + 3600, kid', async () => {
    const before = Math.floor(Date.now() / 1000);
    const token = await tokens().token(open());
    const after = Math.ceil(Date.now() / 1000);

    expect(fake.tokenRequests).toHaveLength(1);
    const [request] = fake.tokenRequests;
    expect(request).toMatchObject({ status: 200, grantType: JWT_BEARER_GRANT, token });
    expect(fake.calls[0]!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(request!.header).toEqual({ alg: 'RS256', typ: 'JWT', kid: fake.privateKeyId });
    const claims = request!.claims!;
    expect(claims).toMatchObject({ iss: fake.clientEmail, aud: fake.tokenUrl, scope: CLOUD_PLATFORM_SCOPE });
    expect(claims.iat).toBeGreaterThanOrEqual(before);
    expect(claims.iat).toBeLessThanOrEqual(after);
    expect(claims.exp! - claims.iat!).toBe(3600);
  });

  it('reads the key from a JSON key file as well', async () => {
    const path = join(dir, 'key.json');
    await writeFile(path, fake.keyJson);
    const token = await tokens({ credentials: { kind: 'file', path } }).token(open());
    expect(token).toBe(fake.tokenRequests[0]!.token);
  });

  it('sends the assertion to token_url when set (also its audience), not to the key\'s token_uri', async () => {
    const key = { ...fake.serviceAccountKey(), token_uri: 'http://127.0.0.1:9/never' };
    const token = await tokens({ credentials: inline(key), tokenUrl: fake.tokenUrl }).token(open());
    expect(token).toBe(fake.tokenRequests[0]!.token);
    expect(fake.tokenRequests[0]!.claims!.aud).toBe(fake.tokenUrl);
  });

  it('signs without kid when the key has no private_key_id', async () => {
    const { private_key_id: _dropped, ...key } = fake.serviceAccountKey();
    await tokens({ credentials: inline(key) }).token(open());
    expect(fake.tokenRequests[0]!.header).toEqual({ alg: 'RS256', typ: 'JWT' });
  });
});

describe('caching', () => {
  it('keeps the token: ten calls, one token request', async () => {
    const source = tokens();
    const first = await source.token(open());
    for (let i = 0; i < 9; i++) expect(await source.token(open())).toBe(first);
    expect(fake.tokenRequests).toHaveLength(1);
  });

  it('concurrent callers share one fetch', async () => {
    fake.tokenDelayMs = 100;
    const source = tokens();
    const all = await Promise.all(Array.from({ length: 6 }, () => source.token(open())));
    expect(new Set(all).size).toBe(1);
    expect(fake.tokenRequests).toHaveLength(1);
  });

  it('fetches a new token five minutes before expiry', async () => {
    let now = Date.now();
    const source = tokens({ now: () => now });
    const start = now;
    const first = await source.token(open());
    now = start + (3599 - 300) * 1000 - 1;
    expect(await source.token(open())).toBe(first);
    now = start + (3599 - 300) * 1000 + 1;
    const second = await source.token(open());
    expect(second).not.toBe(first);
    expect(fake.tokenRequests).toHaveLength(2);
  });

  it('with a short-lived token, refreshes at half its life', async () => {
    fake.tokenLifetimeSeconds = 2;
    let now = Date.now();
    const start = now;
    const source = tokens({ now: () => now });
    const first = await source.token(open());
    now = start + 999;
    expect(await source.token(open())).toBe(first);
    now = start + 1001;
    expect(await source.token(open())).not.toBe(first);
    expect(fake.tokenRequests).toHaveLength(2);
  });

  it('takes an expires_in sent as a string, and an hour when there is none', async () => {
    let now = Date.now();
    const start = now;
    const source = tokens({ now: () => now });
    fake.failNextToken(200, JSON.stringify({ access_token: 'ya29.first', expires_in: '600', token_type: 'Bearer' }));
    expect(await source.token(open())).toBe('ya29.first');
    now = start + 300_001;
    fake.failNextToken(200, JSON.stringify({ access_token: 'ya29.second', token_type: 'Bearer' }));
    expect(await source.token(open())).toBe('ya29.second');
    now = start + 300_001 + 3_299_000;
    expect(await source.token(open())).toBe('ya29.second');
    expect(fake.tokenRequests).toHaveLength(2);
  });

  it('invalidate drops the token it names (a 401 from Vertex), and only that one', async () => {
    const source = tokens();
    const first = await source.token(open());
    source.invalidate('ya29.some-older-token');
    expect(await source.token(open())).toBe(first);
    source.invalidate(first);
    const second = await source.token(open());
    expect(second).not.toBe(first);
    expect(fake.tokenRequests).toHaveLength(2);
  });

  it('a caller that gives up stops waiting; the shared fetch still serves the others', async () => {
    fake.tokenDelayMs = 150;
    const source = tokens();
    const controller = new AbortController();
    const reason = new GatewayError('upstream_timeout', 'The upstream provider "vx" did not answer in time.');
    const abandoned = source.token(controller.signal);
    const patient = source.token(open());
    setTimeout(() => controller.abort(reason), 20);
    // A timeout while waiting for the token says where it was waiting.
    const err = await failure(abandoned);
    expect(err).toMatchObject({ code: 'upstream_timeout', status: 504 });
    expect(err.message).toBe('The upstream provider "vx" did not answer in time. It was still waiting for an access token: the OAuth token endpoint (the key\'s token_uri) has not answered.');
    expect(await patient).toBe(fake.tokenRequests[0]!.token);
    expect(fake.tokenRequests).toHaveLength(1);
  });

  it('a caller whose client left gets that reason as it is', async () => {
    fake.tokenDelayMs = 150;
    const controller = new AbortController();
    const reason = new GatewayError('client_closed_request', 'The client closed the connection.');
    const abandoned = tokens().token(controller.signal);
    setTimeout(() => controller.abort(reason), 20);
    await expect(abandoned).rejects.toBe(reason);
  });
});

describe('failures: a 502 naming what to configure, never key material', () => {
  it('no credentials at all: names credentials_file, credentials_json and GOOGLE_APPLICATION_CREDENTIALS; no token request', async () => {
    const err = await failure(tokens({ credentials: undefined }).token(open()));
    expect(err.status).toBe(502);
    expect(err.message).toMatch(/"vx".*credentials_file.*credentials_json.*GOOGLE_APPLICATION_CREDENTIALS/);
    expect(fake.tokenRequests).toHaveLength(0);
  });

  it('a key file that does not exist: names the path', async () => {
    const path = join(dir, 'missing.json');
    const err = await failure(tokens({ credentials: { kind: 'file', path } }).token(open()));
    expect(err.status).toBe(502);
    expect(err.message).toContain(`"${path}" (file not found)`);
  });

  it('a key file that is not JSON: names the path, quotes nothing of it', async () => {
    // A classic: the key's "\n" escapes pasted as real line breaks.
    const path = join(dir, 'broken.json');
    await writeFile(path, fake.keyJson.replace(/\\n/g, '\n'));
    const err = await failure(tokens({ credentials: { kind: 'file', path } }).token(open()));
    expect(err.status).toBe(502);
    expect(err.message).toContain(`"${path}"`);
    expect(err.message).toContain('not valid JSON');
    expectNoSecrets(err.message);
    expect(err.cause).toBeUndefined();
  });

  it('credentials_json that is not JSON: says so without quoting it (JSON.parse\'s own message would)', async () => {
    const body = fake.privateKeyPem.replace(/-----[^-]+-----/g, '').replace(/\s/g, '');
    const unquoted = `{"type": "service_account", "private_key": ${body}}`;
    const err = await failure(tokens({ credentials: { kind: 'json', text: unquoted } }).token(open()));
    expect(err.message).toContain('credentials_json');
    expect(err.message).toContain('not valid JSON');
    expect(err.message).not.toContain(body.slice(0, 8));
    expectNoSecrets(err.message);
  });

  it('a user credential instead of a service account: says which kind it is, and nothing of its secrets', async () => {
    const user = { type: 'authorized_user', client_id: '764086051850-6qr4p6gpi6hn506pt8ejuq83di341hur.apps.googleusercontent.com', client_secret: 'd-FL95Q19q7MQmFpd7hHD0Ty', refresh_token: '1//0gdSecretRefreshTokenValue' };
    const err = await failure(tokens({ credentials: inline(user) }).token(open()));
    expect(err.message).toContain('"authorized_user" credential');
    expect(err.message).toContain('service_account');
    expectNoSecrets(err.message, user.client_secret, user.refresh_token);
  });

  it('a key without client_email, or with a PKCS#1 / garbage private_key', async () => {
    const { client_email: _gone, ...noEmail } = fake.serviceAccountKey();
    expect((await failure(tokens({ credentials: inline(noEmail) }).token(open()))).message).toContain('no client_email');

    const pkcs1 = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }) as string;
    const err = await failure(tokens({ credentials: inline({ ...fake.serviceAccountKey(), private_key: pkcs1 }) }).token(open()));
    expect(err.message).toContain('PKCS#8');
    for (const piece of keyPieces(pkcs1)) expect(err.message).not.toContain(piece);

    expect((await failure(tokens({ credentials: inline({ ...fake.serviceAccountKey(), private_key: 'not a key' }) }).token(open()))).message).toContain('private_key');
    expect(fake.tokenRequests).toHaveLength(0);
  });

  it('a key the endpoint does not know (another key signed it): invalid_grant, with no assertion or key in the message', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const err = await failure(tokens({ credentials: inline({ ...fake.serviceAccountKey(), private_key: other }) }).token(open()));
    expect(err.status).toBe(502);
    expect(err.message).toContain('HTTP 400, invalid_grant: Invalid JWT Signature.');
    expect(err.message).toContain('credentials_file / credentials_json');
    const assertion = fake.tokenRequests[0]!.assertion!;
    expect(assertion).toMatch(/^eyJ/);
    expectNoSecrets(err.message, assertion, assertion.split('.')[2]!);
    for (const piece of keyPieces(other)) expect(err.message).not.toContain(piece);
  });

  it('masks anything shaped like an assertion or a token in the endpoint\'s words', async () => {
    fake.failNextToken(400, JSON.stringify({ error: 'invalid_grant', error_description: 'Bad assertion eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJl for ya29.c.b0Aaekm1Kx' }));
    const err = await failure(tokens().token(open()));
    expect(err.message).toContain('Bad assertion [redacted] for [redacted]');
    expect(err.message).not.toContain('eyJ');
    expect(err.message).not.toContain('ya29');
  });

  it('a 5xx, an answer that is not JSON, and one without an access_token are 502s; none is remembered', async () => {
    const source = tokens();
    fake.failNextToken(503, 'Service Unavailable');
    expect((await failure(source.token(open()))).message).toContain('HTTP 503, Service Unavailable');
    fake.failNextToken(200, '<html>proxy</html>');
    expect((await failure(source.token(open()))).message).toContain('not JSON');
    fake.failNextToken(200, JSON.stringify({ token_type: 'Bearer', expires_in: 3599 }));
    expect((await failure(source.token(open()))).message).toContain('without an access_token');
    expect(await source.token(open())).toBe(fake.tokenRequests.at(-1)!.token);
    expect(fake.tokenRequests).toHaveLength(4);
  });

  it('an unreachable token endpoint is a 502 that says so', async () => {
    const err = await failure(tokens({ tokenUrl: 'http://127.0.0.1:9/token' }).token(open()));
    expect(err.status).toBe(502);
    expect(err.message).toContain('could not reach the OAuth token endpoint');
  });

  it('a key file put in place after a failure is read on the next request', async () => {
    const path = join(dir, 'late.json');
    const source = tokens({ credentials: { kind: 'file', path } });
    expect((await failure(source.token(open()))).message).toContain('file not found');
    await writeFile(path, fake.keyJson);
    expect(await source.token(open())).toBe(fake.tokenRequests[0]!.token);
  });
});

import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../gateway/errors.js';
import { clientKey, createKeyCheck } from './auth.js';

const MASTER = 'sk-sy-master-8f2c1e';

function rejection(check: (headers: IncomingHttpHeaders) => void, headers: IncomingHttpHeaders): GatewayError {
  try {
    check(headers);
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    return err as GatewayError;
  }
  throw new Error('expected the key check to reject');
}

describe('clientKey', () => {
  it('reads Authorization: Bearer <key>, case-insensitive scheme, trimmed', () => {
    expect(clientKey({ authorization: `Bearer ${MASTER}` })).toBe(MASTER);
    expect(clientKey({ authorization: `bearer ${MASTER}` })).toBe(MASTER);
    expect(clientKey({ authorization: `BEARER   ${MASTER}  ` })).toBe(MASTER);
  });

  it('reads x-api-key (Anthropic SDK style)', () => {
    expect(clientKey({ 'x-api-key': MASTER })).toBe(MASTER);
  });

  it('prefers a bearer token over x-api-key', () => {
    expect(clientKey({ authorization: 'Bearer from-bearer', 'x-api-key': 'from-x-api-key' })).toBe('from-bearer');
  });

  it('falls back to x-api-key when Authorization is not a bearer token', () => {
    expect(clientKey({ authorization: 'Basic dXNlcjpwYXNz', 'x-api-key': 'k' })).toBe('k');
    expect(clientKey({ authorization: 'Basic dXNlcjpwYXNz' })).toBeUndefined();
  });

  it('finds no key in missing or empty headers', () => {
    expect(clientKey({})).toBeUndefined();
    expect(clientKey({ 'x-api-key': '' })).toBeUndefined();
    expect(clientKey({ authorization: '' })).toBeUndefined();
    expect(clientKey({ authorization: 'Bearer' })).toBeUndefined();
  });
});

describe('createKeyCheck', () => {
  it('runs open (no check) without a master key', () => {
    expect(createKeyCheck(undefined)).toBeUndefined();
    expect(createKeyCheck('')).toBeUndefined();
  });

  it('accepts the master key as a bearer token or as x-api-key', () => {
    const check = createKeyCheck(MASTER)!;
    expect(() => check({ authorization: `Bearer ${MASTER}` })).not.toThrow();
    expect(() => check({ 'x-api-key': MASTER })).not.toThrow();
  });

  it('rejects a request without a key: 401 invalid_api_key saying how to send one', () => {
    const error = rejection(createKeyCheck(MASTER)!, {});
    expect(error).toMatchObject({ code: 'invalid_api_key', status: 401, retryable: false });
    expect(error.message).toBe('Missing API key. Send it as "Authorization: Bearer <key>" or "x-api-key: <key>".');
  });

  it.each([
    ['a wrong key', { authorization: 'Bearer sk-sy-wrong' }],
    ['a prefix of the key', { authorization: `Bearer ${MASTER.slice(0, -1)}` }],
    ['the key with a suffix', { 'x-api-key': `${MASTER}x` }],
    ['a differently cased key', { 'x-api-key': MASTER.toUpperCase() }],
  ])('rejects %s: 401 invalid_api_key', (_what, headers) => {
    const error = rejection(createKeyCheck(MASTER)!, headers);
    expect(error).toMatchObject({ code: 'invalid_api_key', status: 401 });
    expect(error.message).toBe('Invalid API key. Check the key you configured in your client.');
    expect(error.message).not.toContain(MASTER);
  });

  it('judges the bearer token when both headers are sent', () => {
    const check = createKeyCheck(MASTER)!;
    expect(rejection(check, { authorization: 'Bearer wrong', 'x-api-key': MASTER }).status).toBe(401);
    expect(() => check({ authorization: `Bearer ${MASTER}`, 'x-api-key': 'wrong' })).not.toThrow();
  });
});

import { describe, expect, it } from 'vitest';
import { GatewayError } from '../gateway/errors.js';
import { cacheDirective, missStatus, NO_DIRECTIVE } from './directive.js';

describe('cacheDirective', () => {
  it('is the shared default when neither header is given', () => {
    expect(cacheDirective(undefined, undefined)).toBe(NO_DIRECTIVE);
    expect(missStatus(NO_DIRECTIVE)).toBe('MISS');
  });

  it.each([
    ['bypass', { read: false, write: false }, 'BYPASS'],
    ['refresh', { read: false, write: true }, 'REFRESH'],
    [' On ', { read: true, write: true, optIn: true }, 'MISS'],
  ] as const)('reads x-switchyard-cache: %s', (value, expected, status) => {
    const directive = cacheDirective(value, undefined);
    expect(directive).toMatchObject({ ...expected, explicit: true });
    expect(missStatus(directive)).toBe(status);
  });

  it('rejects an unknown x-switchyard-cache value with an invalid_request error naming the values', () => {
    let error: unknown;
    try {
      cacheDirective('maybe', undefined);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(GatewayError);
    expect((error as GatewayError).code).toBe('invalid_request');
    expect((error as GatewayError).message).toMatch(/one of on, refresh, bypass; got "maybe"/);
  });

  it.each([
    ['no-store', { read: false, write: false, maxAgeMs: Infinity }],
    ['No-Cache', { read: false, write: true, maxAgeMs: Infinity }],
    ['max-age=30', { read: true, write: true, maxAgeMs: 30_000 }],
    ['max-age="5", no-transform', { read: true, write: true, maxAgeMs: 5_000 }],
    ['max-age=0', { read: true, write: true, maxAgeMs: 0 }],
    ['only-if-cached', { read: true, write: true, onlyIfCached: true }],
    ['max-age=ten, private', { read: true, write: true, maxAgeMs: Infinity }],
    ['max-age=60, max-age=10', { read: true, write: true, maxAgeMs: 10_000 }],
  ] as const)('reads Cache-Control: %s (unknown and malformed directives ignored)', (header, expected) => {
    expect(cacheDirective(undefined, header)).toMatchObject(expected);
  });

  it('combines both headers: the stricter wins', () => {
    expect(cacheDirective('on', 'no-store')).toMatchObject({ optIn: true, read: false, write: false });
    expect(cacheDirective('refresh', 'max-age=5')).toMatchObject({ read: false, write: true, maxAgeMs: 5000 });
  });
});

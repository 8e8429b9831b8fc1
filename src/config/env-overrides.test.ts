import { describe, expect, it } from 'vitest';
import { withEnvOverrides } from './env-overrides.js';
import { ConfigError, validateConfig } from './load.js';

const fromFile = (raw: unknown = {}) => validateConfig(raw, 'test.yaml');

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('withEnvOverrides', () => {
  it('takes PORT in decimal digits only (not hex, binary or exponent notation)', () => {
    expect(withEnvOverrides(fromFile(), { PORT: '8081' }).server.port).toBe(8081);
    expect(withEnvOverrides(fromFile(), { PORT: '0' }).server.port).toBe(0);
    for (const bad of ['0x50', '1e3', '0b101', ' 80', '80.0', '65536', '-1']) {
      expect(problemsOf(() => withEnvOverrides(fromFile(), { PORT: bad }))).toEqual([`PORT: expected a port number from 0 to 65535, got ${JSON.stringify(bad)}`]);
    }
  });

  it('puts DATABASE_URL in place of an unset storage.url, checked as the file\'s own would be', () => {
    expect(withEnvOverrides(fromFile(), { DATABASE_URL: 'postgres://db/sy' }).storage.url).toBe('postgres://db/sy');
    // The file's own storage.url wins.
    expect(withEnvOverrides(fromFile({ storage: { url: 'sqlite::memory:' } }), { DATABASE_URL: 'postgres://db/sy' }).storage.url).toBe('sqlite::memory:');
    expect(withEnvOverrides(fromFile(), {}).storage.url).toBeUndefined();
    expect(problemsOf(() => withEnvOverrides(fromFile(), { DATABASE_URL: 'mysql://u:pw@x/db' }))).toEqual([expect.stringMatching(/^DATABASE_URL \(storage\.url\): expected sqlite:/)]);
  });

  it('takes HOST as an IP address or a host name; anything else is named before the start tries to listen', () => {
    for (const good of ['0.0.0.0', '::', '127.0.0.1', '::1', 'localhost', 'gateway.internal', 'my-host-1']) {
      expect(withEnvOverrides(fromFile(), { HOST: good }).server.host).toBe(good);
    }
    for (const bad of ['bad host!', 'http://x', '-lead', 'a..b']) {
      expect(problemsOf(() => withEnvOverrides(fromFile(), { HOST: bad }))).toEqual([`HOST: expected an IP address (0.0.0.0, ::, 127.0.0.1) or a host name, got ${JSON.stringify(bad)}`]);
    }
    expect(problemsOf(() => fromFile({ server: { host: 'bad host!' } }))).toEqual(['server.host: expected an IP address (0.0.0.0, ::, 127.0.0.1) or a host name']);
  });
});

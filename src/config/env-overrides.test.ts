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
});

/** What the registry takes from the environment when the configuration leaves a setting out. */
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfigText } from '../config/load.js';
import { buildProviders, configuredOrEnv } from './registry.js';

const where = { id: 'br', key: 'region', source: 'test.yaml' };

describe('configuredOrEnv', () => {
  it('takes the configured value first, then the first variable set; an empty one counts as not set', () => {
    const env = { AWS_REGION: '', AWS_DEFAULT_REGION: 'eu-west-1' };
    expect(configuredOrEnv(where, 'us-west-2', env, ['AWS_REGION', 'AWS_DEFAULT_REGION'])).toBe('us-west-2');
    expect(configuredOrEnv(where, undefined, env, ['AWS_REGION', 'AWS_DEFAULT_REGION'])).toBe('eu-west-1');
    // An unset ${VAR} in the file leaves an empty value: the environment's default applies.
    expect(configuredOrEnv(where, '', env, ['AWS_REGION', 'AWS_DEFAULT_REGION'])).toBe('eu-west-1');
    expect(configuredOrEnv(where, undefined, { AWS_REGION: '' }, ['AWS_REGION'])).toBeUndefined();
  });

  it('refuses a variable whose value no HTTP header can carry, naming it', () => {
    expect(() => configuredOrEnv({ id: 'o', key: 'api_key', source: 'test.yaml' }, undefined, { OPENAI_API_KEY: 'sk-abc\n' }, ['OPENAI_API_KEY'])).toThrow(
      new ConfigError('test.yaml', ['providers.o.api_key: the environment variable OPENAI_API_KEY contains a line break, which an HTTP header cannot carry (a trailing newline from a secret file?)']),
    );
  });
});

describe('buildProviders', () => {
  it('stops at a provider key from the environment with a trailing newline', async () => {
    const { config } = parseConfigText('providers:\n  o: { type: openai }\n', 'test.yaml', {});
    const built = buildProviders(config, { OPENAI_API_KEY: 'sk-abc\n' }, 'test.yaml');
    await expect(built).rejects.toBeInstanceOf(ConfigError);
    await expect(built).rejects.toMatchObject({ problems: [expect.stringContaining('OPENAI_API_KEY contains a line break')] });
  });
});

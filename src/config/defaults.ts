/**
 * The embedded default used when no config file is given (DESIGN.md §4): the `mock` provider
 * serving model `mock`, plus a provider for each standard API-key env var that is set.
 */
import { withEnvOverrides } from './env-overrides.js';
import { ConfigError, validateConfig, type LoadedConfig } from './load.js';
import type { Config } from './schema.js';

/** The settings the embedded default takes from the environment, by the variable they come from. */
const FROM_ENV: Record<string, string> = {
  'auth.master_key': 'SWITCHYARD_MASTER_KEY',
  'storage.url': 'DATABASE_URL',
  'redis.url': 'REDIS_URL',
  'providers.openai.api_key': 'OPENAI_API_KEY',
  'providers.anthropic.api_key': 'ANTHROPIC_API_KEY',
  'providers.gemini.api_key': 'GEMINI_API_KEY',
};

export function embeddedDefault(env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const providers: Record<string, unknown> = { mock: { type: 'mock' } };
  const warnings: string[] = [];
  if (env.OPENAI_API_KEY) providers.openai = { type: 'openai', api_key: env.OPENAI_API_KEY };
  if (env.ANTHROPIC_API_KEY) providers.anthropic = { type: 'anthropic', api_key: env.ANTHROPIC_API_KEY };
  if (env.GEMINI_API_KEY) providers.gemini = { type: 'gemini', api_key: env.GEMINI_API_KEY };
  const raw = {
    auth: { master_key: env.SWITCHYARD_MASTER_KEY || undefined },
    storage: { url: env.DATABASE_URL || undefined },
    redis: { url: env.REDIS_URL || undefined },
    providers,
    models: { mock: { targets: [{ provider: 'mock', model: 'mock' }] } },
  };
  const config = validateDefault(raw);
  // HOST / PORT / LOG_LEVEL go through the same override as with a config file (and its errors:
  // `environment: PORT: expected a port number from 0 to 65535, got "abc"`).
  return { config: withEnvOverrides(config, env), source: 'embedded default', warnings };
}

/** The default validated; only environment values can be wrong in it, so a problem names its variable (`DATABASE_URL (storage.url): ...`). */
function validateDefault(raw: unknown): Config {
  try {
    return validateConfig(raw, 'embedded default');
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new ConfigError('environment', err.problems.map((problem) => {
      const path = Object.keys(FROM_ENV).find((key) => problem.startsWith(`${key}: `));
      return path ? `${FROM_ENV[path]} (${path})${problem.slice(path.length)}` : problem;
    }));
  }
}

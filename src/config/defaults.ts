/**
 * The embedded default used when no config file is given (DESIGN.md §4): the `mock` provider
 * serving model `mock`, plus a provider for each standard API-key env var that is set.
 */
import { validateConfig, type LoadedConfig } from './load.js';

export function embeddedDefault(env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const providers: Record<string, unknown> = { mock: { type: 'mock' } };
  const warnings: string[] = [];
  if (env.OPENAI_API_KEY) providers.openai = { type: 'openai', api_key: env.OPENAI_API_KEY };
  if (env.ANTHROPIC_API_KEY) providers.anthropic = { type: 'anthropic', api_key: env.ANTHROPIC_API_KEY };
  if (env.GEMINI_API_KEY) providers.gemini = { type: 'gemini', api_key: env.GEMINI_API_KEY };
  const raw = {
    server: { host: env.HOST || undefined, port: env.PORT || undefined },
    auth: { master_key: env.SWITCHYARD_MASTER_KEY || undefined },
    storage: { url: env.DATABASE_URL || undefined },
    redis: { url: env.REDIS_URL || undefined },
    logging: { level: env.LOG_LEVEL || undefined },
    providers,
    models: { mock: { targets: [{ provider: 'mock', model: 'mock' }] } },
  };
  return { config: validateConfig(raw, 'embedded default'), source: 'embedded default', warnings };
}

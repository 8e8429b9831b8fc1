/** Builds one adapter per configured provider. */
import type { Config, ProviderConfig } from '../config/schema.js';
import { MockAdapter } from './mock/adapter.js';
import { OpenAIAdapter } from './openai/adapter.js';
import { PRESETS } from './openai/presets.js';
import type { AttemptTimeouts, ProviderAdapter } from './types.js';

export interface Provider {
  adapter: ProviderAdapter;
  timeouts: AttemptTimeouts;
}

export function buildProviders(config: Config, env: NodeJS.ProcessEnv = process.env): Map<string, Provider> {
  const providers = new Map<string, Provider>();
  for (const [id, providerConfig] of Object.entries(config.providers)) {
    const overrides = 'timeouts' in providerConfig ? providerConfig.timeouts : undefined;
    providers.set(id, {
      adapter: buildAdapter(id, providerConfig, env),
      timeouts: {
        firstByteMs: overrides?.first_byte_ms ?? config.upstream.timeouts.first_byte_ms,
        totalMs: overrides?.total_ms ?? config.upstream.timeouts.total_ms,
      },
    });
  }
  return providers;
}

function buildAdapter(id: string, config: ProviderConfig, env: NodeJS.ProcessEnv): ProviderAdapter {
  switch (config.type) {
    case 'mock':
      return new MockAdapter({ id, latencyMs: config.latency_ms, tokensPerSecond: config.tokens_per_second });
    case 'openai': {
      const headers: Record<string, string> = { ...config.headers };
      if (config.organization) headers['openai-organization'] = config.organization;
      if (config.project) headers['openai-project'] = config.project;
      return new OpenAIAdapter({
        id,
        type: 'openai',
        baseUrl: config.base_url ?? 'https://api.openai.com/v1',
        apiKey: config.api_key ?? env.OPENAI_API_KEY,
        headers,
        streamUsage: true,
      });
    }
    case 'openai-compatible': {
      const preset = config.preset ? PRESETS[config.preset] : undefined;
      return new OpenAIAdapter({
        id,
        type: 'openai-compatible',
        baseUrl: config.base_url ?? preset?.baseUrl ?? '',
        apiKey: config.api_key ?? (preset?.apiKeyEnv ? env[preset.apiKeyEnv] : undefined),
        headers: config.headers ?? {},
        streamUsage: config.stream_usage ?? true,
      });
    }
  }
}

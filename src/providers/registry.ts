/**
 * Builds one adapter per configured provider. The native providers' modules (and their libraries:
 * the AWS signer and event-stream codec, ...) are loaded only when a provider of that type is
 * configured, so a gateway that does not use them does not carry them in memory.
 */
import { ConfigError } from '../config/load.js';
import { secret, secretHeaders, upstreamAddress } from '../gateway/redact-secrets.js';
import { GOOGLE_PROJECT_ID, type Config, type ProviderConfig } from '../config/schema.js';
import { headerValueProblem } from '../config/values.js';
import { MockAdapter } from './mock/adapter.js';
import { OpenAIAdapter } from './openai/adapter.js';
import { PRESETS } from './openai/presets.js';
import type { AttemptTimeouts, ProviderAdapter } from './types.js';

export interface Provider {
  adapter: ProviderAdapter;
  timeouts: AttemptTimeouts;
}

/** `source` names the config in errors (its file path): what the schema cannot check without the environment (a vertex project) is found here. */
export async function buildProviders(config: Config, env: NodeJS.ProcessEnv = process.env, source = 'configuration'): Promise<Map<string, Provider>> {
  const providers = new Map<string, Provider>();
  for (const [id, providerConfig] of Object.entries(config.providers)) {
    const overrides = 'timeouts' in providerConfig ? providerConfig.timeouts : undefined;
    providers.set(id, {
      adapter: await buildAdapter(id, providerConfig, env, source),
      timeouts: {
        firstByteMs: overrides?.first_byte_ms ?? config.upstream.timeouts.first_byte_ms,
        totalMs: overrides?.total_ms ?? config.upstream.timeouts.total_ms,
      },
    });
  }
  return providers;
}

/** Each key is registered as a secret where it is read (`secret`), so error messages that quote it are masked (gateway/redact-secrets.ts). */
async function buildAdapter(id: string, config: ProviderConfig, env: NodeJS.ProcessEnv, source: string): Promise<ProviderAdapter> {
  if ('headers' in config) secretHeaders(config.headers);
  if ('base_url' in config) upstreamAddress(config.base_url);
  const orEnv = (key: string, configured: string | undefined, ...names: string[]): string | undefined => configuredOrEnv({ id, key, source }, configured, env, names);
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
        apiKey: secret(orEnv('api_key', config.api_key, 'OPENAI_API_KEY')),
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
        apiKey: secret(orEnv('api_key', config.api_key, ...(preset?.apiKeyEnv ? [preset.apiKeyEnv] : []))),
        headers: config.headers ?? {},
        streamUsage: config.stream_usage ?? true,
      });
    }
    case 'azure': {
      // Portal URLs may end in /openai or /openai/v1: the paths below add those themselves.
      const base = config.base_url.replace(/\/+$/, '').replace(/\/openai(?:\/v1)?$/, '');
      const version = encodeURIComponent(config.api_version);
      return new OpenAIAdapter({
        id,
        type: 'azure',
        baseUrl: `${base}/openai/v1`,
        // Deployment-style URLs name the deployment (the target's model) and need api-version.
        urlFor:
          config.api_style === 'deployments'
            ? (operation, model) => `${base}/openai/deployments/${encodeURIComponent(model)}/${operation}?api-version=${version}`
            : undefined,
        apiKey: secret(orEnv('api_key', config.api_key, 'AZURE_OPENAI_API_KEY')),
        authHeader: 'api-key',
        headers: config.headers ?? {},
        streamUsage: config.stream_usage ?? true,
      });
    }
    case 'anthropic': {
      const { AnthropicAdapter } = await import('./anthropic/adapter.js');
      return new AnthropicAdapter({
        id,
        baseUrl: config.base_url,
        apiKey: secret(orEnv('api_key', config.api_key, 'ANTHROPIC_API_KEY')),
        anthropicVersion: config.anthropic_version,
        defaultMaxTokens: config.default_max_tokens,
        headers: config.headers ?? {},
      });
    }
    case 'gemini': {
      const { GeminiAdapter } = await import('./gemini/adapter.js');
      return new GeminiAdapter({ id, baseUrl: config.base_url, apiKey: secret(orEnv('api_key', config.api_key, 'GEMINI_API_KEY', 'GOOGLE_API_KEY')), headers: config.headers ?? {} });
    }
    case 'vertex': {
      const project = config.project || env.GOOGLE_CLOUD_PROJECT;
      if (!project) {
        throw new ConfigError(source, [`providers.${id}.project: a vertex provider needs a Google Cloud project: set project, or the GOOGLE_CLOUD_PROJECT environment variable`]);
      }
      if (!GOOGLE_PROJECT_ID.test(project)) {
        throw new ConfigError(source, [`providers.${id}.project: GOOGLE_CLOUD_PROJECT ${JSON.stringify(project)} is not a Google Cloud project id`]);
      }
      const { VertexAdapter } = await import('./vertex/adapter.js');
      // Empty values (an unset ${VAR}) count as not set.
      const file = config.credentials_file || env.GOOGLE_APPLICATION_CREDENTIALS;
      return new VertexAdapter({
        id,
        project,
        location: config.location,
        baseUrl: config.base_url,
        credentials: config.credentials_json ? { kind: 'json', text: config.credentials_json } : file ? { kind: 'file', path: file } : undefined,
        tokenUrl: config.token_url,
        headers: config.headers ?? {},
      });
    }
    case 'bedrock': {
      const { BedrockAdapter } = await import('./bedrock/adapter.js');
      const accessKeyId = orEnv('access_key_id', config.access_key_id, 'AWS_ACCESS_KEY_ID');
      const secretAccessKey = secret(orEnv('secret_access_key', config.secret_access_key, 'AWS_SECRET_ACCESS_KEY'));
      // The environment's session token belongs with the environment's key pair only.
      const sessionToken = secret(orEnv('session_token', config.session_token, ...(config.access_key_id ? [] : ['AWS_SESSION_TOKEN'])));
      return new BedrockAdapter({
        id,
        region: orEnv('region', config.region, 'AWS_REGION', 'AWS_DEFAULT_REGION') ?? 'us-east-1',
        credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } : undefined,
        baseUrl: config.base_url,
        defaultMaxTokens: config.default_max_tokens,
        headers: config.headers ?? {},
      });
    }
  }
}

/**
 * A provider's setting, else the first of these environment variables that is set. An empty value
 * (an unset ${VAR}) counts as not set. The file's values passed the schema; a variable's is
 * checked here, since each of these is sent in a header (or, for a region, in the host name).
 */
export function configuredOrEnv(where: { id: string; key: string; source: string }, configured: string | undefined, env: NodeJS.ProcessEnv, names: string[]): string | undefined {
  if (configured) return configured;
  for (const name of names) {
    const value = env[name];
    if (!value) continue;
    const problem = headerValueProblem(value);
    if (problem) throw new ConfigError(where.source, [`providers.${where.id}.${where.key}: the environment variable ${name} ${problem}`]);
    return value;
  }
  return undefined;
}

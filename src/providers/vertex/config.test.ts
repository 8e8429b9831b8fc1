/** `type: vertex` in the configuration: the schema's checks, defaults, and what the registry resolves from the environment. */
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfigText } from '../../config/load.js';
import { buildProviders } from '../registry.js';

function problemsOf(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfigText(text, 'test.yaml', env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError, but the configuration was accepted');
}

const provider = (block: string): string => `providers:\n  vx: { type: vertex, ${block} }\n`;

describe('schema', () => {
  it('accepts a minimal block; location defaults to us-central1', () => {
    const { config } = parseConfigText(provider('project: my-proj-123'), 'test.yaml', {});
    expect(config.providers.vx).toEqual({ type: 'vertex', project: 'my-proj-123', location: 'us-central1' });
  });

  it('accepts every key', () => {
    const text = provider(
      'project: "example.com:legacy-proj", location: global, credentials_file: /etc/sa.json, base_url: "https://vertex.internal", token_url: "https://oauth2.internal/token", headers: { x-team: a }, timeouts: { first_byte_ms: 1000 }',
    );
    expect(parseConfigText(text, 'test.yaml', {}).config.providers.vx).toMatchObject({ location: 'global', credentials_file: '/etc/sa.json', token_url: 'https://oauth2.internal/token' });
  });

  it.each([
    ['a location that is not one', 'location: "us-central1.evil.example/x"', 'providers.vx.location: expected a Vertex AI location'],
    ['a project id with a slash', 'project: "my-proj/../other"', 'providers.vx.project: "my-proj/../other" is not a Google Cloud project id'],
    ['both kinds of credentials', 'project: p1234, credentials_file: /a.json, credentials_json: "{}"', 'providers.vx.credentials_json: set credentials_file or credentials_json, not both'],
    ['a token_url that is not a URL', 'project: p1234, token_url: oauth2', 'providers.vx.token_url:'],
    ['an unknown key', 'project: p1234, api_key: x', 'providers.vx: unknown key "api_key"'],
  ])('refuses %s, naming the path', (_label, block, problem) => {
    expect(problemsOf(provider(block))).toEqual([expect.stringContaining(problem)]);
  });

  it('lists vertex among the provider types', () => {
    expect(problemsOf('providers:\n  x: { type: vertexai }\n')).toEqual([expect.stringContaining('openai, openai-compatible, anthropic, gemini, vertex, bedrock')]);
  });

  it('an unset ${VAR} for credentials or project leaves the key unset (a warning), not an error', () => {
    const { config, warnings } = parseConfigText(provider('project: "${NO_PROJECT}", credentials_json: "${NO_SA_JSON}"'), 'test.yaml', {});
    expect(config.providers.vx).toEqual({ type: 'vertex', location: 'us-central1' });
    expect(warnings).toEqual([expect.stringContaining('NO_PROJECT'), expect.stringContaining('NO_SA_JSON')]);
  });
});

describe('registry', () => {
  const build = (block: string, env: NodeJS.ProcessEnv = {}) => buildProviders(parseConfigText(provider(block), 'test.yaml', env).config, env);

  it('no project and no GOOGLE_CLOUD_PROJECT: a start-up error naming the path and both ways to set it', async () => {
    await expect(build('location: global')).rejects.toThrow(/providers\.vx\.project: a vertex provider needs a Google Cloud project: set project, or the GOOGLE_CLOUD_PROJECT environment variable/);
    await expect(build('project: "${UNSET}"')).rejects.toBeInstanceOf(ConfigError);
    await expect(build('location: global', { GOOGLE_CLOUD_PROJECT: 'bad/project' })).rejects.toThrow(/GOOGLE_CLOUD_PROJECT "bad\/project" is not a Google Cloud project id/);
  });

  it('takes the project from GOOGLE_CLOUD_PROJECT and starts without any credentials (they are checked per request)', async () => {
    const providers = await build('location: europe-west4', { GOOGLE_CLOUD_PROJECT: 'env-proj' });
    expect(providers.get('vx')!.adapter.type).toBe('vertex');
  });
});

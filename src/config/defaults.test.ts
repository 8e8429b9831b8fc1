import { describe, expect, it } from 'vitest';
import { embeddedDefault } from './defaults.js';
import { ConfigError } from './load.js';

describe('embeddedDefault', () => {
  it('serves model "mock" from the mock provider and nothing else when no key is set', () => {
    const { config, source, warnings } = embeddedDefault({});
    expect(source).toBe('embedded default');
    expect(Object.keys(config.providers)).toEqual(['mock']);
    expect(config.providers.mock).toEqual({ type: 'mock', latency_ms: 0, tokens_per_second: 0 });
    expect(Object.keys(config.models)).toEqual(['mock']);
    expect(config.models.mock).toMatchObject({ targets: [{ provider: 'mock', model: 'mock' }], strategy: 'fallback', fallbacks: [] });
    expect(warnings).toEqual([]);
  });

  it('listens on 0.0.0.0:8080 with no master key, default storage (SQLite unless DATABASE_URL) and no Redis by default', () => {
    const { config } = embeddedDefault({});
    expect(config.server.host).toBe('0.0.0.0');
    expect(config.server.port).toBe(8080);
    expect(config.auth.master_key).toBeUndefined();
    expect(config.storage.url).toBeUndefined();
    expect(config.redis.url).toBeUndefined();
    expect(config.logging.level).toBe('info');
  });

  it('adds an "openai" provider with the key only when OPENAI_API_KEY is set', () => {
    const { config } = embeddedDefault({ OPENAI_API_KEY: 'sk-proj-abc' });
    expect(config.providers.openai).toEqual({ type: 'openai', api_key: 'sk-proj-abc' });
    expect(Object.keys(config.providers).sort()).toEqual(['mock', 'openai']);
    // The model list stays `mock`; OpenAI models are reachable as "openai/<model>".
    expect(Object.keys(config.models)).toEqual(['mock']);
  });

  it('treats an empty OPENAI_API_KEY as unset', () => {
    expect(Object.keys(embeddedDefault({ OPENAI_API_KEY: '' }).config.providers)).toEqual(['mock']);
  });

  it('adds an anthropic and a gemini provider for ANTHROPIC_API_KEY and GEMINI_API_KEY', () => {
    const { config, warnings } = embeddedDefault({ ANTHROPIC_API_KEY: 'sk-ant-x', GEMINI_API_KEY: 'g-x' });
    expect(Object.keys(config.providers)).toEqual(['mock', 'anthropic', 'gemini']);
    expect(config.providers.anthropic).toMatchObject({ type: 'anthropic', api_key: 'sk-ant-x' });
    expect(config.providers.gemini).toMatchObject({ type: 'gemini', api_key: 'g-x' });
    expect(warnings).toEqual([]);
  });

  it('takes HOST, PORT, SWITCHYARD_MASTER_KEY, DATABASE_URL, REDIS_URL and LOG_LEVEL from the environment', () => {
    const { config } = embeddedDefault({
      HOST: '127.0.0.1',
      PORT: '9191',
      SWITCHYARD_MASTER_KEY: 'sk-master',
      DATABASE_URL: 'postgres://db/sy',
      REDIS_URL: 'redis://cache:6379',
      LOG_LEVEL: 'debug',
    });
    expect(config.server).toMatchObject({ host: '127.0.0.1', port: 9191 });
    expect(config.auth.master_key).toBe('sk-master');
    expect(config.storage.url).toBe('postgres://db/sy');
    expect(config.redis.url).toBe('redis://cache:6379');
    expect(config.logging.level).toBe('debug');
  });

  it('rejects an invalid PORT with a ConfigError naming the variable', () => {
    expect(() => embeddedDefault({ PORT: 'eighty' })).toThrow(ConfigError);
    try {
      embeddedDefault({ PORT: 'eighty' });
    } catch (err) {
      expect((err as ConfigError).source).toBe('environment');
      expect((err as ConfigError).problems[0]).toMatch(/^PORT: /);
    }
  });

  // The same errors as with a config file (the override in env-overrides.ts), not schema wording.
  const environmentProblems = (env: NodeJS.ProcessEnv): { source: string; problems: string[] } => {
    try {
      embeddedDefault(env);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return { source: (err as ConfigError).source, problems: (err as ConfigError).problems };
    }
    throw new Error('expected a ConfigError');
  };

  it('reports a bad PORT or LOG_LEVEL as the environment variable, as with a config file', () => {
    expect(environmentProblems({ PORT: 'abc' })).toEqual({ source: 'environment', problems: ['PORT: expected a port number from 0 to 65535, got "abc"'] });
    expect(environmentProblems({ LOG_LEVEL: 'loud' })).toEqual({
      source: 'environment',
      problems: ['LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got "loud"'],
    });
    expect(environmentProblems({ PORT: '70000', LOG_LEVEL: 'loud' }).problems).toHaveLength(2);
  });

  it('names the variable behind a bad DATABASE_URL or REDIS_URL', () => {
    const { source, problems } = environmentProblems({ DATABASE_URL: 'mysql://db/sy', REDIS_URL: 'cache' });
    expect(source).toBe('environment');
    expect(problems).toEqual([expect.stringMatching(/^DATABASE_URL \(storage\.url\): expected sqlite:/), expect.stringMatching(/^REDIS_URL \(redis\.url\): expected redis:\/\//)]);
  });
});

import { describe, expect, it } from 'vitest';
import { parseConfigText } from './load.js';
import { changesNeedingRestart, reloadedConfig } from './reload-scope.js';
import type { Config } from './schema.js';

const BASE = `
providers:
  fake: { type: mock }
models:
  first: { targets: [ { provider: fake, model: mock } ] }
`;

function config(yaml: string): Config {
  return parseConfigText(yaml, 'test.yaml', {}).config;
}

describe('changesNeedingRestart', () => {
  it('is empty when only providers, models and routing changed', () => {
    const next = config(`${BASE.replace('first', 'second')}\nrouting: { retry: { max_retries: 5 } }\n`);
    expect(changesNeedingRestart(config(BASE), next)).toEqual([]);
  });

  it('names every other section that changed, and the settings fixed at start-up', () => {
    const next = config(`${BASE}\nserver: { port: 9999 }\nmetrics: { enabled: false }\nrouting: { allow_client_overrides: true }\n`);
    expect(changesNeedingRestart(config(BASE), next)).toEqual(['server', 'metrics', 'routing.allow_client_overrides']);
  });

  it('names the first semantic cache when Redis would have to share it', () => {
    const semantic = BASE.replace('first: { targets', 'first: { cache: { semantic: { threshold: 0.9 } }, targets');
    expect(changesNeedingRestart(config(BASE), config(semantic))).toEqual([]);
    const withRedis = (yaml: string) => config(`${yaml}\nredis: { url: "redis://127.0.0.1:6379" }\n`);
    expect(changesNeedingRestart(withRedis(BASE), withRedis(semantic))).toEqual(['models.*.cache.semantic (first semantic group)']);
    // A near cache shares deletions through Redis from the start: the first semantic group needs no restart.
    const withNearCache = (yaml: string) => config(`${yaml}\nredis: { url: "redis://127.0.0.1:6379" }\ncache: { near_ttl: 30 }\n`);
    expect(changesNeedingRestart(withNearCache(BASE), withNearCache(semantic))).toEqual([]);
  });
});

describe('reloadedConfig', () => {
  it('takes providers, models and routing from the new file and keeps everything else', () => {
    const current = config(`${BASE}\nserver: { port: 1234 }\n`);
    const next = config(`${BASE.replace('first', 'second')}\nserver: { port: 9999 }\nrouting: { allow_client_overrides: true, retry: { max_retries: 5 } }\n`);
    const applied = reloadedConfig(current, next);
    expect(Object.keys(applied.models)).toEqual(['second']);
    expect(applied.routing.retry.max_retries).toBe(5);
    expect(applied.routing.allow_client_overrides).toBe(false);
    expect(applied.server.port).toBe(1234);
  });
});

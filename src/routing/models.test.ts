import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../config/load.js';
import type { Provider } from '../providers/registry.js';
import type { ProviderAdapter } from '../providers/types.js';
import { ModelRegistry } from './models.js';

function provider(id: string): Provider {
  const fail = (): never => {
    throw new Error('not called in these tests');
  };
  const adapter: ProviderAdapter = { id, type: 'fake', chat: fail, chatStream: fail, embeddings: fail };
  return { adapter, timeouts: { firstByteMs: 0, totalMs: 0 } };
}

const CONFIG = `
providers:
  openai: { type: openai, api_key: sk-test }
  together: { type: openai-compatible, preset: together }
  demo: { type: mock }
models:
  smart:
    targets:
      - { provider: openai, model: gpt-4o }
      - { provider: together, model: meta-llama/Llama-3.3-70B-Instruct-Turbo }
  fast:
    targets: [ { provider: demo, model: mock } ]
  openai/gpt-4o:
    targets: [ { provider: demo, model: pinned } ]
`;

function registry(): { models: ModelRegistry; providers: Map<string, Provider> } {
  const { config } = parseConfigText(CONFIG, 'test.yaml', {});
  const providers = new Map(Object.keys(config.providers).map((id) => [id, provider(id)]));
  return { models: new ModelRegistry(config, providers), providers };
}

describe('ModelRegistry', () => {
  it('resolves a configured group to its targets, in order, with their providers', () => {
    const { models, providers } = registry();
    const group = models.resolve('smart')!;
    expect(group.name).toBe('smart');
    expect(group.configured).toBe(true);
    expect(group.members.map((m) => [m.target.providerId, m.target.model])).toEqual([
      ['openai', 'gpt-4o'],
      ['together', 'meta-llama/Llama-3.3-70B-Instruct-Turbo'],
    ]);
    expect(group.members[0]!.target.provider).toBe(providers.get('openai'));
    expect(group.members[1]!.target.provider).toBe(providers.get('together'));
  });

  it('addresses a provider directly as <provider>/<model>', () => {
    const { models, providers } = registry();
    const group = models.resolve('openai/gpt-4o-mini')!;
    expect(group).toMatchObject({ name: 'openai/gpt-4o-mini', configured: false, strategy: { name: 'fallback' }, fallbacks: [] });
    expect(group.members).toHaveLength(1);
    expect(group.members[0]!.target).toMatchObject({ providerId: 'openai', provider: providers.get('openai'), model: 'gpt-4o-mini', key: 'openai/gpt-4o-mini', modelLabel: '*' });
    expect(group.members[0]!.target.info.contextWindow).toBeGreaterThan(0);
  });

  it('splits at the first slash only, so upstream model names may contain slashes', () => {
    const group = registry().models.resolve('together/meta-llama/Llama-3.3-70B-Instruct-Turbo')!;
    expect(group.members[0]!.target.providerId).toBe('together');
    expect(group.members[0]!.target.model).toBe('meta-llama/Llama-3.3-70B-Instruct-Turbo');
  });

  it('serves no directly addressed model with an empty, "." or ".." path segment, and keeps no target for it', () => {
    const { models } = registry();
    for (const name of ['openai/..', 'openai/../../x', 'openai/a//b', 'openai/./m', 'openai/m/']) expect(models.resolve(name), name).toBeUndefined();
    expect(models.targets().some((target) => target.model.includes('..') || target.model.includes('//'))).toBe(false);
  });

  it('lets a configured group whose name contains "/" win over direct addressing', () => {
    const group = registry().models.resolve('openai/gpt-4o')!;
    expect(group.configured).toBe(true);
    expect(group.members).toHaveLength(1);
    expect(group.members[0]!.target.providerId).toBe('demo');
    expect(group.members[0]!.target.model).toBe('pinned');
  });

  it.each([
    ['an unknown group', 'gpt-5'],
    ['an unknown provider', 'anthropic/claude-sonnet-4-5'],
    ['an empty provider', '/gpt-4o'],
    ['an empty model', 'openai/'],
    ['the empty string', ''],
    ['a provider id without model', 'openai'],
  ])('returns undefined for %s (%s)', (_what, name) => {
    expect(registry().models.resolve(name)).toBeUndefined();
  });

  it('is case-sensitive, like provider ids and model names upstream', () => {
    expect(registry().models.resolve('Smart')).toBeUndefined();
    expect(registry().models.resolve('OpenAI/gpt-4o-mini')).toBeUndefined();
  });

  it('gives the same group object for repeated direct lookups', () => {
    const { models } = registry();
    expect(models.resolve('demo/anything')).toBe(models.resolve('demo/anything'));
  });

  it('keeps the memo of direct names bounded', () => {
    const { models } = registry();
    const first = models.resolve('demo/m-0');
    for (let i = 1; i <= 1000; i++) models.resolve(`demo/m-${i}`);
    // The memo was cleared once full: the name resolves again, to an equal but new group.
    const again = models.resolve('demo/m-0');
    expect(again).toEqual(first);
    expect(again).not.toBe(first);
  });

  it('lists configured group names in config order, and provider ids', () => {
    const { models } = registry();
    models.resolve('openai/gpt-4o-mini');
    expect(models.groupNames()).toEqual(['smart', 'fast', 'openai/gpt-4o']);
    expect(models.providerIds()).toEqual(['openai', 'together', 'demo']);
  });
});

import { describe, expect, it } from 'vitest';
import { configSchema } from '../config/schema.js';
import { GatewayError } from '../gateway/errors.js';
import type { ChatRequest } from '../gateway/types.js';
import type { Provider } from '../providers/registry.js';
import type { ProviderAdapter } from '../providers/types.js';
import { ModelRegistry } from './models.js';
import { needsOf, PromptSize, type RequestNeeds } from './needs.js';
import { RoutePlan, type RouteConstraints, type RouteRequest } from './plan.js';
import { createStrategy } from './strategies.js';

/** An adapter the plan never calls (planning only orders targets). */
function provider(id: string): Provider {
  const unexpected = (): never => {
    throw new Error(`${id}: a route plan must not call the upstream`);
  };
  const adapter: ProviderAdapter = { id, type: 'fake', chat: unexpected, chatStream: unexpected, embeddings: unexpected };
  return { adapter, timeouts: { firstByteMs: 0, totalMs: 0 } };
}

/** A real registry over a parsed config; every provider is a mock. */
function registryFor(models: Record<string, unknown>, routing: Record<string, unknown> = {}): ModelRegistry {
  const config = configSchema.parse({
    providers: { a: { type: 'mock' }, b: { type: 'mock' }, c: { type: 'mock' }, d: { type: 'mock' } },
    models,
    routing,
  });
  return new ModelRegistry(config, new Map(Object.keys(config.providers).map((id) => [id, provider(id)])));
}

/** A prompt of a known size, so context-window checks need no tokenizer. */
class KnownPrompt extends PromptSize {
  constructor(readonly size: number) {
    super({ model: 'm', messages: [] });
  }

  override upperBound(): number {
    return this.size;
  }

  override tokens(): number {
    return this.size;
  }

  override estimate(): number {
    return this.size;
  }

  override fits(contextWindow: number, maxOutputTokens: number): boolean {
    return this.size + maxOutputTokens <= contextWindow;
  }
}

const textRequest: ChatRequest = { model: 'smart', messages: [{ role: 'user', content: 'hi' }] };
const toolsRequest: ChatRequest = { ...textRequest, tools: [{ type: 'function', function: { name: 'weather', parameters: { type: 'object' } } }] };

/** A chat request's route: what it needs, a prompt of `promptTokens`, and the constraints. */
function chat(constraints: RouteConstraints = {}, options: { promptTokens?: number; request?: ChatRequest; maxTokens?: number } = {}): RouteRequest {
  const needs: RequestNeeds = { ...needsOf(options.request ?? textRequest, false), maxOutputTokens: options.maxTokens };
  return { stream: false, needs, prompt: new KnownPrompt(options.promptTokens ?? 10), constraints };
}

function planFor(registry: ModelRegistry, group: string, request: RouteRequest = chat()): RoutePlan {
  return new RoutePlan(registry, registry.group(group)!, request);
}

/** One pass as `<provider>/<model>` keys, last resorts marked. */
function pass(plan: RoutePlan): string[] {
  return [...plan.pass()].map((c) => (c.lastResort ? `${c.target.key} (last resort)` : c.target.key));
}

const target = (provider: string, extra: Record<string, unknown> = {}) => ({ provider, model: 'm', ...extra });

describe('RoutePlan.pass: order', () => {
  it('visits the group in config order under the fallback strategy', () => {
    const registry = registryFor({ smart: { targets: [target('c'), target('a'), target('b')] } });
    expect(pass(planFor(registry, 'smart'))).toEqual(['c/m', 'a/m', 'b/m']);
  });

  it('follows a round-robin group: each request starts one target further along, and its retry passes keep its order', () => {
    const registry = registryFor({ smart: { strategy: 'round-robin', targets: [target('a'), target('b'), target('c')] } });
    const plan = planFor(registry, 'smart');
    expect(pass(plan)).toEqual(['a/m', 'b/m', 'c/m']);
    expect(pass(plan)).toEqual(['a/m', 'b/m', 'c/m']);
    // The rotation belongs to the group: the next request starts at b, not at c.
    expect(pass(planFor(registry, 'smart'))).toEqual(['b/m', 'c/m', 'a/m']);
    expect(pass(planFor(registry, 'smart'))).toEqual(['c/m', 'a/m', 'b/m']);
  });

  it('gives a cost group the request\'s prompt and output estimate', () => {
    const registry = registryFor({
      smart: {
        strategy: 'cost',
        targets: [target('a', { price: { input: 5, output: 1 } }), target('b', { price: { input: 1, output: 10 } })],
      },
    });
    // Long prompt, short answer: b's cheap input wins (1000·1 + 10·10 < 1000·5 + 10·1).
    expect(pass(planFor(registry, 'smart', chat({}, { promptTokens: 1000, maxTokens: 10 })))).toEqual(['b/m', 'a/m']);
    // Short prompt, long answer: a's cheap output wins (10·5 + 1000·1 < 10·1 + 1000·10).
    expect(pass(planFor(registry, 'smart', chat({}, { promptTokens: 10, maxTokens: 1000 })))).toEqual(['a/m', 'b/m']);
  });

  it('uses the request\'s strategy instead of the group\'s when one is given', () => {
    const registry = registryFor({ smart: { targets: [target('a'), target('b'), target('c')] } });
    const roundRobin = createStrategy('round-robin');
    expect(pass(planFor(registry, 'smart', chat({ strategy: roundRobin })))).toEqual(['a/m', 'b/m', 'c/m']);
    expect(pass(planFor(registry, 'smart', chat({ strategy: roundRobin })))).toEqual(['b/m', 'c/m', 'a/m']);
  });

  it('tags every candidate with the group it was reached through', () => {
    const registry = registryFor({ smart: { targets: [target('a')], fallbacks: ['backup'] }, backup: { targets: [target('b')] } });
    const candidates = [...planFor(registry, 'smart').pass()];
    expect(candidates.map((c) => [c.target.key, c.group.name, c.lastResort])).toEqual([
      ['a/m', 'smart', false],
      ['b/m', 'backup', false],
    ]);
  });
});

describe('RoutePlan.pass: fallback groups', () => {
  it('visits fallback groups after the group\'s targets, breadth first', () => {
    const registry = registryFor({
      smart: { targets: [target('a')], fallbacks: ['first', 'second'] },
      first: { targets: [target('b')], fallbacks: ['third'] },
      second: { targets: [target('c')] },
      third: { targets: [target('d')] },
    });
    expect(pass(planFor(registry, 'smart'))).toEqual(['a/m', 'b/m', 'c/m', 'd/m']);
  });

  it('calls a deployment listed by several groups once per pass, where it first comes', () => {
    const registry = registryFor({
      smart: { targets: [{ provider: 'a', model: 'm' }, { provider: 'b', model: 'm' }], fallbacks: ['backup'] },
      backup: { targets: [{ provider: 'a', model: 'm' }, { provider: 'c', model: 'm' }] },
    });
    expect(pass(planFor(registry, 'smart'))).toEqual(['a/m', 'b/m', 'c/m']);
  });

  it('visits each group once when fallbacks point at each other', () => {
    const registry = registryFor({
      smart: { targets: [target('a')], fallbacks: ['backup', 'smart'] },
      backup: { targets: [target('b')], fallbacks: ['smart', 'backup'] },
    });
    expect(pass(planFor(registry, 'smart'))).toEqual(['a/m', 'b/m']);
    expect(pass(planFor(registry, 'backup'))).toEqual(['b/m', 'a/m']);
  });

  it('does not visit context-window fallbacks while a target of the group fits', () => {
    const registry = registryFor({
      smart: { targets: [target('a', { context_window: 100 }), target('b', { context_window: 10_000 })], context_window_fallbacks: ['long'], fallbacks: ['backup'] },
      long: { targets: [target('c')] },
      backup: { targets: [target('d')] },
    });
    expect(pass(planFor(registry, 'smart', chat({}, { promptTokens: 500 })))).toEqual(['b/m', 'd/m']);
  });

  it('hands a prompt too big for every target to the context-window fallbacks before the fallbacks', () => {
    const registry = registryFor({
      smart: { targets: [target('a', { context_window: 100 }), target('b', { context_window: 200 })], context_window_fallbacks: ['long'], fallbacks: ['backup'] },
      long: { targets: [target('c', { context_window: 100_000 })] },
      backup: { targets: [target('d')] },
    });
    expect(pass(planFor(registry, 'smart', chat({}, { promptTokens: 500 })))).toEqual(['c/m', 'd/m']);
  });

  it('counts max_tokens into the context window', () => {
    const registry = registryFor({ smart: { targets: [target('a', { context_window: 1000 })], context_window_fallbacks: ['long'] }, long: { targets: [target('b')] } });
    expect(pass(planFor(registry, 'smart', chat({}, { promptTokens: 500, maxTokens: 500 })))).toEqual(['a/m']);
    expect(pass(planFor(registry, 'smart', chat({}, { promptTokens: 500, maxTokens: 501 })))).toEqual(['b/m']);
  });

  it('inserts a fallback group\'s context-window fallbacks right after it, ahead of groups queued earlier', () => {
    const registry = registryFor({
      smart: { targets: [target('a', { context_window: 100 })], fallbacks: ['small', 'backup'] },
      small: { targets: [target('b', { context_window: 100 })], context_window_fallbacks: ['long'] },
      long: { targets: [target('c')] },
      backup: { targets: [target('d')] },
    });
    expect(pass(planFor(registry, 'smart', chat({}, { promptTokens: 500 })))).toEqual(['c/m', 'd/m']);
  });

  it('ignores the context window of a request routed by name only (no prompt)', () => {
    const registry = registryFor({ smart: { targets: [target('a', { context_window: 1 })] } });
    expect(pass(planFor(registry, 'smart', { stream: false, constraints: {} }))).toEqual(['a/m']);
  });
});

describe('RoutePlan.pass: eligibility', () => {
  const regional = () =>
    registryFor({
      smart: {
        targets: [target('a', { region: 'eu-west-1' }), target('b', { region: 'europe-west4' }), target('c'), target('d', { region: 'eu' })],
      },
    });

  it('admits targets in or inside the allowed regions, not lookalikes or untagged ones', () => {
    expect(pass(planFor(regional(), 'smart', chat({ regions: ['eu'] })))).toEqual(['a/m', 'd/m']);
    expect(pass(planFor(regional(), 'smart', chat({ regions: ['europe-west4', 'us'] })))).toEqual(['b/m']);
    // A tag is inside a region when the region is a whole leading part of it.
    expect(pass(planFor(regional(), 'smart', chat({ regions: ['eu-west'] })))).toEqual(['a/m']);
    expect(pass(planFor(regional(), 'smart', chat({ regions: ['eu-w'] })))).toEqual([]);
  });

  it('applies regions to requests routed by name only too', () => {
    expect(pass(planFor(regional(), 'smart', { stream: false, constraints: { regions: ['eu-west-1'] } }))).toEqual(['a/m']);
  });

  it('keeps only the pinned provider, in fallback groups too', () => {
    const registry = registryFor({ smart: { targets: [target('a'), target('b')], fallbacks: ['backup'] }, backup: { targets: [target('c'), target('b', { model: 'other' })] } });
    expect(pass(planFor(registry, 'smart', chat({ pinProvider: 'b' })))).toEqual(['b/m', 'b/other']);
  });

  it('leaves out excluded providers', () => {
    const registry = registryFor({ smart: { targets: [target('a'), target('b'), target('c')] } });
    expect(pass(planFor(registry, 'smart', chat({ excludeProviders: ['a', 'c'] })))).toEqual(['b/m']);
  });

  it('leaves out targets that lack a capability the request needs', () => {
    const registry = registryFor({ smart: { targets: [target('a', { capabilities: { tools: false } }), target('b')] } });
    expect(pass(planFor(registry, 'smart', chat({}, { request: toolsRequest })))).toEqual(['b/m']);
    expect(pass(planFor(registry, 'smart', chat({}, { request: textRequest })))).toEqual(['a/m', 'b/m']);
  });

  it('checks no capabilities for a request routed by name only', () => {
    const registry = registryFor({ smart: { targets: [target('a', { capabilities: { chat: false } })] } });
    expect(pass(planFor(registry, 'smart', { stream: false, constraints: {} }))).toEqual(['a/m']);
  });
});

describe('RoutePlan.pass: circuit breakers', () => {
  const MINIMUM_REQUESTS = 3;

  function breakerRegistry(): ModelRegistry {
    return registryFor(
      { smart: { targets: [target('a'), target('b')], fallbacks: ['backup'] }, backup: { targets: [target('c')] } },
      { circuit_breaker: { minimum_requests: MINIMUM_REQUESTS, cooldown_ms: 3_600_000 } },
    );
  }

  function trip(registry: ModelRegistry, key: string): void {
    const breaker = registry.targets().find((t) => t.key === key)!.breaker!;
    for (let i = 0; i < MINIMUM_REQUESTS; i++) {
      expect(breaker.tryAcquire()).toBe(true);
      breaker.onFailure();
    }
    expect(breaker.isAvailable()).toBe(false);
  }

  it('offers an open target of several groups as a last resort once', () => {
    const registry = registryFor(
      { smart: { targets: [target('a'), target('b')], fallbacks: ['backup'] }, backup: { targets: [target('a'), target('c')] } },
      { circuit_breaker: { minimum_requests: MINIMUM_REQUESTS, cooldown_ms: 3_600_000 } },
    );
    trip(registry, 'a/m');
    expect(pass(planFor(registry, 'smart'))).toEqual(['b/m', 'c/m', 'a/m (last resort)']);
  });

  it('puts targets whose breaker is open after every other target, fallback groups included', () => {
    const registry = breakerRegistry();
    trip(registry, 'a/m');
    expect(pass(planFor(registry, 'smart'))).toEqual(['b/m', 'c/m', 'a/m (last resort)']);
  });

  it('keeps the best-first order among open breakers', () => {
    const registry = breakerRegistry();
    trip(registry, 'a/m');
    trip(registry, 'c/m');
    expect(pass(planFor(registry, 'smart'))).toEqual(['b/m', 'a/m (last resort)', 'c/m (last resort)']);
  });

  it('does not count a target with an open breaker as too small, nor skip it for the context-window fallbacks', () => {
    const registry = registryFor(
      { smart: { targets: [target('a'), target('b', { context_window: 100 })], context_window_fallbacks: ['long'] }, long: { targets: [target('c')] } },
      { circuit_breaker: { minimum_requests: MINIMUM_REQUESTS, cooldown_ms: 3_600_000 } },
    );
    trip(registry, 'a/m');
    // a fits the prompt (open breaker or not), so the group does not hand over.
    expect(pass(planFor(registry, 'smart', chat({}, { promptTokens: 500 })))).toEqual(['a/m (last resort)']);
  });

  it('has no breakers when circuit breaking is off', () => {
    const registry = registryFor({ smart: { targets: [target('a')] } }, { circuit_breaker: { enabled: false } });
    expect(registry.targets()[0]!.breaker).toBeUndefined();
    expect(pass(planFor(registry, 'smart'))).toEqual(['a/m']);
  });
});

describe('RoutePlan.divert', () => {
  const registry = () =>
    registryFor({
      smart: { targets: [target('a')], fallbacks: ['backup'], content_policy_fallbacks: ['lenient'] },
      lenient: { targets: [target('b')], fallbacks: ['last'] },
      other: { targets: [target('c')] },
      backup: { targets: [target('d', { model: 'backup' })] },
      last: { targets: [target('d')] },
    });

  it('moves later passes to the given groups (and their fallbacks), leaving the original group out', () => {
    const plan = planFor(registry(), 'smart');
    expect(pass(plan)).toEqual(['a/m', 'd/backup']);
    expect(plan.divert(['lenient'])).toBe(true);
    expect(pass(plan)).toEqual(['b/m', 'd/m']);
    expect(pass(plan)).toEqual(['b/m', 'd/m']);
  });

  it('diverts once per request', () => {
    const plan = planFor(registry(), 'smart');
    expect(plan.divert(['lenient'])).toBe(true);
    expect(plan.divert(['other'])).toBe(false);
    expect(pass(plan)).toEqual(['b/m', 'd/m']);
  });

  it('refuses an empty list without using up the one divert', () => {
    const plan = planFor(registry(), 'smart');
    expect(plan.divert([])).toBe(false);
    expect(pass(plan)).toEqual(['a/m', 'd/backup']);
    expect(plan.divert(['other'])).toBe(true);
    expect(pass(plan)).toEqual(['c/m']);
  });

  it('keeps the group the request resolved to', () => {
    const plan = planFor(registry(), 'smart');
    plan.divert(['other']);
    expect(plan.group.name).toBe('smart');
  });
});

describe('RoutePlan.nothingEligible', () => {
  function drained(plan: RoutePlan): GatewayError {
    expect(pass(plan)).toEqual([]);
    return plan.nothingEligible();
  }

  it('names the allowed regions when only regions ruled targets out', () => {
    const registry = registryFor({ smart: { targets: [target('a', { region: 'eu-west-1' }), target('b')] } });
    const error = drained(planFor(registry, 'smart', chat({ regions: ['us', 'ap-south-1'] })));
    expect(error).toBeInstanceOf(GatewayError);
    expect(error.code).toBe('no_eligible_target');
    expect(error.status).toBe(400);
    expect(error.message).toBe('No target of "smart" (or its fallbacks) can serve this request: every one is outside the allowed regions (us, ap-south-1).');
  });

  it('names the provider headers when a pin or exclusion ruled targets out', () => {
    const registry = registryFor({ smart: { targets: [target('a')] } });
    const error = drained(planFor(registry, 'smart', chat({ pinProvider: 'b' })));
    expect(error.code).toBe('no_eligible_target');
    expect(error.message).toContain('excluded by the request\'s provider pin / exclusion headers');
  });

  it('names the missing capabilities', () => {
    const registry = registryFor({ smart: { targets: [target('a', { capabilities: { tools: false } })] } });
    const error = drained(planFor(registry, 'smart', chat({}, { request: toolsRequest })));
    expect(error.code).toBe('no_eligible_target');
    expect(error.message).toBe('No target of "smart" (or its fallbacks) can serve this request: every one is unable to serve it (needs tools).');
  });

  it('reports context_length_exceeded when only the context window ruled targets out', () => {
    const registry = registryFor({
      smart: { targets: [target('a', { context_window: 100 })], context_window_fallbacks: ['long'] },
      long: { targets: [target('b', { context_window: 200 })] },
    });
    const error = drained(planFor(registry, 'smart', chat({}, { promptTokens: 500 })));
    expect(error.code).toBe('context_length_exceeded');
    expect(error.status).toBe(400);
    expect(error.param).toBe('messages');
    expect(error.message).toContain('"smart" or its context-window fallbacks');
  });

  it('lists every reason when several ruled targets out', () => {
    const registry = registryFor({ smart: { targets: [target('a', { context_window: 100, region: 'eu' }), target('b')] } });
    const error = drained(planFor(registry, 'smart', chat({ regions: ['eu'] }, { promptTokens: 500 })));
    expect(error.code).toBe('no_eligible_target');
    expect(error.message).toBe('No target of "smart" (or its fallbacks) can serve this request: every one is outside the allowed regions (eu); or too small for the prompt.');
  });
});

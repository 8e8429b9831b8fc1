import { afterEach, describe, expect, it, vi } from 'vitest';
import { configSchema } from '../config/schema.js';
import { createRequestContext, type RequestContext } from '../gateway/context.js';
import { GatewayError } from '../gateway/errors.js';
import type { ChatMessage, ChatRequest } from '../gateway/types.js';
import type { Provider } from '../providers/registry.js';
import type { ProviderAdapter } from '../providers/types.js';
import { ModelRegistry } from './models.js';
import { ASSUMED_OUTPUT_TOKENS, MESSAGE_ALLOWANCE_TOKENS, PromptSize, REQUEST_ALLOWANCE_TOKENS } from './needs.js';
import { NO_HINTS, Router, type RouteHints } from './router.js';

function provider(id: string): Provider {
  const unexpected = (): never => {
    throw new Error(`${id}: routing must not call the upstream`);
  };
  const adapter: ProviderAdapter = { id, type: 'fake', chat: unexpected, chatStream: unexpected, embeddings: unexpected };
  return { adapter, timeouts: { firstByteMs: 0, totalMs: 0 } };
}

/** A router over a real config: groups `smart`, `coder` and `cheap`, and these rules. */
function routerWith(rules: unknown[] = []): Router {
  const config = configSchema.parse({
    providers: { a: { type: 'mock' }, b: { type: 'mock' } },
    models: {
      smart: { targets: [{ provider: 'a', model: 'big' }] },
      coder: { targets: [{ provider: 'b', model: 'code' }] },
      cheap: { targets: [{ provider: 'b', model: 'small' }] },
    },
    routing: { rules },
  });
  const models = new ModelRegistry(config, new Map(Object.keys(config.providers).map((id) => [id, provider(id)])));
  return new Router(models, config.routing.rules);
}

const context = (): RequestContext => createRequestContext('req-1', 'chat', 0);

function chat(messages: ChatMessage[], extra: Partial<ChatRequest> = {}): ChatRequest {
  return { model: 'smart', messages, ...extra };
}

const codeRule = { name: 'code', when: { prompt: { contains: 'python' } }, route_to: 'coder' };

afterEach(() => {
  vi.restoreAllMocks();
});

describe('Router.chat', () => {
  it('sends a request a rule matches to the rule\'s group, recording the rule and group', () => {
    const rc = context();
    const route = routerWith([codeRule]).chat(chat([{ role: 'user', content: 'Write Python to sort a list' }]), rc, NO_HINTS);
    expect(route.group.name).toBe('coder');
    expect(rc.routeRule).toBe('code');
    expect(rc.model).toBe('coder');
  });

  it('names an unnamed rule by its index', () => {
    const rc = context();
    const rules = [{ when: { stream: { eq: false } }, route_to: 'cheap' }, { when: { stream: { eq: true } }, route_to: 'coder' }];
    routerWith(rules).chat(chat([{ role: 'user', content: 'hi' }], { stream: true }), rc, NO_HINTS);
    expect(rc).toMatchObject({ routeRule: 'rule-1', model: 'coder' });
  });

  it('resolves the model name when no rule matches', () => {
    const rc = context();
    const route = routerWith([codeRule]).chat(chat([{ role: 'user', content: 'Tell me a joke' }]), rc, NO_HINTS);
    expect(route.group.name).toBe('smart');
    expect(rc.routeRule).toBeUndefined();
    expect(rc.model).toBe('smart');
  });

  it('gives rules the metadata and headers of the hints', () => {
    const rules = [
      { name: 'free', when: { 'metadata.tier': { eq: 'free' } }, route_to: 'cheap' },
      { name: 'team', when: { 'header.x-team': { eq: 'ml' } }, route_to: 'coder' },
    ];
    const router = routerWith(rules);
    const hints = (metadata: Record<string, string>, headers: Record<string, string>): RouteHints => ({ constraints: {}, metadata, header: (name) => headers[name] });
    const request = chat([{ role: 'user', content: 'hi' }]);
    expect(router.chat(request, context(), hints({ tier: 'free' }, {})).group.name).toBe('cheap');
    expect(router.chat(request, context(), hints({}, { 'x-team': 'ml' })).group.name).toBe('coder');
    expect(router.chat(request, context(), hints({ tier: 'paid' }, { 'x-team': 'web' })).group.name).toBe('smart');
  });

  it("gives rules the caller's key, team and org ids; a caller without a virtual key has none", () => {
    const rules = [
      { name: 'by-key', when: { key: { eq: 'key_abc' } }, route_to: 'cheap' },
      { name: 'by-org', when: { org: { in: ['org_1'] } }, route_to: 'coder' },
      { name: 'any-team', when: { team: { exists: true } }, route_to: 'coder' },
    ];
    const router = routerWith(rules);
    const request = chat([{ role: 'user', content: 'hi' }]);
    const as = (key?: string, team?: string, org?: string): RequestContext => {
      const rc = context();
      rc.principal = { master: false, key: key ? ({ id: key } as never) : undefined, team: team ? ({ id: team } as never) : undefined, org: org ? ({ id: org } as never) : undefined };
      return rc;
    };
    expect(router.chat(request, as('key_abc'), NO_HINTS).group.name).toBe('cheap');
    const inOrg = as('key_other', undefined, 'org_1');
    expect(router.chat(request, inOrg, NO_HINTS).group.name).toBe('coder');
    expect(inOrg.routeRule).toBe('by-org');
    const inTeam = as('key_other', 'team_9');
    router.chat(request, inTeam, NO_HINTS);
    expect(inTeam.routeRule).toBe('any-team');
    expect(router.chat(request, as('key_other'), NO_HINTS).group.name).toBe('smart');
    const master = context();
    master.principal = { master: true, key: undefined, team: undefined, org: undefined };
    expect(router.chat(request, master, NO_HINTS).group.name).toBe('smart');
  });

  it('gives rules the last user message and the system prompt, text parts included', () => {
    const rules = [
      { name: 'sys', when: { system: { contains: 'pirate' } }, route_to: 'cheap' },
      { name: 'last', when: { last_user_message: { contains: 'python' } }, route_to: 'coder' },
    ];
    const router = routerWith(rules);
    const last = chat([
      { role: 'user', content: 'python?' },
      { role: 'assistant', content: 'yes' },
      { role: 'user', content: [{ type: 'text', text: 'and now' }, { type: 'text', text: 'in Rust' }] },
    ]);
    expect(router.chat(last, context(), NO_HINTS).group.name).toBe('smart');
    const parts = chat([{ role: 'user', content: [{ type: 'text', text: 'Some Python please' }] }]);
    expect(router.chat(parts, context(), NO_HINTS).group.name).toBe('coder');
    const developer = chat([{ role: 'developer', content: 'Talk like a pirate' }, { role: 'user', content: 'hi' }]);
    expect(router.chat(developer, context(), NO_HINTS).group.name).toBe('cheap');
  });

  it('gives rules max_completion_tokens over max_tokens', () => {
    const router = routerWith([{ name: 'long', when: { max_tokens: { gt: 1000 } }, route_to: 'cheap' }]);
    expect(router.chat(chat([{ role: 'user', content: 'hi' }], { max_tokens: 2000 }), context(), NO_HINTS).group.name).toBe('cheap');
    expect(router.chat(chat([{ role: 'user', content: 'hi' }], { max_tokens: 2000, max_completion_tokens: 10 }), context(), NO_HINTS).group.name).toBe('smart');
  });

  it('refuses an unknown model, listing the groups', () => {
    const rc = context();
    let error: unknown;
    try {
      routerWith().chat(chat([{ role: 'user', content: 'hi' }], { model: 'gpt-5' }), rc, NO_HINTS);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(GatewayError);
    expect(error).toMatchObject({ code: 'model_not_found', status: 404, param: 'model' });
    expect((error as GatewayError).message).toContain('"gpt-5"');
    expect((error as GatewayError).message).toContain('Available models: smart, coder, cheap;');
    expect(rc.model).toBeUndefined();
    // A virtual key may be held to some models: it is sent to GET /v1/models instead.
    const keyed = context();
    keyed.principal = { master: false, key: { id: 'k1' } as never, team: undefined, org: undefined };
    expect(() => routerWith().chat(chat([{ role: 'user', content: 'hi' }], { model: 'gpt-5' }), keyed, NO_HINTS)).toThrow(
      'The model "gpt-5" does not exist on this gateway. GET /v1/models lists the models this key may use; or address a provider directly as "<provider>/<model>".',
    );
  });

  it('refuses a directly addressed model with an empty, "." or ".." path segment (it would leave the provider\'s URL path)', () => {
    for (const model of ['a/..', 'a/../../projects/other/locations/x/publishers/google/models/m', 'a/./m', 'a/models//m', 'a/m/']) {
      let error: unknown;
      try {
        routerWith().chat(chat([{ role: 'user', content: 'hi' }], { model }), context(), NO_HINTS);
      } catch (err) {
        error = err;
      }
      expect(error, model).toMatchObject({ code: 'invalid_request', status: 400, param: 'model' });
    }
    // Dots inside a segment are names like any other.
    expect(routerWith().chat(chat([{ role: 'user', content: 'hi' }], { model: 'a/models/gemini-2.5..x' }), context(), NO_HINTS).group.name).toBe('a/models/gemini-2.5..x');
  });

  it('addresses a provider directly as <provider>/<model>, labelling the request <provider>/*', () => {
    const rc = context();
    const route = routerWith().chat(chat([{ role: 'user', content: 'hi' }], { model: 'a/any-model' }), rc, NO_HINTS);
    expect(route.group.name).toBe('a/any-model');
    expect(route.group.members.map((m) => m.target.key)).toEqual(['a/any-model']);
    expect(rc.model).toBe('a/*');
  });

  it('routes with the hints\' constraints', () => {
    const hints: RouteHints = { constraints: { excludeProviders: ['a'] }, metadata: {}, header: () => undefined };
    const plan = routerWith().chat(chat([{ role: 'user', content: 'hi' }]), context(), hints);
    expect([...plan.pass()]).toEqual([]);
    expect(plan.nothingEligible().code).toBe('no_eligible_target');
  });

  it('reserves the prompt estimate plus max_tokens (or the assumed output without one)', () => {
    // "hello world!" is 12 bytes: 3 tokens at 4 bytes a token, plus the framing allowances.
    const prompt = 3 + REQUEST_ALLOWANCE_TOKENS + MESSAGE_ALLOWANCE_TOKENS;
    const router = routerWith();
    expect(router.chat(chat([{ role: 'user', content: 'hello world!' }], { max_tokens: 100 }), context(), NO_HINTS).reservedTokens()).toBe(prompt + 100);
    expect(router.chat(chat([{ role: 'user', content: 'hello world!' }], { max_tokens: 100, max_completion_tokens: 40 }), context(), NO_HINTS).reservedTokens()).toBe(prompt + 40);
    expect(router.chat(chat([{ role: 'user', content: 'hello world!' }]), context(), NO_HINTS).reservedTokens()).toBe(prompt + ASSUMED_OUTPUT_TOKENS);
  });
});

describe('Router.chat: lazy rule inputs', () => {
  /** A request whose message content counts its reads. */
  function counted(text: string): { request: ChatRequest; reads: () => number } {
    let reads = 0;
    const message: ChatMessage = { role: 'user' };
    Object.defineProperty(message, 'content', { enumerable: true, get: () => (reads++, text) });
    return { request: chat([message]), reads: () => reads };
  }

  /** Content reads routing needs with no rules at all (finding what the request needs, e.g. images). */
  function baselineReads(): number {
    const { request, reads } = counted('Write Python');
    routerWith().chat(request, context(), NO_HINTS);
    return reads();
  }

  it('computes neither the prompt text nor its size for a rule on model alone', () => {
    const estimate = vi.spyOn(PromptSize.prototype, 'estimate');
    const { request, reads } = counted('Write Python');
    const rc = context();
    routerWith([{ name: 'by-model', when: { model: { eq: 'smart' } }, route_to: 'cheap' }]).chat(request, rc, NO_HINTS);
    expect(rc.routeRule).toBe('by-model');
    expect(estimate).not.toHaveBeenCalled();
    expect(reads()).toBe(baselineReads());
  });

  it('reads the prompt text when a rule tests it', () => {
    const { request, reads } = counted('Write Python');
    routerWith([codeRule]).chat(request, context(), NO_HINTS);
    expect(reads()).toBeGreaterThan(baselineReads());
  });

  it('estimates the prompt size when a rule tests prompt_tokens', () => {
    const estimate = vi.spyOn(PromptSize.prototype, 'estimate');
    const { request } = counted('Write Python');
    routerWith([{ name: 'big', when: { prompt_tokens: { gt: 100_000 } }, route_to: 'cheap' }]).chat(request, context(), NO_HINTS);
    expect(estimate).toHaveBeenCalledTimes(1);
  });

  it('estimates the prompt for the token reservation only when asked', () => {
    const estimate = vi.spyOn(PromptSize.prototype, 'estimate');
    const route = routerWith().chat(chat([{ role: 'user', content: 'hi' }]), context(), NO_HINTS);
    expect(estimate).not.toHaveBeenCalled();
    route.reservedTokens();
    expect(estimate).toHaveBeenCalledTimes(1);
  });
});

describe('Router.plain', () => {
  it('routes by name, ignoring rules', () => {
    const rc = context();
    const plan = routerWith([{ name: 'all', when: { model: { eq: 'smart' } }, route_to: 'cheap' }]).plain('smart', rc, NO_HINTS);
    expect(plan.group.name).toBe('smart');
    expect(rc.routeRule).toBeUndefined();
    expect(rc.model).toBe('smart');
  });

  it('addresses a provider directly and refuses unknown models', () => {
    const rc = context();
    expect(routerWith().plain('b/embed-1', rc, NO_HINTS).group.name).toBe('b/embed-1');
    expect(rc.model).toBe('b/*');
    expect(() => routerWith().plain('nope/embed-1', context(), NO_HINTS)).toThrow(expect.objectContaining({ code: 'model_not_found' }));
  });

  it('plans without request needs, under the hints\' constraints', () => {
    const hints: RouteHints = { constraints: { pinProvider: 'b' }, metadata: {}, header: () => undefined };
    const plan = routerWith().plain('smart', context(), hints);
    expect([...plan.pass()]).toEqual([]);
    expect(plan.nothingEligible().message).toContain('provider pin');
  });
});

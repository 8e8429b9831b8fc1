/**
 * Routing end to end (official OpenAI and Anthropic SDKs, fake upstreams): strategies, fallback
 * groups, context-window and content-policy fallbacks, capability filtering, content-based
 * rules, regions, client overrides, the provider health endpoints and active probes.
 */
import Anthropic from '@anthropic-ai/sdk';
import type { OpenAI } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeOpenAI, OPENAI_ERRORS } from '../fakes/openai-upstream.js';
import { apiError, raw, sdk } from '../helpers/client.js';
import { startGateway, stopAllGateways, type Gateway } from '../helpers/gateway.js';

let east: FakeOpenAI;
let west: FakeOpenAI;
let gateway: Gateway;
let client: OpenAI;

const say = (content: string) => [{ role: 'user' as const, content }];

beforeAll(async () => {
  [east, west] = await Promise.all([FakeOpenAI.start(), FakeOpenAI.start()]);
  gateway = await startGateway(`
providers:
  east: { type: openai, base_url: ${east.baseURL}, api_key: sk-east }
  west: { type: openai-compatible, base_url: ${west.baseURL} }
models:
  rr:
    strategy: round-robin
    targets: [ { provider: east, model: gpt-4o-mini }, { provider: west, model: gpt-4o-mini } ]
  weighted:
    strategy: weighted
    targets: [ { provider: east, model: gpt-4o, weight: 3 }, { provider: west, model: gpt-4o, weight: 1 } ]
  cheapest:
    strategy: cost
    targets:
      - { provider: east, model: gpt-4o, price: { input: 2.5, output: 10 } }
      - { provider: west, model: llama-3.1-8b-instruct, price: { input: 0.1, output: 0.1 } }
  primary:
    targets: [ { provider: east, model: gpt-4o-mini } ]
    retry: { max_retries: 0 }
    fallbacks: [backup]
    content_policy_fallbacks: [backup]
  backup:
    targets: [ { provider: west, model: llama-3.1-8b-instruct } ]
  small:
    targets: [ { provider: east, model: gpt-4o-mini, context_window: 60 } ]
    context_window_fallbacks: [large]
  large:
    targets: [ { provider: west, model: gpt-4o-mini, context_window: 128000 } ]
  no-tools:
    targets:
      - { provider: east, model: gpt-4o, capabilities: { tools: false } }
      - { provider: west, model: gpt-4o }
  regional:
    targets:
      - { provider: east, model: llama-3.1-8b-instruct, region: us-east-1 }
      - { provider: west, model: gpt-4o-mini, region: eu-west-1 }
  coder:
    targets: [ { provider: west, model: gpt-4o } ]
routing:
  rules:
    - name: code-questions
      when: { and: [ { model: { eq: primary } }, { prompt: { contains_any: [typescript, stack trace] } } ] }
      route_to: coder
`);
  client = sdk(gateway);
});

afterAll(async () => {
  await stopAllGateways();
  await Promise.all([east?.close(), west?.close()]);
});

beforeEach(() => {
  east.reset();
  west.reset();
});

const calls = (fake: FakeOpenAI) => fake.requestsTo('/v1/chat/completions').length;

describe('strategies', () => {
  it('round-robin alternates between the targets', async () => {
    const providers: string[] = [];
    for (let i = 0; i < 6; i++) {
      const { response } = await client.chat.completions.create({ model: 'rr', messages: say(`rr ${i}`) }).withResponse();
      providers.push(response.headers.get('x-switchyard-provider')!);
    }
    expect(new Set(providers.slice(0, 2)).size).toBe(2);
    for (let i = 2; i < 6; i++) expect(providers[i]).toBe(providers[i - 2]);
    expect([calls(east), calls(west)]).toEqual([3, 3]);
  });

  it('weighted sends about three quarters to the weight-3 target', async () => {
    for (let i = 0; i < 200; i++) await client.chat.completions.create({ model: 'weighted', messages: say('w') });
    // Binomial(200, 0.75): mean 150, sd ~6.1; 120..180 is ~5 sd either way.
    expect(calls(east)).toBeGreaterThan(120);
    expect(calls(east)).toBeLessThan(180);
    expect(calls(east) + calls(west)).toBe(200);
  });

  it('cost picks the cheapest target whose price is known', async () => {
    const { response } = await client.chat.completions.create({ model: 'cheapest', messages: say('save money'), max_tokens: 50 }).withResponse();
    expect(response.headers.get('x-switchyard-provider')).toBe('west');
    expect(response.headers.get('x-switchyard-model')).toBe('llama-3.1-8b-instruct');
  });
});

describe('fallbacks', () => {
  it('moves to a fallback group when every target of the group failed, and says so', async () => {
    east.inject({ kind: 'http-error', error: OPENAI_ERRORS.serverError() });
    const { data, response } = await client.chat.completions.create({ model: 'primary', messages: say('fall back') }).withResponse();
    expect(data.choices[0]?.message.content).toBe('Hello from llama-3.1-8b-instruct. You said: fall back');
    expect(response.headers.get('x-switchyard-fallback-group')).toBe('backup');
    expect(response.headers.get('x-switchyard-attempts')).toBe('2');
  });

  it('a content-policy refusal goes to the content-policy fallback group', async () => {
    east.inject({ kind: 'http-error', error: { status: 400, body: { error: { message: "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.", type: 'invalid_request_error', param: 'prompt', code: 'content_filter' } } } });
    const { data, response } = await client.chat.completions.create({ model: 'primary', messages: say('edgy') }).withResponse();
    expect(data.choices[0]?.message.content).toContain('llama-3.1-8b-instruct');
    expect(response.headers.get('x-switchyard-fallback-group')).toBe('backup');
  });

  it('a prompt too long for every target of a group goes to its context-window fallback without calling the small one', async () => {
    const long = 'word '.repeat(400);
    const { response } = await client.chat.completions.create({ model: 'small', messages: say(long) }).withResponse();
    expect(response.headers.get('x-switchyard-provider')).toBe('west');
    expect(calls(east)).toBe(0);
    const short = await client.chat.completions.create({ model: 'small', messages: say('hi') }).withResponse();
    expect(short.response.headers.get('x-switchyard-provider')).toBe('east');
  });

  it('an upstream context_length_exceeded goes to the context-window fallback', async () => {
    east.inject({ kind: 'http-error', error: OPENAI_ERRORS.contextLengthExceeded() });
    const { response } = await client.chat.completions.create({ model: 'small', messages: say('fits by our count') }).withResponse();
    expect(response.headers.get('x-switchyard-provider')).toBe('west');
    expect(response.headers.get('x-switchyard-fallback-group')).toBe('large');
  });
});

describe('eligibility', () => {
  const tools = [{ type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];

  it('never tries a target that cannot serve the request (tools)', async () => {
    for (let i = 0; i < 3; i++) {
      const { response } = await client.chat.completions.create({ model: 'no-tools', messages: say('weather in Paris?'), tools }).withResponse();
      expect(response.headers.get('x-switchyard-provider')).toBe('west');
    }
    expect(calls(east)).toBe(0);
  });

  it('keeps a request inside the regions it allows, and refuses when no target is in them', async () => {
    const eu = await client.chat.completions.create({ model: 'regional', messages: say('gdpr') }, { headers: { 'x-switchyard-region': 'eu' } }).withResponse();
    expect(eu.response.headers.get('x-switchyard-provider')).toBe('west');
    const us = await client.chat.completions.create({ model: 'regional', messages: say('ccpa') }, { headers: { 'x-switchyard-region': 'us-east-1' } }).withResponse();
    expect(us.response.headers.get('x-switchyard-provider')).toBe('east');
    const error = await apiError(() => client.chat.completions.create({ model: 'regional', messages: say('nowhere') }, { headers: { 'x-switchyard-region': 'ap-south-1' } }));
    expect(error.status).toBe(400);
    expect(error.code).toBe('no_eligible_target');
    expect(error.message).toMatch(/outside the allowed regions \(ap-south-1\)/);
  });

  it('refuses client routing overrides unless the operator allows them', async () => {
    const error = await apiError(() => client.chat.completions.create({ model: 'rr', messages: say('pin') }, { headers: { 'x-switchyard-provider': 'west' } }));
    expect(error.status).toBe(403);
    expect(error.message).toMatch(/routing\.allow_client_overrides/);
  });
});

describe('routing rules', () => {
  it('routes by prompt content before the group, and names the rule', async () => {
    const { data, response } = await client.chat.completions.create({ model: 'primary', messages: say('Why does this TypeScript code throw?') }).withResponse();
    expect(data.choices[0]?.message.content).toContain('Hello from gpt-4o.');
    expect(response.headers.get('x-switchyard-route-rule')).toBe('code-questions');
    const plain = await client.chat.completions.create({ model: 'primary', messages: say('What is the capital of France?') }).withResponse();
    expect(plain.response.headers.get('x-switchyard-route-rule')).toBeNull();
    expect(plain.response.headers.get('x-switchyard-provider')).toBe('east');
  });

  it('applies to the Anthropic Messages API too, and fails over there like anywhere', async () => {
    const anthropic = new Anthropic({ baseURL: gateway.url, apiKey: 'unused', maxRetries: 0 });
    east.inject({ kind: 'http-error', error: OPENAI_ERRORS.overloaded() });
    const message = await anthropic.messages.create({ model: 'primary', max_tokens: 50, messages: [{ role: 'user', content: 'hello there' }] });
    expect(message.content[0]).toMatchObject({ type: 'text', text: 'Hello from llama-3.1-8b-instruct. You said: hello there' });
  });
});

describe('provider health endpoints', () => {
  it('lists every provider with its targets, breaker, statistics and limits', async () => {
    await client.chat.completions.create({ model: 'rr', messages: say('warm') });
    await client.chat.completions.create({ model: 'rr', messages: say('warm') });
    const res = await raw(gateway, '/v1/providers');
    expect(res.status).toBe(200);
    const body = res.json as { object: string; data: { id: string; type: string; status: string; targets: { model: string; groups: string[]; circuit_breaker: { state: string }; stats: { requests: number; latency_ms: { p50: number | null } } }[] }[] };
    expect(body.object).toBe('list');
    expect(body.data.map((p) => p.id).sort()).toEqual(['east', 'west']);
    const eastTarget = body.data.find((p) => p.id === 'east')!.targets.find((t) => t.model === 'gpt-4o-mini')!;
    expect(eastTarget.groups).toEqual(expect.arrayContaining(['rr', 'primary']));
    expect(eastTarget.circuit_breaker.state).toBe('closed');
    expect(eastTarget.stats.requests).toBeGreaterThanOrEqual(1);
    expect(eastTarget.stats.latency_ms.p50).toBeGreaterThan(0);

    const one = await raw(gateway, '/v1/providers/west/health');
    expect(one.status).toBe(200);
    expect((one.json as { id: string; type: string }).type).toBe('openai-compatible');
    const missing = await raw(gateway, '/v1/providers/nope/health');
    expect(missing.status).toBe(404);
    expect((missing.json as { error: { message: string } }).error.message).toMatch(/No provider "nope".*east, west/);
  });
});

describe('active health checks', () => {
  /** A gateway probing one fake target every second, with `routing` settings added; the fake is closed after `run`. */
  async function withProbes(routing: string, run: (probed: FakeOpenAI, gateway: Gateway) => Promise<void>): Promise<void> {
    const probed = await FakeOpenAI.start();
    try {
      const gateway = await startGateway(`
providers:
  p: { type: openai, base_url: ${probed.baseURL}, api_key: sk-p }
models:
  m: { targets: [ { provider: p, model: gpt-4o-mini } ] }
routing:
  health_checks: { enabled: true, interval_ms: 1000 }
${routing}`);
      await run(probed, gateway);
    } finally {
      await probed.close();
    }
  }

  it('probe every configured target on the interval with a one-token request', () =>
    withProbes('', async (probed, gateway) => {
      const deadline = Date.now() + 5_000;
      while (probed.requestsTo('/v1/chat/completions').length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const probe = probed.lastRequest();
      expect(probe.body).toMatchObject({ model: 'gpt-4o-mini', max_tokens: 1 });
      const health = (await raw(gateway, '/v1/providers/p/health')).json as { targets: { probe: { ok: boolean; latency_ms: number } | null }[] };
      expect(health.targets[0]?.probe).toMatchObject({ ok: true });
    }));

  it("count a probe's 4xx neither way (the probe does not suit the model), but open the breaker on 5xx", () =>
    withProbes('  circuit_breaker: { minimum_requests: 2, failure_rate: 0.5, cooldown_ms: 60000 }\n', async (probed, gateway) => {
      const target = async () => ((await raw(gateway, '/v1/providers/p/health')).json as { targets: { probe: { ok: boolean } | null; circuit_breaker: { state: string; requests: number } }[] }).targets[0]!;
      probed.inject({ kind: 'http-error', error: OPENAI_ERRORS.contextLengthExceeded() }, { times: 3 });
      await expect.poll(async () => probed.requestsTo('/v1/chat/completions').length, { timeout: 6_000 }).toBeGreaterThanOrEqual(3);
      expect(await target()).toMatchObject({ probe: { ok: false }, circuit_breaker: { state: 'closed', requests: 0 } });
      probed.inject({ kind: 'http-error', error: OPENAI_ERRORS.serverError() }, { times: Infinity });
      await expect.poll(async () => (await target()).circuit_breaker.state, { timeout: 6_000 }).toBe('open');
    }));
});


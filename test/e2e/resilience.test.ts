/**
 * Resilience end to end, with fault-injecting fake upstreams and the official OpenAI SDK:
 * - chaos: hundreds of requests through a group whose targets fail at random (one always healthy)
 *   all succeed, none duplicated, and the circuit breakers keep traffic off the failing targets;
 * - every target failing: each request gets the documented error within the deadline;
 * - Retry-After honoured, hedged requests, load shedding with 503 + Retry-After.
 */
import type { OpenAI } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeOpenAI, OPENAI_ERRORS, type Fault } from '../fakes/openai-upstream.js';
import { apiError, collect, raw, sdk } from '../helpers/client.js';
import { startGateway, stopAllGateways, type Gateway } from '../helpers/gateway.js';
import { admin } from '../helpers/governance.js';
import { seeded } from '../helpers/random.js';

/** Every way an upstream fails before its answer (the faults a failover must absorb). */
const CHAOS_FAULTS: Fault[] = [
  { kind: 'http-error', error: OPENAI_ERRORS.serverError() },
  { kind: 'http-error', error: OPENAI_ERRORS.overloaded() },
  { kind: 'http-error', error: { ...OPENAI_ERRORS.rateLimited(), headers: { 'retry-after': '1' } } },
  { kind: 'reset' },
  { kind: 'garbage' },
  { kind: 'stream-error', afterChunks: 0 },
  { kind: 'stream-drop', afterChunks: 0 },
];

const fakes: FakeOpenAI[] = [];

async function fake(): Promise<FakeOpenAI> {
  const started = await FakeOpenAI.start();
  fakes.push(started);
  return started;
}

afterAll(async () => {
  await stopAllGateways();
  await Promise.all(fakes.map((f) => f.close()));
});

/** Runs `tasks` with at most `limit` in flight. */
async function pool<T>(count: number, limit: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await task(i);
      }
    }),
  );
  return results;
}

describe('chaos: targets failing at random, one always healthy', () => {
  let flaky1: FakeOpenAI;
  let flaky2: FakeOpenAI;
  let healthy: FakeOpenAI;
  let client: OpenAI;
  let gateway: Gateway;

  beforeAll(async () => {
    [flaky1, flaky2, healthy] = await Promise.all([fake(), fake(), fake()]);
    flaky1.chaos(0.7, CHAOS_FAULTS, seeded(1));
    flaky2.chaos(0.7, CHAOS_FAULTS, seeded(2));
    gateway = await startGateway(`
providers:
  flaky1: { type: openai, base_url: ${flaky1.baseURL}, api_key: sk-1 }
  flaky2: { type: openai, base_url: ${flaky2.baseURL}, api_key: sk-2 }
  healthy: { type: openai, base_url: ${healthy.baseURL}, api_key: sk-3 }
models:
  chaos:
    strategy: round-robin
    targets:
      - { provider: flaky1, model: gpt-4o-mini }
      - { provider: flaky2, model: gpt-4o-mini }
      - { provider: healthy, model: gpt-4o-mini }
routing:
  circuit_breaker: { failure_rate: 0.5, minimum_requests: 10, window_ms: 60000, cooldown_ms: 120000 }
`);
    client = sdk(gateway);
  });

  it('answers all 400 requests (half streamed) correctly, once each, and the breakers take the flaky targets out', async () => {
    const total = 400;
    const results = await pool(total, 16, async (i) => {
      const prompt = `request number ${i}`;
      const expected = `Hello from gpt-4o-mini. You said: ${prompt}`;
      if (i % 2 === 0) {
        const answer = await client.chat.completions.create({ model: 'chaos', messages: [{ role: 'user', content: prompt }] });
        return answer.choices[0]?.message.content === expected;
      }
      const chunks = await collect(await client.chat.completions.create({ model: 'chaos', messages: [{ role: 'user', content: prompt }], stream: true }));
      // Exactly the one answer: no chunk twice, no mix of two attempts' chunks.
      return chunks.map((c) => c.choices[0]?.delta.content ?? '').join('') === expected && chunks.filter((c) => c.choices[0]?.finish_reason).length === 1;
    });
    expect(results.filter((ok) => !ok)).toHaveLength(0);

    // Without breakers round-robin would send each flaky target a third of the first attempts
    // (~133) plus failovers; once open (after ~10 calls at a 70% failure rate) they get none.
    const flakyCalls = [flaky1, flaky2].map((f) => f.requestsTo('/v1/chat/completions').length);
    for (const calls of flakyCalls) expect(calls).toBeLessThan(60);
    expect(healthy.requestsTo('/v1/chat/completions').length).toBeGreaterThan(total - 120);

    const providers = (await raw(gateway, '/v1/providers')).json as { data: { id: string; targets: { circuit_breaker: { state: string } }[] }[] };
    const state = (id: string): string | undefined => providers.data.find((p) => p.id === id)?.targets[0]?.circuit_breaker.state;
    expect(state('flaky1')).toBe('open');
    expect(state('flaky2')).toBe('open');
    expect(state('healthy')).toBe('closed');

    const metrics = (await raw(gateway, '/metrics')).text;
    expect(metrics).toMatch(/switchyard_circuit_breaker_state\{provider="flaky1",model="gpt-4o-mini"\} 2/);
    expect(metrics).toMatch(/switchyard_circuit_breaker_transitions_total\{provider="flaky2",model="gpt-4o-mini",to="open"\} 1/);
  });
});

describe('every target failing', () => {
  let client: OpenAI;

  beforeAll(async () => {
    const [down, hanging] = await Promise.all([fake(), fake()]);
    down.inject({ kind: 'http-error', error: OPENAI_ERRORS.overloaded() }, { times: Infinity });
    hanging.inject({ kind: 'delay-headers', ms: 60_000 }, { times: Infinity });
    const gateway = await startGateway(`
providers:
  down: { type: openai, base_url: ${down.baseURL}, api_key: sk-1 }
  hanging: { type: openai, base_url: ${hanging.baseURL}, api_key: sk-2, timeouts: { first_byte_ms: 300 } }
models:
  doomed:
    targets:
      - { provider: hanging, model: gpt-4o-mini }
      - { provider: down, model: gpt-4o-mini }
    retry: { max_retries: 5, initial_backoff_ms: 100, deadline_ms: 2000 }
routing:
  circuit_breaker: { enabled: false }
`);
    client = sdk(gateway);
  });

  it('answers every request with the documented error within the deadline, never hanging', async () => {
    const started = performance.now();
    const errors = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        apiError(() => (i % 2 ? client.chat.completions.create({ model: 'doomed', messages: [{ role: 'user', content: 'hi' }] })  : streamChat(client, `s${i}`))),
      ),
    );
    const elapsed = performance.now() - started;
    // Deadline 2 s (+ the last attempt's first-byte timeout at most, + slack for a loaded machine).
    expect(elapsed).toBeLessThan(4_500);
    for (const error of errors) {
      expect([502, 504]).toContain(error.status);
      expect(error.headers?.get('x-switchyard-attempts')).toMatch(/^[2-9]$|^1\d$/);
      expect((error.error as { message: string }).message).toMatch(/upstream provider "(down|hanging)"|routing deadline of 2000 ms/);
    }
  });
});

function streamChat(client: OpenAI, content: string): Promise<unknown> {
  return client.chat.completions.create({ model: 'doomed', messages: [{ role: 'user', content }], stream: true }).then(collect);
}

describe('retries and Retry-After', () => {
  let upstream: FakeOpenAI;
  let client: OpenAI;

  beforeAll(async () => {
    upstream = await fake();
    const gateway = await startGateway(`
providers:
  only: { type: openai, base_url: ${upstream.baseURL}, api_key: sk-1 }
models:
  single:
    targets: [ { provider: only, model: gpt-4o-mini } ]
    retry: { max_retries: 2, initial_backoff_ms: 50 }
  impatient:
    targets: [ { provider: only, model: gpt-4o } ]
    retry: { max_retries: 2, max_retry_after_ms: 500 }
`);
    client = sdk(gateway);
  });

  it('retries a single target after a 503 with backoff, and says how many attempts it took', async () => {
    upstream.reset();
    upstream.inject({ kind: 'http-error', error: OPENAI_ERRORS.overloaded() }, { times: 2 });
    const { data, response } = await client.chat.completions.create({ model: 'single', messages: [{ role: 'user', content: 'again' }] }).withResponse();
    expect(data.choices[0]?.message.content).toBe('Hello from gpt-4o-mini. You said: again');
    expect(response.headers.get('x-switchyard-attempts')).toBe('3');
    expect(upstream.requestsTo('/v1/chat/completions')).toHaveLength(3);
  });

  it("waits for the upstream's Retry-After before retrying", async () => {
    upstream.reset();
    upstream.inject({ kind: 'http-error', error: { ...OPENAI_ERRORS.rateLimited(), headers: { 'retry-after-ms': '700' } } });
    const started = performance.now();
    const answer = await client.chat.completions.create({ model: 'single', messages: [{ role: 'user', content: 'patience' }] });
    expect(answer.choices[0]?.message.content).toContain('patience');
    expect(performance.now() - started).toBeGreaterThanOrEqual(650);
  });

  it('does not wait for a Retry-After longer than max_retry_after_ms: the 429 is passed on with it', async () => {
    upstream.reset();
    upstream.inject({ kind: 'http-error', error: OPENAI_ERRORS.rateLimited('gpt-4o') }); // retry-after: 20 s
    const started = performance.now();
    const error = await apiError(() => client.chat.completions.create({ model: 'impatient', messages: [{ role: 'user', content: 'now' }] }));
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(error.status).toBe(429);
    expect(error.headers?.get('retry-after')).toBe('20');
    expect(upstream.requestsTo('/v1/chat/completions')).toHaveLength(1);
  });

  it('never retries a 4xx the client caused', async () => {
    upstream.reset();
    upstream.inject({ kind: 'http-error', error: OPENAI_ERRORS.contextLengthExceeded() });
    const error = await apiError(() => client.chat.completions.create({ model: 'single', messages: [{ role: 'user', content: 'too long' }] }));
    expect(error.status).toBe(400);
    expect(error.code).toBe('context_length_exceeded');
    expect(upstream.requestsTo('/v1/chat/completions')).toHaveLength(1);
  });
});

describe('hedged requests', () => {
  it('starts the next target when the first is slow, answers from the faster one and cancels the other', async () => {
    const [slow, quick] = await Promise.all([fake(), fake()]);
    slow.inject({ kind: 'delay-headers', ms: 3_000 }, { times: Infinity });
    const gateway = await startGateway(`
providers:
  slow: { type: openai, base_url: ${slow.baseURL}, api_key: sk-1 }
  quick: { type: openai, base_url: ${quick.baseURL}, api_key: sk-2 }
models:
  hedged:
    targets: [ { provider: slow, model: gpt-4o-mini }, { provider: quick, model: gpt-4o } ]
    hedge: { delay_ms: 150 }
`);
    const client = sdk(gateway);
    const started = performance.now();
    const { data, response } = await client.chat.completions.create({ model: 'hedged', messages: [{ role: 'user', content: 'race' }] }).withResponse();
    const elapsed = performance.now() - started;
    expect(data.choices[0]?.message.content).toBe('Hello from gpt-4o. You said: race');
    expect(response.headers.get('x-switchyard-provider')).toBe('quick');
    expect(response.headers.get('x-switchyard-attempts')).toBe('2');
    expect(elapsed).toBeLessThan(2_500);
    expect(slow.requestsTo('/v1/chat/completions')).toHaveLength(1);

    const streamed = await collect(await client.chat.completions.create({ model: 'hedged', messages: [{ role: 'user', content: 'stream race' }], stream: true }));
    expect(streamed.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hello from gpt-4o. You said: stream race');
  });
});

describe('load shedding', () => {
  it('queues up to max_queue at a target at its concurrency limit, then sheds with 503 and Retry-After', async () => {
    const upstream = await fake();
    upstream.inject({ kind: 'delay-headers', ms: 600 }, { times: Infinity });
    const gateway = await startGateway(`
providers:
  narrow: { type: openai, base_url: ${upstream.baseURL}, api_key: sk-1 }
models:
  limited:
    targets: [ { provider: narrow, model: gpt-4o-mini, max_concurrency: 1, max_queue: 1, queue_timeout_ms: 5000 } ]
`);
    const client = sdk(gateway);
    const ask = (i: number) => client.chat.completions.create({ model: 'limited', messages: [{ role: 'user', content: `q${i}` }] }).withResponse();
    const first = ask(1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const second = ask(2); // waits in the queue
    await new Promise((resolve) => setTimeout(resolve, 100));
    const shed = await apiError(() => ask(3));
    expect(shed.status).toBe(503);
    expect(Number(shed.headers?.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((shed.error as { message: string }).message).toMatch(/overloaded: narrow\/gpt-4o-mini is at its concurrency limit/);
    const answers = await Promise.all([first, second]);
    expect(answers.map((a) => a.data.choices[0]?.message.content)).toEqual(['Hello from gpt-4o-mini. You said: q1', 'Hello from gpt-4o-mini. You said: q2']);
    expect(upstream.requestsTo('/v1/chat/completions')).toHaveLength(2);
    const metrics = (await raw(gateway, '/metrics')).text;
    expect(metrics).toMatch(/switchyard_shed_requests_total\{provider="narrow",model="gpt-4o-mini"\} 1/);
    expect(metrics).toMatch(/switchyard_queue_wait_seconds_count\{provider="narrow",model="gpt-4o-mini"\} 1/);
  });
});

describe('a billed request whose client leaves during the upstream call', () => {
  it('gives its target slot back, whether the upstream then answers or fails, so the next request is served', async () => {
    const upstream = await fake();
    const gateway = await startGateway(`
auth: { master_key: sk-master-leave }
providers:
  narrow: { type: openai, base_url: ${upstream.baseURL}, api_key: sk-1 }
models:
  limited:
    targets: [ { provider: narrow, model: gpt-4o-mini, max_concurrency: 1 } ]
`);
    const created = await admin(gateway, 'sk-master-leave', 'POST', '/keys', { name: 'leaver' });
    const key = (created.json as { key: string }).key;
    const health = async () => ((await raw(gateway, '/v1/providers/narrow/health', { headers: { authorization: 'Bearer sk-master-leave' } })).json as { targets: { limits: { in_flight: number } }[] }).targets[0]!.limits.in_flight;
    // The upstream is slow to answer, then answers or fails; the client gives up first.
    for (const fault of [{ kind: 'delay-headers', ms: 400 }, { kind: 'http-error', error: OPENAI_ERRORS.serverError(), afterMs: 400 }] as Fault[]) {
      upstream.inject(fault);
      const gone = await sdk(gateway, key)
        .chat.completions.create({ model: 'limited', messages: [{ role: 'user', content: 'slow' }] }, { timeout: 100 })
        .catch((err: unknown) => err);
      expect(gone).toBeInstanceOf(Error);
      expect(await health()).toBe(1);
      await expect.poll(health, { timeout: 3000 }).toBe(0);
      const next = await sdk(gateway, key).chat.completions.create({ model: 'limited', messages: [{ role: 'user', content: 'after' }] });
      expect(next.choices[0]?.message.content).toBe('Hello from gpt-4o-mini. You said: after');
    }
  });
});

import { describe, expect, it } from 'vitest';
import { closeClient, createRequestContext, type RequestContext } from '../gateway/context.js';
import { GatewayError } from '../gateway/errors.js';
import type { ChatCompletion, ChatCompletionChunk, ChatRequest, EmbeddingsResponse } from '../gateway/types.js';
import { Registry } from 'prom-client';
import { configSchema } from '../config/schema.js';
import type { Provider } from '../providers/registry.js';
import type { Message } from '../providers/anthropic/api.js';
import type { AttemptContext, NativeMessages, NativeMessagesRequest, NativeStreamEvent, ProviderAdapter } from '../providers/types.js';
import { CallAbort, type CallSignal } from '../providers/call-signal.js';
import { Executor, type MessagesCall } from './executor.js';
import { RoutingMetrics } from './events.js';
import { ModelRegistry } from './models.js';
import { RoutePlan } from './plan.js';

const request: ChatRequest = { model: 'smart', messages: [{ role: 'user', content: 'hi' }] };

function completion(model: string): ChatCompletion {
  return {
    id: `chatcmpl-${model}`,
    object: 'chat.completion',
    created: 1753714262,
    model,
    choices: [{ index: 0, message: { role: 'assistant', content: `from ${model}` }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 },
  };
}

function chunk(model: string, content: string, extra: Partial<ChatCompletionChunk> = {}): ChatCompletionChunk {
  return { id: `chatcmpl-${model}`, object: 'chat.completion.chunk', created: 1753714262, model, choices: [{ index: 0, delta: { content }, finish_reason: null }], ...extra };
}

/** Resolves when the signal aborts, rejecting like fetch/undici do (a plain AbortError, not the reason). */
function untilAborted(signal: CallSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    const fail = (): void => reject(new DOMException('This operation was aborted', 'AbortError'));
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
}

interface Fake extends ProviderAdapter {
  contexts: AttemptContext[];
}

function fake(id: string, behaviour: Partial<Pick<ProviderAdapter, 'chat' | 'chatStream' | 'embeddings'>>): Fake {
  const contexts: AttemptContext[] = [];
  const unexpected = (): never => {
    throw new Error(`${id}: unexpected call`);
  };
  return {
    id,
    type: 'fake',
    contexts,
    chat: (req, ctx) => {
      contexts.push(ctx);
      return (behaviour.chat ?? unexpected)(req, ctx);
    },
    chatStream: (req, ctx) => {
      contexts.push(ctx);
      return (behaviour.chatStream ?? unexpected)(req, ctx);
    },
    embeddings: (req, ctx) => {
      contexts.push(ctx);
      return (behaviour.embeddings ?? unexpected)(req, ctx);
    },
  };
}

interface TargetSpec {
  adapter: ProviderAdapter;
  model?: string;
  totalMs?: number;
  firstByteMs?: number;
}

/** A route plan over these targets (one provider each), through the real registry; no retry passes unless asked. */
function group(...targets: TargetSpec[]): RoutePlan {
  return planFor(targets, {});
}

function planFor(targets: TargetSpec[], groupConfig: Record<string, unknown> = {}, routing: Record<string, unknown> = {}): RoutePlan {
  return plansFor(targets, groupConfig, routing)();
}

/** A new plan per call (one per request, as the router makes them) over one registry, whose targets keep their stats. */
function plansFor(targets: TargetSpec[], groupConfig: Record<string, unknown> = {}, routing: Record<string, unknown> = {}): () => RoutePlan {
  const providers = new Map<string, Provider>();
  const config = configSchema.parse({
    providers: Object.fromEntries(targets.map(({ adapter }) => [adapter.id, { type: 'mock' }])),
    models: { smart: { targets: targets.map(({ adapter, model }) => ({ provider: adapter.id, model: model ?? `${adapter.id}-model` })), retry: { max_retries: 0 }, ...groupConfig } },
    routing,
  });
  for (const { adapter, totalMs, firstByteMs } of targets) providers.set(adapter.id, { adapter, timeouts: { firstByteMs: firstByteMs ?? 0, totalMs: totalMs ?? 0 } });
  const registry = new ModelRegistry(config, providers);
  return () => new RoutePlan(registry, registry.group('smart')!, { stream: false, constraints: {} });
}

function setup(): { executor: Executor; metrics: RoutingMetrics; rc: RequestContext } {
  const metrics = new RoutingMetrics(new Registry());
  return { executor: new Executor(metrics), metrics, rc: createRequestContext('req-1', 'chat', performance.now()) };
}

async function outcomes(metrics: RoutingMetrics): Promise<Record<string, number>> {
  const { values } = await metrics.attempts.get();
  return Object.fromEntries(values.map((v) => [`${String(v.labels.provider)}:${String(v.labels.outcome)}`, v.value]));
}

const retryable = (provider: string): GatewayError => new GatewayError('upstream_error', `The upstream provider "${provider}" failed with HTTP 503.`, { provider });

async function drain(stream: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const chunks: ChatCompletionChunk[] = [];
  for await (const item of stream) chunks.push(item);
  return chunks;
}

describe('Executor.chat', () => {
  it('answers from the first target and records the attempt', async () => {
    const a = fake('a', { chat: async (_req, ctx) => completion(ctx.upstreamModel) });
    const { executor, metrics, rc } = setup();
    const result = await executor.chat(group({ adapter: a, model: 'gpt-4o' }), request, rc);
    expect(result.model).toBe('gpt-4o');
    expect(a.contexts[0]).toMatchObject({ upstreamModel: 'gpt-4o', requestId: 'req-1' });
    expect(rc).toMatchObject({ attempts: 1, providerId: 'a', upstreamModel: 'gpt-4o', usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 } });
    expect(rc.upstreamMs).toBeGreaterThanOrEqual(0);
    expect(await outcomes(metrics)).toEqual({ 'a:ok': 1 });
  });

  it("gives each attempt its own signal, not one of Node's AbortSignals (Node 20 promotes every one of those to the old generation)", async () => {
    const seen: CallSignal[] = [];
    const a = fake('a', { chat: (_req, ctx) => (seen.push(ctx.signal), Promise.reject(retryable('a'))) });
    const b = fake('b', { chat: async (_req, ctx) => (seen.push(ctx.signal), completion(ctx.upstreamModel)) });
    const { executor, rc } = setup();
    await executor.chat(group({ adapter: a }, { adapter: b }), request, rc);
    expect(seen).toHaveLength(2);
    expect(seen[0]).not.toBe(seen[1]);
    for (const signal of seen) {
      expect(signal).toBeInstanceOf(CallAbort);
      expect(signal).not.toBeInstanceOf(AbortSignal);
    }
  });

  it('fails over to the next target on a retryable GatewayError', async () => {
    const a = fake('a', { chat: () => Promise.reject(retryable('a')) });
    const b = fake('b', { chat: async (_req, ctx) => completion(ctx.upstreamModel) });
    const { executor, metrics, rc } = setup();
    const result = await executor.chat(group({ adapter: a }, { adapter: b }), request, rc);
    expect(result.model).toBe('b-model');
    expect(rc).toMatchObject({ attempts: 2, providerId: 'b', upstreamModel: 'b-model' });
    expect(await outcomes(metrics)).toEqual({ 'a:upstream_error': 1, 'b:ok': 1 });
  });

  it('fails over on an upstream 429 (retryable on another target)', async () => {
    const a = fake('a', { chat: () => Promise.reject(new GatewayError('upstream_rate_limited', 'slow down', { retryAfterMs: 1000 })) });
    const b = fake('b', { chat: async (_req, ctx) => completion(ctx.upstreamModel) });
    const { executor, rc } = setup();
    await expect(executor.chat(group({ adapter: a }, { adapter: b }), request, rc)).resolves.toMatchObject({ model: 'b-model' });
    expect(rc.attempts).toBe(2);
  });

  it('does not fail over on a non-retryable error, which reaches the caller as it is', async () => {
    const rejected = new GatewayError('upstream_client_error', "Invalid value: 'superuser'.", { status: 400, param: 'messages[0].role' });
    const a = fake('a', { chat: () => Promise.reject(rejected) });
    const b = fake('b', { chat: async (_req, ctx) => completion(ctx.upstreamModel) });
    const { executor, metrics, rc } = setup();
    await expect(executor.chat(group({ adapter: a }, { adapter: b }), request, rc)).rejects.toBe(rejected);
    expect(b.contexts).toHaveLength(0);
    expect(rc.attempts).toBe(1);
    expect(await outcomes(metrics)).toEqual({ 'a:upstream_client_error': 1 });
  });

  describe("a target whose API cannot take the request (the adapter's invalid_request, nothing sent)", () => {
    const untranslatable = (id: string): GatewayError => new GatewayError('invalid_request', `${id} returns one choice per request: "n" must be 1.`, { param: 'n' });

    it('is skipped for the next target, without counting an attempt or blaming it', async () => {
      const a = fake('a', { chat: () => Promise.reject(untranslatable('a')) });
      const b = fake('b', { chat: async (_req, ctx) => completion(ctx.upstreamModel) });
      const { executor, metrics, rc } = setup();
      await expect(executor.chat(group({ adapter: a }, { adapter: b }), request, rc)).resolves.toMatchObject({ model: 'b-model' });
      expect(rc).toMatchObject({ attempts: 1, providerId: 'b' });
      expect(await outcomes(metrics)).toEqual({ 'b:ok': 1 });
      // Not a failover either: b is the first target that could take the request.
      expect((await metrics.failovers.get()).values.reduce((sum, v) => sum + v.value, 0)).toBe(0);
    });

    it('is the answer when no target takes the request, with no attempt counted and no retry pass', async () => {
      const refused = untranslatable('a');
      const a = fake('a', { chat: () => Promise.reject(refused) });
      const plan = planFor([{ adapter: a }], { retry: { max_retries: 2, initial_backoff_ms: 5 } });
      const { executor, rc } = setup();
      await expect(executor.chat(plan, request, rc)).rejects.toBe(refused);
      expect([a.contexts.length, rc.attempts]).toEqual([1, 0]);
    });

    it("gives way to a real upstream failure of another target as the answer, which is retried as usual", async () => {
      const a = fake('a', { chat: () => Promise.reject(retryable('a')) });
      const b = fake('b', { chat: () => Promise.reject(untranslatable('b')) });
      const plan = planFor([{ adapter: a }, { adapter: b }], { retry: { max_retries: 1, initial_backoff_ms: 5 } });
      const { executor, rc } = setup();
      await expect(executor.chat(plan, request, rc)).rejects.toMatchObject({ code: 'upstream_error', provider: 'a' });
      // b is asked once: it would refuse again; a gets its retry pass.
      expect([a.contexts.length, b.contexts.length, rc.attempts]).toEqual([2, 1, 2]);
    });
  });

  it('does not retry an unexpected (non-gateway) error', async () => {
    const bug = new TypeError("Cannot read properties of undefined (reading 'choices')");
    const a = fake('a', { chat: () => Promise.reject(bug) });
    const b = fake('b', { chat: async (_req, ctx) => completion(ctx.upstreamModel) });
    const { executor, metrics, rc } = setup();
    await expect(executor.chat(group({ adapter: a }, { adapter: b }), request, rc)).rejects.toBe(bug);
    expect(b.contexts).toHaveLength(0);
    expect(await outcomes(metrics)).toEqual({ 'a:internal_error': 1 });
  });

  it('throws the last error when every target failed, counting every attempt', async () => {
    const a = fake('a', { chat: () => Promise.reject(retryable('a')) });
    const b = fake('b', { chat: () => Promise.reject(new GatewayError('upstream_timeout', 'b timed out', { provider: 'b' })) });
    const c = fake('c', { chat: () => Promise.reject(retryable('c')) });
    const { executor, metrics, rc } = setup();
    await expect(executor.chat(group({ adapter: a }, { adapter: b }, { adapter: c }), request, rc)).rejects.toMatchObject({
      code: 'upstream_error',
      provider: 'c',
    });
    expect(rc.attempts).toBe(3);
    expect(rc.providerId).toBe('c');
    expect(await outcomes(metrics)).toEqual({ 'a:upstream_error': 1, 'b:upstream_timeout': 1, 'c:upstream_error': 1 });
  });

  it("turns the abort of a target's total timeout into upstream_timeout (504) and fails over", async () => {
    const a = fake('a', { chat: (_req, ctx) => untilAborted(ctx.signal) });
    const b = fake('b', { chat: async (_req, ctx) => completion(ctx.upstreamModel) });
    const { executor, metrics, rc } = setup();
    const started = performance.now();
    const result = await executor.chat(group({ adapter: a, totalMs: 40 }, { adapter: b }), request, rc);
    expect(performance.now() - started).toBeGreaterThanOrEqual(35);
    expect(result.model).toBe('b-model');
    expect(a.contexts[0]!.signal.aborted).toBe(true);
    expect(a.contexts[0]!.signal.reason).toMatchObject({ code: 'upstream_timeout', status: 504, retryable: true, provider: 'a' });
    expect(await outcomes(metrics)).toEqual({ 'a:upstream_timeout': 1, 'b:ok': 1 });
  });

  it('reports upstream_timeout when the only target times out', async () => {
    const a = fake('a', { chat: (_req, ctx) => untilAborted(ctx.signal) });
    const { executor, rc } = setup();
    const error: unknown = await executor.chat(group({ adapter: a, totalMs: 30 }), request, rc).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(GatewayError);
    expect(error).toMatchObject({ code: 'upstream_timeout', status: 504 });
    expect((error as Error).message).toBe('The upstream provider "a" did not finish within 30 ms.');
  });

  it('clears the total timeout once an attempt succeeded', async () => {
    const a = fake('a', { chat: async (_req, ctx) => completion(ctx.upstreamModel) });
    const { executor, rc } = setup();
    await executor.chat(group({ adapter: a, totalMs: 20 }), request, rc);
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(a.contexts[0]!.signal.aborted).toBe(false);
  });

  it('times out an attempt whose upstream has not started answering within first_byte_ms, and fails over', async () => {
    const a = fake('a', { chat: (_req, ctx) => untilAborted(ctx.signal) });
    const b = fake('b', { chat: async (_req, ctx) => completion(ctx.upstreamModel) });
    const { executor, metrics, rc } = setup();
    const started = performance.now();
    const result = await executor.chat(group({ adapter: a, firstByteMs: 40 }, { adapter: b }), request, rc);
    expect(result.model).toBe('b-model');
    expect(a.contexts[0]!.signal.reason).toMatchObject({ code: 'upstream_timeout', status: 504, message: 'The upstream provider "a" did not start answering within 40 ms.' });
    // Our own timer, not undici's ~1 s one: the timeout is precise.
    expect(performance.now() - started).toBeLessThan(500);
    expect(await outcomes(metrics)).toEqual({ 'a:upstream_timeout': 1, 'b:ok': 1 });
  });

  it('lets an attempt that started answering in time run past first_byte_ms, bounded by total_ms', async () => {
    const slowBody = fake('a', {
      chat: async (_req, ctx) => {
        ctx.firstByte();
        await new Promise((resolve) => setTimeout(resolve, 80));
        ctx.signal.throwIfAborted();
        return completion(ctx.upstreamModel);
      },
    });
    const { executor, rc } = setup();
    await expect(executor.chat(group({ adapter: slowBody, firstByteMs: 30 }), request, rc)).resolves.toMatchObject({ model: 'a-model' });

    const tooSlow = fake('a', {
      chat: (_req, ctx) => {
        ctx.firstByte();
        return untilAborted(ctx.signal);
      },
    });
    const second = setup();
    await expect(second.executor.chat(group({ adapter: tooSlow, firstByteMs: 30, totalMs: 90 }), request, second.rc)).rejects.toMatchObject({
      code: 'upstream_timeout',
      message: 'The upstream provider "a" did not finish within 90 ms.',
    });
  });

  it('aborts the attempt when the client goes away, and does not try other targets', async () => {
    const gone = new GatewayError('client_closed_request', 'The client closed the connection before the answer was complete.');
    const { executor, rc } = setup();
    const a = fake('a', {
      chat: (_req, ctx) => {
        setTimeout(() => closeClient(rc, gone), 10);
        return untilAborted(ctx.signal);
      },
    });
    const b = fake('b', { chat: async (_req, ctx) => completion(ctx.upstreamModel) });
    await expect(executor.chat(group({ adapter: a }, { adapter: b }), request, rc)).rejects.toBe(gone);
    expect(a.contexts[0]!.signal.reason).toBe(gone);
    expect(b.contexts).toHaveLength(0);
  });

  it('does not fail over on a retryable error once the client has gone', async () => {
    const { executor, rc } = setup();
    const a = fake('a', {
      chat: () => {
        closeClient(rc, new GatewayError('client_closed_request', 'gone'));
        return Promise.reject(retryable('a'));
      },
    });
    const b = fake('b', { chat: async (_req, ctx) => completion(ctx.upstreamModel) });
    await expect(executor.chat(group({ adapter: a }, { adapter: b }), request, rc)).rejects.toBeInstanceOf(GatewayError);
    expect(b.contexts).toHaveLength(0);
    expect(rc.attempts).toBe(1);
  });

  it('starts an attempt already aborted when the client left before it began', async () => {
    const gone = new GatewayError('client_closed_request', 'gone');
    const { executor, rc } = setup();
    closeClient(rc, gone);
    const a = fake('a', { chat: (_req, ctx) => untilAborted(ctx.signal) });
    await expect(executor.chat(group({ adapter: a }), request, rc)).rejects.toBe(gone);
  });
});

describe('Executor.embeddings', () => {
  it('records prompt tokens as usage with zero completion tokens, failing over like chat', async () => {
    const response: EmbeddingsResponse = { object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.6, 0.8] }], model: 'e', usage: { prompt_tokens: 5, total_tokens: 5 } };
    const a = fake('a', { embeddings: () => Promise.reject(retryable('a')) });
    const b = fake('b', { embeddings: async () => response });
    const { executor, rc } = setup();
    await expect(executor.embeddings(group({ adapter: a }, { adapter: b }), { model: 'e', input: 'x' }, rc)).resolves.toBe(response);
    expect(rc.usage).toEqual({ prompt_tokens: 5, completion_tokens: 0, total_tokens: 5 });
    expect(rc.attempts).toBe(2);
  });
});

describe('Executor.chatStream', () => {
  it('hands over the stream, first chunk included, with the usage trailer recorded', async () => {
    const usage = { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 };
    const a = fake('a', {
      chatStream: async (_req, ctx) =>
        (async function* () {
          yield chunk(ctx.upstreamModel, 'Hel');
          yield chunk(ctx.upstreamModel, 'lo');
          yield { ...chunk(ctx.upstreamModel, ''), choices: [], usage };
        })(),
    });
    const { executor, metrics, rc } = setup();
    const chunks = await drain(await executor.chatStream(group({ adapter: a }), request, rc));
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '')).toEqual(['Hel', 'lo', '']);
    expect(rc.usage).toEqual(usage);
    expect(rc.attempts).toBe(1);
    expect(await outcomes(metrics)).toEqual({ 'a:ok': 1 });
  });

  it('counts a wait that ended in the upstream failing mid-stream as upstream time (not the gateway\'s overhead)', async () => {
    const a = fake('a', {
      chatStream: async (_req, ctx) =>
        (async function* () {
          yield chunk(ctx.upstreamModel, 'Hel');
          await new Promise((resolve) => setTimeout(resolve, 60));
          throw retryable('a');
        })(),
    });
    const { executor, rc } = setup();
    await expect(drain(await executor.chatStream(group({ adapter: a }), request, rc))).rejects.toMatchObject({ code: 'upstream_error' });
    expect(rc.upstreamMs).toBeGreaterThanOrEqual(55);
  });

  it('fails over when the upstream rejects the stream before it starts', async () => {
    const a = fake('a', { chatStream: () => Promise.reject(retryable('a')) });
    const b = fake('b', {
      chatStream: async (_req, ctx) =>
        (async function* () {
          yield chunk(ctx.upstreamModel, 'from b');
        })(),
    });
    const { executor, rc } = setup();
    const chunks = await drain(await executor.chatStream(group({ adapter: a }, { adapter: b }), request, rc));
    expect(chunks.map((c) => c.model)).toEqual(['b-model']);
    expect(rc).toMatchObject({ attempts: 2, providerId: 'b' });
  });

  it('fails over when the first chunk fails (nothing has reached the client yet)', async () => {
    let aClosed = false;
    const a = fake('a', {
      chatStream: async () =>
        (async function* () {
          try {
            yield* [];
            throw retryable('a');
          } finally {
            aClosed = true;
          }
        })(),
    });
    const b = fake('b', {
      chatStream: async (_req, ctx) =>
        (async function* () {
          yield chunk(ctx.upstreamModel, 'one');
          yield chunk(ctx.upstreamModel, 'two');
        })(),
    });
    const { executor, metrics, rc } = setup();
    const chunks = await drain(await executor.chatStream(group({ adapter: a }, { adapter: b }), request, rc));
    expect(chunks.map((c) => c.choices[0]!.delta.content)).toEqual(['one', 'two']);
    expect(aClosed).toBe(true);
    expect(rc.attempts).toBe(2);
    expect(await outcomes(metrics)).toEqual({ 'a:upstream_error': 1, 'b:ok': 1 });
  });

  it('does not fail over once a chunk was handed on: a later failure ends the stream', async () => {
    const a = fake('a', {
      chatStream: async (_req, ctx) =>
        (async function* () {
          yield chunk(ctx.upstreamModel, 'partial');
          throw retryable('a');
        })(),
    });
    const b = fake('b', { chatStream: () => Promise.reject(new Error('must not be called')) });
    const { executor, rc } = setup();
    const stream = await executor.chatStream(group({ adapter: a }, { adapter: b }), request, rc);
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const item of stream) seen.push(item.choices[0]!.delta.content ?? '');
      })(),
    ).rejects.toMatchObject({ code: 'upstream_error', provider: 'a' });
    expect(seen).toEqual(['partial']);
    expect(b.contexts).toHaveLength(0);
    expect(rc.attempts).toBe(1);
  });

  it('bounds the whole stream by the total timeout: a stall after the first chunk becomes upstream_timeout', async () => {
    const a = fake('a', {
      chatStream: async (_req, ctx) =>
        (async function* () {
          yield chunk(ctx.upstreamModel, 'first');
          await untilAborted(ctx.signal);
        })(),
    });
    const { executor, rc } = setup();
    const stream = await executor.chatStream(group({ adapter: a, totalMs: 40 }), request, rc);
    const seen: string[] = [];
    const error: unknown = await (async () => {
      for await (const item of stream) seen.push(item.choices[0]!.delta.content ?? '');
    })().catch((err: unknown) => err);
    expect(seen).toEqual(['first']);
    expect(error).toMatchObject({ code: 'upstream_timeout', status: 504, provider: 'a' });
  });

  it('fails over when no first chunk arrives within the total timeout', async () => {
    const a = fake('a', {
      chatStream: async (_req, ctx) =>
        (async function* () {
          await untilAborted(ctx.signal);
          yield chunk(ctx.upstreamModel, 'never');
        })(),
    });
    const b = fake('b', {
      chatStream: async (_req, ctx) =>
        (async function* () {
          yield chunk(ctx.upstreamModel, 'b');
        })(),
    });
    const { executor, metrics, rc } = setup();
    const chunks = await drain(await executor.chatStream(group({ adapter: a, totalMs: 30 }, { adapter: b }), request, rc));
    expect(chunks.map((c) => c.model)).toEqual(['b-model']);
    expect(await outcomes(metrics)).toEqual({ 'a:upstream_timeout': 1, 'b:ok': 1 });
  });

  it('closes the upstream stream and stops the timer when the consumer stops early', async () => {
    let closed = false;
    const a = fake('a', {
      chatStream: async (_req, ctx) =>
        (async function* () {
          try {
            for (let i = 0; ; i++) yield chunk(ctx.upstreamModel, String(i));
          } finally {
            closed = true;
          }
        })(),
    });
    const { executor, rc } = setup();
    const stream = await executor.chatStream(group({ adapter: a, totalMs: 20 }), request, rc);
    for await (const item of stream) if (item.choices[0]!.delta.content === '2') break;
    expect(closed).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(a.contexts[0]!.signal.aborted).toBe(false);
  });

  it('handles an upstream stream that ends without any chunk', async () => {
    const a = fake('a', {
      chatStream: async () =>
        (async function* (): AsyncGenerator<ChatCompletionChunk> {
          // nothing
        })(),
    });
    const { executor, rc } = setup();
    expect(await drain(await executor.chatStream(group({ adapter: a }), request, rc))).toEqual([]);
  });
});

describe('Executor: Anthropic Messages requests choose per target', () => {
  const body = { model: 'smart', max_tokens: 64, top_k: 3, messages: [{ role: 'user' as const, content: 'hi' }] };
  const nativeMessage = { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude', content: [{ type: 'text', text: 'native' }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 4, output_tokens: 2 } } as unknown as Message;
  const nativeUsage = { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 };

  function call(): MessagesCall & { decoded: number } {
    const result = {
      decoded: 0,
      native: { body, beta: 'b-1' },
      canonical: () => {
        result.decoded++;
        return request;
      },
    };
    return result;
  }

  function event(name: string, usage?: typeof nativeUsage): NativeStreamEvent {
    return { name, data: JSON.stringify({ type: name }), value: { type: name }, usage };
  }

  /** A fake adapter that speaks Anthropic's API natively (and would refuse canonical calls). */
  function nativeFake(id: string, messages: Partial<NativeMessages>): Fake & { nativeCalls: NativeMessagesRequest<unknown>[] } {
    const adapter = fake(id, {});
    const nativeCalls: NativeMessagesRequest<unknown>[] = [];
    const record = <R,>(fn: ((req: never, ctx: AttemptContext) => Promise<R>) | undefined) => (req: NativeMessagesRequest<unknown>, ctx: AttemptContext): Promise<R> => {
      nativeCalls.push(req);
      adapter.contexts.push(ctx);
      if (!fn) throw new Error(`${id}: unexpected native call`);
      return fn(req as never, ctx);
    };
    return Object.assign(adapter, { nativeCalls, messages: { create: record(messages.create), stream: record(messages.stream), countTokens: record(messages.countTokens) } as NativeMessages });
  }

  it('sends the native request to a native target, never decoding the canonical one', async () => {
    const a = nativeFake('a', { create: async () => ({ message: nativeMessage, usage: nativeUsage }) });
    const { executor, metrics, rc } = setup();
    const messagesCall = call();
    const result = await executor.messages(group({ adapter: a, model: 'claude-x' }), messagesCall, rc);
    expect(result).toEqual({ kind: 'native', answer: { message: nativeMessage, usage: nativeUsage } });
    expect(a.nativeCalls).toEqual([{ body, beta: 'b-1' }]);
    expect(a.contexts[0]).toMatchObject({ upstreamModel: 'claude-x' });
    expect(messagesCall.decoded).toBe(0);
    expect(rc).toMatchObject({ attempts: 1, providerId: 'a', upstreamModel: 'claude-x', usage: nativeUsage });
    expect(await outcomes(metrics)).toEqual({ 'a:ok': 1 });
  });

  it('fails over from a native target to a canonical one, which gets the decoded request', async () => {
    const a = nativeFake('a', { create: () => Promise.reject(retryable('a')) });
    let received: ChatRequest | undefined;
    const b = fake('b', {
      chat: async (req, ctx) => {
        received = req;
        return completion(ctx.upstreamModel);
      },
    });
    const { executor, metrics, rc } = setup();
    const messagesCall = call();
    const result = await executor.messages(group({ adapter: a }, { adapter: b }), messagesCall, rc);
    expect(result.kind).toBe('canonical');
    expect(result.kind === 'canonical' && result.completion.model).toBe('b-model');
    expect(received).toBe(request);
    expect(messagesCall.decoded).toBe(1);
    expect(rc).toMatchObject({ attempts: 2, providerId: 'b', usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 } });
    expect(await outcomes(metrics)).toEqual({ 'a:upstream_error': 1, 'b:ok': 1 });
  });

  it('fails over from a canonical target to a native one, and not at all on a client error', async () => {
    const a = fake('a', { chat: () => Promise.reject(retryable('a')) });
    const b = nativeFake('b', { create: async () => ({ message: nativeMessage, usage: nativeUsage }) });
    const first = setup();
    expect((await first.executor.messages(group({ adapter: a }, { adapter: b }), call(), first.rc)).kind).toBe('native');

    const refused = new GatewayError('upstream_client_error', 'top_k: bad', { status: 400 });
    const c = nativeFake('c', { create: () => Promise.reject(refused) });
    const d = fake('d', { chat: async (_req, ctx) => completion(ctx.upstreamModel) });
    const second = setup();
    await expect(second.executor.messages(group({ adapter: c }, { adapter: d }), call(), second.rc)).rejects.toBe(refused);
    expect(d.contexts).toHaveLength(0);
  });

  it('times a native attempt out like any other (first byte), then fails over', async () => {
    const a = nativeFake('a', { create: (_req, ctx) => untilAborted(ctx.signal) });
    const b = fake('b', { chat: async (_req, ctx) => completion(ctx.upstreamModel) });
    const { executor, metrics, rc } = setup();
    const result = await executor.messages(group({ adapter: a, firstByteMs: 30 }, { adapter: b }), call(), rc);
    expect(result.kind).toBe('canonical');
    expect(await outcomes(metrics)).toEqual({ 'a:upstream_timeout': 1, 'b:ok': 1 });
  });

  it('streams natively, recording the usage the events carry', async () => {
    const final = { prompt_tokens: 4, completion_tokens: 9, total_tokens: 13 };
    const a = nativeFake('a', {
      stream: async () =>
        (async function* () {
          yield event('message_start', nativeUsage);
          yield event('content_block_delta');
          yield event('message_delta', final);
          yield event('message_stop');
        })(),
    });
    const { executor, rc } = setup();
    const messagesCall = call();
    const stream = await executor.messagesStream(group({ adapter: a }), messagesCall, rc);
    if (stream.kind !== 'native') throw new Error('expected a native stream');
    const names: string[] = [];
    for await (const item of stream.events) names.push(item.name);
    expect(names).toEqual(['message_start', 'content_block_delta', 'message_delta', 'message_stop']);
    expect(rc.usage).toEqual(final);
    expect(messagesCall.decoded).toBe(0);
  });

  it('fails a native stream over to a canonical target when it fails before its first event', async () => {
    let aClosed = false;
    const a = nativeFake('a', {
      stream: async () =>
        (async function* (): AsyncGenerator<NativeStreamEvent> {
          try {
            yield* [];
            throw retryable('a');
          } finally {
            aClosed = true;
          }
        })(),
    });
    const b = fake('b', {
      chatStream: async (_req, ctx) =>
        (async function* () {
          yield chunk(ctx.upstreamModel, 'from b');
        })(),
    });
    const { executor, metrics, rc } = setup();
    const stream = await executor.messagesStream(group({ adapter: a }, { adapter: b }), call(), rc);
    if (stream.kind !== 'canonical') throw new Error('expected a canonical stream');
    expect((await drain(stream.chunks)).map((c) => c.choices[0]!.delta.content)).toEqual(['from b']);
    expect(aClosed).toBe(true);
    expect(await outcomes(metrics)).toEqual({ 'a:upstream_error': 1, 'b:ok': 1 });
  });

  it('does not fail a native stream over once an event was handed on', async () => {
    const a = nativeFake('a', {
      stream: async () =>
        (async function* () {
          yield event('message_start');
          throw retryable('a');
        })(),
    });
    const b = fake('b', {});
    const { executor, rc } = setup();
    const stream = await executor.messagesStream(group({ adapter: a }, { adapter: b }), call(), rc);
    if (stream.kind !== 'native') throw new Error('expected a native stream');
    const names: string[] = [];
    await expect(
      (async () => {
        for await (const item of stream.events) names.push(item.name);
      })(),
    ).rejects.toMatchObject({ code: 'upstream_error', provider: 'a' });
    expect(names).toEqual(['message_start']);
    expect(b.contexts).toHaveLength(0);
  });

  it('counts tokens upstream on a native target, and estimates on a canonical target reached by failover', async () => {
    let estimates = 0;
    const countCall = {
      native: { body: { model: 'smart', messages: body.messages } },
      estimate: () => {
        estimates++;
        return 42;
      },
    };
    const a = nativeFake('a', { countTokens: async () => ({ input_tokens: 17 }) });
    const first = setup();
    expect(await first.executor.countTokens(group({ adapter: a }), countCall, first.rc)).toEqual({ input_tokens: 17 });
    expect(estimates).toBe(0);

    const failing = nativeFake('a', { countTokens: () => Promise.reject(retryable('a')) });
    const b = fake('b', {});
    const second = setup();
    expect(await second.executor.countTokens(group({ adapter: failing }, { adapter: b }), countCall, second.rc)).toEqual({ input_tokens: 42 });
    expect(estimates).toBe(1);
    expect(second.rc).toMatchObject({ attempts: 2, providerId: 'b' });
  });
});

/** A plan over several groups: `groups` maps group name → targets and group settings; the plan is for `smart`. */
function multiPlan(groups: Record<string, { targets: TargetSpec[]; settings?: Record<string, unknown> }>, routing: Record<string, unknown> = {}): { plan: RoutePlan; registry: ModelRegistry } {
  const providers = new Map<string, Provider>();
  const models: Record<string, unknown> = {};
  for (const [name, { targets, settings }] of Object.entries(groups)) {
    models[name] = { targets: targets.map(({ adapter, model }) => ({ provider: adapter.id, model: model ?? `${adapter.id}-model` })), retry: { max_retries: 0 }, ...settings };
    for (const { adapter, totalMs, firstByteMs } of targets) providers.set(adapter.id, { adapter, timeouts: { firstByteMs: firstByteMs ?? 0, totalMs: totalMs ?? 0 } });
  }
  const config = configSchema.parse({ providers: Object.fromEntries([...providers.keys()].map((id) => [id, { type: 'mock' }])), models, routing });
  const registry = new ModelRegistry(config, providers);
  return { plan: new RoutePlan(registry, registry.group('smart')!, { stream: false, constraints: {} }), registry };
}

const ok = (id: string) => fake(id, { chat: async (_req, ctx) => completion(ctx.upstreamModel) });

describe('Executor: retries', () => {
  it('retries the whole plan after every target failed, up to max_retries, and succeeds on a later pass', async () => {
    let calls = 0;
    const a = fake('a', { chat: async (_req, ctx) => (++calls < 3 ? Promise.reject(retryable('a')) : completion(ctx.upstreamModel)) });
    const plan = planFor([{ adapter: a }], { retry: { max_retries: 2, initial_backoff_ms: 5 } });
    const { executor, rc } = setup();
    await expect(executor.chat(plan, request, rc)).resolves.toMatchObject({ model: 'a-model' });
    expect(rc.attempts).toBe(3);
  });

  it('gives up after max_retries passes with the last error', async () => {
    const a = fake('a', { chat: () => Promise.reject(retryable('a')) });
    const b = fake('b', { chat: () => Promise.reject(retryable('b')) });
    const plan = planFor([{ adapter: a }, { adapter: b }], { retry: { max_retries: 1, initial_backoff_ms: 5 } });
    const { executor, rc } = setup();
    await expect(executor.chat(plan, request, rc)).rejects.toMatchObject({ code: 'upstream_error', provider: 'b' });
    expect([a.contexts.length, b.contexts.length, rc.attempts]).toEqual([2, 2, 4]);
  });

  it('moves a round-robin group on by one per request, however many passes the request made', async () => {
    const order: string[] = [];
    let failing = true;
    const answer = (id: string) => (_req: unknown, ctx: AttemptContext) => {
      order.push(id);
      return failing ? Promise.reject(retryable(id)) : Promise.resolve(completion(ctx.upstreamModel));
    };
    const a = fake('a', { chat: answer('a') });
    const b = fake('b', { chat: answer('b') });
    const c = fake('c', { chat: answer('c') });
    const nextPlan = plansFor([{ adapter: a }, { adapter: b }, { adapter: c }], { strategy: 'round-robin', retry: { max_retries: 1, initial_backoff_ms: 1 } }, { circuit_breaker: { enabled: false } });
    const { executor } = setup();
    await expect(executor.chat(nextPlan(), request, createRequestContext('r1', 'chat', performance.now()))).rejects.toMatchObject({ code: 'upstream_error' });
    // The retry pass walks the request's own order again.
    expect(order).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
    failing = false;
    order.length = 0;
    for (let i = 2; i <= 4; i++) await executor.chat(nextPlan(), request, createRequestContext(`r${i}`, 'chat', performance.now()));
    // The next requests start at b, c, a: the failed request's retry pass did not move the turn.
    expect(order).toEqual(['b', 'c', 'a']);
  });

  it("waits for the target's Retry-After before trying it again", async () => {
    let calls = 0;
    const a = fake('a', {
      chat: async (_req, ctx) => (++calls === 1 ? Promise.reject(new GatewayError('upstream_rate_limited', 'slow down', { retryAfterMs: 120 })) : completion(ctx.upstreamModel)),
    });
    const plan = planFor([{ adapter: a }], { retry: { max_retries: 1, initial_backoff_ms: 1 } });
    const { executor, rc } = setup();
    const started = performance.now();
    await executor.chat(plan, request, rc);
    expect(performance.now() - started).toBeGreaterThanOrEqual(115);
  });

  it('does not wait for a Retry-After beyond max_retry_after_ms: the error goes back at once', async () => {
    const limited = new GatewayError('upstream_rate_limited', 'slow down', { retryAfterMs: 60_000 });
    const a = fake('a', { chat: () => Promise.reject(limited) });
    const plan = planFor([{ adapter: a }], { retry: { max_retries: 3, max_retry_after_ms: 1000 } });
    const { executor, rc } = setup();
    await expect(executor.chat(plan, request, rc)).rejects.toBe(limited);
    expect(a.contexts).toHaveLength(1);
  });

  it('stops before a wait that would pass the deadline', async () => {
    const a = fake('a', { chat: () => Promise.reject(new GatewayError('upstream_error', 'down', { retryAfterMs: 400 })) });
    const plan = planFor([{ adapter: a }], { retry: { max_retries: 5, deadline_ms: 200 } });
    const { executor, rc } = setup();
    const started = performance.now();
    await expect(executor.chat(plan, request, rc)).rejects.toMatchObject({ code: 'upstream_error' });
    expect(performance.now() - started).toBeLessThan(150);
  });

  it('never tries a target that refused its credentials again, but fails over from it', async () => {
    const refused = new GatewayError('upstream_error', 'credentials refused', { sameTargetRetryable: false });
    const a = fake('a', { chat: () => Promise.reject(refused) });
    let bCalls = 0;
    const b = fake('b', { chat: async (_req, ctx) => (++bCalls === 1 ? Promise.reject(retryable('b')) : completion(ctx.upstreamModel)) });
    const plan = planFor([{ adapter: a }, { adapter: b }], { retry: { max_retries: 2, initial_backoff_ms: 1 } });
    const { executor, rc } = setup();
    await expect(executor.chat(plan, request, rc)).resolves.toMatchObject({ model: 'b-model' });
    expect([a.contexts.length, b.contexts.length]).toEqual([1, 2]);
  });

  it('gives up when the client leaves during a backoff', async () => {
    const a = fake('a', { chat: () => Promise.reject(retryable('a')) });
    const plan = planFor([{ adapter: a }], { retry: { max_retries: 3, initial_backoff_ms: 10_000 } });
    const { metrics, rc } = setup();
    // Full jitter draws the wait from [0, 10 s): a fixed draw of half, so the backoff cannot end before the client leaves.
    const executor = new Executor(metrics, () => 0.5);
    const run = executor.chat(plan, request, rc);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const gone = new GatewayError('client_closed_request', 'gone');
    closeClient(rc, gone);
    await expect(run).rejects.toBe(gone);
    expect(a.contexts).toHaveLength(1);
  });
});

describe('Executor: fallback groups and diverts', () => {
  it('moves on to the fallback group after every target of the group failed', async () => {
    const a = fake('a', { chat: () => Promise.reject(retryable('a')) });
    const b = ok('b');
    const { plan } = multiPlan({ smart: { targets: [{ adapter: a }], settings: { fallbacks: ['spare'] } }, spare: { targets: [{ adapter: b }] } });
    const { executor, metrics, rc } = setup();
    rc.model = 'smart';
    await expect(executor.chat(plan, request, rc)).resolves.toMatchObject({ model: 'b-model' });
    expect(rc.fallbackGroup).toBe('spare');
    const { values } = await metrics.fallbacks.get();
    expect(values).toEqual([expect.objectContaining({ labels: { model: 'smart', to: 'spare', reason: 'error' }, value: 1 })]);
  });

  it('names the fallback group that answered when no failover led there (the asked group skipped: breaker open)', async () => {
    const a = fake('a', { chat: () => Promise.reject(retryable('a')) });
    const breaker = { failure_rate: 0.5, minimum_requests: 2, window_ms: 60_000, cooldown_ms: 60_000 };
    const { plan } = multiPlan({ smart: { targets: [{ adapter: a }], settings: { fallbacks: ['spare'] } }, spare: { targets: [{ adapter: ok('b') }] } }, { circuit_breaker: breaker });
    const { executor, metrics } = setup();
    for (let i = 0; i < 2; i++) {
      const failedOver = createRequestContext(`r${i}`, 'chat', performance.now());
      failedOver.model = 'smart';
      await executor.chat(plan, request, failedOver);
      expect(failedOver).toMatchObject({ attempts: 2, fallbackGroup: 'spare' });
    }
    const rc = createRequestContext('r3', 'chat', performance.now());
    rc.model = 'smart';
    await expect(executor.chat(plan, request, rc)).resolves.toMatchObject({ model: 'b-model' });
    expect(a.contexts).toHaveLength(2); // its breaker is open: not called
    expect(rc).toMatchObject({ attempts: 1, fallbackGroup: 'spare' });
    const { values } = await metrics.fallbacks.get();
    expect(values).toEqual([
      expect.objectContaining({ labels: { model: 'smart', to: 'spare', reason: 'error' }, value: 2 }),
      expect.objectContaining({ labels: { model: 'smart', to: 'spare', reason: 'skipped' }, value: 1 }),
    ]);
  });

  it('names no fallback group when the asked group answers on a retry after a fallback group failed', async () => {
    let aCalls = 0;
    const a = fake('a', { chat: async (_req, ctx) => (++aCalls === 1 ? Promise.reject(retryable('a')) : completion(ctx.upstreamModel)) });
    const b = fake('b', { chat: () => Promise.reject(retryable('b')) });
    const { plan } = multiPlan({ smart: { targets: [{ adapter: a }], settings: { fallbacks: ['spare'], retry: { max_retries: 1, initial_backoff_ms: 1 } } }, spare: { targets: [{ adapter: b }] } });
    const { executor, rc } = setup();
    rc.model = 'smart';
    await expect(executor.chat(plan, request, rc)).resolves.toMatchObject({ model: 'a-model' });
    expect(rc.attempts).toBe(3);
    expect(rc.fallbackGroup).toBeUndefined();
  });

  it('names the group of the target an error names: none when the asked group failed last, after a fallback group failed', async () => {
    let aCalls = 0;
    const final = new GatewayError('upstream_client_error', 'bad request', { status: 400 });
    const a = fake('a', { chat: () => Promise.reject(++aCalls === 1 ? retryable('a') : final) });
    const b = fake('b', { chat: () => Promise.reject(retryable('b')) });
    const { plan } = multiPlan({ smart: { targets: [{ adapter: a }], settings: { fallbacks: ['spare'], retry: { max_retries: 1, initial_backoff_ms: 1 } } }, spare: { targets: [{ adapter: b }] } });
    const { executor, metrics, rc } = setup();
    rc.model = 'smart';
    await expect(executor.chat(plan, request, rc)).rejects.toBe(final);
    expect(rc).toMatchObject({ attempts: 3, providerId: 'a' });
    expect(rc.fallbackGroup).toBeUndefined();
    const { values } = await metrics.fallbacks.get();
    expect(values).toEqual([expect.objectContaining({ labels: { model: 'smart', to: 'spare', reason: 'error' }, value: 1 })]);
  });

  it('names the fallback group of the target an error names when the asked group was skipped (breaker open)', async () => {
    const a = fake('a', { chat: () => Promise.reject(retryable('a')) });
    let bCalls = 0;
    const b = fake('b', { chat: async (_req, ctx) => (++bCalls === 1 ? completion(ctx.upstreamModel) : Promise.reject(new GatewayError('upstream_client_error', 'bad request', { status: 400 }))) });
    const breaker = { failure_rate: 0.5, minimum_requests: 1, window_ms: 60_000, cooldown_ms: 60_000 };
    const { plan } = multiPlan({ smart: { targets: [{ adapter: a }], settings: { fallbacks: ['spare'] } }, spare: { targets: [{ adapter: b }] } }, { circuit_breaker: breaker });
    const { executor } = setup();
    const first = createRequestContext('r1', 'chat', performance.now());
    first.model = 'smart';
    await expect(executor.chat(plan, request, first)).resolves.toMatchObject({ model: 'b-model' });
    const rc = createRequestContext('r2', 'chat', performance.now());
    rc.model = 'smart';
    await expect(executor.chat(plan, request, rc)).rejects.toMatchObject({ status: 400 });
    expect(a.contexts).toHaveLength(1); // its breaker is open: not called
    expect(rc).toMatchObject({ attempts: 1, providerId: 'b', fallbackGroup: 'spare' });
  });

  it('diverts a content-policy refusal (error or filtered answer) to the content-policy group only', async () => {
    const refusal = new GatewayError('upstream_client_error', 'blocked', { status: 400, upstreamCode: 'content_filter' });
    const a = fake('a', { chat: () => Promise.reject(refusal) });
    const c = ok('c');
    const { plan } = multiPlan({ smart: { targets: [{ adapter: a }], settings: { content_policy_fallbacks: ['lenient'], fallbacks: ['other'] } }, lenient: { targets: [{ adapter: c }] }, other: { targets: [{ adapter: ok('d') }] } });
    const { executor, rc } = setup();
    await expect(executor.chat(plan, request, rc)).resolves.toMatchObject({ model: 'c-model' });

    const filtered: ChatCompletion = { ...completion('a-model'), choices: [{ index: 0, message: { role: 'assistant', content: null }, finish_reason: 'content_filter' }] };
    const e = fake('e', { chat: async () => filtered });
    const second = multiPlan({ smart: { targets: [{ adapter: e }], settings: { content_policy_fallbacks: ['lenient'] } }, lenient: { targets: [{ adapter: ok('f') }] } });
    const run2 = setup();
    await expect(run2.executor.chat(second.plan, request, run2.rc)).resolves.toMatchObject({ model: 'f-model' });
  });

  it('answers with the filtered answer when the content-policy groups cannot answer either', async () => {
    const filtered: ChatCompletion = { ...completion('a-model'), choices: [{ index: 0, message: { role: 'assistant', content: null }, finish_reason: 'content_filter' }] };
    const { plan } = multiPlan({
      smart: { targets: [{ adapter: fake('a', { chat: async () => filtered }) }], settings: { content_policy_fallbacks: ['lenient'] } },
      lenient: { targets: [{ adapter: fake('down', { chat: () => Promise.reject(retryable('down')) }) }] },
    });
    const { executor, rc } = setup();
    await expect(executor.chat(plan, request, rc)).resolves.toBe(filtered);
    expect(rc).toMatchObject({ providerId: 'a', upstreamModel: 'a-model', attempts: 2 });
    expect(rc.fallbackGroup).toBeUndefined();
  });

  it('passes a content-policy refusal on when no content-policy group is configured (a client 4xx is never failed over)', async () => {
    const refusal = new GatewayError('upstream_client_error', 'blocked', { status: 400, upstreamCode: 'content_filter' });
    const b = ok('b');
    const { plan } = multiPlan({ smart: { targets: [{ adapter: fake('a', { chat: () => Promise.reject(refusal) }) }, { adapter: b }], settings: { fallbacks: ['x'] } }, x: { targets: [{ adapter: ok('x') }] } });
    const { executor, rc } = setup();
    await expect(executor.chat(plan, request, rc)).rejects.toBe(refusal);
    expect(b.contexts).toHaveLength(0);
  });

  it("diverts an upstream context_length_exceeded to the group's context-window fallbacks", async () => {
    const tooLong = new GatewayError('upstream_client_error', "This model's maximum context length is 8192 tokens.", { status: 400, upstreamCode: 'context_length_exceeded' });
    const { plan } = multiPlan({ smart: { targets: [{ adapter: fake('a', { chat: () => Promise.reject(tooLong) }) }], settings: { context_window_fallbacks: ['long'] } }, long: { targets: [{ adapter: ok('l') }] } });
    const { executor, rc } = setup();
    await expect(executor.chat(plan, request, rc)).resolves.toMatchObject({ model: 'l-model' });
    expect(rc.fallbackGroup).toBe('long');
  });
});

describe('Executor: circuit breakers', () => {
  it('skips a target whose breaker is open while another can serve, and uses it as a last resort', async () => {
    const a = fake('a', { chat: () => Promise.reject(retryable('a')) });
    const b = ok('b');
    const breaker = { failure_rate: 0.5, minimum_requests: 2, window_ms: 60_000, cooldown_ms: 60_000 };
    const plan = planFor([{ adapter: a }, { adapter: b }], {}, { circuit_breaker: breaker });
    const { executor } = setup();
    for (let i = 0; i < 2; i++) await executor.chat(plan, request, createRequestContext(`r${i}`, 'chat', performance.now()));
    expect(a.contexts).toHaveLength(2);
    const rc = createRequestContext('r3', 'chat', performance.now());
    await executor.chat(plan, request, rc);
    expect(a.contexts).toHaveLength(2); // open: skipped
    expect(rc.attempts).toBe(1);

    // With every breaker open the request still goes out (never ruled out): last resort, in order.
    const lonely = fake('lonely', { chat: () => Promise.reject(retryable('lonely')) });
    const single = planFor([{ adapter: lonely }], {}, { circuit_breaker: breaker });
    for (let i = 0; i < 3; i++) await executor.chat(single, request, createRequestContext(`s${i}`, 'chat', performance.now())).catch(() => undefined);
    expect(lonely.contexts).toHaveLength(3);
  });
});

describe('Executor: least-latency and failures', () => {
  it('steers away from a target that fails fast: an error is a penalty, not a quick latency sample', async () => {
    // An instant 500: the answer's headers arrive at once, then the call fails.
    const a = fake('a', {
      chat: (_req, ctx) => {
        ctx.firstByte();
        return Promise.reject(retryable('a'));
      },
    });
    const b = fake('b', { chat: async (_req, ctx) => new Promise((resolve) => setTimeout(() => resolve(completion(ctx.upstreamModel)), 20)) });
    const nextPlan = plansFor([{ adapter: a }, { adapter: b }], { strategy: 'least-latency' }, { circuit_breaker: { enabled: false } });
    const { executor } = setup();
    for (let i = 0; i < 4; i++) await executor.chat(nextPlan(), request, createRequestContext(`r${i}`, 'chat', performance.now()));
    // Tried first once (both unknown), then b's ~20 ms beat a's >= 1 s penalty every time.
    expect(a.contexts).toHaveLength(1);
    expect(b.contexts).toHaveLength(4);
  });
});

describe('Executor: hedging', () => {
  it('starts the next target after the hedge delay, answers from the first to finish and aborts the other', async () => {
    let slowSignal: CallSignal | undefined;
    const slow = fake('slow', {
      chat: (_req, ctx) => {
        slowSignal = ctx.signal;
        return untilAborted(ctx.signal);
      },
    });
    const quick = ok('quick');
    const plan = planFor([{ adapter: slow }, { adapter: quick }], { hedge: { delay_ms: 30 } });
    const { executor, metrics, rc } = setup();
    await expect(executor.chat(plan, request, rc)).resolves.toMatchObject({ model: 'quick-model' });
    expect(slowSignal?.aborted).toBe(true);
    expect(rc).toMatchObject({ attempts: 2, providerId: 'quick' });
    const targets = plan.group.members.map((m) => m.target);
    expect(targets.map((t) => t.stats.inFlight)).toEqual([0, 0]);
    expect((await metrics.hedges.get()).values[0]?.value).toBe(1);
    // The losing attempt is counted too, as cancelled (no blame).
    expect(await outcomes(metrics)).toEqual({ 'quick:ok': 1, 'slow:cancelled': 1 });
  });

  it('does not hedge when the first target answers within the delay', async () => {
    const a = ok('a');
    const b = ok('b');
    const plan = planFor([{ adapter: a }, { adapter: b }], { hedge: { delay_ms: 500 } });
    const { executor, rc } = setup();
    await executor.chat(plan, request, rc);
    expect([a.contexts.length, b.contexts.length, rc.attempts]).toEqual([1, 0, 1]);
  });
});

/** One group, `smart`, whose one target `a/a-model` takes one call at a time and queues none. */
function limitedRegistry(adapter: ProviderAdapter): ModelRegistry {
  const providers = new Map<string, Provider>([['a', { adapter, timeouts: { firstByteMs: 0, totalMs: 0 } }]]);
  const config = configSchema.parse({ providers: { a: { type: 'mock' } }, models: { smart: { targets: [{ provider: 'a', model: 'a-model', max_concurrency: 1 }] } } });
  return new ModelRegistry(config, providers);
}

describe('Executor: target limits', () => {
  it("ends a queue wait at the request's deadline with the deadline's 504, not the queue's 503", async () => {
    let release: (() => void) | undefined;
    const a = fake('a', { chat: (_req, ctx) => new Promise((resolve) => (release = () => resolve(completion(ctx.upstreamModel)))) });
    const providers = new Map<string, Provider>([['a', { adapter: a, timeouts: { firstByteMs: 0, totalMs: 0 } }]]);
    const config = configSchema.parse({
      providers: { a: { type: 'mock' } },
      models: { smart: { retry: { deadline_ms: 100 }, targets: [{ provider: 'a', model: 'a-model', max_concurrency: 1, max_queue: 1, queue_timeout_ms: 5000 }] } },
    });
    const registry = new ModelRegistry(config, providers);
    const plan = () => new RoutePlan(registry, registry.group('smart')!, { stream: false, constraints: {} });
    const { executor } = setup();
    const first = executor.chat(plan(), request, createRequestContext('r1', 'chat', performance.now()));
    const started = performance.now();
    const queued: unknown = await executor.chat(plan(), request, createRequestContext('r2', 'chat', performance.now())).catch((err: unknown) => err);
    expect(queued).toMatchObject({ code: 'upstream_timeout', status: 504 });
    expect(performance.now() - started).toBeLessThan(1000);
    release!();
    await first;
  });

  it('sheds with 503 + Retry-After when every candidate is at its limit and no queue is allowed', async () => {
    let release: (() => void) | undefined;
    const a = fake('a', {
      chat: (_req, ctx) =>
        new Promise((resolve) => {
          release = () => resolve(completion(ctx.upstreamModel));
        }),
    });
    const registry = limitedRegistry(a);
    const plan = () => new RoutePlan(registry, registry.group('smart')!, { stream: false, constraints: {} });
    const { executor, metrics } = setup();
    const first = executor.chat(plan(), request, createRequestContext('r1', 'chat', performance.now()));
    const shed: unknown = await executor.chat(plan(), request, createRequestContext('r2', 'chat', performance.now())).catch((err: unknown) => err);
    expect(shed).toMatchObject({ code: 'service_unavailable', status: 503 });
    expect((shed as GatewayError).retryAfterMs).toBeGreaterThanOrEqual(1000);
    release!();
    await expect(first).resolves.toMatchObject({ model: 'a-model' });
    expect((await metrics.shedRequests.get()).values[0]?.value).toBe(1);
    // The slot is free again.
    const third = executor.chat(plan(), request, createRequestContext('r3', 'chat', performance.now()));
    await new Promise((resolve) => setTimeout(resolve, 5));
    release!();
    await expect(third).resolves.toMatchObject({ model: 'a-model' });
  });

  it('frees the slot of a billed request whose client left during the attempt, whether the upstream then fails or answers', async () => {
    // A billed request (drainMs > 0) is not aborted when its client leaves: the attempt runs on.
    let settleCall: ((outcome: 'fail' | 'answer') => void) | undefined;
    const a = fake('a', {
      chat: (_req, ctx) =>
        new Promise((resolve, reject) => {
          settleCall = (outcome) => (outcome === 'fail' ? reject(retryable('a')) : resolve(completion(ctx.upstreamModel)));
        }),
    });
    const registry = limitedRegistry(a);
    const target = registry.group('smart')!.members[0]!.target;
    const plan = () => new RoutePlan(registry, registry.group('smart')!, { stream: false, constraints: {} });
    const { executor } = setup();
    const gone = new GatewayError('client_closed_request', 'gone');

    const failing = createRequestContext('r1', 'chat', performance.now());
    failing.drainMs = 30_000;
    const first = executor.chat(plan(), request, failing).catch((err: unknown) => err);
    await new Promise((resolve) => setTimeout(resolve, 5));
    closeClient(failing, gone);
    settleCall!('fail');
    expect(await first).toBe(gone);
    expect([target.limiter!.snapshot().inFlight, target.stats.inFlight, failing.attempts]).toEqual([0, 0, 1]);

    const answered = createRequestContext('r2', 'chat', performance.now());
    answered.drainMs = 30_000;
    const second = executor.chat(plan(), request, answered);
    await new Promise((resolve) => setTimeout(resolve, 5));
    closeClient(answered, gone);
    settleCall!('answer');
    // The answer is still returned: the caller bills it and settles the request as a 499.
    await expect(second).resolves.toMatchObject({ model: 'a-model' });
    expect([target.limiter!.snapshot().inFlight, target.stats.inFlight]).toEqual([0, 0]);
  });

  it('holds a stream\'s slot until the stream ends, not just until its first chunk', async () => {
    let finish: (() => void) | undefined;
    const a = fake('a', {
      chatStream: async (_req, ctx) =>
        (async function* () {
          yield chunk(ctx.upstreamModel, 'one');
          await new Promise<void>((resolve) => (finish = resolve));
          yield chunk(ctx.upstreamModel, 'two');
        })(),
    });
    const registry = limitedRegistry(a);
    const target = registry.group('smart')!.members[0]!.target;
    const { executor, rc } = setup();
    const stream = await executor.chatStream(new RoutePlan(registry, registry.group('smart')!, { stream: true, constraints: {} }), request, rc);
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next();
    expect(target.limiter!.snapshot().inFlight).toBe(1);
    expect(target.stats.inFlight).toBe(1);
    const second = iterator.next();
    finish!();
    await second;
    expect((await iterator.next()).done).toBe(true);
    expect(target.limiter!.snapshot().inFlight).toBe(0);
    expect(target.stats.inFlight).toBe(0);
  });
});

describe('Executor: the deadline', () => {
  it('aborts attempts still running at the deadline and starts no more, answering 504', async () => {
    let signal: CallSignal | undefined;
    const hanging = fake('hanging', {
      chat: (_req, ctx) => {
        signal = ctx.signal;
        return untilAborted(ctx.signal);
      },
    });
    const spare = ok('spare');
    const plan = planFor([{ adapter: hanging }, { adapter: spare }], { retry: { max_retries: 3, deadline_ms: 80 } });
    const { executor, rc } = setup();
    const started = performance.now();
    const error: unknown = await executor.chat(plan, request, rc).catch((err: unknown) => err);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(error).toMatchObject({ code: 'upstream_timeout', status: 504 });
    expect((error as Error).message).toMatch(/routing deadline of 80 ms/);
    expect(signal?.aborted).toBe(true);
    expect(spare.contexts).toHaveLength(0);
  });

  it('answers 504 when the deadline passed before the first attempt (a request slower to arrive than the deadline)', async () => {
    const target = ok('target');
    const plan = planFor([{ adapter: target }], { retry: { max_retries: 1, deadline_ms: 100 } });
    const { executor } = setup();
    // The request started arriving 150 ms ago: its body took longer than the whole deadline.
    const rc = createRequestContext('slow-upload', 'chat', performance.now() - 150);
    const error: unknown = await executor.chat(plan, request, rc).catch((err: unknown) => err);
    expect(error).toMatchObject({ code: 'upstream_timeout', status: 504 });
    expect((error as Error).message).toMatch(/routing deadline of 100 ms/);
    expect(target.contexts).toHaveLength(0);
  });
});

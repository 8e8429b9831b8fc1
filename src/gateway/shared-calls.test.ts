import { describe, expect, it } from 'vitest';
import { closeClient, createRequestContext, type RequestContext } from './context.js';
import { GatewayError } from './errors.js';
import { SharedCalls } from './shared-calls.js';

const rcFor = (id: string): RequestContext => createRequestContext(id, 'chat', performance.now());

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((res) => (resolve = res));
  return { promise, resolve };
}

describe('SharedCalls.answer', () => {
  it('makes one call for concurrent callers; the maker keeps its attempts, the others are marked coalesced', async () => {
    let shared = 0;
    const calls = new SharedCalls(() => shared++);
    const upstream = deferred<string>();
    let made = 0;
    const call = (flight: RequestContext) => {
      made++;
      flight.attempts = 2;
      flight.providerId = 'openai';
      flight.upstreamModel = 'gpt-4o-mini';
      flight.usage = { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 };
      return upstream.promise;
    };
    const [a, b] = [rcFor('a'), rcFor('b')];
    const pending = [calls.answer('k', a, call), calls.answer('k', b, call)];
    upstream.resolve('answer');
    expect(await Promise.all(pending)).toEqual(['answer', 'answer']);
    expect(made).toBe(1);
    expect(shared).toBe(1);
    expect(a).toMatchObject({ attempts: 2, providerId: 'openai', upstreamModel: 'gpt-4o-mini' });
    expect(a.coalesced).toBeUndefined();
    expect(b).toMatchObject({ attempts: 0, providerId: 'openai', coalesced: true, usage: { total_tokens: 7 } });
  });

  it('a failed call is reported like a successful one: the maker keeps its attempts and provider, the others are coalesced', async () => {
    const calls = new SharedCalls(() => undefined);
    const upstream = deferred<string>();
    const failure = new GatewayError('upstream_error', 'The upstream provider "openai" failed with HTTP 500.', { provider: 'openai' });
    const call = (flight: RequestContext) => {
      flight.attempts = 3;
      flight.providerId = 'openai';
      flight.failedAttempts = [{ provider: 'openai', model: 'gpt-4o-mini', code: 'upstream_error', status: 502 }];
      return upstream.promise.then(() => Promise.reject(failure));
    };
    const [a, b] = [rcFor('a'), rcFor('b')];
    const pending = [calls.answer('k', a, call), calls.answer('k', b, call)];
    upstream.resolve('go');
    for (const result of await Promise.allSettled(pending)) expect(result).toEqual({ status: 'rejected', reason: failure });
    expect(a).toMatchObject({ attempts: 3, providerId: 'openai', failedAttempts: [{ status: 502 }] });
    expect(a.coalesced).toBeUndefined();
    expect(b).toMatchObject({ attempts: 0, providerId: 'openai', coalesced: true });
  });

  it('a client leaving rejects only its own wait; the call is aborted once every client has left', async () => {
    const calls = new SharedCalls(() => undefined);
    let flight: RequestContext | undefined;
    const call = (ctx: RequestContext) => {
      flight = ctx;
      return new Promise<string>((_resolve, reject) => {
        ctx.onClientClose = reject;
      });
    };
    const [a, b] = [rcFor('a'), rcFor('b')];
    const first = calls.answer('k', a, call);
    const second = calls.answer('k', b, call);
    closeClient(a);
    await expect(first).rejects.toMatchObject({ code: 'client_closed_request' });
    expect(flight!.clientClosed).toBeUndefined();
    closeClient(b);
    await expect(second).rejects.toBeInstanceOf(GatewayError);
    expect(flight!.clientClosed).toBeInstanceOf(GatewayError);
    expect(calls.inFlight).toBe(0);
  });
});

describe('SharedCalls.stream', () => {
  async function* items(values: string[], gate: Promise<void>) {
    await gate;
    for (const value of values) yield value;
  }

  it('gives every concurrent caller every item of one stream', async () => {
    const calls = new SharedCalls(() => undefined);
    const gate = deferred<void>();
    let started = 0;
    const start = async (flight: RequestContext) => {
      started++;
      flight.providerId = 'p';
      return items(['a', 'b', 'c'], gate.promise);
    };
    const rcs = [rcFor('1'), rcFor('2'), rcFor('3')];
    const streams = await Promise.all(rcs.map((rc) => calls.stream('k', rc, start)));
    gate.resolve();
    const collected = await Promise.all(
      streams.map(async (stream) => {
        const out: string[] = [];
        for await (const item of stream) out.push(item);
        return out;
      }),
    );
    expect(started).toBe(1);
    for (const out of collected) expect(out).toEqual(['a', 'b', 'c']);
    expect(rcs.map((rc) => rc.coalesced)).toEqual([undefined, true, true]);
    expect(rcs.every((rc) => rc.providerId === 'p')).toBe(true);
  });

  it('a stream that fails before its first item is reported with its attempts and provider, to every caller', async () => {
    const calls = new SharedCalls(() => undefined);
    const gate = deferred<void>();
    const failure = new GatewayError('upstream_error', 'boom', { provider: 'p' });
    const start = async (flight: RequestContext): Promise<AsyncIterable<string>> => {
      flight.attempts = 2;
      flight.providerId = 'p';
      await gate.promise;
      throw failure;
    };
    const [a, b] = [rcFor('1'), rcFor('2')];
    const pending = [calls.stream('k', a, start), calls.stream('k', b, start)];
    gate.resolve();
    for (const result of await Promise.allSettled(pending)) expect(result).toEqual({ status: 'rejected', reason: failure });
    expect(a).toMatchObject({ attempts: 2, providerId: 'p' });
    expect(a.coalesced).toBeUndefined();
    expect(b).toMatchObject({ attempts: 0, providerId: 'p', coalesced: true });
  });
});

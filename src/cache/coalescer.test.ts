import { describe, expect, it } from 'vitest';
import { CoalescedStreamOverflowError, Coalescer } from './coalescer.js';

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every pending promise callback run (a macrotask runs after all queued microtasks). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

type Outcome<T> = { result: IteratorResult<T> } | { error: unknown };

/** An upstream stream driven by the test: items, the end and errors arrive when it says so. */
class ManualSource<T> implements AsyncIterableIterator<T> {
  returnCalls = 0;
  private readonly queued: Outcome<T>[] = [];
  private waiting: Deferred<IteratorResult<T>> | undefined;

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    const outcome = this.queued.shift();
    if (outcome !== undefined) return 'error' in outcome ? Promise.reject(outcome.error) : Promise.resolve(outcome.result);
    this.waiting = deferred();
    return this.waiting.promise;
  }

  return(): Promise<IteratorResult<T>> {
    this.returnCalls++;
    this.deliver({ result: { done: true, value: undefined } });
    return Promise.resolve({ done: true, value: undefined });
  }

  push(...items: T[]): void {
    for (const value of items) this.deliver({ result: { done: false, value } });
  }

  end(): void {
    this.deliver({ result: { done: true, value: undefined } });
  }

  fail(error: unknown): void {
    this.deliver({ error });
  }

  private deliver(outcome: Outcome<T>): void {
    const waiting = this.waiting;
    if (waiting === undefined) {
      this.queued.push(outcome);
      return;
    }
    this.waiting = undefined;
    if ('error' in outcome) waiting.reject(outcome.error);
    else waiting.resolve(outcome.result);
  }
}

/** Reads a stream to its end; rejects with the stream's error, the items read so far attached. */
async function collect<T>(stream: AsyncIterable<T>, into: T[] = []): Promise<T[]> {
  for await (const item of stream) into.push(item);
  return into;
}

/** A `start` that counts its calls and hands out one controllable source per call. */
function streamStarter<T>(): { start: () => Promise<AsyncIterable<T>>; sources: ManualSource<T>[] } {
  const sources: ManualSource<T>[] = [];
  const start = (): Promise<AsyncIterable<T>> => {
    const source = new ManualSource<T>();
    sources.push(source);
    return Promise.resolve(source);
  };
  return { start, sources };
}

describe('Coalescer.run', () => {
  it('shares one call among 100 concurrent identical callers', async () => {
    const coalescer = new Coalescer();
    const upstream = deferred<{ id: string }>();
    let calls = 0;
    const call = (): Promise<{ id: string }> => {
      calls++;
      return upstream.promise;
    };
    const pending = Array.from({ length: 100 }, () => coalescer.run('tenant-a:key', call));
    expect(coalescer.inFlight).toBe(1);

    const answer = { id: 'chatcmpl-1' };
    upstream.resolve(answer);
    const results = await Promise.all(pending);

    expect(calls).toBe(1);
    expect(results).toHaveLength(100);
    for (const result of results) expect(result.value).toBe(answer);
    expect(results.filter((result) => result.shared)).toHaveLength(99);
    expect(results[0]?.shared).toBe(false);
    expect(coalescer.inFlight).toBe(0);
  });

  it('does not coalesce different keys', async () => {
    const coalescer = new Coalescer();
    const calls: string[] = [];
    const call = (name: string) => (): Promise<string> => {
      calls.push(name);
      return Promise.resolve(name);
    };
    const [a, b] = await Promise.all([coalescer.run('tenant-a:k', call('a')), coalescer.run('tenant-b:k', call('b'))]);
    expect(calls).toEqual(['a', 'b']);
    expect(a).toEqual({ value: 'a', shared: false });
    expect(b).toEqual({ value: 'b', shared: false });
  });

  it('shares the rejection of the call with every waiting caller', async () => {
    const coalescer = new Coalescer();
    const upstream = deferred<string>();
    let calls = 0;
    const call = (): Promise<string> => {
      calls++;
      return upstream.promise;
    };
    const pending = [coalescer.run('k', call), coalescer.run('k', call), coalescer.run('k', call)];
    const failure = new Error('upstream 503');
    upstream.reject(failure);
    const outcomes = await Promise.allSettled(pending);
    expect(calls).toBe(1);
    for (const outcome of outcomes) expect(outcome).toEqual({ status: 'rejected', reason: failure });
    expect(coalescer.inFlight).toBe(0);
  });

  it('treats a synchronous throw from the call as its rejection', async () => {
    const coalescer = new Coalescer();
    const failure = new Error('bad request');
    const call = (): Promise<string> => {
      throw failure;
    };
    await expect(coalescer.run('k', call)).rejects.toBe(failure);
    expect(coalescer.inFlight).toBe(0);
  });

  it('starts a new call for a caller arriving after the previous one settled', async () => {
    const coalescer = new Coalescer();
    let calls = 0;
    const call = (): Promise<number> => Promise.resolve(++calls);
    expect(await coalescer.run('k', call)).toEqual({ value: 1, shared: false });
    expect(await coalescer.run('k', call)).toEqual({ value: 2, shared: false });
    expect(calls).toBe(2);
  });
});

describe('Coalescer.join', () => {
  it('rejects only the caller that left; the others get the answer and the call is not abandoned', async () => {
    const coalescer = new Coalescer();
    const upstream = deferred<string>();
    let abandoned = 0;
    const call = (onAbandoned: (listener: () => void) => void): Promise<string> => {
      onAbandoned(() => abandoned++);
      return upstream.promise;
    };
    const first = coalescer.join('k', call);
    const second = coalescer.join('k', call);
    expect([first.shared, second.shared]).toEqual([false, true]);
    const gone = new Error('client closed');
    first.leave(gone);
    await expect(first.result).rejects.toBe(gone);
    upstream.resolve('answer');
    await expect(second.result).resolves.toBe('answer');
    expect(abandoned).toBe(0);
  });

  it('tells the call it was abandoned when the last caller leaves, and starts afresh for the next caller', async () => {
    const coalescer = new Coalescer();
    const upstreams = [deferred<string>(), deferred<string>()];
    let calls = 0;
    let abandoned = 0;
    const call = (onAbandoned: (listener: () => void) => void): Promise<string> => {
      onAbandoned(() => abandoned++);
      return upstreams[calls++]!.promise;
    };
    const a = coalescer.join('k', call);
    const b = coalescer.join('k', call);
    a.leave(new Error('a left'));
    await expect(a.result).rejects.toThrow('a left');
    expect(abandoned).toBe(0);
    b.leave(new Error('b left'));
    b.leave(new Error('twice'));
    expect(abandoned).toBe(1);
    expect(coalescer.inFlight).toBe(0);
    await expect(b.result).rejects.toThrow('b left');

    const c = coalescer.join('k', call);
    expect(c.shared).toBe(false);
    upstreams[0]!.resolve('stale'); // the abandoned call's late answer goes nowhere
    upstreams[1]!.resolve('fresh');
    await expect(c.result).resolves.toBe('fresh');
    expect(calls).toBe(2);
  });

  it('ignores leave() after the answer arrived', async () => {
    const coalescer = new Coalescer();
    let abandoned = 0;
    const joined = coalescer.join('k', (onAbandoned) => {
      onAbandoned(() => abandoned++);
      return Promise.resolve(7);
    });
    await expect(joined.result).resolves.toBe(7);
    joined.leave(new Error('late'));
    expect(abandoned).toBe(0);
  });
});

describe('Coalescer.stream', () => {
  it('gives 100 concurrent identical callers every chunk from one upstream stream', async () => {
    const coalescer = new Coalescer();
    const { start, sources } = streamStarter<string>();
    const joined = await Promise.all(Array.from({ length: 100 }, () => coalescer.stream('k', start)));
    const reads = joined.map(({ stream }) => collect(stream));
    sources[0]?.push('Hel', 'lo');
    sources[0]?.end();
    const results = await Promise.all(reads);

    expect(sources).toHaveLength(1);
    expect(joined.filter(({ shared }) => shared)).toHaveLength(99);
    for (const items of results) expect(items).toEqual(['Hel', 'lo']);
    expect(coalescer.inFlight).toBe(0);
  });

  it('replays chunks produced before a follower joined, then live ones, in order', async () => {
    const coalescer = new Coalescer();
    const { start, sources } = streamStarter<string>();
    const leader = await coalescer.stream('k', start);
    const leaderRead = collect(leader.stream);
    const source = sources[0]!;
    source.push('a', 'b');
    await settle();

    const follower = await coalescer.stream('k', start);
    expect(follower.shared).toBe(true);
    const followerRead = collect(follower.stream);
    source.push('c');
    source.end();

    expect(await leaderRead).toEqual(['a', 'b', 'c']);
    expect(await followerRead).toEqual(['a', 'b', 'c']);
    expect(sources).toHaveLength(1);
  });

  it('starts a new stream for a caller arriving after the previous one ended', async () => {
    const coalescer = new Coalescer();
    const { start, sources } = streamStarter<string>();
    const first = await coalescer.stream('k', start);
    sources[0]?.push('a');
    sources[0]?.end();
    expect(await collect(first.stream)).toEqual(['a']);
    expect(coalescer.inFlight).toBe(0);

    const second = await coalescer.stream('k', start);
    expect(second.shared).toBe(false);
    expect(sources).toHaveLength(2);
  });

  it('gives every caller the context made once by the caller that started the flight, and passes it to start', async () => {
    const coalescer = new Coalescer();
    let made = 0;
    const seen: unknown[] = [];
    const source = new ManualSource<string>();
    const start = (context: { n: number }) => {
      seen.push(context);
      return Promise.resolve(source);
    };
    const makeContext = () => ({ n: ++made });
    const [a, b] = await Promise.all([coalescer.stream('k', start, makeContext), coalescer.stream('k', start, makeContext)]);
    expect(made).toBe(1);
    expect(a.context).toBe(b.context);
    expect(seen).toEqual([a.context]);
    source.end();
    await Promise.all([collect(a.stream), collect(b.stream)]);
  });

  it('does not coalesce streams with different keys', async () => {
    const coalescer = new Coalescer();
    const { start, sources } = streamStarter<string>();
    const [a, b] = await Promise.all([coalescer.stream('tenant-a:k', start), coalescer.stream('tenant-b:k', start)]);
    expect([a.shared, b.shared]).toEqual([false, false]);
    expect(sources).toHaveLength(2);
    expect(coalescer.inFlight).toBe(2);
  });

  it('delivers an error after the chunks before it to every consumer', async () => {
    const coalescer = new Coalescer();
    const { start, sources } = streamStarter<string>();
    const consumers = await Promise.all([coalescer.stream('k', start), coalescer.stream('k', start)]);
    const received = consumers.map(() => [] as string[]);
    const reads = consumers.map(({ stream }, i) => collect(stream, received[i]));
    const failure = new Error('connection reset');
    sources[0]?.push('a', 'b');
    sources[0]?.fail(failure);

    for (const outcome of await Promise.allSettled(reads)) expect(outcome).toEqual({ status: 'rejected', reason: failure });
    expect(received).toEqual([
      ['a', 'b'],
      ['a', 'b'],
    ]);
    expect(coalescer.inFlight).toBe(0);
  });

  it('shares the rejection of start() with every waiting caller', async () => {
    const coalescer = new Coalescer();
    const upstream = deferred<AsyncIterable<string>>();
    let starts = 0;
    const start = (): Promise<AsyncIterable<string>> => {
      starts++;
      return upstream.promise;
    };
    const pending = [coalescer.stream('k', start), coalescer.stream('k', start), coalescer.stream('k', start)];
    const failure = new Error('upstream 429');
    upstream.reject(failure);

    for (const outcome of await Promise.allSettled(pending)) expect(outcome).toEqual({ status: 'rejected', reason: failure });
    expect(starts).toBe(1);
    expect(coalescer.inFlight).toBe(0);
  });

  it('closes the upstream iterator once every consumer has stopped early', async () => {
    const coalescer = new Coalescer();
    const { start, sources } = streamStarter<string>();
    const [first, second] = await Promise.all([coalescer.stream('k', start), coalescer.stream('k', start)]);
    const source = sources[0]!;
    source.push('a');
    const firstIterator = first!.stream[Symbol.asyncIterator]();
    const secondIterator = second!.stream[Symbol.asyncIterator]();
    expect(await firstIterator.next()).toEqual({ done: false, value: 'a' });
    expect(await secondIterator.next()).toEqual({ done: false, value: 'a' });

    await firstIterator.return?.();
    expect(source.returnCalls).toBe(0);
    expect(coalescer.inFlight).toBe(1);
    await secondIterator.return?.();
    expect(source.returnCalls).toBe(1);
    expect(coalescer.inFlight).toBe(0);
    expect(await secondIterator.next()).toEqual({ done: true, value: undefined });
  });

  it('closes the upstream when the only consumer breaks out of for-await', async () => {
    const coalescer = new Coalescer();
    const { start, sources } = streamStarter<string>();
    const { stream } = await coalescer.stream('k', start);
    sources[0]?.push('a', 'b', 'c');
    const seen: string[] = [];
    for await (const item of stream) {
      seen.push(item);
      if (item === 'b') break;
    }
    expect(seen).toEqual(['a', 'b']);
    expect(sources[0]?.returnCalls).toBe(1);
  });

  it('keeps streaming to the others when one consumer stops early', async () => {
    const coalescer = new Coalescer();
    const { start, sources } = streamStarter<string>();
    const [quitter, stayer] = await Promise.all([coalescer.stream('k', start), coalescer.stream('k', start)]);
    const source = sources[0]!;
    const stayerRead = collect(stayer!.stream);
    source.push('a');
    for await (const item of quitter!.stream) {
      expect(item).toBe('a');
      break;
    }
    source.push('b', 'c');
    source.end();

    expect(await stayerRead).toEqual(['a', 'b', 'c']);
    expect(source.returnCalls).toBe(0);
  });

  it('detaches only a consumer that falls more than maxBufferedItems behind', async () => {
    const coalescer = new Coalescer({ maxBufferedItems: 3 });
    const { start, sources } = streamStarter<number>();
    const [fast, slow] = await Promise.all([coalescer.stream('k', start), coalescer.stream('k', start)]);
    const source = sources[0]!;
    const fastRead = collect(fast!.stream);
    const slowIterator = slow!.stream[Symbol.asyncIterator]();
    source.push(1, 2, 3);
    await settle();
    // Three unread items is within the bound: the slow consumer still gets them.
    expect(await slowIterator.next()).toEqual({ done: false, value: 1 });
    source.push(4, 5);
    await settle();
    await expect(slowIterator.next()).rejects.toBeInstanceOf(CoalescedStreamOverflowError);
    await expect(slowIterator.next()).resolves.toEqual({ done: true, value: undefined });

    source.push(6);
    source.end();
    expect(await fastRead).toEqual([1, 2, 3, 4, 5, 6]);
    expect(source.returnCalls).toBe(0);
  });

  it('closes the upstream when every consumer has overflowed', async () => {
    const coalescer = new Coalescer({ maxBufferedItems: 2 });
    const { start, sources } = streamStarter<number>();
    const { stream } = await coalescer.stream('k', start);
    sources[0]?.push(1, 2, 3);
    await settle();
    await expect(stream[Symbol.asyncIterator]().next()).rejects.toThrow('coalesced stream overflowed');
    expect(sources[0]?.returnCalls).toBe(1);
    expect(coalescer.inFlight).toBe(0);
  });

  it('stops accepting followers past maxBufferedItems and still streams long answers to readers that keep up', async () => {
    const coalescer = new Coalescer({ maxBufferedItems: 3 });
    const { start, sources } = streamStarter<number>();
    const leader = await coalescer.stream('k', start);
    const leaderRead = collect(leader.stream);
    const source = sources[0]!;
    source.push(0, 1, 2);
    await settle();
    expect((await coalescer.stream('k', start)).shared).toBe(true);
    source.push(3);
    await settle();

    const late = await coalescer.stream('k', start);
    expect(late.shared).toBe(false);
    expect(sources).toHaveLength(2);
    // The late follower's own stream must not hold the first one open.
    await late.stream[Symbol.asyncIterator]().return?.();

    const expected = [0, 1, 2, 3];
    for (let value = 4; value < 40; value++) {
      expected.push(value);
      source.push(value);
      await settle();
    }
    source.end();
    expect(await leaderRead).toEqual(expected);
  });
});

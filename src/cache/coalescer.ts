/**
 * Request coalescing (single flight): concurrent identical requests share one upstream call. The
 * first caller for a key (the leader) makes the call; callers arriving while it is in flight
 * (followers) receive the same result, or for streams the same items, end and error.
 *
 * Keys are compared as opaque strings: the caller must build them from everything that makes two
 * requests interchangeable, the tenant included. Non-streaming and streaming flights live apart,
 * so a `run` never joins a `stream` with the same key.
 *
 * Shared values and items are the same objects for every caller: consumers must not mutate them.
 */

/** Default bound of the items a stream consumer may lag behind the upstream (see {@link CoalescerOptions}). */
export const DEFAULT_MAX_BUFFERED_ITEMS = 10_000;

/** Thrown to a stream consumer that fell more than `maxBufferedItems` behind; it is detached. */
export class CoalescedStreamOverflowError extends Error {
  constructor(readonly maxBufferedItems: number) {
    super('coalesced stream overflowed');
    this.name = 'CoalescedStreamOverflowError';
  }
}

/** Options of {@link Coalescer}. */
export interface CoalescerOptions {
  /**
   * How many items a stream consumer may have unread before it is detached with
   * {@link CoalescedStreamOverflowError}. Also the number of items after which a stream stops
   * accepting followers (a late follower must replay every item, so it would start over the
   * bound). Default {@link DEFAULT_MAX_BUFFERED_ITEMS}.
   */
  maxBufferedItems?: number;
}

/** What {@link Coalescer.run} resolves with. */
export interface CoalescedResult<T> {
  value: T;
  /** True when this caller joined another caller's call instead of making its own. */
  shared: boolean;
}

/** What {@link Coalescer.stream} resolves with. */
export interface CoalescedStream<T, C = undefined> {
  /** Every item of the upstream stream from its first one; iterate it once, or `return()` it. */
  stream: AsyncIterable<T>;
  /** True when this caller joined another caller's stream instead of starting its own. */
  shared: boolean;
  /** The flight's context, made once by the caller that started it (see {@link Coalescer.stream}). */
  context: C;
}

/**
 * Single-flight coalescing of concurrent identical calls, keyed by an opaque string. An entry
 * lives only while its call is in flight: this is not a cache, and a caller arriving after the
 * call settled (or the stream ended) starts a new call.
 */
export class Coalescer {
  private readonly calls = new Map<string, SharedCall<unknown>>();
  /** Each flight's item type is its caller's `T`; the map cannot say so, hence the casts. */
  private readonly streams = new Map<string, SharedStream<unknown, unknown>>();
  private readonly maxBufferedItems: number;

  constructor(options: CoalescerOptions = {}) {
    this.maxBufferedItems = options.maxBufferedItems ?? DEFAULT_MAX_BUFFERED_ITEMS;
    if (!Number.isInteger(this.maxBufferedItems) || this.maxBufferedItems < 1) {
      throw new RangeError(`maxBufferedItems must be a positive integer, got ${this.maxBufferedItems}`);
    }
  }

  /** How many keys have a call or stream in flight. */
  get inFlight(): number {
    return this.calls.size + this.streams.size;
  }

  /**
   * Runs `call` unless a call for `key` is in flight, in which case this caller shares its result
   * or its rejection. A synchronous throw from `call` counts as a rejection.
   */
  async run<T>(key: string, call: () => Promise<T>): Promise<CoalescedResult<T>> {
    const joined = this.join(key, call);
    return { value: await joined.result, shared: joined.shared };
  }

  /**
   * Like {@link run}, for callers that may stop waiting: each gets a {@link CoalescedCall} whose
   * `leave()` rejects its own result at once. When every caller has left, the call is told
   * through the listener it registered with `onAbandoned` (to abort the upstream request); its
   * outcome is then ignored, and the next caller for the key starts afresh.
   */
  join<T>(key: string, call: (onAbandoned: (listener: () => void) => void) => Promise<T>): CoalescedCall<T> {
    let flight = this.calls.get(key) as SharedCall<T> | undefined;
    const shared = flight !== undefined;
    if (flight === undefined) {
      const created: SharedCall<T> = new SharedCall<T>(() => {
        if (this.calls.get(key) === created) this.calls.delete(key);
      });
      flight = created;
      this.calls.set(key, created as SharedCall<unknown>);
      created.start(call);
    }
    return flight.caller(shared);
  }

  /**
   * Streams the items of `start()`'s iterable, sharing one upstream stream among every caller
   * that arrives before it ends. Each caller's stream yields all items from the first one (a
   * late follower first replays those already produced), then the same end or error. The
   * coalescer reads the upstream as fast as it produces; the upstream iterator is closed
   * (`return()`) when every consumer has stopped early. Rejects, for every caller, when `start()`
   * rejects. The caller that starts the stream makes its context (`makeContext`), which `start`
   * receives and every caller of the flight gets back (e.g. what the upstream call reports).
   */
  async stream<T, C = undefined>(key: string, start: (context: C) => Promise<AsyncIterable<T>>, makeContext: () => C = () => undefined as C): Promise<CoalescedStream<T, C>> {
    let flight = this.streams.get(key) as SharedStream<T, C> | undefined;
    const shared = flight !== undefined;
    if (flight === undefined) {
      const created: SharedStream<T, C> = new SharedStream<T, C>(this.maxBufferedItems, makeContext(), () => {
        if (this.streams.get(key) === created) this.streams.delete(key);
      });
      flight = created;
      this.streams.set(key, flight as unknown as SharedStream<unknown, unknown>);
      flight.open(start);
    }
    // Subscribed before `start()` settles so the consumer sees every item and counts as listening.
    const consumer = flight.subscribe();
    await flight.ready;
    return { stream: consumer, shared, context: flight.context };
  }
}

/** What {@link Coalescer.join} gives each caller. */
export interface CoalescedCall<T> {
  /** The shared value or error; or the reason given to `leave()`, if this caller left first. */
  readonly result: Promise<T>;
  /** True when this caller joined another caller's call instead of making its own. */
  readonly shared: boolean;
  /** Stops waiting: `result` rejects with `reason` (if it has not settled). Idempotent. */
  leave(reason: unknown): void;
}

/** One call in flight and the callers waiting on it. */
class SharedCall<T> {
  private waiting = 0;
  private settled = false;
  private abandoned: (() => void) | undefined;
  private readonly callers = new Set<(outcome: { value: T } | { error: unknown }) => void>();

  constructor(private readonly onRelease: () => void) {}

  start(call: (onAbandoned: (listener: () => void) => void) => Promise<T>): void {
    let pending: Promise<T>;
    try {
      pending = call((listener) => {
        this.abandoned = listener;
      });
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then(
      (value) => this.settle({ value }),
      (error: unknown) => this.settle({ error }),
    );
  }

  caller(shared: boolean): CoalescedCall<T> {
    this.waiting++;
    let deliver!: (outcome: { value: T } | { error: unknown }) => void;
    const result = new Promise<T>((resolve, reject) => {
      deliver = (outcome) => {
        if ('value' in outcome) resolve(outcome.value);
        else reject(outcome.error);
      };
    });
    this.callers.add(deliver);
    const leave = (reason: unknown): void => {
      if (!this.callers.delete(deliver)) return;
      deliver({ error: reason });
      if (--this.waiting === 0 && !this.settled) {
        this.settled = true;
        this.onRelease();
        this.abandoned?.();
      }
    };
    return { result, shared, leave };
  }

  private settle(outcome: { value: T } | { error: unknown }): void {
    if (this.settled) return;
    this.settled = true;
    this.onRelease();
    for (const deliver of this.callers) deliver(outcome);
    this.callers.clear();
  }
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/** One upstream stream and the consumers reading it. Items are held once, consumers keep cursors. */
class SharedStream<T, C = unknown> {
  ready: Promise<void> = Promise.resolve();
  /** Absolute number of items produced so far. */
  produced = 0;
  ended = false;
  failure: { error: unknown } | undefined;
  private readonly consumers = new Set<StreamConsumer<T>>();
  /** Items from absolute index `base` on; older ones were read by every consumer and dropped. */
  private items: T[] = [];
  private base = 0;
  private upstream: AsyncIterator<T> | undefined;
  private cancelled = false;
  private released = false;

  constructor(
    private readonly maxBufferedItems: number,
    readonly context: C,
    private readonly onRelease: () => void,
  ) {}

  open(start: (context: C) => Promise<AsyncIterable<T>>): void {
    this.ready = this.connect(() => start(this.context));
  }

  subscribe(): StreamConsumer<T> {
    const consumer = new StreamConsumer<T>(this);
    this.consumers.add(consumer);
    return consumer;
  }

  itemAt(index: number): T {
    return this.items[index - this.base] as T;
  }

  /** A consumer stopped reading; when it was the last one, the upstream is no longer wanted. */
  leave(consumer: StreamConsumer<T>): void {
    this.consumers.delete(consumer);
    if (this.consumers.size === 0 && !this.ended) this.cancel();
  }

  private async connect(start: () => Promise<AsyncIterable<T>>): Promise<void> {
    try {
      this.upstream = (await start())[Symbol.asyncIterator]();
    } catch (error) {
      this.ended = true;
      this.release();
      throw error;
    }
    void this.pump(this.upstream);
  }

  private async pump(upstream: AsyncIterator<T>): Promise<void> {
    try {
      for (;;) {
        const result = await upstream.next();
        if (this.cancelled) return;
        if (result.done === true) break;
        this.push(result.value);
      }
      this.finish(undefined);
    } catch (error) {
      if (!this.cancelled) this.finish({ error });
    }
  }

  private push(item: T): void {
    this.items.push(item);
    this.produced++;
    // A follower joining now would start more than the bound behind: later callers start afresh.
    if (this.produced > this.maxBufferedItems) this.release();
    for (const consumer of this.consumers) {
      if (this.produced - consumer.cursor > this.maxBufferedItems) {
        this.consumers.delete(consumer);
        consumer.detach(new CoalescedStreamOverflowError(this.maxBufferedItems));
      } else {
        consumer.wake();
      }
    }
    if (this.consumers.size === 0) this.cancel();
    // Amortised O(1): once no one can join, trim whenever the buffer doubles past the bound.
    else if (this.released && this.items.length > 2 * this.maxBufferedItems) this.trim();
  }

  private trim(): void {
    let oldest = this.produced;
    for (const consumer of this.consumers) if (consumer.cursor < oldest) oldest = consumer.cursor;
    this.items = this.items.slice(oldest - this.base);
    this.base = oldest;
  }

  private finish(failure: { error: unknown } | undefined): void {
    this.ended = true;
    this.failure = failure;
    this.release();
    for (const consumer of this.consumers) consumer.wake();
  }

  private cancel(): void {
    this.ended = true;
    this.cancelled = true;
    this.items = [];
    this.release();
    const upstream = this.upstream;
    if (upstream?.return === undefined) return;
    // Closing aborts the upstream call; no one is listening for how that goes.
    try {
      upstream.return().catch(ignore);
    } catch {
      // A synchronous throw from return() means the same: nothing left to close.
    }
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    this.onRelease();
  }
}

function ignore(): void {}

/** One caller's view of a {@link SharedStream}: a single-use async iterator over all its items. */
class StreamConsumer<T> implements AsyncIterableIterator<T> {
  /** Absolute index of the next item to yield. */
  cursor = 0;
  private closed = false;
  private overflow: CoalescedStreamOverflowError | undefined;
  private waiter: { resolve: (result: IteratorResult<T>) => void; reject: (error: unknown) => void } | undefined;

  constructor(private readonly flight: SharedStream<T, unknown>) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.waiter !== undefined) return Promise.reject(new TypeError('coalesced stream: next() called while a next() is pending'));
    try {
      const result = this.poll();
      if (result !== undefined) return Promise.resolve(result);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<T>> {
    if (!this.closed) {
      this.closed = true;
      this.overflow = undefined;
      this.flight.leave(this);
    }
    this.wake();
    return Promise.resolve(DONE);
  }

  /** Settles a pending next() if an item, the end or an error is now available. */
  wake(): void {
    const waiter = this.waiter;
    if (waiter === undefined) return;
    try {
      const result = this.poll();
      if (result === undefined) return;
      this.waiter = undefined;
      waiter.resolve(result);
    } catch (error) {
      this.waiter = undefined;
      waiter.reject(error);
    }
  }

  /** Detached for lagging: the next next() throws `error` (unread items are dropped), then ends. */
  detach(error: CoalescedStreamOverflowError): void {
    this.overflow = error;
    this.wake();
  }

  /** The next result if one is ready, undefined if it must wait; throws the stream's error. */
  private poll(): IteratorResult<T> | undefined {
    if (this.closed) return DONE;
    if (this.overflow !== undefined) {
      this.closed = true;
      throw this.overflow;
    }
    const flight = this.flight;
    if (this.cursor < flight.produced) return { done: false, value: flight.itemAt(this.cursor++) };
    if (!flight.ended) return undefined;
    this.closed = true;
    if (flight.failure !== undefined) throw flight.failure.error;
    return DONE;
  }
}

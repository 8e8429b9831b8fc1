/**
 * A streaming upstream body fed by undici's dispatch callbacks and read as an async iterable.
 * Backpressure: the connection is paused while too many chunks wait. A reader that stops early
 * (a decoder at `[DONE]`, just before the body's end) lets the rest drain instead of aborting the
 * connection, and aborts it only if the body has not ended a second later.
 */
import type { Dispatcher } from 'undici';

const HIGH_WATER = 16;
const LOW_WATER = 4;
const DRAIN_TIMEOUT_MS = 1000;

export class StreamBody implements AsyncIterableIterator<Buffer> {
  readonly #queue: Buffer[] = [];
  #ended = false;
  #error: unknown;
  #discard = false;
  #paused = false;
  #waiter: { resolve: (result: IteratorResult<Buffer>) => void; reject: (err: unknown) => void } | undefined;

  constructor(private readonly controller: Dispatcher.DispatchController) {}

  // Fed by the dispatch handler.
  push(chunk: Buffer): void {
    if (this.#discard) return;
    if (this.#waiter) return this.#wake({ value: chunk, done: false });
    this.#queue.push(chunk);
    if (this.#queue.length >= HIGH_WATER && !this.#paused) {
      this.#paused = true;
      this.controller.pause();
    }
  }

  end(): void {
    this.#ended = true;
    this.#wake({ value: undefined, done: true });
  }

  fail(err: unknown): void {
    this.#error = err;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.reject(err);
  }

  // Read by the decoder.
  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<Buffer>> {
    const chunk = this.#queue.shift();
    if (chunk) {
      if (this.#paused && this.#queue.length <= LOW_WATER) {
        this.#paused = false;
        this.controller.resume();
      }
      return Promise.resolve({ value: chunk, done: false });
    }
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => (this.#waiter = { resolve, reject }));
  }

  /** The reader stopped early: drain what is left, abort if the body does not end soon. */
  return(): Promise<IteratorResult<Buffer>> {
    if (!this.#ended && this.#error === undefined && !this.#discard) {
      this.#discard = true;
      this.#queue.length = 0;
      if (this.#paused) this.controller.resume();
      setTimeout(() => {
        if (!this.#ended && this.#error === undefined) this.controller.abort(new Error('upstream body did not end after the stream was complete'));
      }, DRAIN_TIMEOUT_MS).unref();
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  /** The whole (rest of the) body as text, e.g. an error answer. */
  async text(): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of this) chunks.push(chunk);
    return Buffer.concat(chunks).toString('utf8');
  }

  #wake(result: IteratorResult<Buffer>): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.resolve(result);
  }
}

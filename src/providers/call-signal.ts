/**
 * The abort signal of one upstream attempt: the part of AbortSignal the adapters and the
 * transport use, and a small class that implements it.
 *
 * Not Node's AbortController, because that one is costly to make under load on Node 20: its
 * createAbortSignal() makes an EventTarget, changes its prototype, then adds properties, so every
 * signal gets a hidden class (map) of its own, and the signal and what it reaches are promoted to
 * the old generation (2 million `new AbortController().signal` promote ~750 MB; plain objects
 * promote none). With one signal per request, that was half the bytes the gateway promoted under
 * load (a sampling heap profile that keeps what survived a scavenge), and the old generation
 * filled with garbage that only a full GC frees.
 */

/** What an attempt's signal offers (a real AbortSignal fits too, as in tests). */
export interface CallSignal {
  readonly aborted: boolean;
  /** Why it was aborted; undefined until then. */
  readonly reason: unknown;
  /** `listener` runs once, when the signal aborts; never if it has aborted already (as AbortSignal). */
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
  /** Throws the reason when aborted. */
  throwIfAborted(): void;
}

export class CallAbort implements CallSignal {
  #aborted = false;
  #reason: unknown = undefined;
  /** Usually none or one (the transport's); an array is made only when needed. */
  #listeners: Array<() => void> | undefined = undefined;

  /** The signal side (this object itself: one allocation per attempt). */
  get signal(): CallSignal {
    return this;
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  get reason(): unknown {
    return this.#reason;
  }

  abort(reason: unknown = new DOMException('This operation was aborted', 'AbortError')): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (!listeners) return;
    for (const listener of listeners) {
      try {
        listener();
      } catch (err) {
        // As EventTarget does: a listener's error does not stop the others, and is not swallowed.
        process.nextTick(() => {
          throw err;
        });
      }
    }
  }

  addEventListener(type: 'abort', listener: () => void): void {
    if (type !== 'abort' || this.#aborted) return;
    const listeners = (this.#listeners ??= []);
    if (!listeners.includes(listener)) listeners.push(listener);
  }

  removeEventListener(type: 'abort', listener: () => void): void {
    const listeners = this.#listeners;
    if (type !== 'abort' || !listeners) return;
    const at = listeners.indexOf(listener);
    if (at >= 0) listeners.splice(at, 1);
  }

  throwIfAborted(): void {
    if (this.#aborted) throw this.#reason;
  }
}

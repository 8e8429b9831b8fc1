/**
 * When to try again after a failure: exponential backoff from initialMs doubling up to maxMs,
 * each wait jittered to 50–100% of its step, so instances that failed together do not retry
 * together. One try is scheduled at a time; a success starts the steps over.
 */
export class RetryTimer {
  #timer: NodeJS.Timeout | null = null;
  #failures = 0;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
    private readonly retry: () => void,
  ) {}

  /** A try is scheduled. */
  get pending(): boolean {
    return this.#timer !== null;
  }

  /** After a failure: schedules the next try, unless one is already. */
  schedule(): void {
    if (this.#timer) return;
    const step = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.#failures, 30));
    this.#failures++;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.retry();
    }, step * (0.5 + Math.random() / 2));
    this.#timer.unref();
  }

  /** After a success: the next failure waits initialMs again. */
  succeeded(): void {
    this.#failures = 0;
  }

  cancel(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}

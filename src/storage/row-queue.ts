/**
 * The spend writer's rows in memory, oldest first: O(1) to add and to take from the front, and
 * which of them are due, i.e. written at the next chance even as a partial batch.
 */
export class RowQueue<T> {
  /** The rows are #items[#head..]: the head moves instead of shifting. */
  #items: T[] = [];
  #head = 0;
  /** The first #due rows are due. */
  #due = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Whether any row is due. */
  get due(): boolean {
    return this.#due > 0;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  /** Every row queued now becomes due. */
  markDue(): void {
    this.#due = this.length;
  }

  /** The first `count` rows (or all), left in the queue. */
  peek(count: number): T[] {
    return this.#items.slice(this.#head, this.#head + count);
  }

  /** Removes the first `count` rows. */
  drop(count: number): void {
    this.#head += count;
    this.#due = Math.max(0, this.#due - count);
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= 1_024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Removes and returns every row. */
  takeAll(): T[] {
    const rows = this.#items.slice(this.#head);
    this.#items = [];
    this.#head = 0;
    this.#due = 0;
    return rows;
  }
}

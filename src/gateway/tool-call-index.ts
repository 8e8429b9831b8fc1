/**
 * The index of a streamed tool-call delta. OpenAI numbers every delta (`index`), and a call's
 * pieces after its first carry no `id`. Some streams leave `index` out (Gemini's OpenAI-compatible
 * endpoint, some proxies): there a new `id` starts the next call and a delta without one continues
 * the last, as the clients that read those streams do. One per choice of a stream.
 */
export class ToolCallIndexer {
  #last = -1;
  #highest = -1;
  #lastId: string | undefined;

  indexOf(delta: { index?: unknown; id?: unknown }): number {
    const id = typeof delta.id === 'string' && delta.id !== '' ? delta.id : undefined;
    if (typeof delta.index === 'number') {
      this.#last = delta.index;
      if (delta.index > this.#highest) this.#highest = delta.index;
      if (id !== undefined) this.#lastId = id;
      return delta.index;
    }
    if (this.#last < 0 || (id !== undefined && id !== this.#lastId)) {
      this.#last = ++this.#highest;
      this.#lastId = id;
    }
    return this.#last;
  }
}

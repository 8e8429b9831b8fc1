/**
 * An embedder backed by an embedding model the gateway serves (a model group or
 * `<provider>/<model>`), called through the gateway's own provider layer, with a small in-process
 * LRU so a repeated text is embedded once. Concurrent requests for one text share the call.
 */
import type { Embedder } from './embedder.js';

/** Calls the model for one text's vector. */
export type EmbedCall = (text: string) => Promise<Float32Array>;

export class ModelEmbedder implements Embedder {
  readonly id: string;
  private readonly cached = new Map<string, Float32Array>();
  private readonly pending = new Map<string, Promise<Float32Array>>();

  constructor(
    readonly model: string,
    private readonly call: EmbedCall,
    private readonly maxCached: number,
  ) {
    this.id = `model:${model}`;
  }

  embed(text: string): Promise<Float32Array> {
    const hit = this.cached.get(text);
    if (hit) {
      // Re-inserted: the Map's first key is then the least recently used.
      this.cached.delete(text);
      this.cached.set(text, hit);
      return Promise.resolve(hit);
    }
    let pending = this.pending.get(text);
    if (!pending) {
      pending = this.call(text).then((vector) => {
        this.remember(text, vector);
        return vector;
      });
      const forget = (): void => {
        this.pending.delete(text);
      };
      pending.then(forget, forget);
      this.pending.set(text, pending);
    }
    return pending;
  }

  private remember(text: string, vector: Float32Array): void {
    if (this.maxCached === 0) return;
    if (this.cached.size >= this.maxCached) {
      const oldest = this.cached.keys().next();
      if (!oldest.done) this.cached.delete(oldest.value);
    }
    this.cached.set(text, vector);
  }
}

/** Turns text into a vector for the semantic cache. */
export interface Embedder {
  /** Names the vector space: vectors of different embedders are never compared. */
  readonly id: string;
  embed(text: string): Promise<Float32Array>;
}

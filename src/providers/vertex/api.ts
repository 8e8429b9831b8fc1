/**
 * Lenient wire types for what Vertex AI adds to the Gemini wire format (whose types are in
 * ../gemini/api.ts): text embeddings through `:predict` (PredictRequest / PredictResponse with the
 * text-embedding instance, parameters and prediction shapes). Responses are untrusted input, so
 * every field read is optional.
 */

export interface VertexEmbeddingInstance {
  content: string;
}

export interface VertexEmbeddingParameters {
  outputDimensionality?: number;
}

export interface VertexPredictRequest {
  instances: VertexEmbeddingInstance[];
  parameters?: VertexEmbeddingParameters;
}

export interface VertexEmbeddingStatistics {
  /** The wire name in predict answers (a protobuf Struct keeps the model's snake_case). */
  token_count?: number;
  /** The name the reference's TextEmbedding type gives it; read too. */
  tokenCount?: number;
  truncated?: boolean;
}

export interface VertexEmbeddingPrediction {
  embeddings?: { values?: unknown; statistics?: VertexEmbeddingStatistics | null } | null;
}

export interface VertexPredictResponse {
  predictions?: (VertexEmbeddingPrediction | null)[] | null;
  metadata?: { billableCharacterCount?: number } | null;
}

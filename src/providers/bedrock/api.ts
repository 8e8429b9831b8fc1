/**
 * Lenient wire types for Amazon Bedrock Runtime (API version 2023-09-30): the Converse and
 * ConverseStream operations and the InvokeModel bodies of the embedding models, typing only the
 * fields the gateway writes or reads. Names follow the API reference (restJson1 protocol).
 */

// ---- Converse request ----

export interface BedrockCachePoint {
  cachePoint: { type: 'default' };
}

export type BedrockImageFormat = 'png' | 'jpeg' | 'gif' | 'webp';

export interface BedrockImageBlock {
  image: { format: BedrockImageFormat; source: { bytes: string } };
}

export interface BedrockToolUseBlock {
  toolUse: { toolUseId: string; name: string; input: unknown };
}

export interface BedrockToolResultBlock {
  toolResult: { toolUseId: string; content: ({ text: string } | BedrockImageBlock)[]; status?: 'success' | 'error' };
}

export interface BedrockReasoningBlock {
  reasoningContent: { reasoningText: { text: string; signature?: string } } | { redactedContent: string };
}

export type BedrockContentBlock =
  | { text: string }
  | BedrockImageBlock
  | BedrockToolUseBlock
  | BedrockToolResultBlock
  | BedrockReasoningBlock
  | BedrockCachePoint;

export interface BedrockMessage {
  role: 'user' | 'assistant';
  content: BedrockContentBlock[];
}

export type BedrockSystemBlock = { text: string } | BedrockCachePoint;

export interface BedrockToolSpec {
  toolSpec: { name: string; description?: string; inputSchema: { json: unknown } };
}

export type BedrockToolChoice = { auto: Record<string, never> } | { any: Record<string, never> } | { tool: { name: string } };

export interface BedrockToolConfig {
  tools: (BedrockToolSpec | BedrockCachePoint)[];
  toolChoice?: BedrockToolChoice;
}

export interface BedrockInferenceConfig {
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  stopSequences?: string[];
}

export interface ConverseRequestBody {
  messages: BedrockMessage[];
  system?: BedrockSystemBlock[];
  inferenceConfig?: BedrockInferenceConfig;
  toolConfig?: BedrockToolConfig;
  additionalModelRequestFields?: Record<string, unknown>;
}

// ---- Converse response (read leniently: every field may be missing or of the wrong type) ----

export interface WireTokenUsage {
  inputTokens?: unknown;
  outputTokens?: unknown;
  totalTokens?: unknown;
  cacheReadInputTokens?: unknown;
  cacheWriteInputTokens?: unknown;
}

export interface WireContentBlock {
  text?: unknown;
  toolUse?: { toolUseId?: unknown; name?: unknown; input?: unknown } | null;
  reasoningContent?: { reasoningText?: { text?: unknown; signature?: unknown } | null; redactedContent?: unknown } | null;
}

export interface WireConverseResponse {
  output?: { message?: { role?: unknown; content?: unknown } | null } | null;
  stopReason?: unknown;
  usage?: WireTokenUsage | null;
}

/** Error bodies: `{"message": ...}` (sometimes `Message`), type in `x-amzn-ErrorType` or `__type`. */
export interface WireErrorBody {
  message?: unknown;
  Message?: unknown;
  __type?: unknown;
}

// ---- ConverseStream event payloads (the JSON body of each event-stream message) ----

export interface WireContentBlockStart {
  contentBlockIndex?: unknown;
  start?: { toolUse?: { toolUseId?: unknown; name?: unknown } | null } | null;
}

export interface WireContentBlockDelta {
  contentBlockIndex?: unknown;
  delta?: {
    text?: unknown;
    toolUse?: { input?: unknown } | null;
    reasoningContent?: { text?: unknown; signature?: unknown; redactedContent?: unknown } | null;
  } | null;
}

export interface WireContentBlockStop {
  contentBlockIndex?: unknown;
}

export interface WireMessageStop {
  stopReason?: unknown;
}

export interface WireStreamMetadata {
  usage?: WireTokenUsage | null;
}

// ---- InvokeModel embedding bodies ----

export interface TitanEmbeddingRequest {
  inputText: string;
  dimensions?: number;
}

/** Titan Multimodal Embeddings take the size under `embeddingConfig`. */
export interface TitanMultimodalEmbeddingRequest {
  inputText: string;
  embeddingConfig?: { outputEmbeddingLength: number };
}

export interface WireTitanEmbeddingResponse {
  embedding?: unknown;
  inputTextTokenCount?: unknown;
}

export interface CohereEmbeddingRequest {
  texts: string[];
  input_type: string;
  output_dimension?: number;
  truncate?: string;
}

/** `embeddings` is a list of vectors, or `{float: [...]}` when embedding types were asked for. */
export interface WireCohereEmbeddingResponse {
  embeddings?: unknown;
}

/**
 * Canonical request / response types. OpenAI's chat schema is canonical (DESIGN.md §1): these are
 * lenient views of it, typing only the fields the gateway reads. Unknown fields are kept and
 * passed on untouched, so every type carries an index signature.
 */

export interface ContentPart {
  type: string;
  text?: string;
  [key: string]: unknown;
}

/**
 * A function call. A custom tool's call (OpenAI's free-form tools) has `type: "custom"` and
 * `custom: {name, input}` instead of `function`: only OpenAI-format targets take those
 * (providers/function-tools.ts refuses them for the others).
 */
export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
  [key: string]: unknown;
}

export interface ChatMessage {
  role: string;
  content?: string | ContentPart[] | null;
  tool_calls?: ToolCall[];
  tool_call_id?: string;
  name?: string;
  /** Reasoning / thinking text (Anthropic thinking, Gemini thoughts, DeepSeek), beside `content`. */
  reasoning_content?: string;
  /** The same under the name vLLM (since it dropped reasoning_content) and OpenRouter answer with. */
  reasoning?: string;
  /** Anthropic thinking blocks with their signatures, so a next turn can send them back. */
  thinking_blocks?: ThinkingBlock[];
  [key: string]: unknown;
}

/**
 * Canonical extensions beyond OpenAI's schema (the names LiteLLM uses, so clients that know them
 * work): `reasoning_content`, `thinking_blocks`, `cache_control` on content parts / tools (passed
 * to providers with prompt caching), the `thinking` request field, and `usage.cache_creation_input_tokens`.
 */
export interface ThinkingBlock {
  type: 'thinking' | 'redacted_thinking';
  thinking?: string;
  signature?: string;
  data?: string;
}

export interface ToolDefinition {
  type: string;
  function?: { name: string; description?: string; parameters?: Record<string, unknown>; [key: string]: unknown };
  [key: string]: unknown;
}

/** OpenAI's: a mode, one function, one custom tool, or a subset of the tools (`allowed_tools`). */
export type ToolChoice =
  | 'none'
  | 'auto'
  | 'required'
  | { type: 'function'; function: { name: string } }
  | { type: 'custom'; custom: { name: string } }
  | { type: 'allowed_tools'; allowed_tools: { mode: 'auto' | 'required'; tools: { type: string; function?: { name: string }; custom?: { name: string } }[] } };

export interface ResponseFormat {
  type: 'text' | 'json_object' | 'json_schema';
  json_schema?: { name?: string; schema?: Record<string, unknown>; strict?: boolean | null };
  [key: string]: unknown;
}

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean; [key: string]: unknown } | null;
  n?: number | null;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  tools?: ToolDefinition[] | null;
  tool_choice?: ToolChoice | null;
  response_format?: ResponseFormat | null;
  user?: string | null;
  [key: string]: unknown;
}

/**
 * OpenAI's usage: `prompt_tokens` counts every input token, cached ones included; cache reads are
 * `prompt_tokens_details.cached_tokens`, cache writes `cache_creation_input_tokens` (extension).
 */
export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number; [key: string]: unknown } | null;
  completion_tokens_details?: { reasoning_tokens?: number; [key: string]: unknown } | null;
  cache_creation_input_tokens?: number;
  /** Anthropic's cache writes by time to live (extension; only when some lived an hour, which costs more). */
  cache_creation?: { ephemeral_5m_input_tokens?: number; ephemeral_1h_input_tokens?: number };
  [key: string]: unknown;
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call';

export interface ChatChoice {
  index: number;
  message: ChatMessage;
  finish_reason: FinishReason | null;
  logprobs?: unknown;
  [key: string]: unknown;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: ChatChoice[];
  usage?: Usage;
  [key: string]: unknown;
}

export interface ChunkToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function?: { name?: string; arguments?: string };
  [key: string]: unknown;
}

export interface ChunkChoice {
  index: number;
  delta: {
    role?: string;
    content?: string | null;
    tool_calls?: ChunkToolCallDelta[];
    /** A piece of reasoning / thinking text. */
    reasoning_content?: string;
    /** The same under vLLM's and OpenRouter's name. */
    reasoning?: string;
    /** Anthropic: a thinking block's signature (or a redacted block), once it is complete. */
    thinking_blocks?: ThinkingBlock[];
    [key: string]: unknown;
  };
  finish_reason: FinishReason | null;
  logprobs?: unknown;
  [key: string]: unknown;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: ChunkChoice[];
  usage?: Usage | null;
  [key: string]: unknown;
}

export interface EmbeddingsRequest {
  model: string;
  input: string | string[] | number[] | number[][];
  encoding_format?: 'float' | 'base64' | null;
  dimensions?: number | null;
  user?: string | null;
  [key: string]: unknown;
}

export interface EmbeddingsResponse {
  object: 'list';
  data: { object: 'embedding'; index: number; embedding: number[] | string }[];
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
  [key: string]: unknown;
}

/** A chunk is a usage-only trailer when it carries usage and no choices (OpenAI's include_usage). */
export function isUsageOnlyChunk(chunk: ChatCompletionChunk): boolean {
  return chunk.choices.length === 0 && chunk.usage != null;
}

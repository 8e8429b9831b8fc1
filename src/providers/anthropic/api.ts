/**
 * Lenient wire types for Anthropic's Messages API (https://docs.anthropic.com/en/api/messages),
 * shared by the Anthropic provider (gateway → Anthropic) and the `/v1/messages` endpoint
 * (client → gateway). Only the fields the gateway reads or writes are typed; others pass through.
 */

export interface CacheControl {
  type: 'ephemeral';
  ttl?: string;
}

export interface TextBlockParam {
  type: 'text';
  text: string;
  cache_control?: CacheControl | null;
  [key: string]: unknown;
}

export type ImageSource =
  | { type: 'base64'; media_type: string; data: string }
  | { type: 'url'; url: string };

export interface ImageBlockParam {
  type: 'image';
  source: ImageSource;
  cache_control?: CacheControl | null;
  [key: string]: unknown;
}

export interface ToolUseBlockParam {
  type: 'tool_use';
  id: string;
  name: string;
  input: unknown;
  cache_control?: CacheControl | null;
  [key: string]: unknown;
}

export interface ToolResultBlockParam {
  type: 'tool_result';
  tool_use_id: string;
  content?: string | (TextBlockParam | ImageBlockParam)[];
  is_error?: boolean;
  cache_control?: CacheControl | null;
  [key: string]: unknown;
}

export interface ThinkingBlockParam {
  type: 'thinking';
  thinking: string;
  signature: string;
}

export interface RedactedThinkingBlockParam {
  type: 'redacted_thinking';
  data: string;
}

/** A PDF (base64 or URL) or plain-text document. */
export interface DocumentBlockParam {
  type: 'document';
  source: { type: 'base64'; media_type: string; data: string } | { type: 'url'; url: string } | { type: 'text'; media_type: 'text/plain'; data: string };
  title?: string | null;
  cache_control?: CacheControl | null;
  [key: string]: unknown;
}

export type ContentBlockParam =
  | TextBlockParam
  | ImageBlockParam
  | DocumentBlockParam
  | ToolUseBlockParam
  | ToolResultBlockParam
  | ThinkingBlockParam
  | RedactedThinkingBlockParam
  | { type: string; [key: string]: unknown };

export interface MessageParam {
  role: 'user' | 'assistant';
  content: string | ContentBlockParam[];
}

export interface ToolParam {
  name: string;
  description?: string;
  /** Absent on server tools (web search, code execution), which Anthropic defines itself. */
  input_schema?: Record<string, unknown>;
  cache_control?: CacheControl | null;
  /** Server / built-in tools carry a versioned type (e.g. `web_search_20250305`); custom tools none or `custom`. */
  type?: string;
  [key: string]: unknown;
}

export type ToolChoiceParam =
  | { type: 'auto'; disable_parallel_tool_use?: boolean }
  | { type: 'any'; disable_parallel_tool_use?: boolean }
  | { type: 'tool'; name: string; disable_parallel_tool_use?: boolean }
  | { type: 'none' };

export type ThinkingParam =
  | { type: 'enabled'; budget_tokens: number }
  | { type: 'disabled' }
  /** Newer models decide the budget themselves. */
  | { type: 'adaptive'; [key: string]: unknown };

export interface MessagesRequest {
  model: string;
  max_tokens: number;
  messages: MessageParam[];
  system?: string | TextBlockParam[];
  stop_sequences?: string[];
  stream?: boolean;
  temperature?: number;
  top_p?: number;
  top_k?: number;
  tools?: ToolParam[];
  tool_choice?: ToolChoiceParam;
  metadata?: { user_id?: string | null };
  thinking?: ThinkingParam;
  output_config?: OutputConfig | null;
  [key: string]: unknown;
}

/** `/v1/messages/count_tokens` takes the request without `max_tokens` and the sampling fields. */
export type CountTokensRequest = Pick<MessagesRequest, 'model' | 'messages' | 'system' | 'tools' | 'tool_choice' | 'thinking'>;

/** Structured outputs and effort. */
export interface OutputConfig {
  effort?: string | null;
  format?: { type: 'json_schema'; schema: Record<string, unknown> } | null;
}

export interface CountTokensResponse {
  input_tokens: number;
}

// Response

export interface TextBlock {
  type: 'text';
  text: string;
  citations?: unknown[] | null;
}

export interface ToolUseBlock {
  type: 'tool_use';
  id: string;
  name: string;
  input: unknown;
}

export interface ThinkingBlock {
  type: 'thinking';
  thinking: string;
  signature: string;
}

export interface RedactedThinkingBlock {
  type: 'redacted_thinking';
  data: string;
}

export type ContentBlock = TextBlock | ToolUseBlock | ThinkingBlock | RedactedThinkingBlock;

export type StopReason = 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use' | 'pause_turn' | 'refusal' | 'model_context_window_exceeded';

export interface CacheCreation {
  ephemeral_5m_input_tokens?: number;
  ephemeral_1h_input_tokens?: number;
}

export interface AnthropicUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  /** Cache writes by time to live (their sum is `cache_creation_input_tokens`): one-hour writes cost more. */
  cache_creation?: CacheCreation | null;
  /** Newer API versions: how many of `output_tokens` were thinking. */
  output_tokens_details?: { thinking_tokens?: number } | null;
  [key: string]: unknown;
}

export interface Message {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: ContentBlock[];
  stop_reason: StopReason | null;
  stop_sequence: string | null;
  usage: AnthropicUsage;
  [key: string]: unknown;
}

// Streaming events (`event: <type>` + `data: <json with the same type>`)

export type ContentBlockDelta =
  | { type: 'text_delta'; text: string }
  | { type: 'input_json_delta'; partial_json: string }
  | { type: 'thinking_delta'; thinking: string }
  | { type: 'signature_delta'; signature: string }
  | { type: 'citations_delta'; citation: unknown };

export type StreamEvent =
  | { type: 'message_start'; message: Message }
  | { type: 'content_block_start'; index: number; content_block: ContentBlock }
  | { type: 'content_block_delta'; index: number; delta: ContentBlockDelta }
  | { type: 'content_block_stop'; index: number }
  | {
      type: 'message_delta';
      delta: { stop_reason: StopReason | null; stop_sequence: string | null };
      usage: Partial<AnthropicUsage> & { output_tokens: number };
    }
  | { type: 'message_stop' }
  | { type: 'ping' }
  | { type: 'error'; error: { type: string; message: string } };

// Errors

/** Anthropic's error types, with the HTTP status each comes with. */
export const ANTHROPIC_ERROR_STATUS = {
  invalid_request_error: 400,
  authentication_error: 401,
  permission_error: 403,
  not_found_error: 404,
  billing_error: 402,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
} as const;

export interface ErrorBody {
  type: 'error';
  error: { type: string; message: string };
  request_id?: string;
}

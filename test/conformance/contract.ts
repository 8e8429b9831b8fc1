/**
 * The contract between the provider conformance suite (`provider-conformance.ts`) and each
 * provider's fake upstream (DESIGN.md §3.2). The suite speaks provider-neutral terms: it scripts
 * what the upstream answers next and reads back what the upstream was asked; each fake renders
 * the script in its provider's real wire format and reads its own wire format back.
 */

/** The error classes every provider must translate (issue: "each error class"). */
export type ErrorClass =
  | 'invalid_request' // the client's request was wrong (400)
  | 'auth' // the gateway's provider credentials were refused (401)
  | 'permission' // the key may not use this model / resource (403)
  | 'not_found' // unknown model / deployment (404)
  | 'rate_limit' // 429 with a retry-after of `retryAfterSeconds` (default 7)
  | 'quota' // out of credit / quota (429 or the provider's own status)
  | 'server' // 500
  | 'overloaded'; // 529 (Anthropic), 503 (others)

export interface ScriptedToolCall {
  /** The provider's call id; the fake uses it verbatim where the wire format has one. */
  id: string;
  name: string;
  /** JSON text of the arguments. */
  arguments: string;
}

export interface ScriptedUsage {
  input: number;
  output: number;
  /** Prompt tokens read from the provider's prompt cache (where the provider reports it). */
  cacheRead?: number;
  /** Prompt tokens written to the provider's prompt cache (where the provider reports it). */
  cacheWrite?: number;
}

export type ScriptedFinish = 'stop' | 'length' | 'tool_calls' | 'content_filter';

export type ScriptedReply =
  /** A normal answer (as JSON, or as a stream when the request asked for one). */
  | {
      kind: 'reply';
      text?: string;
      toolCalls?: ScriptedToolCall[];
      finish: ScriptedFinish;
      usage: ScriptedUsage;
      /** Reasoning / thinking text, where the provider has it. */
      thinking?: string;
    }
  /** An HTTP error status with the provider's error body. */
  | { kind: 'http-error'; errorClass: ErrorClass; message: string; retryAfterSeconds?: number }
  /** Streams: a 200 stream whose first event is the provider's in-stream error (no output yet). */
  | { kind: 'stream-error-before-output'; message: string }
  /** Streams: a 200 stream that sends `text` as content, then the provider's in-stream error. */
  | { kind: 'stream-error-after-output'; text: string; message: string };

/** One message as the upstream received it, read back from the provider's wire format. */
export interface UpstreamMessage {
  role: 'user' | 'assistant' | 'tool';
  /** All text parts joined with "" (tool results: the result's text). */
  text: string;
  /** Image parts (base64 or URL). */
  images: number;
  /** Names of the tool calls an assistant message carries. */
  toolCalls: string[];
  /** For tool results: the call id they answer. */
  toolResultFor?: string;
}

/** What the upstream was asked, in provider-neutral terms. */
export interface UpstreamSummary {
  model: string;
  stream: boolean;
  /** System / developer instructions, joined. */
  system?: string;
  messages: UpstreamMessage[];
  /** Names of the declared tools. */
  tools: string[];
  toolChoice?: 'auto' | 'required' | 'none' | { name: string };
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  stop?: string[];
  /** JSON output asked for: any JSON object, or one following a schema. */
  jsonMode?: 'object' | 'schema';
}

export interface ConformanceFake {
  /** The provider block for the gateway config, e.g. `{ type: 'anthropic', base_url, api_key }`. */
  providerConfig(): Record<string, unknown>;
  /** The upstream model name the suite's targets use. */
  readonly model: string;
  /**
   * The next chat request gets this answer (a FIFO queue). With the queue empty the fake answers
   * `{ kind: 'reply', text: 'Hello from the fake.', finish: 'stop', usage: { input: 12, output: 5 } }`.
   */
  enqueue(reply: ScriptedReply): void;
  /** The last chat request the upstream received, read back from the wire. Throws if none. */
  lastChatRequest(): UpstreamSummary;
  /** How many chat requests the upstream received since the last reset. */
  chatRequestCount(): number;
  /** Forgets requests and queued replies. */
  reset(): void;
  close(): Promise<void>;
}

/** What a provider can do, so the suite skips (visibly) what the provider has no way to express. */
export interface ConformanceCapabilities {
  /** Reports prompt-cache read/write tokens (Anthropic, OpenAI cached_tokens, Bedrock). */
  cacheTokens?: boolean;
  /** Has a native content-filter finish (OpenAI/Azure `content_filter`, Gemini SAFETY, Bedrock `content_filtered`). */
  contentFilter?: boolean;
  /** Supports `n` > 1 choices. */
  multipleChoices?: boolean;
  /** Reports cache writes separately (`cache_creation_input_tokens`: Anthropic, Bedrock); OpenAI reports reads only. */
  cacheWriteTokens?: boolean;
  /** Returns scripted `thinking` as `reasoning_content` (Anthropic thinking, Gemini thoughts, Bedrock reasoning). */
  reasoning?: boolean;
  /** The HTTP status the provider sends for the `quota` class when it is not 429 (e.g. 400, 403). */
  quotaStatus?: number;
  /** The gateway answers the `quota` class as a rate limit (429, fails over) whatever its status: Bedrock's ServiceQuotaExceededException ("resubmit later"). */
  quotaIsRateLimit?: boolean;
  /** The HTTP status the provider sends for refused credentials when it is not 401 (Gemini: 400 API_KEY_INVALID, Bedrock: 403). */
  authStatus?: number;
  /** The provider tells how long to wait on a 429 (a header or its body); false for Bedrock, whose ThrottlingException says nothing. */
  retryAfter?: boolean;
}

export const DEFAULT_REPLY: ScriptedReply = { kind: 'reply', text: 'Hello from the fake.', finish: 'stop', usage: { input: 12, output: 5 } };

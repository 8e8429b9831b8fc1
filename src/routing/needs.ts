/**
 * What a chat request needs from a target: the features it uses and how big its prompt is.
 * Computed per request, so everything is cheap until a decision actually requires more.
 */
import type { ChatMessage, ChatRequest, ContentPart } from '../gateway/types.js';
import { countTokens, countTokensUpTo } from '../governance/tokens.js';
import type { ModelInfo } from './catalog.js';

/** The features a request uses; a target lacking one cannot serve it. */
export interface RequestNeeds {
  tools: boolean;
  vision: boolean;
  jsonSchema: boolean;
  streaming: boolean;
  /** Output tokens the client reserved (`max_completion_tokens`, else `max_tokens`). */
  maxOutputTokens: number | undefined;
}

function isImagePart(part: ContentPart): boolean {
  return part.type === 'image_url' || part.type === 'input_image';
}

function hasImage(messages: readonly ChatMessage[]): boolean {
  for (const message of messages) {
    const content = message.content;
    if (!Array.isArray(content)) continue;
    for (const part of content) if (isImagePart(part)) return true;
  }
  return false;
}

/** Non-empty `tools`, or the legacy `functions` list. */
function usesTools(request: ChatRequest): boolean {
  if (request.tools && request.tools.length > 0) return true;
  const functions = request.functions;
  return Array.isArray(functions) && functions.length > 0;
}

/** What `request` (sent as a stream or not) needs from the target that serves it. */
export function needsOf(request: ChatRequest, stream: boolean): RequestNeeds {
  return {
    tools: usesTools(request),
    vision: hasImage(request.messages),
    jsonSchema: request.response_format?.type === 'json_schema',
    streaming: stream,
    maxOutputTokens: request.max_completion_tokens ?? request.max_tokens ?? undefined,
  };
}

/** Whether a model can serve a request with these needs; an unknown capability counts as supported. */
export function supports(info: ModelInfo, needs: RequestNeeds): boolean {
  const can = info.capabilities;
  if (can.chat === false) return false;
  if (needs.tools && can.tools === false) return false;
  if (needs.vision && can.vision === false) return false;
  if (needs.jsonSchema && can.jsonSchema === false) return false;
  if (needs.streaming && can.streaming === false) return false;
  return true;
}

/**
 * Chat-template framing per message (role markers, separators): OpenAI counts 3-4 tokens, ChatML,
 * Llama 3 and Gemma templates about 5; 8 leaves room for all of them.
 */
export const MESSAGE_ALLOWANCE_TOKENS = 8;
/** Framing once per request: the primed assistant turn (OpenAI: 3) and a BOS token. */
export const REQUEST_ALLOWANCE_TOKENS = 8;
/**
 * One image, whatever its size (images are not decoded): Anthropic documents ~1,600 tokens for an
 * image at its largest unscaled size, above OpenAI's high-detail cost of a 768×2048 image (1,445)
 * and Gemini's 258.
 */
export const IMAGE_TOKENS = 1600;
/** The preamble a provider adds when tools are given (Anthropic documents up to 346 tokens). */
export const TOOLS_ALLOWANCE_TOKENS = 400;

type Measure = (text: string) => number;

const utf8Bytes: Measure = (text) => Buffer.byteLength(text, 'utf8');

function measureIfText(value: unknown, measure: Measure): number {
  return typeof value === 'string' && value !== '' ? measure(value) : 0;
}

/** Everything in a message the upstream reads as prompt text. */
function messageText(message: ChatMessage, measure: Measure): number {
  let size = measureIfText(message.name, measure) + measureIfText(message.tool_call_id, measure) + measureIfText(message.reasoning_content, measure);
  const content = message.content;
  if (typeof content === 'string') size += measure(content);
  else if (Array.isArray(content)) for (const part of content) size += measureIfText(part.text, measure);
  if (message.tool_calls) {
    for (const call of message.tool_calls) {
      // A custom tool's call (OpenAI) has `custom: {name, input}` where a function's has `function: {name, arguments}`.
      const custom = call.custom as { name?: unknown; input?: unknown } | undefined;
      size += measureIfText(call.function?.name ?? custom?.name, measure) + measureIfText(call.function?.arguments ?? custom?.input, measure);
    }
  }
  if (message.thinking_blocks) for (const block of message.thinking_blocks) size += measureIfText(block.thinking, measure);
  return size;
}

/** The prompt's text (messages, tool definitions, a JSON schema to follow) under `measure`. */
function promptText(request: ChatRequest, measure: Measure): number {
  let size = 0;
  for (const message of request.messages) size += messageText(message, measure);
  if (request.tools && request.tools.length > 0) size += measure(JSON.stringify(request.tools));
  if (Array.isArray(request.functions) && request.functions.length > 0) size += measure(JSON.stringify(request.functions));
  const schema = request.response_format?.type === 'json_schema' ? request.response_format.json_schema : undefined;
  if (schema) size += measure(JSON.stringify(schema));
  return size;
}

/** Tokens no text measure sees: per-message and per-request framing, images, the tool preamble. Audio and file parts are not counted. */
function fixedAllowance(request: ChatRequest): number {
  let tokens = REQUEST_ALLOWANCE_TOKENS;
  for (const message of request.messages) {
    tokens += MESSAGE_ALLOWANCE_TOKENS;
    if (Array.isArray(message.content)) for (const part of message.content) if (isImagePart(part)) tokens += IMAGE_TOKENS;
  }
  if (usesTools(request)) tokens += TOOLS_ALLOWANCE_TOKENS;
  return tokens;
}

/**
 * A request's prompt size, computed lazily and at most once per measure: a cheap upper bound
 * first (UTF-8 bytes of all text plus fixed allowances; a BPE token is never shorter than a
 * byte), and the real count (`countTokens`, which loads a 70 MB tokenizer on first use) only when
 * the bound cannot decide. Images count {@link IMAGE_TOKENS} each.
 */
export class PromptSize {
  readonly #request: ChatRequest;
  #allowance: number | undefined;
  #textBytes: number | undefined;
  #tokens: number | undefined;

  constructor(request: ChatRequest) {
    this.#request = request;
  }

  #fixed(): number {
    return (this.#allowance ??= fixedAllowance(this.#request));
  }

  #bytes(): number {
    return (this.#textBytes ??= promptText(this.#request, utf8Bytes));
  }

  /** At least as many tokens as the prompt has, without tokenizing. */
  upperBound(): number {
    return this.#bytes() + this.#fixed();
  }

  /** The prompt's tokens by the o200k tokenizer, plus the fixed allowances. */
  tokens(): number {
    return (this.#tokens ??= promptText(this.#request, countTokens) + this.#fixed());
  }

  /** A rough estimate for routing and rules: tokens() if already computed, else about 4 bytes a token. */
  estimate(): number {
    return this.#tokens ?? Math.ceil(this.#bytes() / 4) + this.#fixed();
  }

  /**
   * Whether prompt + reserved output fits in `contextWindow`; tokenizes only when the upper bound
   * does not fit, and no further than the room (a 10 MB prompt for a 128k window costs the
   * tokenizer ~128k tokens of work, not 10 MB).
   */
  fits(contextWindow: number, maxOutputTokens: number): boolean {
    const room = contextWindow - maxOutputTokens;
    if (this.upperBound() <= room) return true;
    if (this.#tokens !== undefined) return this.#tokens <= room;
    const textRoom = room - this.#fixed();
    if (textRoom < 0) return false;
    let counted = 0;
    promptText(this.#request, (piece) => {
      if (counted <= textRoom) counted += countTokensUpTo(piece, textRoom - counted);
      return 0;
    });
    // Counted in full only when it fits: then it is the exact count, kept for tokens().
    if (counted > textRoom) return false;
    this.#tokens = counted + this.#fixed();
    return true;
  }
}

/**
 * Output tokens assumed for a request that sets no max_tokens, where an estimate is needed (the
 * cost strategy, TPM reservations, reconciled with the real usage afterwards).
 */
export const ASSUMED_OUTPUT_TOKENS = 256;

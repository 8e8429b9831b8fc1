/** Anthropic Message and error bodies → canonical completions and classified GatewayErrors. */
import { GatewayError } from '../../gateway/errors.js';
import type { ChatCompletion, ChatMessage, FinishReason, ThinkingBlock, ToolCall, Usage } from '../../gateway/types.js';
import { plainErrorText, upstreamStatusError, type HeaderValue, type UpstreamErrorDetail } from '../upstream-errors.js';
import { ANTHROPIC_ERROR_STATUS, type AnthropicUsage, type ContentBlock, type Message } from './api.js';
import { JSON_TOOL_NAME } from './request.js';
import { isJsonObject as isObject, parseResponseJson } from '../upstream-json.js';

function badAnswer(provider: string, what: string): GatewayError {
  return new GatewayError('upstream_error', `The upstream provider "${provider}" returned ${what}.`, { provider });
}


/** Parses a 2xx body into a Message; anything unreadable is an upstream failure (502, retryable). */
export function parseMessage(text: string, provider: string): Message {
  const value = parseResponseJson(text, provider);
  if (!isObject(value) || !Array.isArray(value.content)) throw badAnswer(provider, 'a response that is not an Anthropic message');
  // Every block is read by its type (answer checks, translation, a native client's SDK).
  if (!value.content.every((block) => isObject(block) && typeof block.type === 'string')) throw badAnswer(provider, 'a message with a malformed content block');
  return value as Message;
}

/**
 * A Message → a chat.completion. With `jsonTool` the `json_output` call is the answer: its input
 * becomes the text (other text, the model's preamble, is dropped) and the finish is `stop`.
 */
export function toChatCompletion(message: Message, jsonTool: boolean, provider: string): ChatCompletion {
  let text: string | null = null;
  let reasoning: string | undefined;
  let jsonAnswer: string | undefined;
  const toolCalls: ToolCall[] = [];
  const thinkingBlocks: ThinkingBlock[] = [];
  for (const block of message.content as unknown[]) {
    if (!isObject(block)) throw badAnswer(provider, 'a message with a malformed content block');
    const b = block as unknown as ContentBlock;
    switch (b.type) {
      case 'text':
        if (typeof b.text !== 'string') throw badAnswer(provider, 'a text block without text');
        text = text === null ? b.text : text + b.text;
        break;
      case 'tool_use': {
        if (typeof b.id !== 'string' || typeof b.name !== 'string') throw badAnswer(provider, 'a tool_use block without id or name');
        const args = JSON.stringify(b.input ?? {});
        if (jsonTool && b.name === JSON_TOOL_NAME) jsonAnswer = args;
        else toolCalls.push({ id: b.id, type: 'function', function: { name: b.name, arguments: args } });
        break;
      }
      case 'thinking':
        reasoning = (reasoning ?? '') + String(b.thinking ?? '');
        thinkingBlocks.push({ type: 'thinking', thinking: String(b.thinking ?? ''), signature: String(b.signature ?? '') });
        break;
      case 'redacted_thinking':
        thinkingBlocks.push({ type: 'redacted_thinking', data: String(b.data ?? '') });
        break;
      default:
        break; // server tool blocks, citations-only blocks, ...: nothing OpenAI's schema can carry
    }
  }
  if (jsonAnswer !== undefined) text = jsonAnswer;
  const chatMessage: ChatMessage = { role: 'assistant', content: text };
  if (toolCalls.length > 0) chatMessage.tool_calls = toolCalls;
  if (reasoning !== undefined) chatMessage.reasoning_content = reasoning;
  if (thinkingBlocks.length > 0) chatMessage.thinking_blocks = thinkingBlocks;

  const completion: ChatCompletion = {
    id: typeof message.id === 'string' ? message.id : '',
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: typeof message.model === 'string' ? message.model : '',
    choices: [{ index: 0, message: chatMessage, finish_reason: finishReason(message.stop_reason, toolCalls.length > 0), logprobs: null }],
  };
  if (isObject(message.usage)) completion.usage = toUsage(message.usage);
  return completion;
}

/**
 * Anthropic's stop_reason → OpenAI's finish_reason. `tool_use` only means tool_calls when real
 * tool calls are in the answer (not the json_output answer).
 */
export function finishReason(stopReason: unknown, hasToolCalls: boolean): FinishReason {
  switch (stopReason) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return hasToolCalls ? 'tool_calls' : 'stop';
    case 'refusal':
      return 'content_filter';
    default:
      return hasToolCalls ? 'tool_calls' : 'stop'; // end_turn, stop_sequence, pause_turn
  }
}

const count = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0);

const USAGE_COUNTS = ['input_tokens', 'output_tokens', 'cache_read_input_tokens', 'cache_creation_input_tokens'] as const;

/** Adds a stream event's usage to the usage so far: message_delta usage is cumulative, so each count it carries replaces the one before. */
export function mergeUsage(into: Partial<AnthropicUsage>, usage: unknown): void {
  if (!isObject(usage)) return;
  const fields = usage;
  for (const key of USAGE_COUNTS) {
    const value = fields[key];
    if (typeof value === 'number') into[key] = value;
  }
  if (isObject(fields.cache_creation)) into.cache_creation = fields.cache_creation as AnthropicUsage['cache_creation'];
  if (isObject(fields.output_tokens_details)) into.output_tokens_details = fields.output_tokens_details as AnthropicUsage['output_tokens_details'];
}

/** Anthropic's input_tokens exclude cached tokens; OpenAI's prompt_tokens count every input token. */
export function toUsage(usage: Partial<AnthropicUsage>): Usage {
  const cacheRead = count(usage.cache_read_input_tokens);
  const cacheCreation = count(usage.cache_creation_input_tokens);
  const prompt = count(usage.input_tokens) + cacheRead + cacheCreation;
  const completion = count(usage.output_tokens);
  const result: Usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, prompt_tokens_details: { cached_tokens: cacheRead } };
  if (typeof usage.cache_creation_input_tokens === 'number') result.cache_creation_input_tokens = cacheCreation;
  const oneHour = usage.cache_creation?.ephemeral_1h_input_tokens;
  // Anthropic's breakdown by time to live, as it names it: one-hour writes are priced higher.
  if (typeof oneHour === 'number' && oneHour > 0) result.cache_creation = { ephemeral_5m_input_tokens: count(usage.cache_creation?.ephemeral_5m_input_tokens), ephemeral_1h_input_tokens: oneHour };
  const thinking = usage.output_tokens_details?.thinking_tokens;
  if (typeof thinking === 'number') result.completion_tokens_details = { reasoning_tokens: thinking };
  return result;
}

/** Anthropic's error body `{"type":"error","error":{"type","message"}}` → the detail the shared helper needs. */
export function readErrorDetail(bodyText: string): UpstreamErrorDetail {
  let body: unknown;
  try {
    body = JSON.parse(bodyText);
  } catch {
    const text = plainErrorText(bodyText);
    return text ? { message: text } : {};
  }
  const error = isObject(body) ? body.error : undefined;
  if (!isObject(error)) return {};
  const detail: UpstreamErrorDetail = {};
  if (typeof error.message === 'string' && error.message !== '') detail.message = error.message;
  if (typeof error.type === 'string' && error.type !== '') detail.type = error.type;
  return detail;
}

/** An upstream error status → GatewayError (retryability, retry-after and redaction decided by the shared helper). */
export function upstreamHttpError(status: number, bodyText: string, headers: Record<string, HeaderValue>, provider: string): GatewayError {
  return upstreamStatusError(status, readErrorDetail(bodyText), headers, provider);
}

/**
 * An `error` event inside a 200 stream. Server-side types (overloaded_error, api_error, unknown
 * ones) are a retryable upstream_error, so before any output the executor fails over; client-side
 * types keep the status they have as HTTP errors.
 */
export function streamError(value: unknown, provider: string): GatewayError {
  const error = isObject(value) && isObject(value.error) ? value.error : {};
  const type = typeof error.type === 'string' ? error.type : undefined;
  const message = typeof error.message === 'string' && error.message !== '' ? error.message : undefined;
  const status = type ? (ANTHROPIC_ERROR_STATUS as Record<string, number>)[type] : undefined;
  if (status !== undefined && status < 500) return upstreamStatusError(status, { message, type }, {}, provider);
  const what = [type, message].filter(Boolean).join(': ');
  return new GatewayError('upstream_error', `The upstream provider "${provider}" failed mid-stream${what ? ` (${what}).` : '.'}`, { provider, upstreamType: type });
}

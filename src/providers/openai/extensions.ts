/**
 * The gateway's canonical extensions (src/gateway/types.ts: `thinking`, `top_k`, `cache_control`
 * on parts and tools, `thinking_blocks` and `reasoning_content` on messages, and Google's
 * `extra_content` on tool calls, which carries a Gemini thought signature) exist for providers
 * that have those features; they mostly arrive from Anthropic-format clients on /v1/messages, or
 * in the history of a conversation a Gemini target answered before.
 * OpenAI and Azure reject unknown fields with a 400, so their requests go without them.
 * OpenAI-compatible servers get everything as sent: some understand these (OpenRouter's
 * cache_control, vLLM's top_k), and a field a user sends on purpose must reach the server.
 */
import type { ChatMessage, ChatRequest, ContentPart, ToolDefinition } from '../../gateway/types.js';

const REQUEST_EXTENSIONS = ['thinking', 'top_k'] as const;
const MESSAGE_EXTENSIONS = ['thinking_blocks', 'reasoning_content'] as const;

/** The request without canonical extensions; the request itself when it has none (the usual case). */
export function withoutExtensions(request: ChatRequest): ChatRequest {
  let messages = request.messages;
  for (let i = 0; i < messages.length; i++) {
    const cleaned = cleanMessage(messages[i]!);
    if (cleaned === messages[i]) continue;
    if (messages === request.messages) messages = messages.slice();
    messages[i] = cleaned;
  }
  const tools = request.tools?.some((tool) => 'cache_control' in tool) ? request.tools.map(withoutCacheControl) : request.tools;
  const hasTopLevel = REQUEST_EXTENSIONS.some((key) => key in request);
  if (messages === request.messages && tools === request.tools && !hasTopLevel) return request;
  const copy: ChatRequest = { ...request, messages };
  if (tools !== request.tools) copy.tools = tools;
  for (const key of REQUEST_EXTENSIONS) delete copy[key];
  return copy;
}

function cleanMessage(message: ChatMessage): ChatMessage {
  const content = Array.isArray(message.content) && message.content.some((part) => 'cache_control' in part) ? message.content.map(withoutCacheControl) : message.content;
  const calls = message.tool_calls;
  const toolCalls = Array.isArray(calls) && calls.some((call) => 'extra_content' in call) ? calls.map(withoutExtraContent) : calls;
  const hasExtension = MESSAGE_EXTENSIONS.some((key) => key in message);
  if (content === message.content && toolCalls === calls && !hasExtension) return message;
  const copy: ChatMessage = { ...message, content };
  if (toolCalls !== calls) copy.tool_calls = toolCalls;
  for (const key of MESSAGE_EXTENSIONS) delete copy[key];
  return copy;
}

function withoutExtraContent<T extends object>(call: T): T {
  if (!('extra_content' in call)) return call;
  const { extra_content: _dropped, ...rest } = call;
  return rest as T;
}

function withoutCacheControl<T extends ContentPart | ToolDefinition>(item: T): T {
  if (!('cache_control' in item)) return item;
  const { cache_control: _dropped, ...rest } = item;
  return rest as T;
}

/**
 * Anthropic Messages request → canonical (OpenAI chat) request. Pure: the input is never changed
 * (deeper values such as tool schemas are shared, not copied), so a retry can run it again.
 *
 * - `system` (string or text blocks) becomes the first message, role `system`.
 * - Text and image blocks become `text` / `image_url` parts (base64 images as `data:` URLs);
 *   `cache_control` stays on the part. Block types without an OpenAI equivalent (documents, server
 *   tool blocks, ...) are passed on as parts unchanged for the upstream to judge.
 * - An assistant turn's `tool_use` blocks become `tool_calls`, its thinking blocks `thinking_blocks`.
 * - `output_config.format` (structured outputs) becomes a json_schema `response_format`, and
 *   `output_config.effort` becomes `reasoning_effort`.
 * - A user turn's `tool_result` blocks become `role: tool` messages, in order, ahead of the rest of
 *   that turn (OpenAI wants tool answers right after the call; Anthropic already requires
 *   tool_result blocks first). Images inside a tool result follow in a user message.
 */
import { splitToolUseId } from './tool-use-id.js';
import type { ChatMessage, ChatRequest, ContentPart, ThinkingBlock, ToolCall, ToolChoice, ToolDefinition } from '../../gateway/types.js';
import type {
  ContentBlockParam,
  ImageBlockParam,
  MessageParam,
  MessagesRequest,
  RedactedThinkingBlockParam,
  TextBlockParam,
  ThinkingBlockParam,
  ToolChoiceParam,
  ToolParam,
  ToolResultBlockParam,
  ToolUseBlockParam,
  CountTokensRequest,
  OutputConfig,
} from '../../providers/anthropic/api.js';

/** A `/v1/messages/count_tokens` body: the request without `max_tokens` and the sampling fields. */
export type CountTokensBody = CountTokensRequest;

/** What is sent for a tool_result marked `is_error`, ahead of its text. */
export const TOOL_ERROR_PREFIX = 'Error: ';

export function decodeMessagesRequest(request: MessagesRequest | CountTokensBody): ChatRequest {
  const messages: ChatMessage[] = [];
  if (request.system != null) {
    const system = typeof request.system === 'string' ? request.system : request.system.map(textPart);
    if (system.length > 0) messages.push({ role: 'system', content: system });
  }
  for (const message of request.messages) decodeMessage(message, messages);

  const out: ChatRequest = { model: request.model, messages };
  if ('max_tokens' in request) out.max_tokens = request.max_tokens;
  if ('stream' in request && request.stream) out.stream = true;
  const { stop_sequences, temperature, top_p, top_k, metadata, thinking } = request as MessagesRequest;
  if (stop_sequences != null && stop_sequences.length > 0) out.stop = [...stop_sequences];
  if (temperature != null) out.temperature = temperature;
  if (top_p != null) out.top_p = top_p;
  if (top_k != null) out.top_k = top_k;
  if (typeof metadata?.user_id === 'string') out.user = metadata.user_id;
  if (thinking != null) out.thinking = thinking;
  const output: OutputConfig | null | undefined = (request as MessagesRequest).output_config;
  if (output?.format != null) out.response_format = { type: 'json_schema', json_schema: { name: 'output', schema: output.format.schema, strict: true } };
  if (output?.effort != null) out.reasoning_effort = output.effort;

  if (request.tools != null && request.tools.length > 0) out.tools = request.tools.map(decodeTool);
  if (request.tool_choice != null) {
    out.tool_choice = decodeToolChoice(request.tool_choice);
    // OpenAI accepts parallel_tool_calls only together with tools.
    if ('disable_parallel_tool_use' in request.tool_choice && request.tool_choice.disable_parallel_tool_use === true && out.tools) {
      out.parallel_tool_calls = false;
    }
  }
  return out;
}

function decodeMessage(message: MessageParam | { role: 'system'; content: string | TextBlockParam[] }, out: ChatMessage[]): void {
  const { role, content } = message;
  if (typeof content === 'string') {
    out.push({ role, content });
    return;
  }
  if (role === 'assistant') out.push(decodeAssistant(content));
  else if (role === 'user') decodeUser(content, out);
  else out.push({ role, content: (content as TextBlockParam[]).map(textPart) });
}

function decodeAssistant(blocks: ContentBlockParam[]): ChatMessage {
  const parts: ContentPart[] = [];
  const toolCalls: ToolCall[] = [];
  const thinking: ThinkingBlock[] = [];
  let plainText = true;
  for (const block of blocks) {
    switch (block.type) {
      case 'text': {
        const part = textPart(block as TextBlockParam);
        if (part.cache_control !== undefined) plainText = false;
        parts.push(part);
        break;
      }
      case 'tool_use': {
        const use = block as ToolUseBlockParam;
        const { id, thoughtSignature } = splitToolUseId(use.id);
        const call: ToolCall = { id, type: 'function', function: { name: use.name, arguments: JSON.stringify(use.input ?? {}) } };
        if (thoughtSignature !== undefined) call.extra_content = { google: { thought_signature: thoughtSignature } };
        toolCalls.push(call);
        break;
      }
      case 'thinking': {
        const { thinking: text, signature } = block as ThinkingBlockParam;
        thinking.push({ type: 'thinking', thinking: text, signature });
        break;
      }
      case 'redacted_thinking':
        thinking.push({ type: 'redacted_thinking', data: (block as RedactedThinkingBlockParam).data });
        break;
      default:
        plainText = false;
        parts.push(passThrough(block));
    }
  }
  // Plain text goes as a string: every OpenAI-compatible server accepts that for assistant turns.
  let content: ChatMessage['content'];
  if (parts.length === 0) content = toolCalls.length > 0 ? null : '';
  else if (plainText) content = parts.map((part) => part.text).join('');
  else content = parts;
  const message: ChatMessage = { role: 'assistant', content };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  if (thinking.length > 0) message.thinking_blocks = thinking;
  return message;
}

function decodeUser(blocks: ContentBlockParam[], out: ChatMessage[]): void {
  const parts: ContentPart[] = [];
  const toolImages: ContentPart[] = [];
  for (const block of blocks) {
    if (block.type === 'tool_result') out.push(decodeToolResult(block as ToolResultBlockParam, toolImages));
    else parts.push(decodePart(block));
  }
  // An empty turn is passed on as one (the upstream decides); a turn of only tool results is done.
  if (toolImages.length > 0 || parts.length > 0 || blocks.length === 0) out.push({ role: 'user', content: [...toolImages, ...parts] });
}

function decodeToolResult(block: ToolResultBlockParam, images: ContentPart[]): ChatMessage {
  let text = '';
  if (typeof block.content === 'string') {
    text = block.content;
  } else if (Array.isArray(block.content)) {
    const texts: string[] = [];
    for (const inner of block.content) {
      if (inner.type === 'text') texts.push((inner as TextBlockParam).text);
      else images.push(decodePart(inner));
    }
    text = texts.join('\n');
  }
  if (block.is_error === true) text = TOOL_ERROR_PREFIX + text;
  const content: ChatMessage['content'] = block.cache_control ? [{ type: 'text', text, cache_control: block.cache_control }] : text;
  return { role: 'tool', tool_call_id: splitToolUseId(block.tool_use_id).id, content };
}

function decodePart(block: ContentBlockParam): ContentPart {
  if (block.type === 'text') return textPart(block as TextBlockParam);
  if (block.type === 'image') return imagePart(block as ImageBlockParam);
  return passThrough(block);
}

function textPart(block: TextBlockParam): ContentPart {
  const part: ContentPart = { type: 'text', text: block.text };
  if (block.cache_control != null) part.cache_control = block.cache_control;
  return part;
}

function imagePart(block: ImageBlockParam): ContentPart {
  const { source } = block;
  let part: ContentPart;
  if (source.type === 'base64') part = { type: 'image_url', image_url: { url: `data:${source.media_type};base64,${source.data}` } };
  else if (source.type === 'url') part = { type: 'image_url', image_url: { url: source.url } };
  else return passThrough(block); // a Files API reference: only Anthropic can resolve it
  if (block.cache_control != null) part.cache_control = block.cache_control;
  return part;
}

/** A block with no OpenAI equivalent, passed on as it came. */
function passThrough(block: ContentBlockParam): ContentPart {
  return block as ContentPart;
}

function decodeTool(tool: ToolParam): ToolDefinition {
  if (tool.type != null && tool.type !== 'custom') return tool as ToolDefinition; // a server tool, passed on as it came
  const fn: NonNullable<ToolDefinition['function']> = { name: tool.name, parameters: tool.input_schema };
  if (tool.description !== undefined) fn.description = tool.description;
  const out: ToolDefinition = { type: 'function', function: fn };
  if (tool.cache_control != null) out.cache_control = tool.cache_control;
  return out;
}

function decodeToolChoice(choice: ToolChoiceParam): ToolChoice {
  switch (choice.type) {
    case 'any':
      return 'required';
    case 'tool':
      return { type: 'function', function: { name: choice.name } };
    case 'none':
      return 'none';
    default:
      return 'auto';
  }
}

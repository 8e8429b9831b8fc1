/**
 * The mock provider's deterministic "model": the same request always gets the same answer,
 * derived from the prompt, with realistic usage counted by a real tokenizer.
 */
import { createHash } from 'node:crypto';
import { countTokens } from '../../governance/tokens.js';
import { GatewayError } from '../../gateway/errors.js';
import { estimateInputTokens } from '../../formats/anthropic-messages/count-tokens.js';
import type { ChatMessage, ChatRequest, FinishReason, ToolCall, ToolDefinition, Usage } from '../../gateway/types.js';
import { messageText as sharedMessageText } from '../../gateway/message-text.js';

export interface MockReply {
  /** Text pieces as they would be streamed (roughly one token each); joined, the content. */
  pieces: string[];
  toolCalls: ToolCall[];
  finishReason: FinishReason;
  usage: Usage;
}

/** The mock reads text parts joined by spaces. */
export function messageText(message: ChatMessage): string {
  return sharedMessageText(message, ' ');
}

/** The messages' share of the prompt tokens (no tool definitions): see planReply. */
export function countPromptTokens(messages: ChatMessage[]): number {
  return estimateInputTokens({ model: 'mock', messages });
}

export function planReply(request: ChatRequest): MockReply {
  // The mock bills exactly what `/v1/messages/count_tokens` estimates, one rule for both APIs:
  // OpenAI's framing (3 per message, 3 to prime the reply), text parts joined, tool calls, thinking
  // blocks, a flat 1,600 per image part (base64 or URL: never read), any other non-text part as its
  // JSON, and non-empty `tools` as their JSON.
  checkThinkingBlocks(request.messages);
  const promptTokens = estimateInputTokens(request);
  const tool = chooseTool(request);
  if (tool) {
    const args = JSON.stringify(sampleFromSchema(tool.function?.parameters ?? { type: 'object' }));
    const name = tool.function?.name ?? 'tool';
    const toolCalls: ToolCall[] = [{ id: `call_${digest(name + args + promptTokens).slice(0, 24)}`, type: 'function', function: { name, arguments: args } }];
    const completionTokens = countTokens(name) + countTokens(args) + 3;
    return { pieces: [], toolCalls, finishReason: 'tool_calls', usage: usage(promptTokens, completionTokens) };
  }

  let text = replyText(request);
  let pieces: string[] = text.match(/\s*\S+/g) ?? [];
  let finishReason: FinishReason = 'stop';
  const limit = request.max_completion_tokens ?? request.max_tokens;
  if (typeof limit === 'number' && countTokens(text) > limit) {
    // Like a real model, stop within max_tokens: the most whole pieces whose tokens fit.
    let fits = 0;
    let tooMany = pieces.length;
    while (tooMany - fits > 1) {
      const middle = Math.floor((fits + tooMany) / 2);
      if (countTokens(pieces.slice(0, middle).join('')) <= limit) fits = middle;
      else tooMany = middle;
    }
    pieces = pieces.slice(0, fits);
    text = pieces.join('');
    finishReason = 'length';
  }
  return { pieces, toolCalls: [], finishReason, usage: usage(promptTokens, countTokens(text)) };
}

/**
 * `thinking_blocks` are counted, but /v1/chat/completions does not validate them: a malformed list
 * is a 400 naming it (as OpenAI names a bad field), not a TypeError. Looks at no strings.
 */
function checkThinkingBlocks(messages: ChatMessage[]): void {
  for (let i = 0; i < messages.length; i++) {
    const blocks: unknown = messages[i]!.thinking_blocks;
    if (blocks === undefined || blocks === null) continue;
    const valid =
      Array.isArray(blocks) &&
      blocks.every((block: unknown) => {
        if (block === null || typeof block !== 'object') return false;
        const { thinking, data } = block as { thinking?: unknown; data?: unknown };
        return typeof (thinking ?? data ?? '') === 'string';
      });
    if (!valid) {
      throw new GatewayError('invalid_request', `'messages[${i}].thinking_blocks' must be an array of {"type": "thinking", "thinking": string} or {"type": "redacted_thinking", "data": string} blocks.`, {
        param: `messages[${i}].thinking_blocks`,
      });
    }
  }
}

function replyText(request: ChatRequest): string {
  const last = request.messages[request.messages.length - 1];
  const said = last ? messageText(last).trim() : '';
  const text = last?.role === 'tool' ? `The tool returned: ${said}` : `This is a mock reply. You said: ${said || '(nothing)'}`;
  const format = request.response_format;
  if (format?.type === 'json_object') return JSON.stringify({ reply: text });
  if (format?.type === 'json_schema') return JSON.stringify(sampleFromSchema(format.json_schema?.schema ?? { type: 'object' }, text));
  return text;
}

/**
 * Which function tool the mock calls, if any: forced by tool_choice, or named in the last user
 * message (among those `allowed_tools` leaves). It calls function tools only, never custom ones.
 */
function chooseTool(request: ChatRequest): ToolDefinition | undefined {
  let tools = (request.tools ?? []).filter((t) => t.type === 'function' && typeof t.function?.name === 'string');
  let choice = request.tool_choice;
  if (choice === 'none') return undefined;
  if (choice && typeof choice === 'object' && choice.type === 'allowed_tools') {
    const allowed = new Set((choice.allowed_tools?.tools ?? []).map((t) => t.function?.name));
    tools = tools.filter((t) => allowed.has(t.function!.name));
    choice = choice.allowed_tools.mode;
  }
  if (choice && typeof choice === 'object') {
    if (choice.type !== 'function') throw new GatewayError('invalid_request', 'The mock provider calls function tools only: it cannot be made to call a custom tool.', { param: 'tool_choice' });
    const name = choice.function.name;
    const named = tools.find((t) => t.function!.name === name);
    if (!named) throw new GatewayError('invalid_request', `tool_choice names the function "${name}", which is not in 'tools'.`, { param: 'tool_choice' });
    return named;
  }
  if (tools.length === 0) return undefined;
  if (choice === 'required') return tools[0];
  const last = request.messages[request.messages.length - 1];
  if (!last || last.role !== 'user') return undefined;
  const said = messageText(last);
  return tools.find((t) => t.function?.name && said.includes(t.function.name));
}

/** A minimal value that satisfies a JSON schema (first enum value, required properties, ...). */
export function sampleFromSchema(schema: unknown, text = 'mock'): unknown {
  if (schema === null || typeof schema !== 'object') return text;
  const s = schema as { type?: unknown; enum?: unknown[]; const?: unknown; properties?: Record<string, unknown>; items?: unknown; anyOf?: unknown[]; oneOf?: unknown[] };
  if ('const' in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  const variants = s.anyOf ?? s.oneOf;
  if (Array.isArray(variants) && variants.length > 0) return sampleFromSchema(variants[0], text);
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  switch (type) {
    case 'string': return text;
    case 'number': return 0;
    case 'integer': return 0;
    case 'boolean': return false;
    case 'null': return null;
    case 'array': return s.items ? [sampleFromSchema(s.items, text)] : [];
    default: {
      const out: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(s.properties ?? {})) out[key] = sampleFromSchema(value, text);
      return out;
    }
  }
}

export function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function usage(promptTokens: number, completionTokens: number): Usage {
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}

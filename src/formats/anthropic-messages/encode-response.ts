/**
 * Canonical chat completion → Anthropic Message. Thinking comes first (as Anthropic orders it),
 * then the text, then one `tool_use` block per tool call. Only the first choice is used: the
 * Messages API has no `n`, and the decoded request never asks for more than one.
 *
 * Tool call arguments that are not a JSON object (a model can emit broken JSON) cannot be a
 * `tool_use.input`, which must be an object: the block gets `{}` and `onInvalidToolInput` is told,
 * so the route can log it. Failing the whole answer would throw away the rest of the reply.
 */
import { toolUseIdIn } from './tool-use-id.js';
import { randomUUID } from 'node:crypto';
import { GatewayError } from '../../gateway/errors.js';
import type { ChatChoice, ChatCompletion, ContentPart, FinishReason, ThinkingBlock, Usage } from '../../gateway/types.js';
import type { AnthropicUsage, ContentBlock, Message, StopReason } from '../../providers/anthropic/api.js';
import { MAX_UPSTREAM_JSON_DEPTH, isJsonObject, nestsDeeperThan } from '../../providers/upstream-json.js';

export interface EncodeOptions {
  /** The model the client asked for (a group name), reported as `model`. */
  model: string;
  /** The request's stop_sequences, to recognise which one ended the answer (see `stopReasonOf`). */
  stopSequences?: readonly string[] | null;
  /** Called with the tool name when a tool call's arguments were not a JSON object. */
  onInvalidToolInput?: (toolName: string) => void;
}

export function encodeMessage(completion: ChatCompletion, options: EncodeOptions): Message {
  const choice = Array.isArray(completion.choices) ? completion.choices[0] : undefined;
  if (!choice || choice.message === null || typeof choice.message !== 'object') {
    throw new GatewayError('upstream_error', 'The upstream answer contained no message.');
  }
  const { message } = choice;
  const content: ContentBlock[] = [];

  if (Array.isArray(message.thinking_blocks) && message.thinking_blocks.length > 0) {
    for (const block of message.thinking_blocks) content.push(thinkingBlock(block));
  } else {
    // Reasoning from a provider without signatures (DeepSeek, Gemini, vLLM, OpenRouter, ...): a thinking block with none.
    const reasoning = message.reasoning_content ?? message.reasoning;
    if (typeof reasoning === 'string' && reasoning !== '') content.push({ type: 'thinking', thinking: reasoning, signature: '' });
  }

  for (const text of textsOf(message.content)) if (text !== '') content.push({ type: 'text', text });
  // OpenAI puts a refusal beside `content`, which is then null.
  if (typeof message.refusal === 'string' && message.refusal !== '') content.push({ type: 'text', text: message.refusal });

  const id = messageId(completion.id);
  let toolUses = 0;
  for (const call of message.tool_calls ?? []) {
    const name = call.function?.name ?? '';
    content.push({ type: 'tool_use', id: toolUseIdIn(id, toolUses, call), name, input: parseToolInput(call.function?.arguments, name, options) });
    toolUses += 1;
  }

  const stop = stopReasonOf(choice, options.stopSequences, toolUses > 0);
  const refused = typeof message.refusal === 'string' && message.refusal !== '';
  return {
    id,
    type: 'message',
    role: 'assistant',
    model: options.model,
    content,
    stop_reason: refused ? 'refusal' : stop.reason,
    stop_sequence: stop.sequence,
    usage: anthropicUsage(completion.usage),
  };
}

/** `msg_…` from the upstream id: an Anthropic id is kept, an OpenAI `chatcmpl-…` id re-prefixed. */
export function messageId(upstreamId: unknown): string {
  if (typeof upstreamId !== 'string' || upstreamId === '') return `msg_${randomUUID().replaceAll('-', '')}`;
  if (upstreamId.startsWith('msg_')) return upstreamId;
  return `msg_${upstreamId.startsWith('chatcmpl-') ? upstreamId.slice(9) : upstreamId}`;
}

const STOP_REASONS: Record<FinishReason, StopReason> = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
  function_call: 'tool_use',
  content_filter: 'refusal',
};

/**
 * The Anthropic stop reason for a finish reason. OpenAI reports a matched stop sequence only as
 * `stop`; servers that say which one matched (vLLM and SGLang put it in the choice's `stop_reason`)
 * get `stop_sequence`. Some servers finish tool calls with `stop`: that is `tool_use` for a client.
 */
export function stopReasonOf(
  choice: Pick<ChatChoice, 'finish_reason'> & { stop_reason?: unknown },
  stopSequences: readonly string[] | null | undefined,
  hasToolUse: boolean,
): { reason: StopReason; sequence: string | null } {
  const finish = choice.finish_reason;
  if (finish === 'stop' || finish == null) {
    if (hasToolUse) return { reason: 'tool_use', sequence: null };
    const matched = choice.stop_reason;
    if (typeof matched === 'string' && stopSequences?.includes(matched)) return { reason: 'stop_sequence', sequence: matched };
    return { reason: 'end_turn', sequence: null };
  }
  return { reason: STOP_REASONS[finish] ?? 'end_turn', sequence: null };
}

/**
 * Canonical usage → Anthropic's. OpenAI's `prompt_tokens` includes cached tokens; Anthropic's
 * `input_tokens` excludes both cache reads and cache writes (their sum is the whole input).
 */
export function anthropicUsage(usage: Usage | null | undefined): AnthropicUsage {
  const cacheRead = count(usage?.prompt_tokens_details?.cached_tokens);
  const cacheWrite = count(usage?.cache_creation_input_tokens);
  return {
    input_tokens: Math.max(0, count(usage?.prompt_tokens) - cacheRead - cacheWrite),
    cache_creation_input_tokens: cacheWrite,
    cache_read_input_tokens: cacheRead,
    output_tokens: count(usage?.completion_tokens),
  };
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0;
}

function thinkingBlock(block: ThinkingBlock): ContentBlock {
  if (block.type === 'redacted_thinking') return { type: 'redacted_thinking', data: block.data ?? '' };
  return { type: 'thinking', thinking: block.thinking ?? '', signature: block.signature ?? '' };
}

function textsOf(content: string | ContentPart[] | null | undefined): string[] {
  if (typeof content === 'string') return [content];
  if (!Array.isArray(content)) return [];
  const texts: string[] = [];
  for (const part of content) if (part.type === 'text' && typeof part.text === 'string') texts.push(part.text);
  return texts;
}

function parseToolInput(args: unknown, name: string, options: EncodeOptions): unknown {
  if (args == null || (typeof args === 'string' && args.trim() === '')) return {};
  // Some servers send the arguments as the object itself, not as its JSON text.
  if (isJsonObject(args)) return args;
  if (typeof args === 'string') {
    try {
      // Arguments nested past any real tool's are refused like broken JSON (encoding them again would overflow the stack).
      const input: unknown = nestsDeeperThan(args, MAX_UPSTREAM_JSON_DEPTH) ? undefined : JSON.parse(args);
      if (isJsonObject(input)) return input;
    } catch {
      // reported below
    }
  }
  options.onInvalidToolInput?.(name);
  return {};
}

/**
 * Anthropic's Messages API wire format, as the real API sends it (API reference: Messages,
 * Streaming Messages, Errors). Pure builders used by the fake upstream, plus the reader that turns
 * a received Messages request back into the conformance suite's neutral summary.
 */
import { createHash } from 'node:crypto';
import type { ErrorClass, ScriptedReply, ScriptedUsage, UpstreamMessage, UpstreamSummary } from '../conformance/contract.js';

/** A scripted reply, with what only Anthropic can express. */
export type AnthropicReply = Extract<ScriptedReply, { kind: 'reply' }> & {
  /** Ends on this stop sequence (stop_reason `stop_sequence`). */
  stopSequence?: string;
  /** A redacted_thinking block before the answer. */
  redactedThinking?: string;
};

/** The name the Anthropic provider gives the forced tool that carries JSON output (src/providers/anthropic/request.ts). */
export const JSON_TOOL = 'json_output';

export interface WireBlock {
  type: string;
  [key: string]: unknown;
}

export interface WireRequest {
  model?: unknown;
  max_tokens?: unknown;
  stream?: unknown;
  system?: string | { type: string; text?: string }[];
  messages?: { role?: string; content?: string | WireBlock[] }[];
  tools?: { name?: string; input_schema?: Record<string, unknown> }[];
  tool_choice?: { type?: string; name?: string };
  temperature?: number;
  top_p?: number;
  stop_sequences?: string[];
  thinking?: { type?: string; budget_tokens?: number; display?: string };
  output_config?: { effort?: string };
  [key: string]: unknown;
}

export interface HttpError {
  status: number;
  body: { type: 'error'; error: { type: string; message: string }; request_id: string };
  headers: Record<string, string>;
}

const ERROR_STATUS: Record<ErrorClass, [number, string]> = {
  invalid_request: [400, 'invalid_request_error'],
  auth: [401, 'authentication_error'],
  permission: [403, 'permission_error'],
  not_found: [404, 'not_found_error'],
  rate_limit: [429, 'rate_limit_error'],
  // Prepaid credit running out is a 400 invalid_request_error ("Your credit balance is too low ...").
  quota: [400, 'invalid_request_error'],
  server: [500, 'api_error'],
  overloaded: [529, 'overloaded_error'],
};

/** Anthropic's error response: the body, its `request-id` header and, on 429, `retry-after`. */
export function httpError(status: number, type: string, message: string, requestId: string, retryAfterSeconds?: number): HttpError {
  const headers: Record<string, string> = { 'request-id': requestId };
  if (retryAfterSeconds !== undefined) {
    headers['retry-after'] = String(retryAfterSeconds);
    headers['anthropic-ratelimit-requests-limit'] = '50';
    headers['anthropic-ratelimit-requests-remaining'] = '0';
  }
  return { status, body: { type: 'error', error: { type, message }, request_id: requestId }, headers };
}

export function classError(errorClass: ErrorClass, message: string, requestId: string, retryAfterSeconds = 7): HttpError {
  const [status, type] = ERROR_STATUS[errorClass];
  return httpError(status, type, message, requestId, errorClass === 'rate_limit' ? retryAfterSeconds : undefined);
}

const STOP_REASONS = { stop: 'end_turn', length: 'max_tokens', tool_calls: 'tool_use', content_filter: 'refusal' } as const;

export function signatureOf(thinking: string): string {
  return `EqQBCgIYAhIM${createHash('sha256').update(thinking).digest('base64').slice(0, 24)}`;
}

/**
 * The content blocks of a reply. When the request forces a tool (or offers json_output) and the
 * scripted text is a JSON object, the model answers through that tool, as Claude does.
 */
export function replyBlocks(reply: AnthropicReply, request: WireRequest, toolId: string): { blocks: WireBlock[]; stopReason: string } {
  const blocks: WireBlock[] = [];
  if (reply.thinking !== undefined) {
    // The models that think only adaptively send the thinking text only when asked for a summary.
    const shown = !ADAPTIVE_ONLY.some((prefix) => String(request.model).startsWith(prefix)) || request.thinking?.display === 'summarized';
    blocks.push({ type: 'thinking', thinking: shown ? reply.thinking : '', signature: signatureOf(reply.thinking) });
  }
  if (reply.redactedThinking !== undefined) blocks.push({ type: 'redacted_thinking', data: reply.redactedThinking });
  const forced = answerTool(request);
  const json = forced && reply.text !== undefined && !reply.toolCalls?.length ? parseObject(reply.text) : undefined;
  if (json) {
    blocks.push({ type: 'tool_use', id: toolId, name: forced, input: json });
    return { blocks, stopReason: 'tool_use' };
  }
  if (reply.text) blocks.push({ type: 'text', text: reply.text });
  for (const call of reply.toolCalls ?? []) blocks.push({ type: 'tool_use', id: call.id, name: call.name, input: parseObject(call.arguments) ?? {} });
  return { blocks, stopReason: reply.stopSequence !== undefined ? 'stop_sequence' : STOP_REASONS[reply.finish] };
}

function answerTool(request: WireRequest): string | undefined {
  if (request.tool_choice?.type === 'tool') return request.tool_choice.name;
  return request.tools?.some((t) => t.name === JSON_TOOL) ? JSON_TOOL : undefined;
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function wireUsage(usage: ScriptedUsage): Record<string, number> {
  return { input_tokens: usage.input, cache_creation_input_tokens: usage.cacheWrite ?? 0, cache_read_input_tokens: usage.cacheRead ?? 0, output_tokens: usage.output };
}

export function message(id: string, model: string, blocks: WireBlock[], stopReason: string, reply: AnthropicReply): Record<string, unknown> {
  return { id, type: 'message', role: 'assistant', model, content: blocks, stop_reason: stopReason, stop_sequence: reply.stopSequence ?? null, usage: wireUsage(reply.usage) };
}

export type SseEvent = [event: string, data: Record<string, unknown>];

/** message_start with the input usage (output 1, as the API reports before generating). */
export function messageStart(id: string, model: string, usage: ScriptedUsage): SseEvent {
  const start = { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { ...wireUsage(usage), output_tokens: 1 } };
  return ['message_start', { type: 'message_start', message: start }];
}

/** The events of one content block: start (empty), deltas in pieces, stop. */
export function blockEvents(index: number, block: WireBlock): SseEvent[] {
  const delta = (value: Record<string, unknown>): SseEvent => ['content_block_delta', { type: 'content_block_delta', index, delta: value }];
  const start = (value: WireBlock): SseEvent => ['content_block_start', { type: 'content_block_start', index, content_block: value }];
  const events: SseEvent[] = [];
  if (block.type === 'text') {
    events.push(start({ type: 'text', text: '' }), ...words(String(block.text)).map((text) => delta({ type: 'text_delta', text })));
  } else if (block.type === 'thinking') {
    events.push(start({ type: 'thinking', thinking: '', signature: '' }), ...words(String(block.thinking)).map((thinking) => delta({ type: 'thinking_delta', thinking })));
    events.push(delta({ type: 'signature_delta', signature: String(block.signature) }));
  } else if (block.type === 'tool_use') {
    const json = JSON.stringify(block.input);
    events.push(start({ type: 'tool_use', id: block.id, name: block.name, input: {} }), delta({ type: 'input_json_delta', partial_json: '' }));
    for (let i = 0; i < json.length; i += 8) events.push(delta({ type: 'input_json_delta', partial_json: json.slice(i, i + 8) }));
  } else {
    events.push(start(block));
  }
  events.push(['content_block_stop', { type: 'content_block_stop', index }]);
  return events;
}

/** A whole stream: message_start, a ping, the blocks, message_delta (cumulative output usage), message_stop. */
export function streamEvents(id: string, model: string, blocks: WireBlock[], stopReason: string, reply: AnthropicReply): SseEvent[] {
  const events: SseEvent[] = [messageStart(id, model, reply.usage), ['ping', { type: 'ping' }]];
  blocks.forEach((block, index) => events.push(...blockEvents(index, block)));
  events.push(['message_delta', { type: 'message_delta', delta: { stop_reason: stopReason, stop_sequence: reply.stopSequence ?? null }, usage: { output_tokens: reply.usage.output } }]);
  events.push(['message_stop', { type: 'message_stop' }]);
  return events;
}

export function errorEvent(type: string, message: string): SseEvent {
  return ['error', { type: 'error', error: { type, message } }];
}

/** `event: <type>\ndata: <json>\n\n`, Anthropic's framing. */
export function frame([event, data]: SseEvent): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** The fake's token count (`/v1/messages/count_tokens`): about four characters a token, as Anthropic suggests for estimates. */
export function fakeTokenCount(body: WireRequest): number {
  return Math.ceil(JSON.stringify([body.system ?? '', body.messages ?? [], body.tools ?? []]).length / 4);
}

function words(text: string): string[] {
  return text.match(/\s*\S+\s*/g) ?? (text ? [text] : []);
}

/** Checks the API enforces, with its own messages: the fake refuses what Anthropic would refuse. */
export function validateRequest(body: WireRequest): string | undefined {
  if (typeof body.model !== 'string') return 'model: Field required';
  if (typeof body.max_tokens !== 'number' || !Number.isInteger(body.max_tokens) || body.max_tokens < 1) return 'max_tokens: Field required';
  if (!Array.isArray(body.messages) || body.messages.length === 0) return 'messages: Field required';
  for (const [i, m] of body.messages.entries()) {
    if (m.role !== 'user' && m.role !== 'assistant') return `messages.${i}.role: Input should be 'user' or 'assistant'`;
    if (i > 0 && body.messages[i - 1]!.role === m.role) return `messages: roles must alternate between "user" and "assistant", but found multiple "${m.role}" roles in a row`;
    const blocks = Array.isArray(m.content) ? m.content : [];
    const earlier = body.messages[i - 1]?.content;
    const calls = new Set(Array.isArray(earlier) ? earlier.filter((b) => b.type === 'tool_use').map((b) => b.id) : []);
    for (const block of blocks) {
      if (block.type === 'text' && block.text === '') return `messages.${i}: text content blocks must be non-empty`;
      if (block.type === 'tool_result' && !calls.has(block.tool_use_id)) return `messages.${i}.content: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${String(block.tool_use_id)}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`;
    }
  }
  const thinking = body.thinking;
  const model = body.model;
  if (ADAPTIVE_ONLY.some((prefix) => model.startsWith(prefix))) {
    if (body.temperature !== undefined && body.temperature !== 1) return '`temperature` is deprecated for this model.';
    for (const name of ['top_p', 'top_k'] as const) if (body[name] !== undefined) return `\`${name}\` is deprecated for this model.`;
  }
  if (thinking?.type === 'enabled') {
    if (ADAPTIVE_ONLY.some((prefix) => model.startsWith(prefix))) return '"thinking.type.enabled" is not supported for this model. Use "thinking.type.adaptive" and "output_config.effort" to control thinking behavior.';
    if ((thinking.budget_tokens ?? 0) < 1024) return 'thinking.enabled.budget_tokens: Input should be greater than or equal to 1024';
    if (body.max_tokens <= (thinking.budget_tokens ?? 0)) return '`max_tokens` must be greater than `thinking.budget_tokens`.';
  }
  if (thinking?.type === 'adaptive' && !ADAPTIVE_ONLY.concat(ADAPTIVE_TOO).some((prefix) => model.startsWith(prefix))) return 'adaptive thinking is not supported on this model';
  if ((thinking?.type === 'enabled' || thinking?.type === 'adaptive') && (body.tool_choice?.type === 'any' || body.tool_choice?.type === 'tool')) return 'Thinking may not be enabled when tool_choice forces tool use.';
  return undefined;
}

/**
 * Thinking per model, as the live API answers (2026): the first list refuses budgets
 * (`thinking.type: enabled`) and thinks only adaptively, and refuses the sampling parameters; the
 * second takes both kinds of thinking; every other model refuses `adaptive`.
 */
const ADAPTIVE_ONLY = ['claude-opus-4-7', 'claude-opus-4-8', 'claude-sonnet-5', 'claude-fable-5'];
const ADAPTIVE_TOO = ['claude-opus-4-6', 'claude-sonnet-4-6'];

/** A received Messages request in the suite's neutral terms (tool_result blocks read as tool messages). */
export function summarize(body: WireRequest): UpstreamSummary {
  const system = typeof body.system === 'string' ? body.system : Array.isArray(body.system) ? body.system.map((b) => b.text ?? '').join('\n') : undefined;
  const jsonTool = body.tools?.find((t) => t.name === JSON_TOOL);
  const choice = body.tool_choice;
  const toolChoice =
    choice?.type === 'auto' ? 'auto' : choice?.type === 'any' ? 'required' : choice?.type === 'none' ? 'none' : choice?.type === 'tool' && choice.name !== JSON_TOOL ? { name: String(choice.name) } : undefined;
  const summary: UpstreamSummary = {
    model: String(body.model),
    stream: body.stream === true,
    messages: (body.messages ?? []).flatMap(readMessage),
    tools: (body.tools ?? []).filter((t) => t !== jsonTool).map((t) => t.name ?? ''),
  };
  if (system !== undefined && system !== '') summary.system = system;
  if (toolChoice && !(jsonTool && toolChoice === 'required')) summary.toolChoice = toolChoice;
  if (typeof body.max_tokens === 'number') summary.maxTokens = body.max_tokens;
  if (body.temperature !== undefined) summary.temperature = body.temperature;
  if (body.top_p !== undefined) summary.topP = body.top_p;
  if (body.stop_sequences !== undefined) summary.stop = body.stop_sequences;
  if (jsonTool) summary.jsonMode = Object.keys(jsonTool.input_schema?.properties ?? {}).length > 0 ? 'schema' : 'object';
  return summary;
}

function readMessage(message: NonNullable<WireRequest['messages']>[number]): UpstreamMessage[] {
  const role = message.role === 'assistant' ? 'assistant' : 'user';
  if (typeof message.content === 'string') return [{ role, text: message.content, images: 0, toolCalls: [] }];
  const blocks = message.content ?? [];
  const results: UpstreamMessage[] = blocks
    .filter((b) => b.type === 'tool_result')
    .map((b) => ({ role: 'tool', text: textOf(b.content), images: countImages(b.content), toolCalls: [], toolResultFor: String(b.tool_use_id) }));
  const rest = blocks.filter((b) => b.type !== 'tool_result');
  if (rest.length === 0 && results.length > 0) return results;
  const own: UpstreamMessage = { role, text: textOf(rest), images: countImages(rest), toolCalls: rest.filter((b) => b.type === 'tool_use').map((b) => String(b.name)) };
  return [...results, own];
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return (content as WireBlock[]).filter((b) => b.type === 'text').map((b) => String(b.text ?? '')).join('');
}

function countImages(content: unknown): number {
  return Array.isArray(content) ? (content as WireBlock[]).filter((b) => b.type === 'image').length : 0;
}

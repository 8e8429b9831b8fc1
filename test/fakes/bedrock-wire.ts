/**
 * Bedrock Runtime's wire format (API reference 2023-09-30), as pure builders for the fake:
 * Converse responses, ConverseStream event lists and their binary encoding (AWS event stream,
 * via @smithy/eventstream-codec), error answers (`x-amzn-ErrorType` + `{"message"}`), the checks
 * Bedrock makes on a Converse request, and the read-back of a request in the conformance
 * contract's neutral terms.
 */
import { EventStreamCodec, type MessageHeaders } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import type { ErrorClass, ScriptedReply, UpstreamMessage, UpstreamSummary } from '../conformance/contract.js';

/** The forced tool the gateway uses for response_format (src/providers/bedrock/request.ts). */
export const JSON_TOOL = 'json_response';

type Reply = Extract<ScriptedReply, { kind: 'reply' }>;

// ---- errors ----

export interface BedrockError {
  status: number;
  type: string;
  message: string;
}

/** HTTP status of each Bedrock Runtime exception (service model `error.httpStatusCode`). */
export const ERROR_STATUS: Record<string, number> = {
  ValidationException: 400,
  ServiceQuotaExceededException: 400,
  AccessDeniedException: 403,
  UnrecognizedClientException: 403,
  InvalidSignatureException: 403,
  ResourceNotFoundException: 404,
  ModelTimeoutException: 408,
  ModelErrorException: 424,
  ThrottlingException: 429,
  ModelNotReadyException: 429,
  InternalServerException: 500,
  ServiceUnavailableException: 503,
};

export function bedrockError(type: string, message: string): BedrockError {
  return { status: ERROR_STATUS[type] ?? 400, type, message };
}

/** The contract's error classes in Bedrock's terms (Bedrock has no 401: bad credentials are 403). */
export function classError(errorClass: ErrorClass, message: string): BedrockError {
  const types: Record<ErrorClass, string> = {
    invalid_request: 'ValidationException',
    auth: 'UnrecognizedClientException',
    permission: 'AccessDeniedException',
    not_found: 'ResourceNotFoundException',
    rate_limit: 'ThrottlingException',
    quota: 'ServiceQuotaExceededException',
    server: 'InternalServerException',
    overloaded: 'ServiceUnavailableException',
  };
  return bedrockError(types[errorClass], message);
}

/** Headers of an error answer: the type with the namespace suffix real answers carry. */
export function errorHeaders(error: BedrockError, requestId: string): Record<string, string> {
  const namespace = error.type.endsWith('ClientException') || error.type === 'InvalidSignatureException' ? 'com.amazon.coral.service' : 'com.amazon.bedrock';
  return { 'content-type': 'application/json', 'x-amzn-requestid': requestId, 'x-amzn-errortype': `${error.type}:http://internal.amazon.com/coral/${namespace}/` };
}

// ---- Converse responses ----

const STOP_REASONS: Record<Reply['finish'], string> = { stop: 'end_turn', length: 'max_tokens', tool_calls: 'tool_use', content_filter: 'content_filtered' };

export function usageOf(reply: Reply): Record<string, number> {
  const { input, output, cacheRead, cacheWrite } = reply.usage;
  const usage: Record<string, number> = { inputTokens: input, outputTokens: output, totalTokens: input + output + (cacheRead ?? 0) + (cacheWrite ?? 0) };
  if (cacheRead !== undefined) usage.cacheReadInputTokens = cacheRead;
  if (cacheWrite !== undefined) usage.cacheWriteInputTokens = cacheWrite;
  return usage;
}

export const FAKE_SIGNATURE = 'EqQBCkgIAxABGAIiQFakeSignatureForConformanceTests0001';

/**
 * A model told to call the JSON tool answers with it: a scripted JSON text becomes that tool's
 * input, as Bedrock would return it.
 */
export function asJsonToolReply(reply: Reply, jsonForced: boolean): Reply & { jsonInput?: unknown } {
  if (!jsonForced || reply.toolCalls?.length || reply.text === undefined) return reply;
  try {
    return { ...reply, jsonInput: JSON.parse(reply.text) as unknown };
  } catch {
    return reply;
  }
}

export function converseResponse(reply: Reply & { jsonInput?: unknown }, latencyMs = 321): Record<string, unknown> {
  const content: Record<string, unknown>[] = [];
  if (reply.thinking) content.push({ reasoningContent: { reasoningText: { text: reply.thinking, signature: FAKE_SIGNATURE } } });
  if (reply.jsonInput !== undefined) {
    content.push({ toolUse: { toolUseId: 'tooluse_json0001', name: JSON_TOOL, input: reply.jsonInput } });
  } else if (reply.text) {
    content.push({ text: reply.text });
  }
  for (const call of reply.toolCalls ?? []) content.push({ toolUse: { toolUseId: call.id, name: call.name, input: JSON.parse(call.arguments) as unknown } });
  const stopReason = reply.jsonInput !== undefined ? 'tool_use' : STOP_REASONS[reply.finish];
  return { output: { message: { role: 'assistant', content } }, stopReason, usage: usageOf(reply), metrics: { latencyMs } };
}

// ---- ConverseStream ----

export type WireEvent = { event: string; payload: Record<string, unknown> } | { exception: string; payload: Record<string, unknown> };

/** Bedrock pads payloads with a `p` field of varying length (so sizes do not reveal tokens). */
function padded(payload: Record<string, unknown>, n: number): Record<string, unknown> {
  return { ...payload, p: 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'.slice(0, 4 + ((n * 7) % 40)) };
}

/** Text in a few pieces, as a model streams it. */
export function pieces(text: string, size = 6): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

export function streamEvents(reply: Reply & { jsonInput?: unknown }): WireEvent[] {
  const events: WireEvent[] = [{ event: 'messageStart', payload: { role: 'assistant' } }];
  let index = 0;
  if (reply.thinking) {
    for (const text of pieces(reply.thinking, 9)) events.push({ event: 'contentBlockDelta', payload: { contentBlockIndex: index, delta: { reasoningContent: { text } } } });
    events.push({ event: 'contentBlockDelta', payload: { contentBlockIndex: index, delta: { reasoningContent: { signature: FAKE_SIGNATURE } } } });
    events.push({ event: 'contentBlockStop', payload: { contentBlockIndex: index++ } });
  }
  const toolBlock = (id: string, name: string, input: string): void => {
    events.push({ event: 'contentBlockStart', payload: { contentBlockIndex: index, start: { toolUse: { toolUseId: id, name } } } });
    for (const part of pieces(input, 7)) events.push({ event: 'contentBlockDelta', payload: { contentBlockIndex: index, delta: { toolUse: { input: part } } } });
    events.push({ event: 'contentBlockStop', payload: { contentBlockIndex: index++ } });
  };
  if (reply.jsonInput !== undefined) {
    toolBlock('tooluse_json0001', JSON_TOOL, JSON.stringify(reply.jsonInput));
  } else if (reply.text) {
    for (const text of pieces(reply.text)) events.push({ event: 'contentBlockDelta', payload: { contentBlockIndex: index, delta: { text } } });
    events.push({ event: 'contentBlockStop', payload: { contentBlockIndex: index++ } });
  }
  for (const call of reply.toolCalls ?? []) toolBlock(call.id, call.name, call.arguments);
  events.push({ event: 'messageStop', payload: { stopReason: reply.jsonInput !== undefined ? 'tool_use' : STOP_REASONS[reply.finish] } });
  events.push({ event: 'metadata', payload: { usage: usageOf(reply), metrics: { latencyMs: 321 } } });
  return events;
}

const codec = new EventStreamCodec(toUtf8, fromUtf8);

/** One event-stream message, byte-exact (prelude, headers, payload, CRCs). */
export function encodeEvent(event: WireEvent, n = 0): Uint8Array {
  const isEvent = 'event' in event;
  const headers: MessageHeaders = isEvent
    ? { ':event-type': { type: 'string', value: event.event }, ':content-type': { type: 'string', value: 'application/json' }, ':message-type': { type: 'string', value: 'event' } }
    : { ':exception-type': { type: 'string', value: event.exception }, ':content-type': { type: 'string', value: 'application/json' }, ':message-type': { type: 'string', value: 'exception' } };
  return codec.encode({ headers, body: fromUtf8(JSON.stringify(isEvent ? padded(event.payload, n) : event.payload)) });
}

// ---- requests: Bedrock's checks and the contract's read-back ----

interface WireBlock {
  text?: unknown;
  image?: { format?: unknown; source?: { bytes?: unknown } };
  toolUse?: { toolUseId?: unknown; name?: unknown; input?: unknown };
  toolResult?: { toolUseId?: unknown; content?: { text?: unknown }[] };
  cachePoint?: unknown;
  reasoningContent?: unknown;
}

export interface WireConverseRequest {
  messages?: { role?: unknown; content?: WireBlock[] }[];
  system?: { text?: unknown; cachePoint?: unknown }[];
  inferenceConfig?: { maxTokens?: number; temperature?: number; topP?: number; stopSequences?: string[] };
  toolConfig?: { tools?: { toolSpec?: { name?: string; inputSchema?: { json?: unknown } }; cachePoint?: unknown }[]; toolChoice?: { auto?: unknown; any?: unknown; tool?: { name?: string } } };
}

/** What Bedrock rejects with a ValidationException (a subset: the rules a translator can break). */
export function validateConverse(body: WireConverseRequest): string | undefined {
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) return 'The messages field is required and must not be empty.';
  if (messages[0]?.role !== 'user') return 'A conversation must start with a user message. Try again with a conversation that starts with a user message.';
  let hasToolBlocks = false;
  for (const [i, message] of messages.entries()) {
    if (message.role !== 'user' && message.role !== 'assistant') return `messages.${i}.role must be user or assistant.`;
    if (i > 0 && messages[i - 1]!.role === message.role) return 'A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.';
    if (!Array.isArray(message.content) || message.content.length === 0) return `The content field in the Message object at messages.${i} is empty. Add a ContentBlock object to the content field and try again.`;
    for (const [j, block] of message.content.entries()) {
      if ('text' in block && (typeof block.text !== 'string' || block.text.trim() === '')) {
        return `The text field in the ContentBlock object at messages.${i}.content.${j} is blank. Add text to the text field, and try again.`;
      }
      if (block.image && (message.role !== 'user' || typeof block.image.source?.bytes !== 'string')) return `Invalid image at messages.${i}.content.${j}.`;
      if (block.toolUse || block.toolResult) hasToolBlocks = true;
    }
  }
  const tools = body.toolConfig?.tools;
  if (hasToolBlocks && !tools?.length) return 'The toolConfig field must be defined when using toolUse and toolResult content blocks.';
  const forced = body.toolConfig?.toolChoice?.tool?.name;
  if (forced && !tools?.some((t) => t.toolSpec?.name === forced)) return `The tool ${forced} named in toolChoice is not defined in toolConfig.tools.`;
  return undefined;
}

function textOf(blocks: { text?: unknown }[] | undefined): string {
  return (blocks ?? []).map((b) => (typeof b.text === 'string' ? b.text : '')).join('');
}

/**
 * The request in the contract's terms. Tool results (inside user turns on the wire) are read back
 * as `tool` messages; no toolConfig at all reads as tool_choice "none" (Converse has no "none":
 * withholding the tools is how it is said); the JSON tool is reported as jsonMode, not as a tool.
 */
export function summarize(modelId: string, stream: boolean, body: WireConverseRequest): UpstreamSummary {
  const messages: UpstreamMessage[] = [];
  for (const message of body.messages ?? []) {
    const blocks = message.content ?? [];
    for (const block of blocks) {
      if (block.toolResult) messages.push({ role: 'tool', text: textOf(block.toolResult.content), images: 0, toolCalls: [], toolResultFor: String(block.toolResult.toolUseId) });
    }
    const rest = blocks.filter((b) => !b.toolResult && !b.cachePoint && !b.reasoningContent);
    if (rest.length === 0) continue;
    messages.push({
      role: message.role === 'assistant' ? 'assistant' : 'user',
      text: textOf(rest),
      images: rest.filter((b) => b.image).length,
      toolCalls: rest.flatMap((b) => (b.toolUse ? [String(b.toolUse.name)] : [])),
    });
  }
  const specs = (body.toolConfig?.tools ?? []).flatMap((t) => (t.toolSpec ? [t.toolSpec] : []));
  const jsonSpec = specs.find((s) => s.name === JSON_TOOL);
  const summary: UpstreamSummary = { model: modelId, stream, messages, tools: specs.filter((s) => s !== jsonSpec).map((s) => String(s.name)) };
  const system = (body.system ?? []).filter((b) => typeof b.text === 'string');
  if (system.length > 0) summary.system = textOf(system);
  const choice = body.toolConfig?.toolChoice;
  if (!body.toolConfig) summary.toolChoice = 'none';
  else if (choice?.any) summary.toolChoice = 'required';
  else if (choice?.tool?.name && choice.tool.name !== JSON_TOOL) summary.toolChoice = { name: choice.tool.name };
  else if (!jsonSpec || specs.length > 1) summary.toolChoice = 'auto';
  if (jsonSpec) summary.jsonMode = JSON.stringify(jsonSpec.inputSchema?.json) === '{"type":"object"}' ? 'object' : 'schema';
  const config = body.inferenceConfig;
  if (config?.maxTokens !== undefined) summary.maxTokens = config.maxTokens;
  if (config?.temperature !== undefined) summary.temperature = config.temperature;
  if (config?.topP !== undefined) summary.topP = config.topP;
  if (config?.stopSequences !== undefined) summary.stop = config.stopSequences;
  return summary;
}

/** Whether the request forces the JSON tool (the model then answers with it). */
export function forcesJsonTool(body: WireConverseRequest): boolean {
  const choice = body.toolConfig?.toolChoice;
  return choice?.tool?.name === JSON_TOOL || (choice?.any !== undefined && body.toolConfig?.tools?.some((t) => t.toolSpec?.name === JSON_TOOL) === true);
}

// ---- embeddings (InvokeModel) ----

/** A deterministic unit-ish vector for a text. */
export function vectorFor(text: string, dimensions: number): number[] {
  let state = 2166136261;
  for (const ch of text) state = Math.imul(state ^ ch.charCodeAt(0), 16777619) >>> 0;
  return Array.from({ length: dimensions }, (_, i) => {
    state = Math.imul(state ^ (i + 1), 2654435761) >>> 0;
    return Math.round(((state / 0xffffffff) * 2 - 1) * 1e6) / 1e6;
  });
}

/** Whitespace word count: the fake's "tokens". */
export function tokenCount(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

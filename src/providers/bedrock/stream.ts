/**
 * ConverseStream events → OpenAI chat.completion.chunk objects, one stateful translator per request.
 *
 * - Text deltas → `content`; a tool use's start → a tool call with id and name, its partial JSON
 *   input → `arguments` pieces; reasoning text → `reasoning_content`, and at the block's end its
 *   signature (or redacted content) → `thinking_blocks`; the forced JSON tool (response_format)
 *   streams its input as `content`. With that tool, text is held back until the end: text before
 *   the tool's call is the model's preamble and is dropped; a model that answers in text only
 *   (thinking offers the tool without forcing it) gets its text sent with the finish.
 * - messageStop → the finish chunk; metadata → a usage-only trailer (`choices: []`).
 * - The assistant role rides on the first chunk that has output, so an exception right after
 *   messageStart still fails the attempt before any chunk (and the request can fail over).
 * - Exceptions in the stream → GatewayErrors (throttling, service unavailable, internal server,
 *   model stream errors retryable; validation not). A stream that ends without messageStop → 502.
 */
import { GatewayError } from '../../gateway/errors.js';
import type { ChatCompletionChunk, ChunkChoice, Usage } from '../../gateway/types.js';
import type { WireContentBlockDelta, WireContentBlockStart, WireContentBlockStop, WireMessageStop, WireStreamMetadata } from './api.js';
import { parsePayload, readEventStream, type EventStreamMessage } from './event-stream.js';
import { finishReason, mapUsage } from './response.js';

export interface StreamContext {
  provider: string;
  id: string;
  model: string;
  /** The forced JSON tool's name when response_format was emulated (request.ts). */
  jsonTool: string | undefined;
}

type BlockState =
  | { kind: 'tool'; toolIndex: number; sentInput: boolean }
  | { kind: 'json'; sentInput: boolean }
  | { kind: 'reasoning'; text: string; signature?: string; redacted?: string };

export class ConverseStreamTranslator {
  readonly #ctx: StreamContext;
  readonly #created = Math.floor(Date.now() / 1000);
  /** Content blocks by contentBlockIndex (small integers). */
  readonly #blocks: (BlockState | undefined)[] = [];
  #toolCalls = 0;
  /** Text held back while the JSON tool may still be called (see the file comment). */
  #heldText = '';
  #jsonCalled = false;
  #roleSent = false;
  #stopped = false;

  constructor(ctx: StreamContext) {
    this.#ctx = ctx;
  }

  /** Whether messageStop arrived (the stream is complete). */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** One event-stream message → at most one chunk; exceptions throw. */
  translate(message: EventStreamMessage): ChatCompletionChunk | undefined {
    if (message.messageType !== 'event') throw this.#exception(message);
    switch (message.type) {
      case 'contentBlockStart':
        return this.#blockStart(parsePayload(message, this.#ctx.provider) as WireContentBlockStart);
      case 'contentBlockDelta':
        return this.#blockDelta(parsePayload(message, this.#ctx.provider) as WireContentBlockDelta);
      case 'contentBlockStop':
        return this.#blockStop(parsePayload(message, this.#ctx.provider) as WireContentBlockStop);
      case 'messageStop': {
        const stop = parsePayload(message, this.#ctx.provider) as WireMessageStop;
        this.#stopped = true;
        const delta: ChunkChoice['delta'] = {};
        if (this.#heldText !== '') delta.content = this.#heldText;
        this.#heldText = '';
        return this.#chunk(delta, finishReason(stop.stopReason, this.#toolCalls > 0));
      }
      case 'metadata': {
        const usage = mapUsage((parsePayload(message, this.#ctx.provider) as WireStreamMetadata).usage);
        return usage ? this.#usageChunk(usage) : undefined;
      }
      default:
        return undefined; // messageStart (the role is sent with the first output), or an event type added later
    }
  }

  #blockStart(event: WireContentBlockStart): ChatCompletionChunk | undefined {
    const index = this.#blockIndex(event.contentBlockIndex);
    const toolUse = event.start?.toolUse;
    if (!toolUse) return undefined;
    const { toolUseId, name } = toolUse;
    if (typeof toolUseId !== 'string' || typeof name !== 'string') throw this.#invalid('a tool use started without an id or a name');
    if (this.#ctx.jsonTool !== undefined && name === this.#ctx.jsonTool) {
      this.#blocks[index] = { kind: 'json', sentInput: false };
      this.#jsonCalled = true;
      this.#heldText = '';
      return undefined;
    }
    const toolIndex = this.#toolCalls++;
    this.#blocks[index] = { kind: 'tool', toolIndex, sentInput: false };
    return this.#chunk({ tool_calls: [{ index: toolIndex, id: toolUseId, type: 'function', function: { name, arguments: '' } }] }, null);
  }

  #blockDelta(event: WireContentBlockDelta): ChatCompletionChunk | undefined {
    const index = this.#blockIndex(event.contentBlockIndex);
    const delta = event.delta;
    if (!delta) return undefined;
    if (typeof delta.text === 'string') {
      if (delta.text === '') return undefined;
      if (this.#ctx.jsonTool === undefined) return this.#chunk({ content: delta.text }, null);
      if (!this.#jsonCalled) this.#heldText += delta.text;
      return undefined;
    }
    if (delta.toolUse) {
      const input = delta.toolUse.input;
      const block = this.#blocks[index];
      if (typeof input !== 'string' || !block || block.kind === 'reasoning') throw this.#invalid('a tool input delta does not belong to a started tool use');
      if (input === '') return undefined;
      block.sentInput = true;
      if (block.kind === 'json') return this.#chunk({ content: input }, null);
      return this.#chunk({ tool_calls: [{ index: block.toolIndex, function: { arguments: input } }] }, null);
    }
    if (delta.reasoningContent) {
      let block = this.#blocks[index];
      if (!block) this.#blocks[index] = block = { kind: 'reasoning', text: '' };
      if (block.kind !== 'reasoning') throw this.#invalid('a reasoning delta arrived inside a tool use');
      const { text, signature, redactedContent } = delta.reasoningContent;
      if (typeof signature === 'string') block.signature = (block.signature ?? '') + signature;
      if (typeof redactedContent === 'string') block.redacted = (block.redacted ?? '') + redactedContent;
      if (typeof text !== 'string' || text === '') return undefined;
      block.text += text;
      return this.#chunk({ reasoning_content: text }, null);
    }
    return undefined;
  }

  #blockStop(event: WireContentBlockStop): ChatCompletionChunk | undefined {
    const index = this.#blockIndex(event.contentBlockIndex);
    const block = this.#blocks[index];
    this.#blocks[index] = undefined;
    // A tool with no parameters gets no input delta: its arguments are `{}`, as OpenAI streams them.
    if (block?.kind === 'tool' && !block.sentInput) return this.#chunk({ tool_calls: [{ index: block.toolIndex, function: { arguments: '{}' } }] }, null);
    if (block?.kind === 'json' && !block.sentInput) return this.#chunk({ content: '{}' }, null);
    if (block?.kind !== 'reasoning') return undefined;
    if (block.redacted !== undefined) return this.#chunk({ thinking_blocks: [{ type: 'redacted_thinking', data: block.redacted }] }, null);
    if (block.signature !== undefined) return this.#chunk({ thinking_blocks: [{ type: 'thinking', thinking: block.text, signature: block.signature }] }, null);
    return undefined;
  }

  #blockIndex(value: unknown): number {
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < 10_000) return value;
    throw this.#invalid('an event has no valid contentBlockIndex');
  }

  #chunk(delta: ChunkChoice['delta'], finish: ChunkChoice['finish_reason']): ChatCompletionChunk {
    if (!this.#roleSent) {
      this.#roleSent = true;
      delta.role = 'assistant';
    }
    return { id: this.#ctx.id, object: 'chat.completion.chunk', created: this.#created, model: this.#ctx.model, choices: [{ index: 0, delta, finish_reason: finish }] };
  }

  #usageChunk(usage: Usage): ChatCompletionChunk {
    return { id: this.#ctx.id, object: 'chat.completion.chunk', created: this.#created, model: this.#ctx.model, choices: [], usage };
  }

  #exception(message: EventStreamMessage): GatewayError {
    const provider = this.#ctx.provider;
    let detail: string | undefined = message.errorMessage;
    if (message.messageType === 'exception' && message.payload.byteLength > 0) {
      const body = parsePayload(message, provider);
      const text = typeof body.message === 'string' ? body.message : body.Message;
      if (typeof text === 'string' && text !== '') detail = text;
    }
    return streamException(message.type, detail, provider);
  }

  #invalid(what: string): GatewayError {
    return new GatewayError('upstream_error', `The upstream provider "${this.#ctx.provider}" sent an invalid stream: ${what}.`, { provider: this.#ctx.provider });
  }
}

/** An exception (`:exception-type`) or error (`:error-code`) inside a 200 stream → GatewayError. */
export function streamException(type: string, detail: string | undefined, provider: string): GatewayError {
  const upstreamType = type || undefined;
  // Exceptions are named in camelCase (`throttlingException`); `:error-code`s may be PascalCase.
  switch (type.charAt(0).toLowerCase() + type.slice(1)) {
    case 'throttlingException':
      return new GatewayError('upstream_rate_limited', detail ?? `The upstream provider "${provider}" is rate limiting requests.`, { provider, upstreamType });
    case 'validationException':
      return new GatewayError('upstream_client_error', detail ?? `The upstream provider "${provider}" rejected the request.`, { provider, status: 400, upstreamType });
    case 'modelTimeoutException':
      return new GatewayError('upstream_timeout', `The upstream provider "${provider}" timed out mid-stream${detail ? `: ${detail}` : '.'}`, { provider, upstreamType });
    default:
      // modelStreamErrorException, internalServerException, serviceUnavailableException, anything else
      return new GatewayError('upstream_error', `The upstream provider "${provider}" failed mid-stream${detail ? `: ${detail}` : '.'}`, { provider, upstreamType });
  }
}

/** A ConverseStream body → chunks. */
export async function* decodeConverseStream(body: AsyncIterable<Uint8Array>, ctx: StreamContext): AsyncGenerator<ChatCompletionChunk> {
  const translator = new ConverseStreamTranslator(ctx);
  for await (const message of readEventStream(body, ctx.provider)) {
    const chunk = translator.translate(message);
    if (chunk) yield chunk;
  }
  if (!translator.stopped) {
    throw new GatewayError('upstream_error', `The upstream provider "${ctx.provider}" ended the stream before it was complete.`, { provider: ctx.provider });
  }
}

/**
 * Anthropic's SSE stream → canonical chunks, by a stateful translator per request.
 *
 * message_start gives id, model and input usage; its role is sent with the first chunk that has
 * output, so an `error` event before any output leaves nothing yielded and the executor can fail
 * over. Text → content deltas; tool_use → tool_calls deltas (index counts tool calls, not blocks);
 * thinking → reasoning_content, and each finished signature → a complete thinking block in
 * `delta.thinking_blocks`; message_delta → the finish chunk; message_stop → a usage-only trailer
 * (`choices: []`, like OpenAI's include_usage), then the end. A stream that stops before
 * message_stop is a 502.
 */
import { GatewayError } from '../../gateway/errors.js';
import type { ChatCompletionChunk, ChunkChoice, FinishReason } from '../../gateway/types.js';
import { readSse } from '../sse.js';
import { isJsonObject as isObject, parseStreamEvent } from '../upstream-json.js';
import type { AnthropicUsage } from './api.js';
import { JSON_TOOL_NAME } from './request.js';
import { finishReason, mergeUsage, streamError, toUsage } from './response.js';

type Delta = ChunkChoice['delta'];

interface BlockState {
  kind: 'text' | 'tool' | 'json' | 'thinking' | 'other';
  toolIndex: number;
  /** Thinking text so far (sent whole with the block's signature). */
  thinking: string;
  /** A tool_use block's input when content_block_start already carried it. */
  startInput: string;
  /** A non-empty piece of the input went out (input_json_delta). */
  sentInput: boolean;
}

type Json = Record<string, unknown>;


export class AnthropicStreamTranslator {
  readonly #provider: string;
  readonly #jsonTool: boolean;
  readonly #created = Math.floor(Date.now() / 1000);
  #id = '';
  #model = '';
  #started = false;
  #roleSent = false;
  #finished = false;
  #done = false;
  readonly #blocks: BlockState[] = [];
  #toolCount = 0;
  /** JSON mode: text waits until it is clear whether the answer comes through json_output. */
  #bufferedText = '';
  #jsonSeen = false;
  readonly #usage: Partial<AnthropicUsage> = {};

  constructor(provider: string, jsonTool: boolean) {
    this.#provider = provider;
    this.#jsonTool = jsonTool;
  }

  /** message_stop arrived: the stream is complete. */
  get done(): boolean {
    return this.#done;
  }

  /** Translates one event (its parsed `data`); appends the chunks it produces to `out`. */
  push(type: string, event: Json, out: ChatCompletionChunk[]): void {
    if (type === 'ping') return;
    if (type === 'error') throw streamError(event, this.#provider);
    if (type === 'message_start') return this.#start(event);
    if (!this.#started) {
      if (type.startsWith('content_block_') || type.startsWith('message_')) throw this.#bad(`a "${type}" event before message_start`);
      return; // an event type added after this code was written
    }
    switch (type) {
      case 'content_block_start':
        return this.#blockStart(event, out);
      case 'content_block_delta':
        return this.#blockDelta(event, out);
      case 'content_block_stop':
        return this.#blockStop(event, out);
      case 'message_delta':
        return this.#messageDelta(event, out);
      case 'message_stop':
        if (!this.#finished) this.#finish(null, out);
        out.push({ id: this.#id, object: 'chat.completion.chunk', created: this.#created, model: this.#model, choices: [], usage: toUsage(this.#usage) });
        this.#done = true;
        return;
      default:
        return; // Anthropic may add event types; unknown ones are skipped, as its docs ask
    }
  }

  #start(event: Json): void {
    const message = event.message;
    if (!isObject(message)) throw this.#bad('a message_start event without a message');
    this.#started = true;
    this.#id = typeof message.id === 'string' ? message.id : '';
    this.#model = typeof message.model === 'string' ? message.model : '';
    if (isObject(message.usage)) mergeUsage(this.#usage, message.usage);
  }

  #blockStart(event: Json, out: ChatCompletionChunk[]): void {
    const index = this.#index(event);
    const block = event.content_block;
    if (!isObject(block)) throw this.#bad('a content_block_start event without a content block');
    const state: BlockState = { kind: 'other', toolIndex: -1, thinking: '', startInput: '', sentInput: false };
    this.#blocks[index] = state;
    switch (block.type) {
      case 'text':
        state.kind = 'text';
        if (typeof block.text === 'string' && block.text !== '') this.#text(block.text, out);
        break;
      case 'tool_use': {
        if (typeof block.id !== 'string' || typeof block.name !== 'string') throw this.#bad('a tool_use block without id or name');
        if (isObject(block.input) && Object.keys(block.input).length > 0) state.startInput = JSON.stringify(block.input);
        if (this.#jsonTool && block.name === JSON_TOOL_NAME) {
          state.kind = 'json';
          this.#jsonSeen = true;
          this.#bufferedText = ''; // the preamble before the JSON answer is not the answer
          break;
        }
        state.kind = 'tool';
        state.toolIndex = this.#toolCount++;
        out.push(this.#chunk({ tool_calls: [{ index: state.toolIndex, id: block.id, type: 'function', function: { name: block.name, arguments: '' } }] }));
        break;
      }
      case 'thinking':
        state.kind = 'thinking';
        if (typeof block.thinking === 'string' && block.thinking !== '') {
          state.thinking = block.thinking;
          out.push(this.#chunk({ reasoning_content: block.thinking }));
        }
        break;
      case 'redacted_thinking':
        out.push(this.#chunk({ thinking_blocks: [{ type: 'redacted_thinking', data: String(block.data ?? '') }] }));
        break;
      default:
        break; // server tool blocks and the like: nothing OpenAI's chunk can carry
    }
  }

  #blockDelta(event: Json, out: ChatCompletionChunk[]): void {
    const state = this.#blocks[this.#index(event)];
    if (!state) throw this.#bad('a content_block_delta event for a block that never started');
    const delta = event.delta;
    if (!isObject(delta)) throw this.#bad('a content_block_delta event without a delta');
    switch (delta.type) {
      case 'text_delta':
        if (typeof delta.text === 'string' && delta.text !== '' && state.kind === 'text') this.#text(delta.text, out);
        break;
      case 'input_json_delta': {
        const piece = delta.partial_json;
        if (typeof piece !== 'string' || piece === '') break;
        state.sentInput = true;
        if (state.kind === 'json') out.push(this.#chunk({ content: piece }));
        else if (state.kind === 'tool') out.push(this.#chunk({ tool_calls: [{ index: state.toolIndex, function: { arguments: piece } }] }));
        break;
      }
      case 'thinking_delta':
        if (typeof delta.thinking === 'string' && delta.thinking !== '') {
          state.thinking += delta.thinking;
          out.push(this.#chunk({ reasoning_content: delta.thinking }));
        }
        break;
      case 'signature_delta':
        if (typeof delta.signature === 'string') {
          out.push(this.#chunk({ thinking_blocks: [{ type: 'thinking', thinking: state.thinking, signature: delta.signature }] }));
        }
        break;
      default:
        break; // citations_delta and future delta types
    }
  }

  /**
   * A tool_use whose input came whole at its start (no deltas) is sent at its end; one without
   * input (a tool with no parameters: `input: {}` and an empty delta) as `{}`, as OpenAI streams it
   * and as the non-streamed answer has it, so the arguments always parse.
   */
  #blockStop(event: Json, out: ChatCompletionChunk[]): void {
    const state = this.#blocks[this.#index(event)];
    if (!state || state.sentInput) return;
    const input = state.startInput || '{}';
    if (state.kind === 'json') out.push(this.#chunk({ content: input }));
    else if (state.kind === 'tool') out.push(this.#chunk({ tool_calls: [{ index: state.toolIndex, function: { arguments: input } }] }));
  }

  #messageDelta(event: Json, out: ChatCompletionChunk[]): void {
    if (isObject(event.usage)) mergeUsage(this.#usage, event.usage);
    const delta = isObject(event.delta) ? event.delta : undefined;
    const stopReason = delta?.stop_reason;
    if (stopReason != null && !this.#finished) this.#finish(finishReason(stopReason, this.#toolCount > 0), out);
  }

  #finish(reason: FinishReason | null, out: ChatCompletionChunk[]): void {
    if (this.#bufferedText !== '') {
      out.push(this.#chunk({ content: this.#bufferedText }));
      this.#bufferedText = '';
    }
    this.#finished = true;
    out.push(this.#chunk({}, reason ?? (this.#toolCount > 0 ? 'tool_calls' : 'stop')));
  }

  #text(text: string, out: ChatCompletionChunk[]): void {
    if (!this.#jsonTool) out.push(this.#chunk({ content: text }));
    else if (!this.#jsonSeen) this.#bufferedText += text;
  }

  #chunk(delta: Delta, finish: FinishReason | null = null): ChatCompletionChunk {
    if (!this.#roleSent) {
      this.#roleSent = true;
      delta = { role: 'assistant', ...delta };
    }
    return { id: this.#id, object: 'chat.completion.chunk', created: this.#created, model: this.#model, choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }] };
  }

  #index(event: Json): number {
    const index = event.index;
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index > 10_000) throw this.#bad(typeof event.type === 'string' ? `a "${event.type}" event without a valid block index` : 'a content block event without a valid block index');
    return index;
  }

  #bad(what: string): GatewayError {
    return new GatewayError('upstream_error', `The upstream provider "${this.#provider}" sent ${what}.`, { provider: this.#provider });
  }
}

/** Reads Anthropic's SSE body and yields canonical chunks. */
export async function* decodeMessagesStream(body: AsyncIterable<Uint8Array>, provider: string, jsonTool: boolean): AsyncGenerator<ChatCompletionChunk> {
  const translator = new AnthropicStreamTranslator(provider, jsonTool);
  const out: ChatCompletionChunk[] = [];
  for await (const event of readSse(body)) {
    if (event.data === '') continue;
    const value = parseStreamEvent(event.data, provider);
    translator.push(typeof value.type === 'string' ? value.type : (event.event ?? ''), value, out);
    for (const chunk of out) yield chunk;
    out.length = 0;
    if (translator.done) return;
  }
  throw new GatewayError('upstream_error', `The upstream provider "${provider}" ended the stream before it was complete (no message_stop).`, { provider });
}

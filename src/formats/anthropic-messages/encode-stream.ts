/**
 * Canonical chunks → Anthropic stream events, one encoder per request. The event order is
 * Anthropic's: `message_start`, then content blocks (`content_block_start`, deltas,
 * `content_block_stop`) with indexes counting up from 0 and one block open at a time, then
 * `message_delta` (stop reason and usage) and `message_stop`.
 *
 * - `reasoning_content` pieces → a `thinking` block (`thinking_delta`); a `thinking_blocks` entry
 *   with a signature → `signature_delta`, which completes that block; a redacted block → a
 *   `redacted_thinking` block of its own.
 * - `content` pieces → a `text` block (`text_delta`).
 * - each tool call (by its index) → a `tool_use` block opened with its id, name and empty input;
 *   argument pieces → `input_json_delta`. The first call of a run of calls streams as it comes;
 *   the calls after it are held until that block closes (the answer ends, or text follows) and
 *   then sent whole, each as its own block: some servers interleave parallel calls' pieces (a
 *   piece for the first call after the second began), and a block's pieces must all come before
 *   its `content_block_stop`.
 *
 * `message_delta` waits for the end of the stream: the usage trailer comes after the finish reason.
 */
import { toolUseIdIn } from './tool-use-id.js';
import { ToolCallIndexer } from '../../gateway/tool-call-index.js';
import type { ChatCompletionChunk, ChunkChoice, FinishReason, ThinkingBlock, Usage } from '../../gateway/types.js';
import type { ContentBlock, StreamEvent } from '../../providers/anthropic/api.js';
import { anthropicUsage, messageId, stopReasonOf } from './encode-response.js';
import { isJsonObject } from '../../providers/upstream-json.js';

export interface StreamEncodeOptions {
  /** The model the client asked for (a group name), reported in `message_start`. */
  model: string;
  stopSequences?: readonly string[] | null;
}

type OpenBlock = 'none' | 'thinking' | 'text' | 'tool';

export class MessageStreamEncoder {
  readonly #options: StreamEncodeOptions;
  #started = false;
  #ended = false;
  #id = '';
  /** Index the next block gets. */
  #nextIndex = 0;
  #open: OpenBlock = 'none';
  #openIndex = -1;
  /** Thinking text sent in the open thinking block (a signature-only entry may carry the text). */
  #thinkingSent = false;
  /** Canonical tool call index → its block index. */
  readonly #toolBlocks = new Map<number, number>();
  /** Tool calls that began while another streams in the open block (canonical index → the call so far), in order. */
  readonly #heldCalls = new Map<number, { id: unknown; extra: unknown; name: string; args: string }>();
  readonly #toolCallIndexer = new ToolCallIndexer();
  #finish: FinishReason | null = null;
  #matchedStop: unknown = undefined;
  /** A refusal arrived (OpenAI's `delta.refusal`, a provider's filter): the stop reason is `refusal`, as in a JSON answer. */
  #refused = false;
  #usage: Usage | undefined;

  constructor(options: StreamEncodeOptions) {
    this.#options = options;
  }

  /** Appends the events for one chunk to `out`. */
  push(chunk: ChatCompletionChunk, out: StreamEvent[]): void {
    // A chunk with neither choices nor usage (Azure's opening prompt_filter_results, with an empty
    // id) says nothing in Anthropic's events: the message starts with the next, which has the id.
    if (!this.#started && chunk.choices.length === 0 && !chunk.usage) return;
    if (!this.#started) this.#start(chunk, out);
    if (chunk.usage) this.#usage = chunk.usage;
    const choices = chunk.choices;
    for (let i = 0; i < choices.length; i++) {
      const choice = choices[i]!;
      if ((choice.index ?? 0) === 0) this.#choice(choice, out);
    }
  }

  /** Appends the closing events (`message_delta`, `message_stop`) once the stream is complete. */
  end(out: StreamEvent[]): void {
    if (this.#ended) return;
    if (!this.#started) this.#start(undefined, out);
    this.#close(out);
    this.#ended = true;
    const stop = stopReasonOf({ finish_reason: this.#finish, stop_reason: this.#matchedStop }, this.#options.stopSequences, this.#toolBlocks.size > 0);
    // Usage here is cumulative (Anthropic's rule), so the SDK's final message gets the input too.
    const usage = this.#usage ? anthropicUsage(this.#usage) : { output_tokens: 0 };
    out.push({ type: 'message_delta', delta: { stop_reason: this.#refused ? 'refusal' : stop.reason, stop_sequence: stop.sequence }, usage });
    out.push({ type: 'message_stop' });
  }

  #start(chunk: ChatCompletionChunk | undefined, out: StreamEvent[]): void {
    this.#started = true;
    this.#id = messageId(chunk?.id);
    // Input tokens are known here only when the provider reports usage up front (Anthropic does).
    const usage = anthropicUsage(chunk?.usage);
    usage.output_tokens = 0;
    out.push({
      type: 'message_start',
      message: { id: this.#id, type: 'message', role: 'assistant', model: this.#options.model, content: [], stop_reason: null, stop_sequence: null, usage },
    });
  }

  #choice(choice: ChunkChoice, out: StreamEvent[]): void {
    const delta = choice.delta;
    if (delta) {
      // vLLM and OpenRouter name it `reasoning`.
      const reasoning = delta.reasoning_content ?? delta.reasoning;
      if (typeof reasoning === 'string' && reasoning !== '') {
        this.#ensureOpen('thinking', out);
        this.#thinkingSent = true;
        out.push({ type: 'content_block_delta', index: this.#openIndex, delta: { type: 'thinking_delta', thinking: reasoning } });
      }
      if (Array.isArray(delta.thinking_blocks)) for (const block of delta.thinking_blocks) this.#thinkingBlock(block, out);
      const text = delta.content;
      if (typeof text === 'string' && text !== '') {
        this.#ensureOpen('text', out);
        out.push({ type: 'content_block_delta', index: this.#openIndex, delta: { type: 'text_delta', text } });
      }
      // Text, as a JSON answer's refusal becomes a text block.
      const refusal = delta.refusal;
      if (typeof refusal === 'string' && refusal !== '') {
        this.#refused = true;
        this.#ensureOpen('text', out);
        out.push({ type: 'content_block_delta', index: this.#openIndex, delta: { type: 'text_delta', text: refusal } });
      }
      if (Array.isArray(delta.tool_calls)) for (const call of delta.tool_calls) this.#toolCall(call, out);
    }
    if (choice.finish_reason) {
      this.#finish = choice.finish_reason;
      this.#matchedStop = choice.stop_reason;
      this.#close(out);
    }
  }

  #thinkingBlock(block: ThinkingBlock, out: StreamEvent[]): void {
    if (block.type === 'redacted_thinking') {
      this.#close(out);
      const index = this.#nextIndex++;
      out.push({ type: 'content_block_start', index, content_block: { type: 'redacted_thinking', data: block.data ?? '' } });
      out.push({ type: 'content_block_stop', index });
      return;
    }
    this.#ensureOpen('thinking', out);
    // A provider that sends the whole block at once: its text goes out before the signature.
    if (!this.#thinkingSent && typeof block.thinking === 'string' && block.thinking !== '') {
      this.#thinkingSent = true;
      out.push({ type: 'content_block_delta', index: this.#openIndex, delta: { type: 'thinking_delta', thinking: block.thinking } });
    }
    if (typeof block.signature === 'string' && block.signature !== '') {
      out.push({ type: 'content_block_delta', index: this.#openIndex, delta: { type: 'signature_delta', signature: block.signature } });
      this.#close(out); // signed: the block is complete; more reasoning starts a new one
    }
  }

  #toolCall(call: NonNullable<ChunkChoice['delta']['tool_calls']>[number], out: StreamEvent[]): void {
    const key = this.#toolCallIndexer.indexOf(call);
    // Some servers send the arguments as the object itself, not as its JSON text.
    const raw: unknown = call.function?.arguments;
    const piece = isJsonObject(raw) ? JSON.stringify(raw) : typeof raw === 'string' ? raw : '';
    let index = this.#toolBlocks.get(key);
    if (index === undefined) {
      const held = this.#heldCalls.get(key);
      if (held) {
        held.name += call.function?.name ?? '';
        held.args += piece;
        return;
      }
      if (this.#open === 'tool') {
        this.#heldCalls.set(key, { id: call.id, extra: call.extra_content, name: call.function?.name ?? '', args: piece });
        return;
      }
      this.#close(out);
      index = this.#openTool(key, call.id, call.extra_content, call.function?.name ?? '', out);
    }
    if (piece !== '') out.push({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: piece } });
  }

  #openTool(key: number, id: unknown, extra: unknown, name: string, out: StreamEvent[]): number {
    const index = this.#nextIndex++;
    this.#toolBlocks.set(key, index);
    this.#open = 'tool';
    this.#openIndex = index;
    out.push({ type: 'content_block_start', index, content_block: { type: 'tool_use', id: toolUseIdIn(this.#id, index, { id, extra_content: extra }), name, input: {} } });
    return index;
  }

  #ensureOpen(kind: 'thinking' | 'text', out: StreamEvent[]): void {
    if (this.#open === kind) return;
    this.#close(out);
    const index = this.#nextIndex++;
    this.#open = kind;
    this.#openIndex = index;
    this.#thinkingSent = false;
    const block: ContentBlock = kind === 'text' ? { type: 'text', text: '' } : { type: 'thinking', thinking: '', signature: '' };
    out.push({ type: 'content_block_start', index, content_block: block });
  }

  #close(out: StreamEvent[]): void {
    if (this.#open === 'none') return;
    out.push({ type: 'content_block_stop', index: this.#openIndex });
    this.#open = 'none';
    this.#openIndex = -1;
    // The calls held while that block streamed, each whole in a block of its own.
    for (const [key, call] of this.#heldCalls) {
      const index = this.#openTool(key, call.id, call.extra, call.name, out);
      if (call.args !== '') out.push({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: call.args } });
      out.push({ type: 'content_block_stop', index });
      this.#open = 'none';
      this.#openIndex = -1;
    }
    this.#heldCalls.clear();
  }
}

/**
 * Converting between a streamed answer and a whole one in Anthropic's Messages format (the
 * `/v1/messages` counterpart of replay.ts), so one cached Message serves both kinds of request: a
 * stream's events are assembled into the Message the same request would have got without streaming
 * ({@link MessageAssembler}), and a cached Message is replayed as the events a stream of it would
 * carry ({@link messageEvents}).
 *
 * Assembling follows the official SDK's accumulator (MessageStream), which Anthropic documents as
 * giving the Message `create()` returns:
 * - `message_start`'s message is the shell; content blocks are placed by their `index`.
 * - A block starts as its `content_block_start` block. `text_delta` pieces are appended to its
 *   `text`, `thinking_delta` to its `thinking`, `citations_delta` citations to its `citations`;
 *   `signature_delta` sets its `signature`; `input_json_delta` pieces are concatenated and parsed
 *   into `input` when the block stops (`{}` when the pieces are all empty). Beta's
 *   `compaction_delta` carries the block's final members, which are assigned. Blocks no delta
 *   reaches (redacted thinking, server tool results, types unknown here) stay as they started.
 * - `message_delta`: `stop_reason` and `stop_sequence` are set; its other delta members
 *   (`stop_details`, `container`) and top-level members (beta's `context_management`) are set when
 *   not null. Its usage counts are cumulative totals: each one it carries replaces the
 *   `message_start` one (a `null` only fills a gap).
 * - `ping` and unknown event types are ignored.
 *
 * {@link MessageAssembler.complete} is what makes a stream worth caching: besides the stream having
 * ended properly, it is false when the assembler met something it cannot rebuild faithfully (a
 * delta of an unknown type or for a block of another kind, tool input that is not JSON, events out
 * of order), so such an answer is served but not stored.
 *
 * The result shares leaf values (citations, unknown blocks' members, usage members) with the events
 * instead of copying them: neither side may be mutated afterwards.
 *
 * Round trip: assembling `messageEvents(m)` gives back `m`, members in the same order.
 */
import type { AnthropicUsage, ContentBlock, Message, StreamEvent } from '../providers/anthropic/api.js';

/** Anything with a `type`: a typed {@link StreamEvent} or a parsed upstream event (`NativeStreamEvent.value`). */
export type MessageStreamEventLike = StreamEvent | Readonly<Record<string, unknown>>;

type Block = Record<string, unknown>;

/** Block types whose `input` is streamed as JSON text (`input_json_delta`), as the SDK tracks them. */
const STREAMED_INPUT_TYPES: ReadonlySet<string> = new Set(['tool_use', 'server_tool_use', 'mcp_tool_use']);

/** message_delta's `delta` members with a place of their own; the others are copied onto the message. */
const STOP_FIELDS: ReadonlySet<string> = new Set(['stop_reason', 'stop_sequence']);

interface BlockState {
  /** The block as `content_block_start` sent it (never mutated). */
  readonly start: Block;
  /** `text` or `thinking` so far: the start's value plus every delta piece; undefined until a delta. */
  text: string | undefined;
  /** Concatenated `partial_json`; undefined until an input_json_delta. */
  json: string | undefined;
  /** The start's citations plus every citations_delta; undefined until one. */
  citations: unknown[] | undefined;
  signature: string | undefined;
  /** The parsed `json`, once the block stopped. */
  input: unknown;
  /** Members assigned by a delta that carries final values (compaction_delta). */
  assigned: Block | undefined;
  stopped: boolean;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Merges a stream's events into the Message a non-streaming request would have got. */
export class MessageAssembler {
  /** message_start's message, copied once (with its usage) so the events themselves stay untouched. */
  #message: Message | undefined;
  #usage: AnthropicUsage | undefined;
  readonly #blocks: (BlockState | undefined)[] = [];
  #openBlocks = 0;
  #stopReasonSeen = false;
  #stopped = false;
  #errored = false;
  /** Something arrived that this assembler cannot rebuild faithfully. */
  #unfaithful = false;

  /** Takes the stream's next event (a `StreamEvent`, or a `NativeStreamEvent`'s `value`). */
  push(event: MessageStreamEventLike): void {
    const value = event as Readonly<Record<string, unknown>>;
    switch (value.type) {
      case 'content_block_delta':
        this.#delta(value);
        return;
      case 'message_start':
        this.#start(value.message);
        return;
      case 'content_block_start':
        this.#blockStart(value);
        return;
      case 'content_block_stop':
        this.#blockStop(value.index);
        return;
      case 'message_delta':
        this.#messageDelta(value);
        return;
      case 'message_stop':
        if (this.#message === undefined) this.#unfaithful = true;
        this.#stopped = true;
        return;
      case 'error':
        this.#errored = true;
        return;
      default: // ping, and event types added after this was written
    }
  }

  /**
   * Whether the stream ended properly and was rebuilt faithfully: message_start came, every
   * started block stopped, a message_delta with a stop_reason came, then message_stop; no `error`
   * event and nothing the assembler could not rebuild (see the file comment).
   */
  get complete(): boolean {
    return this.#message !== undefined && this.#stopped && this.#stopReasonSeen && this.#openBlocks === 0 && !this.#errored && !this.#unfaithful;
  }

  /** The Message assembled so far (best effort for an incomplete stream): new objects down to the blocks. */
  result(): Message {
    const shell = this.#message;
    const content: ContentBlock[] = [];
    for (const state of this.#blocks) if (state) content.push(buildBlock(state) as unknown as ContentBlock);
    if (!shell) {
      return { id: '', type: 'message', role: 'assistant', model: '', content, stop_reason: null, stop_sequence: null, usage: { input_tokens: 0, output_tokens: 0 } };
    }
    const message: Message = { ...shell, content };
    if (this.#usage) message.usage = { ...this.#usage };
    return message;
  }

  #start(message: unknown): void {
    if (this.#message !== undefined || !isObject(message)) {
      this.#unfaithful = true; // a second message, or none
      return;
    }
    const shell = { ...message } as Message;
    if (isObject(message.usage)) this.#usage = { ...(message.usage as AnthropicUsage) };
    // Anthropic starts with no content; blocks a message_start carries anyway keep their places.
    if (Array.isArray(message.content)) {
      message.content.forEach((block, index) => {
        if (isObject(block)) this.#blocks[index] = newBlockState(block, true);
      });
    }
    this.#message = shell;
  }

  #blockStart(event: Readonly<Record<string, unknown>>): void {
    const index = event.index;
    const block = event.content_block;
    if (this.#message === undefined || !isIndex(index) || !isObject(block) || this.#blocks[index] !== undefined) {
      this.#unfaithful = true;
      return;
    }
    this.#blocks[index] = newBlockState(block, false);
    this.#openBlocks++;
  }

  #blockStop(index: unknown): void {
    const state = isIndex(index) ? this.#blocks[index] : undefined;
    if (!state || state.stopped) {
      this.#unfaithful = true;
      return;
    }
    state.stopped = true;
    this.#openBlocks--;
    if (state.json !== undefined) {
      const input = parseInput(state.json);
      if (input === undefined) this.#unfaithful = true;
      else state.input = input;
    }
  }

  #delta(event: Readonly<Record<string, unknown>>): void {
    const index = event.index;
    const state = isIndex(index) ? this.#blocks[index] : undefined;
    const delta = event.delta;
    if (!state || state.stopped || !isObject(delta) || !applyDelta(state, delta)) this.#unfaithful = true;
  }

  #messageDelta(event: Readonly<Record<string, unknown>>): void {
    const message = this.#message;
    if (!message) {
      this.#unfaithful = true;
      return;
    }
    const delta = event.delta;
    if (isObject(delta)) {
      if ('stop_reason' in delta) {
        message.stop_reason = delta.stop_reason as Message['stop_reason'];
        if (delta.stop_reason != null) this.#stopReasonSeen = true;
      }
      if ('stop_sequence' in delta) message.stop_sequence = delta.stop_sequence as string | null;
      for (const key in delta) if (!STOP_FIELDS.has(key)) fill(message, key, delta[key]);
    }
    for (const key in event) {
      if (key !== 'type' && key !== 'delta' && key !== 'usage') fill(message, key, event[key]);
    }
    const usage = event.usage;
    if (isObject(usage)) {
      const merged = (this.#usage ??= { input_tokens: 0, output_tokens: 0 });
      for (const key in usage) fill(merged, key, usage[key]);
    }
  }
}

/** Sets `target[key]`, except that `null` does not replace a value already there. */
function fill(target: Record<string, unknown>, key: string, value: unknown): void {
  if (value !== null || !(key in target)) target[key] = value;
}

function isIndex(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

function newBlockState(start: Block, stopped: boolean): BlockState {
  return { start, text: undefined, json: undefined, citations: undefined, signature: undefined, input: undefined, assigned: undefined, stopped };
}

/** Applies one content_block_delta; false when it does not fit the block (or its type is unknown). */
function applyDelta(state: BlockState, delta: Record<string, unknown>): boolean {
  const type = state.start.type;
  switch (delta.type) {
    case 'text_delta':
      if (type !== 'text' || typeof delta.text !== 'string') return false;
      state.text = (state.text ?? stringOr(state.start.text)) + delta.text;
      return true;
    case 'thinking_delta':
      if (type !== 'thinking' || typeof delta.thinking !== 'string') return false;
      state.text = (state.text ?? stringOr(state.start.thinking)) + delta.thinking;
      return true;
    case 'signature_delta':
      if (type !== 'thinking' || typeof delta.signature !== 'string') return false;
      state.signature = delta.signature; // the whole signature, as the SDK takes it
      return true;
    case 'input_json_delta':
      if (type === 'text' || type === 'thinking' || typeof delta.partial_json !== 'string') return false;
      state.json = (state.json ?? '') + delta.partial_json;
      return true;
    case 'citations_delta': {
      if (type !== 'text' || !('citation' in delta)) return false;
      if (state.citations === undefined) {
        const initial = state.start.citations;
        state.citations = Array.isArray(initial) ? initial.slice() : [];
      }
      state.citations.push(delta.citation);
      return true;
    }
    case 'compaction_delta': {
      // Carries the block's final values (beta context management), so they are assigned.
      const assigned = (state.assigned ??= {});
      for (const key in delta) if (key !== 'type') assigned[key] = delta[key];
      return true;
    }
    default:
      return false;
  }
}

const stringOr = (value: unknown): string => (typeof value === 'string' ? value : '');

/** Concatenated `partial_json` → the input; `{}` for none; undefined when it is not JSON. */
function parseInput(json: string): unknown {
  if (json.trim() === '') return {};
  try {
    return JSON.parse(json) as unknown;
  } catch {
    return undefined;
  }
}

/** The block as a whole Message carries it: the start's members (in their order) with the deltas applied. */
function buildBlock(state: BlockState): Block {
  const block: Block = { ...state.start };
  if (state.text !== undefined) block[block.type === 'thinking' ? 'thinking' : 'text'] = state.text;
  if (state.signature !== undefined) block.signature = state.signature;
  if (state.citations !== undefined) block.citations = state.citations.slice();
  if (state.json !== undefined) {
    // A block still open (incomplete stream) has not been parsed yet: best effort.
    const input = state.stopped ? state.input : parseInput(state.json);
    if (input !== undefined) block.input = input;
  }
  if (state.assigned) for (const key in state.assigned) block[key] = state.assigned[key];
  return block;
}

// ---------------------------------------------------------------------------------------------

/**
 * The events a stream of `message` would carry, in Anthropic's order: `message_start` (the message
 * with no content, no stop reason and `output_tokens: 0`, as the gateway's own encoder starts), then
 * per block `content_block_start`, its deltas and `content_block_stop`, then `message_delta` (stop
 * reason, stop sequence and the whole usage, which is cumulative) and `message_stop`. No `ping`s.
 *
 * Each text is sent whole in one delta rather than re-split (a replayed answer is sent at once
 * anyway, and clients accept deltas of any length):
 * - text: started with `text: ''` (and `citations: []` when it has citations), one
 *   `citations_delta` per citation (Anthropic sends them before the text they cite), one `text_delta`;
 * - thinking: started with `thinking: ''` (and `signature: ''`), one `thinking_delta`, one
 *   `signature_delta`;
 * - tool_use, server_tool_use, mcp_tool_use: started with `input: {}`, one `input_json_delta` of
 *   the whole input as JSON;
 * - any other block (redacted_thinking, server tool results, types unknown here): whole in its
 *   `content_block_start`, no delta.
 * A stop_details or container member of the message goes in message_delta (message_start has
 * `stop_details: null`); other message members go in message_start.
 * Events and the blocks they start are new objects; deeper values (usage members, citations,
 * inputs' contents, unknown blocks) are the message's own.
 */
export function messageEvents(message: Message): StreamEvent[] {
  const usage = message.usage as AnthropicUsage | undefined;
  const opening = { ...message, content: [], stop_reason: null, stop_sequence: null } as Message;
  if ('stop_details' in message) opening.stop_details = null;
  if (usage) opening.usage = { ...usage, output_tokens: 0 };
  const events: StreamEvent[] = [{ type: 'message_start', message: opening }];

  const content = Array.isArray(message.content) ? message.content : [];
  content.forEach((item, index) => blockEvents(item as unknown as Block, index, events));

  const delta: Record<string, unknown> = { stop_reason: message.stop_reason ?? null, stop_sequence: message.stop_sequence ?? null };
  if ('stop_details' in message) delta.stop_details = message.stop_details;
  if ('container' in message) delta.container = message.container;
  events.push({ type: 'message_delta', delta, usage: usage ?? { output_tokens: 0 } } as StreamEvent);
  events.push({ type: 'message_stop' });
  return events;
}

function blockEvents(block: Block, index: number, out: StreamEvent[]): void {
  const push = (event: Record<string, unknown>): void => {
    out.push(event as StreamEvent);
  };
  const type = block.type;
  if (type === 'text') {
    const citations = block.citations;
    const cited = Array.isArray(citations) && citations.length > 0;
    push({ type: 'content_block_start', index, content_block: cited ? { ...block, text: '', citations: [] } : { ...block, text: '' } });
    if (cited) for (const citation of citations) push({ type: 'content_block_delta', index, delta: { type: 'citations_delta', citation } });
    if (typeof block.text === 'string' && block.text !== '') push({ type: 'content_block_delta', index, delta: { type: 'text_delta', text: block.text } });
  } else if (type === 'thinking') {
    const start: Block = { ...block, thinking: '' };
    const signature = block.signature;
    if (typeof signature === 'string') start.signature = '';
    push({ type: 'content_block_start', index, content_block: start });
    if (typeof block.thinking === 'string' && block.thinking !== '') push({ type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking: block.thinking } });
    if (typeof signature === 'string' && signature !== '') push({ type: 'content_block_delta', index, delta: { type: 'signature_delta', signature } });
  } else if (typeof type === 'string' && STREAMED_INPUT_TYPES.has(type) && 'input' in block) {
    push({ type: 'content_block_start', index, content_block: { ...block, input: {} } });
    push({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input) ?? '{}' } });
  } else {
    push({ type: 'content_block_start', index, content_block: { ...block } });
  }
  push({ type: 'content_block_stop', index });
}

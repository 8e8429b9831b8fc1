/**
 * Assembling a streamed chat answer, in OpenAI's chat-completions format, into the ChatCompletion
 * that the same request would have got without streaming ({@link CompletionAssembler}), so one
 * cached answer serves both kinds of request; replay.ts does the reverse (`completionChunks`).
 *
 * Assembling (per choice `index`):
 * - `role`: the first one seen, `'assistant'` when none is.
 * - `content`: the string pieces concatenated. `null` when no string piece came, or when they are
 *   all empty and the message has tool calls, a function call or a refusal (as OpenAI answers).
 *   `content` is always present on the message.
 * - `refusal`: string pieces concatenated; `null` when only `null` was seen; absent when never seen.
 * - `reasoning_content` concatenated, `thinking_blocks` appended; absent when never seen.
 * - `tool_calls`: merged by their `index` (a delta without one takes its position in the delta's
 *   array), in index order: `id` the first non-empty, `type` the first seen (`'function'` when
 *   none), `function.name` and `function.arguments` concatenated (OpenAI sends the name once; the
 *   Python SDK concatenates too), a `custom` tool call's `input` concatenated, other members the
 *   last value seen. The legacy `function_call` is merged like `function`.
 * - `audio`: `data` and `transcript` concatenated (as the SDKs join them), other members the last
 *   non-null value seen.
 * - Any other delta member (`annotations`, ...): the last non-null value seen (`null` when only
 *   `null` was).
 * - `finish_reason`: the last non-null one. `logprobs`: the `content` and `refusal` arrays
 *   concatenated, other members the last value seen; `null` when only `null` was seen; absent
 *   when never seen.
 * - Other choice members (Azure's `content_filter_results`, `native_finish_reason`): the last value
 *   that is neither null nor an empty object (Azure sends `{}` on its opening and finish chunks).
 * Response level: `id`, `model` the first non-empty, `created` the first positive; `usage` the
 * last non-null one (OpenAI's usage-only trailer, or the last chunk of servers that put it there);
 * other members (`system_fingerprint`, `service_tier`, Azure's `prompt_filter_results`) the first
 * non-null value, except `obfuscation` (stream padding) which is dropped.
 *
 * The result shares leaf values (thinking blocks, logprob entries, usage, extra members) with the
 * chunks instead of copying them: neither side may be mutated afterwards.
 *
 * Round trip with `completionChunks` (and its normalisations): see replay.ts.
 */
import { ToolCallIndexer } from '../gateway/tool-call-index.js';
import { isJsonObject } from '../providers/upstream-json.js';
import type {
  ChatChoice,
  ChatCompletion,
  ChatCompletionChunk,
  ChatMessage,
  ChunkChoice,
  ChunkToolCallDelta,
  FinishReason,
  ThinkingBlock,
  ToolCall,
  Usage,
} from '../gateway/types.js';

interface FunctionState {
  name: string;
  arguments: string;
  /** Members other than name / arguments, last value seen; undefined until one is. */
  extras: Record<string, unknown> | undefined;
}

interface ToolCallState {
  index: number;
  id: string;
  type: string | undefined;
  /** undefined until a `function` member arrives. */
  fn: FunctionState | undefined;
  extras: Record<string, unknown> | undefined;
}

interface LogprobsState {
  /** undefined = never seen, null = only null seen, else merged members. */
  value: Record<string, unknown> | null | undefined;
}

class ChoiceState {
  role: string | undefined;
  content = '';
  sawContent = false;
  refusal: string | null | undefined;
  reasoning: string | undefined;
  thinkingBlocks: ThinkingBlock[] | undefined;
  /** Sparse by tool-call index; usually dense and small. */
  toolCalls: ToolCallState[] | undefined;
  /** Indexes deltas that carry none (a new id starts the next call). */
  readonly toolCallIndexer = new ToolCallIndexer();
  functionCall: FunctionState | undefined;
  /** Unknown delta members, last value seen. */
  messageExtras: Record<string, unknown> | undefined;
  /** Unknown choice members, last meaningful value seen. */
  choiceExtras: Record<string, unknown> | undefined;
  finishReason: FinishReason | null = null;
  readonly logprobs: LogprobsState = { value: undefined };

  constructor(readonly index: number) {}
}

/**
 * Merges a stream's chunks, in order, into the ChatCompletion that the same request would have got
 * without streaming (see the file comment for the rules). Feed it every chunk with {@link push};
 * {@link complete} tells whether the stream reached its end; {@link result} builds the answer
 * (callable at any time, each call a fresh object).
 */
export class CompletionAssembler {
  private id = '';
  private created = 0;
  private model = '';
  private usage: Usage | undefined;
  private extras: Record<string, unknown> | undefined;
  /** Choices in the order first seen; {@link byIndex} finds them. */
  private readonly choices: ChoiceState[] = [];
  private readonly byIndex = new Map<number, ChoiceState>();

  push(chunk: ChatCompletionChunk): void {
    if (!this.id && typeof chunk.id === 'string') this.id = chunk.id;
    if (!this.model && typeof chunk.model === 'string') this.model = chunk.model;
    if (!(this.created > 0) && typeof chunk.created === 'number') this.created = chunk.created;
    if (chunk.usage != null) this.usage = chunk.usage;
    for (const key in chunk) {
      // A switch on constant strings is several times cheaper than Set lookups on this per-chunk path.
      switch (key) {
        case 'id': case 'object': case 'created': case 'model': case 'choices': case 'usage':
        case 'obfuscation': // stream padding: no place in a whole answer
          continue;
      }
      const value = chunk[key];
      if (value == null) continue;
      const extras = (this.extras ??= {});
      if (!(key in extras)) extras[key] = value;
    }
    const choices = chunk.choices;
    if (!Array.isArray(choices)) return;
    for (const choice of choices) this.pushChoice(choice);
  }

  /** True when at least one choice was seen and every choice seen has a finish_reason. */
  get complete(): boolean {
    if (this.choices.length === 0) return false;
    for (const choice of this.choices) if (choice.finishReason == null) return false;
    return true;
  }

  /** The whole answer assembled so far (best effort for an incomplete stream). */
  result(): ChatCompletion {
    const completion: ChatCompletion = {
      id: this.id,
      object: 'chat.completion',
      created: this.created,
      model: this.model,
      choices: [...this.choices].sort((a, b) => a.index - b.index).map(buildChoice),
    };
    if (this.usage !== undefined) completion.usage = this.usage;
    if (this.extras) for (const key in this.extras) completion[key] = this.extras[key];
    return completion;
  }

  private pushChoice(choice: ChunkChoice): void {
    const index = typeof choice.index === 'number' ? choice.index : 0;
    let state = this.byIndex.get(index);
    if (!state) {
      state = new ChoiceState(index);
      this.byIndex.set(index, state);
      this.choices.push(state);
    }
    if (choice.finish_reason != null) state.finishReason = choice.finish_reason;
    if ('logprobs' in choice) mergeLogprobs(state.logprobs, choice.logprobs);
    for (const key in choice) {
      switch (key) {
        case 'index': case 'delta': case 'message': case 'finish_reason': case 'logprobs':
          continue;
      }
      const value = choice[key];
      if (value == null || isEmptyObject(value)) continue;
      (state.choiceExtras ??= {})[key] = value;
    }
    const delta = choice.delta;
    if (delta == null || typeof delta !== 'object') return;
    for (const key in delta) {
      const value = delta[key];
      switch (key) {
        case 'role':
          if (state.role === undefined && typeof value === 'string' && value !== '') state.role = value;
          break;
        case 'content':
          if (typeof value === 'string') {
            state.content += value;
            state.sawContent = true;
          }
          break;
        case 'refusal':
          if (typeof value === 'string') state.refusal = (state.refusal ?? '') + value;
          else if (value === null && state.refusal === undefined) state.refusal = null;
          break;
        case 'reasoning_content':
          if (typeof value === 'string') state.reasoning = (state.reasoning ?? '') + value;
          break;
        case 'thinking_blocks':
          if (Array.isArray(value)) {
            const blocks = (state.thinkingBlocks ??= []);
            for (const block of value as ThinkingBlock[]) blocks.push(block);
          }
          break;
        case 'tool_calls':
          if (Array.isArray(value)) mergeToolCalls(state, value as ChunkToolCallDelta[]);
          break;
        case 'function_call':
          if (value != null && typeof value === 'object') {
            mergeFunction((state.functionCall ??= { name: '', arguments: '', extras: undefined }), value as Record<string, unknown>);
          }
          break;
        default: {
          const extras = (state.messageExtras ??= {});
          if (key === 'audio' && isJsonObject(value)) extras.audio = mergePieced(extras.audio, value, AUDIO_PIECES);
          else if (value !== null || !(key in extras)) extras[key] = value;
        }
      }
    }
  }
}

function isEmptyObject(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  for (const _key in value) return false;
  return true;
}

function mergeToolCalls(state: ChoiceState, deltas: ChunkToolCallDelta[]): void {
  const calls = (state.toolCalls ??= []);
  for (const delta of deltas) {
    if (delta == null || typeof delta !== 'object') continue;
    const index = state.toolCallIndexer.indexOf(delta);
    let call = calls[index];
    if (!call) {
      call = { index, id: '', type: undefined, fn: undefined, extras: undefined };
      calls[index] = call;
    }
    for (const key in delta) {
      const value = delta[key];
      switch (key) {
        case 'index':
          break;
        case 'id':
          if (!call.id && typeof value === 'string') call.id = value;
          break;
        case 'type':
          if (call.type === undefined && typeof value === 'string' && value !== '') call.type = value;
          break;
        case 'function':
          if (value != null && typeof value === 'object') mergeFunction((call.fn ??= { name: '', arguments: '', extras: undefined }), value as Record<string, unknown>);
          break;
        default: {
          const extras = (call.extras ??= {});
          extras[key] = key === 'custom' && isJsonObject(value) ? mergePieced(extras.custom, value, CUSTOM_PIECES) : value;
        }
      }
    }
  }
}

/** Members streamed in pieces, as the SDKs join them: an audio answer's data and transcript, a custom tool call's input. */
const AUDIO_PIECES: ReadonlySet<string> = new Set(['data', 'transcript']);
const CUSTOM_PIECES: ReadonlySet<string> = new Set(['input']);

/** `merged` (a fresh object, never a chunk's) with a delta's members: pieced ones appended, the rest the last non-null value. */
function mergePieced(merged: unknown, delta: Record<string, unknown>, pieced: ReadonlySet<string>): Record<string, unknown> {
  const into: Record<string, unknown> = isJsonObject(merged) ? merged : {};
  for (const key in delta) {
    const value = delta[key];
    if (pieced.has(key) && typeof value === 'string') into[key] = (typeof into[key] === 'string' ? into[key] : '') + value;
    else if (value !== null || !(key in into)) into[key] = value;
  }
  return into;
}

function mergeFunction(fn: FunctionState, delta: Record<string, unknown>): void {
  for (const key in delta) {
    const value = delta[key];
    if (key === 'name') {
      if (typeof value === 'string') fn.name += value;
    } else if (key === 'arguments') {
      if (typeof value === 'string') fn.arguments += value;
    } else {
      (fn.extras ??= {})[key] = value;
    }
  }
}

function mergeLogprobs(state: LogprobsState, value: unknown): void {
  if (value == null || typeof value !== 'object') {
    if (value === null && state.value === undefined) state.value = null;
    return;
  }
  const merged = (state.value ??= {});
  const piece = value as Record<string, unknown>;
  for (const key in piece) {
    const item = piece[key];
    if ((key === 'content' || key === 'refusal') && (Array.isArray(item) || item === null)) {
      const existing = merged[key];
      if (Array.isArray(item)) {
        // Copy the first array so later pieces never append into a chunk's own array.
        if (Array.isArray(existing)) for (const entry of item) existing.push(entry);
        else merged[key] = item.slice();
      } else if (existing === undefined) {
        merged[key] = null;
      }
    } else {
      merged[key] = item;
    }
  }
}

function buildFunction(fn: FunctionState): ToolCall['function'] {
  const built: ToolCall['function'] & Record<string, unknown> = { name: fn.name, arguments: fn.arguments };
  if (fn.extras) for (const key in fn.extras) built[key] = fn.extras[key];
  return built;
}

function buildChoice(state: ChoiceState): ChatChoice {
  const message: ChatMessage = { role: state.role ?? 'assistant', content: null };
  let toolCalls: ToolCall[] | undefined;
  if (state.toolCalls) {
    toolCalls = [];
    for (const call of state.toolCalls) {
      if (!call) continue; // a hole in sparse indices
      const type = call.type ?? 'function';
      const built = { id: call.id, type } as ToolCall;
      // Other tool types (OpenAI's `custom`) carry their own member, kept as an extra below.
      if (call.fn || type === 'function') built.function = buildFunction(call.fn ?? { name: '', arguments: '', extras: undefined });
      if (call.extras) for (const key in call.extras) built[key] = call.extras[key];
      toolCalls.push(built);
    }
  }
  const hasOtherOutput = (toolCalls !== undefined && toolCalls.length > 0) || state.functionCall !== undefined || typeof state.refusal === 'string';
  if (state.sawContent && (state.content !== '' || !hasOtherOutput)) message.content = state.content;
  if (state.refusal !== undefined) message.refusal = state.refusal;
  if (state.reasoning !== undefined) message.reasoning_content = state.reasoning;
  if (state.thinkingBlocks) message.thinking_blocks = state.thinkingBlocks.slice();
  if (toolCalls) message.tool_calls = toolCalls;
  if (state.functionCall) message.function_call = buildFunction(state.functionCall);
  if (state.messageExtras) for (const key in state.messageExtras) message[key] = state.messageExtras[key];

  const choice: ChatChoice = { index: state.index, message, finish_reason: state.finishReason };
  const logprobs = state.logprobs.value;
  if (logprobs !== undefined) choice.logprobs = logprobs === null ? null : copyLogprobs(logprobs);
  if (state.choiceExtras) for (const key in state.choiceExtras) choice[key] = state.choiceExtras[key];
  return choice;
}

/** A fresh top-level object and arrays, so a later push cannot change an answer already built. */
function copyLogprobs(merged: Record<string, unknown>): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const key in merged) {
    const value = merged[key];
    copy[key] = Array.isArray(value) ? value.slice() : value;
  }
  return copy;
}

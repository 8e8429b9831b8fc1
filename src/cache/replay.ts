/**
 * Replaying a cached ChatCompletion, in OpenAI's chat-completions format, as the chunks a stream of
 * it would carry ({@link completionChunks}), so one cached answer serves both kinds of request;
 * completion-assembler.ts does the reverse (`CompletionAssembler`, with the merging rules).
 *
 * Round trip: assembling `completionChunks(c)` gives back `c` (as JSON), with these normalisations:
 * a `content` of `''` beside tool calls, a function call or a refusal becomes `null`, and an absent
 * one `null`; array `content` becomes its joined text; a tool call without `type` gets
 * `'function'`; choices come out in index order; response and choice members that are `null` (or,
 * for choice members, `{}`) are dropped; `usage` is dropped when the chunks were made without it.
 */
import type { ChatChoice, ChatCompletion, ChatCompletionChunk, ChatMessage, ChunkChoice, FinishReason } from '../gateway/types.js';

/** Response members with a place of their own; the rest are extras, copied as they are. */
const RESPONSE_FIELDS: ReadonlySet<string> = new Set(['id', 'object', 'created', 'model', 'choices', 'usage']);

/** Choice members the replay writes itself. */
const CHOICE_FIELDS: ReadonlySet<string> = new Set(['index', 'delta', 'message', 'finish_reason', 'logprobs']);

/** Options of {@link completionChunks}. */
export interface CompletionChunksOptions {
  /**
   * Whether the stream ends with OpenAI's usage-only chunk (`stream_options.include_usage`). When
   * true every other chunk carries `usage: null`, as OpenAI's do; when false no chunk has `usage`.
   */
  includeUsage: boolean;
}

/** Message members that {@link completionChunks} sends in their own deltas. */
const MESSAGE_FIELDS: ReadonlySet<string> = new Set([
  'role', 'content', 'refusal', 'reasoning_content', 'thinking_blocks', 'tool_calls', 'function_call',
]);

/**
 * The chunks a stream of `completion` would carry, as OpenAI sends them. Per choice, in order:
 * an opening delta `{role, content: '' (null when the content is null), refusal: null (when the
 * message has a refusal member)}` with any unknown message members; `reasoning_content`;
 * `thinking_blocks`; the content; the refusal; one delta per tool call (`index`, `id`, `type`,
 * `function: {name, arguments}`); the legacy `function_call`; then `delta: {}` with the
 * finish_reason and the choice's other members. Reasoning comes before the text, as models
 * stream it. Choices of an n > 1 answer are interleaved, one choice per chunk. With `includeUsage`
 * (and a usage to send) a usage-only chunk (`choices: []`) ends the stream.
 *
 * Each text is sent whole in one delta rather than re-split: a replayed answer is sent at once
 * anyway, clients accept deltas of any length, and splitting would only add events (and the risk of
 * cutting a surrogate pair). A choice's `logprobs` object rides on its content chunk (else its
 * refusal chunk, else its finish chunk); its other chunks carry `logprobs: null` when the choice has
 * a `logprobs` member. Array `content` (not sent by chat models) is replayed as its text parts joined.
 * Chunks, choices, deltas and tool calls are new objects that the caller may change (e.g. drop
 * `usage`); deeper values (usage, logprobs, thinking blocks, extra members) are the completion's own.
 */
export function completionChunks(completion: ChatCompletion, options: CompletionChunksOptions): ChatCompletionChunk[] {
  const perChoice = completion.choices.map((choice) => choiceChunks(completion, choice, options.includeUsage));
  const chunks: ChatCompletionChunk[] = [];
  const longest = perChoice.reduce((max, list) => Math.max(max, list.length), 0);
  for (let step = 0; step < longest; step++) {
    for (const list of perChoice) {
      const chunk = list[step];
      if (chunk) chunks.push(chunk);
    }
  }
  if (options.includeUsage && completion.usage != null) {
    const trailer = chunkShell(completion, true);
    trailer.usage = completion.usage;
    chunks.push(trailer);
  }
  return chunks;
}

/** A chunk with the response's members and no choices yet; the first chunk also takes the extras. */
function chunkShell(completion: ChatCompletion, includeUsage: boolean, withExtras = false): ChatCompletionChunk {
  const chunk: ChatCompletionChunk = { id: completion.id, object: 'chat.completion.chunk', created: completion.created, model: completion.model, choices: [] };
  // OpenAI repeats these two on every chunk; other response members go on the first chunk only.
  if (completion.service_tier != null) chunk.service_tier = completion.service_tier;
  if (completion.system_fingerprint != null) chunk.system_fingerprint = completion.system_fingerprint;
  if (withExtras) {
    for (const key in completion) {
      if (RESPONSE_FIELDS.has(key) || key === 'service_tier' || key === 'system_fingerprint') continue;
      chunk[key] = completion[key];
    }
  }
  if (includeUsage) chunk.usage = null;
  return chunk;
}

function choiceChunks(completion: ChatCompletion, choice: ChatChoice, includeUsage: boolean): ChatCompletionChunk[] {
  const message = choice.message;
  const hasLogprobs = 'logprobs' in choice;
  const deltas: ChunkChoice['delta'][] = [];
  /** Which delta carries the choice's logprobs: the content's, else the refusal's, else the finish chunk. */
  let logprobsDelta = -1;

  const opening: ChunkChoice['delta'] = { role: message.role || 'assistant', content: message.content == null ? null : '' };
  if ('refusal' in message) opening.refusal = null;
  for (const key in message) if (!MESSAGE_FIELDS.has(key)) opening[key] = message[key];
  deltas.push(opening);

  if (typeof message.reasoning_content === 'string') deltas.push({ reasoning_content: message.reasoning_content });
  if (Array.isArray(message.thinking_blocks)) deltas.push({ thinking_blocks: message.thinking_blocks.slice() });
  const text = contentText(message.content);
  if (text) {
    logprobsDelta = deltas.length;
    deltas.push({ content: text });
  }
  if (typeof message.refusal === 'string') {
    if (logprobsDelta === -1) logprobsDelta = deltas.length;
    deltas.push({ refusal: message.refusal });
  }
  if (Array.isArray(message.tool_calls)) {
    message.tool_calls.forEach((call, index) => {
      const { function: fn, ...rest } = call;
      deltas.push({ tool_calls: [{ index, ...rest, function: { ...fn } }] });
    });
  }
  if (message.function_call != null && typeof message.function_call === 'object') {
    deltas.push({ function_call: { ...(message.function_call as Record<string, unknown>) } });
  }

  const chunks = deltas.map((delta, position): ChatCompletionChunk => {
    const chunk = chunkShell(completion, includeUsage, position === 0 && choice === completion.choices[0]);
    const logprobs = position === logprobsDelta ? choice.logprobs : null;
    chunk.choices.push(chunkChoice(choice.index, delta, hasLogprobs, logprobs, null));
    return chunk;
  });

  const finish = chunkShell(completion, includeUsage);
  const finishChoice = chunkChoice(choice.index, {}, hasLogprobs, logprobsDelta === -1 ? choice.logprobs : null, choice.finish_reason);
  for (const key in choice) if (!CHOICE_FIELDS.has(key)) finishChoice[key] = choice[key];
  finish.choices.push(finishChoice);
  chunks.push(finish);
  return chunks;
}

/** A chunk choice in OpenAI's member order (index, delta, logprobs, finish_reason). */
function chunkChoice(index: number, delta: ChunkChoice['delta'], hasLogprobs: boolean, logprobs: unknown, finishReason: FinishReason | null): ChunkChoice {
  if (!hasLogprobs) return { index, delta, finish_reason: finishReason };
  return { index, delta, logprobs, finish_reason: finishReason };
}

function contentText(content: ChatMessage['content']): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let text = '';
  for (const part of content) if (typeof part.text === 'string') text += part.text;
  return text;
}

/** OpenAI SSE stream → canonical chunks (identity, plus `[DONE]` and in-stream errors). */
import { GatewayError } from '../../gateway/errors.js';
import { withRawJson } from '../../gateway/raw-json.js';
import type { ChatCompletionChunk } from '../../gateway/types.js';
import { readSse } from '../sse.js';
import { isJsonObject, parseStreamEvent } from '../upstream-json.js';
import type { OpenAIErrorBody } from './api.js';
import { hasSoundToolCalls, streamError } from './response.js';

export async function* decodeChatStream(body: AsyncIterable<Uint8Array>, provider: string): AsyncGenerator<ChatCompletionChunk> {
  let finished = false;
  // Chunks before any output are held back until output arrives: the opening role chunk
  // (`{"delta":{"role":"assistant","content":""}}`, sent first by OpenAI, vLLM and most compatible
  // servers) and chunks with neither choices nor usage (Azure's prompt_filter_results). A failure
  // or a silence right after them is still "before the first chunk" for the executor, so the
  // request can fail over and the first-chunk timeout still applies.
  let held: ChatCompletionChunk[] | undefined;
  let output = false;
  for await (const event of readSse(body)) {
    const data = event.data;
    if (data === '[DONE]') {
      // Every answer has a finish_reason (or at least text) before [DONE]; without one the stream
      // is malformed, as a 200 whose JSON has no choices is: the next target is tried.
      if (!output) throw new GatewayError('upstream_error', `The upstream provider "${provider}" ended the stream without an answer.`, { provider });
      return;
    }
    if (data === '') continue;
    const value = parseStreamEvent(data, provider);
    if ('error' in value && (value as OpenAIErrorBody).error) throw streamError(value as OpenAIErrorBody, provider);
    // The event's text goes out as it came, unless it spanned several `data:` lines (joined with
    // newlines): one `data:` line must carry it, so it is written afresh.
    const chunk = data.includes('\n') ? (value as ChatCompletionChunk) : withRawJson(value as ChatCompletionChunk, data);
    if (!Array.isArray(chunk.choices)) chunk.choices = [];
    else if (!chunk.choices.every(isSoundChoice)) {
      throw new GatewayError('upstream_error', `The upstream provider "${provider}" sent a stream chunk whose choices are not all objects with a delta object.`, { provider });
    } else if (!chunk.choices.every(hasSoundDeltaToolCalls)) {
      throw new GatewayError('upstream_error', `The upstream provider "${provider}" sent a stream chunk whose tool_calls are not a list of objects.`, { provider });
    }
    if (!output) {
      if (isOpening(chunk)) {
        (held ??= []).push(chunk);
        continue;
      }
      output = true;
      if (held) for (const early of held) yield early;
    }
    if (chunk.choices.some((choice) => choice.finish_reason)) finished = true;
    yield chunk;
  }
  // Some compatible servers omit `[DONE]`; a stream that reached a finish_reason is complete.
  if (finished) return;
  throw new GatewayError('upstream_error', `The upstream provider "${provider}" ended the stream before it was complete.`, { provider });
}

/** A (sound) choice's delta has no tool_calls, or a list of objects. */
function hasSoundDeltaToolCalls(choice: ChatCompletionChunk['choices'][number]): boolean {
  return choice.delta == null || hasSoundToolCalls(choice.delta as Record<string, unknown>);
}

/** Everything downstream reads a chunk's choices as objects whose `delta`, when present, is an object. */
function isSoundChoice(choice: unknown): boolean {
  return isJsonObject(choice) && (choice.delta == null || isJsonObject(choice.delta));
}


/** A delta's fields that an opening chunk may carry, when empty: OpenAI sends `content: ""` and `refusal: null`. */
const OPENING_DELTA_FIELDS = new Set(['role', 'content', 'refusal']);

/**
 * No output yet: each choice only announces the role (no text, tool call or finish). A usage
 * chunk (no choices) is not output either: a stream of a role and usage alone answered nothing.
 */
function isOpening(chunk: ChatCompletionChunk): boolean {
  if (chunk.usage != null && chunk.choices.length > 0) return false;
  return chunk.choices.every((choice) => {
    if (choice.finish_reason != null || choice.logprobs != null) return false;
    for (const [field, value] of Object.entries(choice.delta ?? {})) {
      if (!OPENING_DELTA_FIELDS.has(field)) return false;
      if (field !== 'role' && value !== '' && value != null) return false;
    }
    return true;
  });
}

/**
 * Anthropic's SSE stream read for a client that speaks the same API: every event is yielded with
 * its `data` text as it came (the route forwards it byte for byte), its parsed value and, on
 * message_start and message_delta, the usage so far in canonical terms.
 *
 * Like the canonical translator (stream.ts), nothing is yielded before the first output: the
 * opening events (message_start, pings, content_block_start, event types unknown to this code) are
 * held until the first content_block_delta, content_block_stop, message_delta or message_stop, so
 * an `error` event before any output leaves nothing yielded and the executor can fail over. An
 * `error` event later is thrown, for the route to end the stream with an error event. A stream
 * that stops before message_stop is a 502, and so is a content block event a client's SDK cannot
 * use (blockProblem), which is not forwarded.
 */
import { GatewayError } from '../../gateway/errors.js';
import { readSse } from '../sse.js';
import { isJsonObject as isObject, parseStreamEvent, type JsonObject } from '../upstream-json.js';
import type { NativeStreamEvent } from '../types.js';
import type { AnthropicUsage } from './api.js';
import { mergeUsage, streamError, toUsage } from './response.js';

/** The text field of each delta type an SDK appends (other types, future ones too, pass as they are). */
const DELTA_TEXT: ReadonlyMap<string, string> = new Map([
  ['text_delta', 'text'],
  ['input_json_delta', 'partial_json'],
  ['thinking_delta', 'thinking'],
  ['signature_delta', 'signature'],
]);

/**
 * What is wrong with a content block event, if anything. Anthropic's SDKs find a delta's block by
 * its `index` and append its text: a delta for a block that never started, or without its text,
 * failed in the client (or appended "undefined") after the gateway had forwarded it.
 */
function blockProblem(type: string, value: JsonObject, started: Set<number>): string | undefined {
  if (type !== 'content_block_start' && type !== 'content_block_delta' && type !== 'content_block_stop') return undefined;
  const index = value.index;
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0) return `a ${type} event without a block index`;
  if (type === 'content_block_start') {
    if (!isObject(value.content_block)) return 'a content_block_start event without a content_block';
    started.add(index);
    return undefined;
  }
  if (!started.has(index)) return `a ${type} event for a block that never started`;
  if (type === 'content_block_stop') return undefined;
  const delta = value.delta;
  if (!isObject(delta) || typeof delta.type !== 'string') return 'a content_block_delta event without a delta';
  const field = DELTA_TEXT.get(delta.type);
  return field !== undefined && typeof delta[field] !== 'string' ? `a content_block_delta event whose ${delta.type} has no "${field}" text` : undefined;
}

/** Events that are output: once one arrives, the stream can no longer fail over. */
function isOutput(type: string): boolean {
  return type === 'content_block_delta' || type === 'content_block_stop' || type === 'message_delta' || type === 'message_stop';
}

export async function* readNativeStream(body: AsyncIterable<Uint8Array>, provider: string): AsyncGenerator<NativeStreamEvent> {
  const bad = (what: string): GatewayError => new GatewayError('upstream_error', `The upstream provider "${provider}" sent ${what}.`, { provider });
  const usage: Partial<AnthropicUsage> = {};
  let held: NativeStreamEvent[] | undefined = [];
  let started = false;
  const blocks = new Set<number>();
  for await (const sse of readSse(body)) {
    if (sse.data === '') continue;
    const value = parseStreamEvent(sse.data, provider);
    const type = typeof value.type === 'string' ? value.type : (sse.event ?? '');
    if (type === 'error') throw streamError(value, provider);
    // Before message_start, a block event is refused below, for that.
    const problem = started ? blockProblem(type, value, blocks) : undefined;
    if (problem !== undefined) throw bad(problem);
    const event: NativeStreamEvent = { name: sse.event ?? type, data: sse.data, value };
    if (type === 'message_start') {
      if (!isObject(value.message)) throw bad('a message_start event without a message');
      started = true;
      mergeUsage(usage, value.message.usage);
      event.usage = toUsage(usage);
    } else if (type === 'message_delta') {
      mergeUsage(usage, value.usage);
      event.usage = toUsage(usage);
    }
    if (held !== undefined) {
      if (!started && (type.startsWith('content_block_') || type.startsWith('message_'))) throw bad(`a "${type}" event before message_start`);
      if (!isOutput(type)) {
        held.push(event);
        continue;
      }
      const opening = held;
      held = undefined;
      for (const earlier of opening) yield earlier;
    }
    yield event;
    if (type === 'message_stop') return;
  }
  throw new GatewayError('upstream_error', `The upstream provider "${provider}" ended the stream before it was complete (no message_stop).`, { provider });
}

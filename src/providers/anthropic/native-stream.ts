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
 * that stops before message_stop is a 502.
 */
import { GatewayError } from '../../gateway/errors.js';
import { readSse } from '../sse.js';
import { isJsonObject as isObject, parseStreamEvent } from '../upstream-json.js';
import type { NativeStreamEvent } from '../types.js';
import type { AnthropicUsage } from './api.js';
import { mergeUsage, streamError, toUsage } from './response.js';



/** Events that are output: once one arrives, the stream can no longer fail over. */
function isOutput(type: string): boolean {
  return type === 'content_block_delta' || type === 'content_block_stop' || type === 'message_delta' || type === 'message_stop';
}

export async function* readNativeStream(body: AsyncIterable<Uint8Array>, provider: string): AsyncGenerator<NativeStreamEvent> {
  const bad = (what: string): GatewayError => new GatewayError('upstream_error', `The upstream provider "${provider}" sent ${what}.`, { provider });
  const usage: Partial<AnthropicUsage> = {};
  let held: NativeStreamEvent[] | undefined = [];
  let started = false;
  for await (const sse of readSse(body)) {
    if (sse.data === '') continue;
    const value = parseStreamEvent(sse.data, provider);
    const type = typeof value.type === 'string' ? value.type : (sse.event ?? '');
    if (type === 'error') throw streamError(value, provider);
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

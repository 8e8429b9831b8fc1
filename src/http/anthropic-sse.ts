/**
 * Anthropic's server-sent-event framing: every event is named (`event: <type>`) and its data
 * carries the same `type`. The SDKs dispatch on the event name and skip unnamed events, so the
 * name is not optional. Events are written through `SseWriter.frame`, which keeps the first-event
 * flush, corking and backpressure of the OpenAI stream.
 */
import { toAnthropicErrorBody, type GatewayError } from '../gateway/errors.js';
import type { StreamEvent } from '../providers/anthropic/api.js';
import type { NativeStreamEvent } from '../providers/types.js';

/** Several events as one string (one socket write per upstream chunk). */
export function anthropicFrames(events: readonly StreamEvent[]): string {
  let text = '';
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!;
    text += `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
  }
  return text;
}

/** The `error` event that ends a stream which failed after its first event; it names the request, as an HTTP error's body does. */
export function anthropicErrorFrame(error: GatewayError, requestId: string): string {
  return `event: error\ndata: ${JSON.stringify({ ...toAnthropicErrorBody(error, 'stream'), request_id: requestId })}\n\n`;
}

/**
 * An upstream event forwarded as it came: its name and its `data` text, byte for byte. Data that
 * spanned several `data:` lines (the SSE parser joined them with newlines) is split the same way.
 */
export function nativeFrame(event: NativeStreamEvent): string {
  const { data } = event;
  const lines = data.includes('\n') ? data.replaceAll('\n', '\ndata: ') : data;
  return `event: ${event.name}\ndata: ${lines}\n\n`;
}

/**
 * Builds binary ConverseStream bodies from the JSON event lists beside this file
 * (`*.events.json`). The lists are the reviewable source (event names and payloads as the API
 * reference shows them, with Bedrock's `p` padding field); the bytes are made by the real
 * @smithy/eventstream-codec, so framing, header encoding and both CRCs are exact. An entry is
 * `{"event": "<:event-type>", "payload": {...}}` or `{"exception": "<:exception-type>", "payload": {...}}`.
 */
import { readFileSync } from 'node:fs';
import { EventStreamCodec, type MessageHeaders } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';

export type FixtureEvent = { event: string; payload: unknown } | { exception: string; payload: unknown };

const codec = new EventStreamCodec(toUtf8, fromUtf8);

export function encodeEvent(entry: FixtureEvent): Buffer {
  const headers: MessageHeaders =
    'event' in entry
      ? { ':event-type': { type: 'string', value: entry.event }, ':content-type': { type: 'string', value: 'application/json' }, ':message-type': { type: 'string', value: 'event' } }
      : { ':exception-type': { type: 'string', value: entry.exception }, ':content-type': { type: 'string', value: 'application/json' }, ':message-type': { type: 'string', value: 'exception' } };
  return Buffer.from(codec.encode({ headers, body: fromUtf8(JSON.stringify(entry.payload)) }));
}

export function readEventList(name: string): FixtureEvent[] {
  return JSON.parse(readFileSync(new URL(`./${name}.events.json`, import.meta.url), 'utf8')) as FixtureEvent[];
}

/** The whole body of a fixture stream, e.g. `streamFixture('stream-text')`. */
export function streamFixture(name: string): Buffer {
  return Buffer.concat(readEventList(name).map(encodeEvent));
}

/** A body delivered in pieces of `size` bytes (messages split across and packed into chunks). */
export async function* chunked(body: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < body.byteLength; offset += size) yield body.subarray(offset, offset + size);
}

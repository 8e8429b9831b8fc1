/**
 * The AWS event stream (`application/vnd.amazon.eventstream`) read from a streaming body. Each
 * message is framed as: total length (4 bytes), headers length (4), prelude CRC (4), headers,
 * payload, message CRC (4). Network chunks split messages anywhere and may carry several, so
 * bytes are buffered until the total length announced by a prelude has arrived; each whole message
 * is then decoded (CRCs checked) by @smithy/eventstream-codec.
 */
import { crc32 } from 'node:zlib';
import { EventStreamCodec, type MessageHeaders } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { GatewayError } from '../../gateway/errors.js';

/** One decoded message: its type headers and its payload bytes. */
export interface EventStreamMessage {
  /** `:message-type`: `event`, `exception` or `error`. */
  messageType: string;
  /** `:event-type` of an event, `:exception-type` of an exception, `:error-code` of an error. */
  type: string;
  /** `:error-message` of an error message (its payload is empty). */
  errorMessage?: string;
  payload: Uint8Array;
}

const PRELUDE_LENGTH = 12;
const MIN_MESSAGE_LENGTH = 16;
/** AWS event-stream messages are at most 16 MiB (payload) plus headers; anything above is garbage. */
const MAX_MESSAGE_LENGTH = 24 * 1024 * 1024;

const codec = new EventStreamCodec(toUtf8, fromUtf8);

export async function* readEventStream(body: AsyncIterable<Uint8Array>, provider: string): AsyncGenerator<EventStreamMessage> {
  const pending: Uint8Array[] = [];
  let pendingBytes = 0;
  // Bytes needed before decoding can go on: a prelude, or the rest of a message already announced.
  let needed = PRELUDE_LENGTH;
  for await (const chunk of body) {
    if (chunk.byteLength === 0) continue;
    pending.push(chunk);
    pendingBytes += chunk.byteLength;
    if (pendingBytes < needed) continue;
    // Usually one piece (then nothing is copied); a split message is joined once it is whole.
    const bytes = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
    let offset = 0;
    needed = PRELUDE_LENGTH;
    while (bytes.byteLength - offset >= PRELUDE_LENGTH) {
      const total = preludeLength(bytes, offset, provider);
      if (bytes.byteLength - offset < total) {
        // About to wait for the rest: make sure the announced length is not garbage first. (A whole
        // message's prelude CRC is checked by the codec, so it is not computed twice.)
        checkPreludeCrc(bytes, offset, provider);
        needed = total;
        break;
      }
      yield decodeMessage(bytes.subarray(offset, offset + total), provider);
      offset += total;
    }
    pending.length = 0;
    pendingBytes = bytes.byteLength - offset;
    if (pendingBytes > 0) pending.push(bytes.subarray(offset));
  }
  if (pendingBytes > 0) throw malformed(provider, 'the stream ended in the middle of a message');
}

/** The total length of the message starting at `offset`, after checking it is possible. */
function preludeLength(bytes: Uint8Array, offset: number, provider: string): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, PRELUDE_LENGTH);
  const total = view.getUint32(0);
  const headersLength = view.getUint32(4);
  if (total < MIN_MESSAGE_LENGTH || total > MAX_MESSAGE_LENGTH || headersLength > total - MIN_MESSAGE_LENGTH) {
    checkPreludeCrc(bytes, offset, provider); // a corrupt prelude says so before an impossible length does
    throw malformed(provider, `a message announced an impossible length (${total} bytes)`);
  }
  return total;
}

function checkPreludeCrc(bytes: Uint8Array, offset: number, provider: string): void {
  const expected = new DataView(bytes.buffer, bytes.byteOffset + offset + 8, 4).getUint32(0);
  if (crc32(bytes.subarray(offset, offset + 8)) !== expected) throw malformed(provider, 'a message prelude failed its checksum');
}

function decodeMessage(bytes: Uint8Array, provider: string): EventStreamMessage {
  let headers: MessageHeaders;
  let payload: Uint8Array;
  try {
    ({ headers, body: payload } = codec.decode(bytes));
  } catch (err) {
    // The codec checks the message CRC and the header encoding.
    throw malformed(provider, 'a message failed its checksum or header decoding', err);
  }
  const messageType = stringHeader(headers, ':message-type');
  if (messageType === 'event') return { messageType, type: stringHeader(headers, ':event-type') ?? '', payload };
  if (messageType === 'exception') return { messageType, type: stringHeader(headers, ':exception-type') ?? '', payload };
  if (messageType === 'error') {
    return { messageType, type: stringHeader(headers, ':error-code') ?? '', errorMessage: stringHeader(headers, ':error-message'), payload };
  }
  throw malformed(provider, `a message has the unknown :message-type ${JSON.stringify(messageType ?? null)}`);
}

function stringHeader(headers: MessageHeaders, name: string): string | undefined {
  const header = headers[name];
  return header?.type === 'string' ? header.value : undefined;
}

function malformed(provider: string, what: string, cause?: unknown): GatewayError {
  return new GatewayError('upstream_error', `The upstream provider "${provider}" sent a malformed event stream: ${what}.`, { provider, cause });
}

/** A message's JSON payload; garbage is an upstream failure. */
export function parsePayload(message: EventStreamMessage, provider: string): Record<string, unknown> {
  const { payload } = message;
  try {
    // Buffer's UTF-8 decoding (no copy: a view on the same bytes) is several times cheaper per call than TextDecoder's.
    const value: unknown = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8'));
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw malformed(provider, `the payload of a "${message.type}" message is not a JSON object`);
}

/**
 * The AWS event stream (`application/vnd.amazon.eventstream`) read from a streaming body. Each
 * message is framed as: total length (4 bytes), headers length (4), prelude CRC (4), headers,
 * payload, message CRC (4). Network chunks split messages anywhere and may carry several, so
 * bytes are buffered until the total length announced by a prelude has arrived; each whole message
 * is then decoded, both CRCs checked.
 *
 * The decoding is written here on node's CRC-32 (zlib.crc32) rather than done by
 * @smithy/eventstream-codec (which DESIGN.md names) for a measured reason: the codec's
 * JavaScript CRC and header decoding cost ~1.7 µs per message, ~37 µs of a 20-chunk stream, and
 * put the Bedrock stream path below 75% of the OpenAI passthrough; this costs ~0.4 µs (bench:providers: 3.5 → 2.9 µs per chunk for the whole translator). The tests
 * decode what the codec encodes (every header type) and AWS's published vectors.
 */
import { crc32 } from 'node:zlib';
import { GatewayError } from '../../gateway/errors.js';
import { MAX_UPSTREAM_JSON_DEPTH, nestsDeeperThan } from '../upstream-json.js';

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
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const total = bytes.byteLength;
  const headersEnd = PRELUDE_LENGTH + view.getUint32(4);
  if (crc32(bytes.subarray(0, 8)) !== view.getUint32(8)) throw malformed(provider, 'a message prelude failed its checksum');
  if (crc32(bytes.subarray(0, total - 4)) !== view.getUint32(total - 4)) throw malformed(provider, 'a message failed its checksum');
  const headers = readStringHeaders(bytes, view, headersEnd, provider);
  const payload = bytes.subarray(headersEnd, total - 4);
  const messageType = headers[':message-type'];
  if (messageType === 'event') return { messageType, type: headers[':event-type'] ?? '', payload };
  if (messageType === 'exception') return { messageType, type: headers[':exception-type'] ?? '', payload };
  if (messageType === 'error') return { messageType, type: headers[':error-code'] ?? '', errorMessage: headers[':error-message'], payload };
  throw malformed(provider, `a message has the unknown :message-type ${JSON.stringify(messageType ?? null)}`);
}

/** Byte size of a header value of each fixed-size type (0 and 1 are booleans with no value). */
const FIXED_VALUE_SIZE: Record<number, number> = { 0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16 };
const BYTE_ARRAY = 6;
const STRING = 7;

/**
 * The message's string-valued headers (the only ones the gateway reads); the others are stepped
 * over. Each header: name length (1 byte), name, value type (1 byte), value (by type; byte arrays
 * and strings carry a 2-byte length).
 */
function readStringHeaders(bytes: Uint8Array, view: DataView, end: number, provider: string): Record<string, string> {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headers: Record<string, string> = {};
  let at = PRELUDE_LENGTH;
  while (at < end) {
    const nameEnd = at + 1 + bytes[at]!;
    if (nameEnd >= end) throw malformed(provider, 'a message header is cut short');
    const name = buffer.toString('utf8', at + 1, nameEnd);
    const type = bytes[nameEnd]!;
    at = nameEnd + 1;
    if (type === BYTE_ARRAY || type === STRING) {
      if (at + 2 > end) throw malformed(provider, 'a message header is cut short');
      const valueEnd = at + 2 + view.getUint16(at);
      if (valueEnd > end) throw malformed(provider, 'a message header is cut short');
      if (type === STRING) headers[name] = buffer.toString('utf8', at + 2, valueEnd);
      at = valueEnd;
      continue;
    }
    const size = FIXED_VALUE_SIZE[type];
    if (size === undefined) throw malformed(provider, `a message header has the unknown type ${type}`);
    at += size;
  }
  if (at !== end) throw malformed(provider, 'a message header is cut short');
  return headers;
}

function malformed(provider: string, what: string, cause?: unknown): GatewayError {
  return new GatewayError('upstream_error', `The upstream provider "${provider}" sent a malformed event stream: ${what}.`, { provider, cause });
}

/** A message's JSON payload; garbage is an upstream failure. */
export function parsePayload(message: EventStreamMessage, provider: string): Record<string, unknown> {
  const { payload } = message;
  try {
    // Buffer's UTF-8 decoding (no copy: a view on the same bytes) is several times cheaper per call than TextDecoder's.
    const text = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8');
    const value: unknown = nestsDeeperThan(text, MAX_UPSTREAM_JSON_DEPTH) ? undefined : JSON.parse(text);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw malformed(provider, `the payload of a "${message.type}" message is not a JSON object`);
}

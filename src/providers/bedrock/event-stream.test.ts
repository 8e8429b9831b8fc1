import { crc32 } from 'node:zlib';
import { EventStreamCodec, Int64, type MessageHeaders } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../gateway/errors.js';
import { chunked, encodeEvent, readEventList, streamFixture } from './__fixtures__/events.js';
import { parsePayload, readEventStream, type EventStreamMessage } from './event-stream.js';

/** AWS's event-stream test vectors (aws-c-event-stream, also in smithy-typescript's codec tests). */
const VECTORS = {
  payloadOneStrHeader: 'AAAAPQAAACAH/YOWDGNvbnRlbnQtdHlwZQcAEGFwcGxpY2F0aW9uL2pzb257J2Zvbyc6J2Jhcid9jZwIsQ==',
  corruptedPayload: 'AAAAHQAAAAD9UoxaWydmb28nOidiYXInfcNlOTY=',
  corruptedLength: 'AAAAPgAAACAH/YOWDGNvbnRlbnQtdHlwZQcAEGFwcGxpY2F0aW9uL2pzb257J2Zvbyc6J2Jhcid9jZwIsQ==',
  corruptedHeaders: 'AAAAPQAAACAH/YOWDGNvbnRlbnQtdHlwZQcAEGFwcGxpY2F0aW9uL2pzb257YWZvbyc6J2Jhcid9jZwIsQ==',
};

async function collect(body: AsyncIterable<Uint8Array>): Promise<EventStreamMessage[]> {
  const messages: EventStreamMessage[] = [];
  for await (const message of readEventStream(body, 'aws')) messages.push(message);
  return messages;
}

async function failure(body: AsyncIterable<Uint8Array>): Promise<GatewayError> {
  const error = await collect(body).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(GatewayError);
  return error as GatewayError;
}

function fromBase64(text: string): AsyncIterable<Uint8Array> {
  return chunked(Buffer.from(text, 'base64'), 1024);
}

describe('the fixture encoder', () => {
  it('produces the bytes of AWS\'s published test vector (framing, header encoding, CRCs)', () => {
    const codec = new EventStreamCodec(toUtf8, fromUtf8);
    const bytes = codec.encode({ headers: { 'content-type': { type: 'string', value: 'application/json' } }, body: fromUtf8("{'foo':'bar'}") });
    expect(Buffer.from(bytes).toString('base64')).toBe(VECTORS.payloadOneStrHeader);
  });
});

describe('readEventStream', () => {
  const events = readEventList('stream-text');
  const body = streamFixture('stream-text');

  it.each([1, 3, 7, 12, 13, 64, 100_000])('decodes every message whatever the network chunk size (%i bytes)', async (size) => {
    const messages = await collect(chunked(body, size));
    expect(messages.map((m) => m.type)).toEqual(events.map((e) => ('event' in e ? e.event : e.exception)));
    expect(messages.every((m) => m.messageType === 'event')).toBe(true);
    expect(messages.map((m) => parsePayload(m, 'aws'))).toEqual(events.map((e) => e.payload));
  });

  it('decodes messages packed several to a chunk and split across chunk boundaries', async () => {
    const one = encodeEvent({ event: 'contentBlockDelta', payload: { contentBlockIndex: 0, delta: { text: 'a' } } });
    const two = encodeEvent({ event: 'contentBlockDelta', payload: { contentBlockIndex: 0, delta: { text: 'b' } } });
    const three = encodeEvent({ event: 'messageStop', payload: { stopReason: 'end_turn' } });
    const all = Buffer.concat([one, two, three]);
    // chunk 1: message one and half of two; chunk 2: the rest of two and all of three
    const cut = one.length + 10;
    async function* pieces(): AsyncGenerator<Uint8Array> {
      yield all.subarray(0, cut);
      yield all.subarray(cut);
    }
    const messages = await collect(pieces());
    expect(messages.map((m) => parsePayload(m, 'aws'))).toEqual([{ contentBlockIndex: 0, delta: { text: 'a' } }, { contentBlockIndex: 0, delta: { text: 'b' } }, { stopReason: 'end_turn' }]);
  });

  it('reads exceptions with their :exception-type', async () => {
    const [message] = await collect(chunked(streamFixture('stream-throttled'), 5000)).then((m) => m.slice(1));
    expect(message).toMatchObject({ messageType: 'exception', type: 'throttlingException' });
    expect(parsePayload(message!, 'aws')).toEqual({ message: 'Too many tokens, please wait before trying again.' });
  });

  it('reads error messages with their :error-code and :error-message headers', async () => {
    const codec = new EventStreamCodec(toUtf8, fromUtf8);
    const bytes = codec.encode({
      headers: {
        ':message-type': { type: 'string', value: 'error' },
        ':error-code': { type: 'string', value: 'InternalFailure' },
        ':error-message': { type: 'string', value: 'An internal error occurred.' },
      },
      body: new Uint8Array(0),
    });
    const [message] = await collect(chunked(bytes, 10));
    expect(message).toMatchObject({ messageType: 'error', type: 'InternalFailure', errorMessage: 'An internal error occurred.' });
  });

  it('rejects AWS\'s corrupted test vectors as an upstream error (502)', async () => {
    for (const vector of [VECTORS.corruptedPayload, VECTORS.corruptedLength, VECTORS.corruptedHeaders]) {
      const error = await failure(fromBase64(vector));
      expect(error.code).toBe('upstream_error');
      expect(error.status).toBe(502);
      expect(error.message).toContain('malformed event stream');
    }
  });

  it('rejects a message whose payload was altered in transit (message CRC)', async () => {
    const altered = Buffer.from(body);
    const at = altered.indexOf('How can');
    altered[at] = 'N'.charCodeAt(0);
    const error = await failure(chunked(altered, 50));
    expect(error.message).toContain('checksum');
  });

  it('rejects a prelude whose length was altered at once, instead of waiting for bytes that will not come', async () => {
    const altered = Buffer.from(body);
    altered.writeUInt32BE(altered.readUInt32BE(0) + altered.length, 0); // possible, but longer than what came
    async function* thenSilence(): AsyncGenerator<Uint8Array> {
      yield altered;
      await new Promise(() => undefined); // the upstream keeps the connection open and sends nothing
    }
    const error = await failure(thenSilence());
    expect(error.message).toContain('prelude failed its checksum');
  });

  it('rejects a stream that ends in the middle of a message', async () => {
    const error = await failure(chunked(body.subarray(0, body.length - 5), 40));
    expect(error.message).toContain('ended in the middle of a message');
  });

  it('rejects a body that is not an event stream at all, at once', async () => {
    const error = await failure(chunked(Buffer.from('<html><body>502 Bad Gateway</body></html>'), 1000));
    expect(error.status).toBe(502);
  });

  it('rejects a message without a known :message-type', async () => {
    const error = await failure(fromBase64(VECTORS.payloadOneStrHeader));
    expect(error.message).toContain(':message-type');
  });

  it('parsePayload turns a payload that is not a JSON object into a 502', () => {
    const message: EventStreamMessage = { messageType: 'event', type: 'contentBlockDelta', payload: fromUtf8('{"contentBlockIndex":') };
    expect(() => parsePayload(message, 'aws')).toThrow(/payload of a "contentBlockDelta" message is not a JSON object/);
  });
});

describe('readEventStream against @smithy/eventstream-codec', () => {
  const codec = new EventStreamCodec(toUtf8, fromUtf8);
  /** Every header type the format has, around the string headers the gateway reads. */
  const headers: MessageHeaders = {
    ':message-type': { type: 'string', value: 'event' },
    flag: { type: 'boolean', value: true },
    off: { type: 'boolean', value: false },
    ':event-type': { type: 'string', value: 'contentBlockDelta' },
    b: { type: 'byte', value: -3 },
    s: { type: 'short', value: 1234 },
    i: { type: 'integer', value: 123456 },
    l: { type: 'long', value: Int64.fromNumber(1234567890123) },
    bytes: { type: 'binary', value: Uint8Array.of(0, 1, 2, 250) },
    ts: { type: 'timestamp', value: new Date('2026-11-23T12:00:00Z') },
    id: { type: 'uuid', value: '6e4f0f8a-1c2b-4d3e-8f90-a1b2c3d4e5f6' },
    ':content-type': { type: 'string', value: 'application/json; charset=utf-8 ✓' },
  };

  it('decodes what the codec encodes: every header type stepped over, string headers and payload exact', async () => {
    const payloads = ['{"contentBlockIndex":0,"delta":{"text":"héllo ✓"}}', '', 'x'.repeat(70_000)];
    const bytes = Buffer.concat(payloads.map((payload) => codec.encode({ headers, body: fromUtf8(payload) })));
    const messages = await collect(chunked(bytes, 7));
    expect(messages.map((m) => ({ messageType: m.messageType, type: m.type, payload: Buffer.from(m.payload).toString('utf8') }))).toEqual(
      payloads.map((payload) => ({ messageType: 'event', type: 'contentBlockDelta', payload })),
    );
    for (const [i, message] of messages.entries()) expect(Buffer.from(message.payload)).toEqual(Buffer.from(codec.decode(codec.encode({ headers, body: fromUtf8(payloads[i]!) })).body));
  });

  it('rejects a header of an unknown type even when the CRCs are right', async () => {
    // prelude + one header "x" of type 42 + CRCs computed over the bad bytes
    const header = Buffer.from([1, 'x'.charCodeAt(0), 42]);
    const total = 12 + header.length + 4;
    const message = Buffer.alloc(total);
    message.writeUInt32BE(total, 0);
    message.writeUInt32BE(header.length, 4);
    message.writeUInt32BE(crc32(message.subarray(0, 8)), 8);
    header.copy(message, 12);
    message.writeUInt32BE(crc32(message.subarray(0, total - 4)), total - 4);
    const error = await failure(chunked(message, 100));
    expect(error.message).toContain('unknown type 42');
  });
});

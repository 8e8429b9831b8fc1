import { describe, expect, it } from 'vitest';
import { readSse } from './sse.js';

async function* pieces(...parts: (string | Uint8Array)[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield typeof part === 'string' ? Buffer.from(part) : part;
}

async function events(body: AsyncIterable<Uint8Array>): Promise<{ data: string; event?: string; id?: string }[]> {
  const out: { data: string; event?: string; id?: string }[] = [];
  for await (const event of readSse(body)) out.push({ data: event.data, ...(event.event ? { event: event.event } : {}), ...(event.id ? { id: event.id } : {}) });
  return out;
}

describe('readSse', () => {
  it('yields one event per blank-line-terminated block', async () => {
    expect(await events(pieces('data: one\n\ndata: two\n\n'))).toEqual([{ data: 'one' }, { data: 'two' }]);
  });

  it('joins several data lines of one event with newlines', async () => {
    expect(await events(pieces('data: line 1\ndata: line 2\ndata:\n\n'))).toEqual([{ data: 'line 1\nline 2\n' }]);
  });

  it('strips exactly one space after the colon', async () => {
    expect(await events(pieces('data:no-space\n\ndata:  two-spaces\n\n'))).toEqual([{ data: 'no-space' }, { data: ' two-spaces' }]);
  });

  it('reads event names and ids, and ignores comments and retry lines', async () => {
    expect(await events(pieces(': ping\n\nretry: 1000\nevent: message_start\nid: 42\ndata: {"a":1}\n\n'))).toEqual([
      { data: '{"a":1}', event: 'message_start', id: '42' },
    ]);
  });

  it('accepts CRLF and lone CR line endings', async () => {
    expect(await events(pieces('data: a\r\n\r\ndata: b\r\rdata: c\n\n'))).toEqual([{ data: 'a' }, { data: 'b' }, { data: 'c' }]);
  });

  it('reassembles events split across reads, between CR and LF too', async () => {
    expect(await events(pieces('da', 'ta: hel', 'lo\r', '\n', '\r', '\ndata: x\n', '\n'))).toEqual([{ data: 'hello' }, { data: 'x' }]);
  });

  it('decodes UTF-8 characters split across reads', async () => {
    const bytes = Buffer.from('data: Ça こんにちは 👋\n\n');
    // Split in the middle of every multi-byte sequence: one byte per read.
    const oneByteEach = [...bytes].map((b) => Uint8Array.of(b));
    expect(await events(pieces(...oneByteEach))).toEqual([{ data: 'Ça こんにちは 👋' }]);
  });

  it('yields each event as soon as its block is complete (before the body ends)', async () => {
    const seen: string[] = [];
    async function* body(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('data: first\n\n');
      seen.push('second read');
      yield Buffer.from('data: second\n\n');
    }
    for await (const event of readSse(body())) seen.push(event.data);
    expect(seen).toEqual(['first', 'second read', 'second']);
  });

  it('drops an incomplete event at the end of the body, as the SSE spec says', async () => {
    expect(await events(pieces('data: complete\n\ndata: incomplete'))).toEqual([{ data: 'complete' }]);
    expect(await events(pieces('data: complete\n\ndata: no blank line\n'))).toEqual([{ data: 'complete' }]);
  });

  it('ignores a UTF-8 byte order mark at the start', async () => {
    expect(await events(pieces(Uint8Array.of(0xef, 0xbb, 0xbf), 'data: x\n\n'))).toEqual([{ data: 'x' }]);
    // Split across reads, too; and only at the very start.
    expect(await events(pieces(Uint8Array.of(0xef), Uint8Array.of(0xbb, 0xbf), 'data: y\n\n'))).toEqual([{ data: 'y' }]);
    expect(await events(pieces('data: \ufeffz\n\n'))).toEqual([{ data: '\ufeffz' }]);
  });

  it('yields nothing for an empty body', async () => {
    expect(await events(pieces())).toEqual([]);
  });

  it('passes a read error of the body on', async () => {
    const failure = new Error('socket hang up');
    async function* body(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('data: a\n\n');
      throw failure;
    }
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const event of readSse(body())) seen.push(event.data);
      })(),
    ).rejects.toBe(failure);
    expect(seen).toEqual(['a']);
  });
});

import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CLIENT_STALL_MS, SseWriter } from './sse.js';

let server: Server | undefined;

afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

/** Starts a server whose handler is `handle`, makes one request and returns the raw body. */
async function exchange(handle: (res: ServerResponse) => Promise<void>): Promise<{ body: string; response: IncomingMessage }> {
  server = createServer((_req, res) => void handle(res));
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    request({ port, host: '127.0.0.1', method: 'POST', path: '/' }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (text: string) => (body += text));
      response.on('end', () => resolve({ body, response }));
    })
      .on('error', reject)
      .end();
  });
}

describe('SseWriter', () => {
  it('hands the first event to the kernel at once, before the rest of the tick runs', async () => {
    const seen: { corked: number; pending: number }[] = [];
    await exchange(async (res) => {
      // As in the gateway, the writes run in a promise continuation: node:http's own uncork is a
      // nextTick, which waits until every queued continuation (the rest of the stream) has run.
      await Promise.resolve();
      const sse = new SseWriter(res);
      sse.start([{ 'x-test': '1' }]);
      await sse.data('{"n":1}');
      // Still the same tick as the write: nothing of the first event may wait in node's buffer.
      seen.push({ corked: res.socket!.writableCorked, pending: res.socket!.writableLength });
      await sse.data('{"n":2}');
      seen.push({ corked: res.socket!.writableCorked, pending: res.socket!.writableLength });
      sse.end(true);
    });
    expect(seen[0]).toEqual({ corked: 0, pending: 0 });
    // Later events of the same tick are corked together and go out at the next tick.
    expect(seen[1]!.corked).toBeGreaterThan(0);
  });

  it('frames events as data lines and ends with [DONE]', async () => {
    const { body, response } = await exchange(async (res) => {
      const sse = new SseWriter(res);
      sse.start([]);
      await sse.data('{"a":1}');
      await sse.data('{"b":2}');
      sse.end(true);
    });
    expect(response.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(response.headers['cache-control']).toBe('no-cache');
    expect(body).toBe('data: {"a":1}\n\ndata: {"b":2}\n\ndata: [DONE]\n\n');
  });

  it('leaves no listeners behind after waiting for a slow client to drain', async () => {
    const counts: number[] = [];
    const big = JSON.stringify({ text: 'x'.repeat(64 * 1024) });
    server = createServer((_req, res) => {
      void (async () => {
        const sse = new SseWriter(res);
        sse.start([]);
        for (let i = 0; i < 60; i++) {
          await sse.data(big);
          counts.push(res.listenerCount('close') + res.listenerCount('drain') + res.listenerCount('error'));
        }
        sse.end(true);
      })();
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    // A client that reads in small sips, so the writer waits for 'drain' again and again.
    await new Promise<void>((resolve, reject) => {
      request({ port, host: '127.0.0.1', method: 'POST', path: '/' }, (response) => {
        response.on('data', () => {
          response.pause();
          setTimeout(() => response.resume(), 1);
        });
        response.on('end', resolve);
      })
        .on('error', reject)
        .end();
    });
    expect(counts).toHaveLength(60);
    expect(Math.max(...counts)).toBe(Math.min(...counts));
  });

  it(`closes the connection of a client that reads nothing for ${CLIENT_STALL_MS / 1000} s`, async () => {
    const big = JSON.stringify({ text: 'x'.repeat(256 * 1024) });
    let finish!: (outcome: { closed: boolean; writes: number }) => void;
    const outcome = new Promise<{ closed: boolean; writes: number }>((resolve) => (finish = resolve));
    server = createServer((_req, res) => {
      void (async () => {
        const sse = new SseWriter(res);
        sse.start([]);
        let writes = 0;
        while (!sse.closed && writes < 1_000) {
          const wrote = sse.data(big);
          writes++;
          // Once the socket is full, move the clock past the stall limit.
          if (res.writableNeedDrain) vi.advanceTimersByTime(CLIENT_STALL_MS);
          await wrote;
        }
        finish({ closed: sse.closed, writes });
      })();
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      // A client that sends its request and then reads nothing.
      const client = connect(port, '127.0.0.1', () => client.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n'));
      client.pause();
      const result = await outcome;
      client.destroy();
      expect(result.closed).toBe(true);
      expect(result.writes).toBeLessThan(1_000);
    } finally {
      vi.useRealTimers();
    }
  });
});

import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SseWriter } from './sse.js';

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
});

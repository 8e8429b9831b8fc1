/**
 * Writes an OpenAI-style server-sent-event stream straight to the socket: each chunk is flushed
 * as it arrives, backpressure is respected, and a failure after the first byte ends the stream
 * with an error event in OpenAI's format (the status line has already gone out).
 */
import type { ServerResponse } from 'node:http';
import { once } from 'node:events';

export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
} as const;

export class SseWriter {
  constructor(private readonly res: ServerResponse) {}

  start(headers: Record<string, string>): void {
    this.res.writeHead(200, { ...SSE_HEADERS, ...headers });
    this.res.flushHeaders();
  }

  /** Writes one `data:` event; waits for the socket to drain when the client reads slowly. */
  async data(json: string): Promise<void> {
    if (this.res.destroyed) return;
    if (!this.res.write(`data: ${json}\n\n`)) {
      await Promise.race([once(this.res, 'drain'), once(this.res, 'close')]);
    }
  }

  end(withDone: boolean): void {
    if (this.res.destroyed || this.res.writableEnded) return;
    this.res.end(withDone ? 'data: [DONE]\n\n' : undefined);
  }

  get closed(): boolean {
    return this.res.destroyed || this.res.writableEnded;
  }
}

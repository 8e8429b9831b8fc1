/**
 * Writes an OpenAI-style server-sent-event stream straight to the socket: each chunk is flushed
 * as it arrives, backpressure is respected, and a failure after the first byte ends the stream
 * with an error event in OpenAI's format (the status line has already gone out).
 */
import type { OutgoingHttpHeader, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { mergeHeaders, type HeaderRecord } from '../providers/headers.js';

/**
 * No `connection` header: Node writes `keep-alive` or `close` itself from the request (a client's
 * `Connection: close`, HTTP/1.0), and a fixed `keep-alive` kept such clients' connections open.
 */
export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
} as const;

/**
 * How long a stream waits for a client that reads nothing before closing its connection. A client
 * that stopped reading would otherwise hold the stream, its upstream call and its buffers open for
 * as long as it kept the connection (the request is logged as 499, the client having gone).
 */
export const CLIENT_STALL_MS = 60_000;

/** Resolves once the response can take more (or is closed); closes it after CLIENT_STALL_MS without either. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    const timer = setTimeout(() => {
      res.destroy();
      done();
    }, CLIENT_STALL_MS);
    res.on('drain', done);
    res.on('close', done);
  });
}

export class SseWriter {
  #sentFirst = false;
  #corked = false;
  readonly #uncork = (): void => {
    this.#corked = false;
    this.res.uncork();
  };

  #trailers: (() => Record<string, string>) | undefined;

  constructor(private readonly res: ServerResponse) {}

  /**
   * The status line and headers (the records of `headers` merged, later ones winning) go out with
   * the first event, in one packet. `trailers` are computed when the stream ends and sent as HTTP
   * trailers (announced in `Trailer`), for what is only known then, such as the answer's cost.
   */
  start(headers: readonly Readonly<HeaderRecord>[], trailers?: { names: string[]; values: () => Record<string, string> }): void {
    const all = mergeHeaders<OutgoingHttpHeader | undefined>(SSE_HEADERS, ...headers);
    // An HTTP/1.0 client (nginx's default towards upstreams) gets no chunked encoding: the stream
    // ends when the connection closes, and no trailers (only chunked bodies have them).
    const chunked = this.res.useChunkedEncodingByDefault;
    if (trailers && chunked) {
      this.#trailers = trailers.values;
      all.trailer = trailers.names.join(', ');
    }
    this.res.writeHead(200, all as OutgoingHttpHeaders);
  }

  /** Whether start() sent the status line and headers. */
  get started(): boolean {
    return this.res.headersSent;
  }

  /**
   * Writes one `data:` event; waits for the socket to drain when the client reads slowly.
   * The first event goes out at once (with the headers). Later events written in the same tick
   * (several upstream chunks from one network read) are corked into a single socket write;
   * nothing is held back past the current tick.
   */
  data(json: string): Promise<void> {
    return this.frame(`data: ${json}\n\n`);
  }

  /**
   * Writes already-framed event text (one or more events, e.g. Anthropic's `event:` + `data:`
   * pairs), with the same first-event flush, corking and backpressure as `data`.
   */
  async frame(text: string): Promise<void> {
    if (this.res.destroyed) return;
    let flowing: boolean;
    if (!this.#sentFirst) {
      this.#sentFirst = true;
      flowing = this.res.write(text);
      // node:http corks the socket on a write until the next tick, which comes only after every
      // chunk of this network read went through the pipeline: flush the first event now.
      const socket = this.res.socket;
      if (socket && socket.writableCorked > 0) socket.uncork();
    } else {
      if (!this.#corked) {
        this.#corked = true;
        this.res.cork();
        process.nextTick(this.#uncork);
      }
      flowing = this.res.write(text);
    }
    if (!flowing) await drained(this.res);
  }

  end(withDone: boolean): void {
    if (this.res.destroyed || this.res.writableEnded) return;
    if (this.#trailers) this.res.addTrailers(this.#trailers());
    this.res.end(withDone ? 'data: [DONE]\n\n' : undefined);
  }

  /** Closes the connection at once (nothing more can be sent properly). */
  abort(): void {
    this.res.destroy();
  }

  get closed(): boolean {
    return this.res.destroyed || this.res.writableEnded;
  }
}

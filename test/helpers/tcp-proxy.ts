/**
 * A TCP proxy on 127.0.0.1 (random port) in front of a real service (PostgreSQL), to stage an
 * outage: `cut()` drops every open connection and resets each new one at once (the service looks
 * down to its clients), `restore()` forwards again on the same port. `hang()` stages the quieter
 * one, a server that stops answering (paused, or packets dropped): connections stay open and
 * nothing passes either way until `restore()`. `loseNextCommitAnswer()`
 * stages the ambiguous failure: PostgreSQL commits a transaction, and the connection is reset
 * before its answer reaches the client.
 */
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';

export class TcpProxy {
  /** Connections accepted and forwarded. */
  forwarded = 0;
  /** Connections reset while cut. */
  refused = 0;
  /** Commits whose answer was dropped (loseNextCommitAnswer). */
  lostCommitAnswers = 0;
  #loseCommitAnswer = false;
  readonly #server: Server;
  readonly #target: { host: string; port: number };
  readonly #sockets = new Set<Socket>();
  #cut = false;
  #hung = false;
  /** What the hung connections held back, each pair's in order, passed on at restore(). */
  readonly #heldBack: (() => void)[] = [];

  private constructor(server: Server, target: { host: string; port: number }) {
    this.#server = server;
    this.#target = target;
  }

  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    const server = createServer();
    const proxy = new TcpProxy(server, target);
    server.on('connection', (socket) => proxy.#accept(socket));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return proxy;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  get isCut(): boolean {
    return this.#cut;
  }

  /** The outage begins: every open connection is reset, and so is each new one until restore(). */
  cut(): void {
    this.#cut = true;
    for (const socket of this.#sockets) socket.resetAndDestroy();
    this.#sockets.clear();
  }

  /**
   * The next COMMIT a client sends (a simple-query message, as node-postgres sends it) reaches the
   * server, and that connection is reset as soon as the server answers: the client never learns
   * that the transaction committed.
   */
  loseNextCommitAnswer(): void {
    this.#loseCommitAnswer = true;
  }

  /** The server stops answering: connections stay open, and nothing passes until restore(). */
  hang(): void {
    this.#hung = true;
  }

  /** The outage ends: new connections are forwarded again (and what a hang held back goes on). */
  restore(): void {
    this.#cut = false;
    this.#hung = false;
    for (const pass of this.#heldBack.splice(0)) pass();
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    if (this.#cut) {
      this.refused += 1;
      client.resetAndDestroy();
      return;
    }
    this.forwarded += 1;
    const upstream = connect(this.#target.port, this.#target.host);
    // Both sides tracked, so cut() tears the pair down whichever end it reaches first.
    this.#sockets.add(client);
    this.#sockets.add(upstream);
    const teardown = (): void => {
      client.destroy();
      upstream.destroy();
      this.#sockets.delete(client);
      this.#sockets.delete(upstream);
    };
    client.on('error', teardown).on('close', teardown);
    upstream.on('error', teardown).on('close', teardown);
    let dropAnswer = false;
    client.on('data', (chunk: Buffer) => {
      if (this.#hung) {
        this.#heldBack.push(() => upstream.write(chunk));
        return;
      }
      if (this.#loseCommitAnswer && chunk.includes(COMMIT_MESSAGE)) {
        this.#loseCommitAnswer = false;
        dropAnswer = true;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (this.#hung) {
        this.#heldBack.push(() => client.write(chunk));
        return;
      }
      if (!dropAnswer) {
        client.write(chunk);
        return;
      }
      this.lostCommitAnswers += 1;
      client.resetAndDestroy();
      teardown();
    });
  }
}

/** PostgreSQL's simple-query message for `commit`: 'Q', its length (itself included), the text and a NUL. */
const COMMIT_MESSAGE = (() => {
  const text = Buffer.from('commit\0');
  const length = Buffer.alloc(4);
  length.writeInt32BE(4 + text.length);
  return Buffer.concat([Buffer.from('Q'), length, text]);
})();

/**
 * A local webhook endpoint for e2e tests (alerts): records every call on 127.0.0.1 (random port)
 * with its path, headers and JSON body, and answers 200.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { closeFake, localOrigin, readRequestBody, serveFake } from '../fakes/http-fake.js';

export interface WebhookCall {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The body parsed as JSON (undefined when it was not JSON). */
  body: unknown;
  /** When the call arrived (epoch ms). */
  at: number;
}

export class WebhookReceiver {
  readonly calls: WebhookCall[] = [];
  readonly #server: Server;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(): Promise<WebhookReceiver> {
    const server = createServer();
    const receiver = new WebhookReceiver(server);
    await serveFake(server, (req, res) => receiver.#handle(req, res));
    return receiver;
  }

  /** `http://127.0.0.1:<port><path>` */
  url(path: string): string {
    return `${localOrigin(this.#server)}${path}`;
  }

  /** The calls made to one path, in arrival order. */
  callsTo(path: string): WebhookCall[] {
    return this.calls.filter((call) => call.path === path);
  }

  /** Polls until `path` received at least `count` calls (or the time is up); returns its calls. */
  async waitFor(path: string, count: number, timeoutMs = 5_000): Promise<WebhookCall[]> {
    const until = Date.now() + timeoutMs;
    while (this.callsTo(path).length < count && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
    return this.callsTo(path);
  }

  async close(): Promise<void> {
    await closeFake(this.#server);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { json } = await readRequestBody(req);
    this.calls.push({ method: req.method ?? 'POST', path: (req.url ?? '/').split('?')[0]!, headers: req.headers, body: json, at: Date.now() });
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
  }
}

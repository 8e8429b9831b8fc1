/**
 * The HTTP scaffolding every fake upstream shares: serve on 127.0.0.1 (random port), turn a
 * handler's own failure into a 500 that says it is a bug of the fake, read a request body, close.
 */
import { once } from 'node:events';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Starts `server` on 127.0.0.1 with `handle` for every request; resolves once it listens. */
export async function serveFake(server: Server, handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>): Promise<void> {
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`fake upstream bug: ${String(err)}`);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
}

/** `http://127.0.0.1:<port>` of a listening server. */
export function localOrigin(server: Server): string {
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Drops open connections (streams included) and stops listening. */
export async function closeFake(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** The whole request body as text, and parsed as JSON (undefined when empty or not JSON). */
export async function readRequestBody(req: IncomingMessage): Promise<{ text: string; json: unknown }> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { text, json };
}

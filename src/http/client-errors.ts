/**
 * Answers for requests Node's HTTP parser rejects before any route sees them: malformed framing,
 * headers over Node's size limit, a request that has not arrived in full within
 * `server.request_timeout_ms`. Fastify's default writes `{"error":"Bad Request",...}`; these get
 * the gateway's error shape from its code table like every other error, and the connection is
 * closed (the parser cannot tell where the next request would start).
 */
import { STATUS_CODES, maxHeaderSize, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import { GatewayError } from '../gateway/errors.js';
import { isAnthropicPath, shapedErrorBody } from './plugins/errors.js';
import { newRequestId, requestIdOf } from './request-id.js';

/** What Node gives the `clientError` listener: llhttp's errors carry a code and a reason. */
interface ClientError extends Error {
  code?: string;
  reason?: string;
  /** The bytes the parser stopped in (a Buffer, for a parse error): they usually hold the request line. */
  rawPacket?: unknown;
}

/** The response in flight on the socket, if Node has made one (headers parsed, body pending). */
interface SocketWithResponse extends Socket {
  _httpMessage?: { headersSent?: boolean; req?: IncomingMessage } | null;
}

export type ClientErrorHandler = (err: ClientError, socket: Socket) => void;

/**
 * What the gateway answered on a socket it then closed itself (a 408 for a request that took too
 * long, a 400 for a malformed chunk in a body): a request whose body was being read there fails
 * as "aborted", which is the gateway's doing, not the client's, and is recorded as this answer
 * rather than as a 499.
 */
export const closedWithAnswer = new WeakMap<Socket, GatewayError>();

export function clientErrorHandler(requestTimeoutMs: number, log: FastifyBaseLogger): ClientErrorHandler {
  return (err, rawSocket) => {
    const socket = rawSocket as SocketWithResponse;
    // A reset connection has no one to answer (Node's own handler does the same).
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const error = gatewayErrorOf(err, requestTimeoutMs);
    log.debug({ code: err.code, status: error.status }, 'client error: request rejected before routing');
    // The answer is the outcome of a request whose body was being read; but an unexpected end of
    // the body (HPE_INVALID_EOF_STATE) is a client that left, booked as 499.
    if (err.code !== 'HPE_INVALID_EOF_STATE') closedWithAnswer.set(socket, error);
    const response = socket._httpMessage;
    // Writing a second status line into a response already under way would corrupt it.
    if (socket.writable && !response?.headersSent) {
      // The request's id when its headers were read (a 408 mid-body), else a new one to quote.
      const requestId = response?.req ? requestIdOf(response.req) : newRequestId();
      // Before the headers were parsed there is no request, but the request line says the API.
      // Anthropic's errors name the request in the body and a request-id header, as other /v1/messages errors do.
      const anthropic = isAnthropicPath(response?.req?.url ?? requestPathIn(err.rawPacket));
      const body = JSON.stringify(shapedErrorBody(error, requestId, anthropic));
      socket.write(
        `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? 'Error'}\r\n` +
          `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${requestId}\r\n${anthropic ? `Request-Id: ${requestId}\r\n` : ''}Connection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy();
  };
}

/** The path of the request line at the start of `packet` ('' when it does not start with one). */
export function requestPathIn(packet: unknown): string {
  if (!Buffer.isBuffer(packet)) return '';
  return /^[A-Z]{3,10} (\S{1,2048}) HTTP\//.exec(packet.toString('latin1', 0, Math.min(packet.length, 2100)))?.[1] ?? '';
}

export function gatewayErrorOf(err: ClientError, requestTimeoutMs: number): GatewayError {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new GatewayError('request_timeout', `The request did not arrive in full within ${requestTimeoutMs} ms (server.request_timeout_ms); the connection is closed.`);
    case 'HPE_HEADER_OVERFLOW':
      return new GatewayError('headers_too_large', `The request headers are larger than this gateway accepts (${maxHeaderSize} bytes in all): send fewer or shorter headers.`);
    default: {
      const what = err.reason ?? err.code ?? 'unreadable request';
      return new GatewayError('invalid_http', `Malformed HTTP request: ${what.replace(/\.$/, '')}. The connection is closed.`);
    }
  }
}

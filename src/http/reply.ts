/**
 * What every API surface does around its own encoding: start the request context (a client that
 * goes away aborts the upstream call), send a JSON answer and settle after it, and run a streamed
 * answer to its end — once the first event is out, a failure ends the stream with the surface's
 * own error event; a client that left is a 499; the request is settled exactly once.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import { closeClient, createRequestContext, type RequestContext, type RouteName } from '../gateway/context.js';
import { asGatewayError, type GatewayError } from '../gateway/errors.js';
import { settle } from '../gateway/settle.js';
import type { Observers } from '../observability/observers.js';
import type { RequestSpan, Tracing } from '../observability/tracing.js';
import type { SseWriter } from './sse.js';

export function beginRequest(request: FastifyRequest, reply: FastifyReply, route: RouteName, observers: Observers): RequestContext {
  const rc = createRequestContext(request.id, route, request.startedAt);
  rc.rawBody = request.rawBody ?? undefined;
  rc.principal = request.principal ?? undefined;
  observers.metrics.begin(route);
  rc.inFlight = true;
  if (observers.recorder?.keepsBodies) rc.keepText = true;
  if (observers.tracing) rc.trace = startTrace(observers.tracing, request, route);
  const res = reply.raw as ServerResponse & { [CONTEXT]?: RequestContext };
  res[CONTEXT] = rc;
  // One shared listener (no closure per request): 'close' fires once per response.
  res.on('close', onResponseClose);
  request.rc = rc;
  return rc;
}

const CONTEXT = Symbol('switchyard.requestContext');

function onResponseClose(this: ServerResponse & { [CONTEXT]?: RequestContext }): void {
  const rc = this[CONTEXT];
  if (rc !== undefined && !this.writableFinished) closeClient(rc);
}

/**
 * Whether a stream's reader should stop: the client left and the request is not one that reads
 * on to its real usage (a billed request drains the upstream, within governance.drain_timeout_ms).
 */
export function stopReading(sse: SseWriter, rc: RequestContext): boolean {
  return sse.closed && rc.drainMs === 0;
}

/** A 200 JSON answer (`json` is the body text); metrics, the request log and the log line follow once it is on its way. */
export function sendJson(rc: RequestContext, request: FastifyRequest, reply: FastifyReply, observers: Observers, headers: Record<string, string>, json: string): string {
  // A billed request whose client left ran on to its answer (it is billed): still a 499, the client having gone.
  rc.status = rc.clientClosed ? 499 : 200;
  if (rc.clientClosed) rc.error ??= rc.clientClosed;
  rc.responseJson = json;
  reply.headers(headers).type('application/json; charset=utf-8');
  setImmediate(settle, rc, observers, request.log);
  return json;
}

/**
 * Starts the stream with `start` (its headers and trailers), runs `write` (which sends the events
 * and resolves true when the stream completed, false when the client left first) and closes the
 * stream properly on every outcome.
 */
export async function runStream(
  sse: SseWriter,
  start: Parameters<SseWriter['start']>,
  rc: RequestContext,
  log: FastifyBaseLogger,
  observers: Observers,
  write: () => Promise<boolean>,
  errorFrame: (error: GatewayError, requestId: string) => string,
): Promise<void> {
  rc.status = 200;
  let completed = false;
  observers.metrics.streamStarted();
  try {
    sse.start(...start);
    completed = await write();
  } catch (err) {
    const error = asGatewayError(err);
    rc.error = error;
    if (error.code === 'internal_error') log.error({ err }, 'unexpected error while streaming');
    if (error.code === 'client_closed_request' || sse.closed) {
      rc.status = 499;
    } else if (!sse.started) {
      // Failed before the status line went out (the route let go of Fastify's reply): nothing can
      // be said in the stream's terms, so the connection is closed rather than left hanging.
      rc.status = error.status;
      sse.abort();
    } else {
      await sse.frame(errorFrame(error, rc.requestId));
      sse.end(false);
    }
  } finally {
    observers.metrics.streamEnded();
    if (!completed && !rc.error) {
      // The client left (a billed stream read on to its end): logged like any other 499.
      rc.status = 499;
      rc.error = rc.clientClosed;
    }
    settle(rc, observers, log);
  }
}

/** The request's span, a child of the client's W3C trace context when it sent one. */
export function startTrace(tracing: Tracing, request: FastifyRequest, route: RouteName): RequestSpan {
  const { traceparent, tracestate } = request.headers;
  return tracing.startRequest({
    route,
    requestId: request.id,
    traceparent: typeof traceparent === 'string' ? traceparent : undefined,
    tracestate: typeof tracestate === 'string' ? tracestate : undefined,
    startTime: performance.timeOrigin + request.startedAt,
    httpMethod: request.method,
    urlPath: request.url.split('?')[0],
  });
}

/**
 * Maps every failure to the client's error shape: OpenAI's on OpenAI routes, Anthropic's on
 * /v1/messages. Fastify's own errors (body too large, bad content length, ...) are mapped onto the
 * gateway's error table; anything unexpected becomes a 500 that reveals nothing internal.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError, asGatewayError, toAnthropicErrorBody, toOpenAIErrorBody } from '../../gateway/errors.js';
import type { Observers } from '../../observability/observers.js';
import { settle } from '../../gateway/settle.js';
import { createRequestContext, type RouteName } from '../../gateway/context.js';
import { gatewayHeaders } from '../headers.js';
import { startTrace } from '../reply.js';
import { closedWithAnswer } from '../client-errors.js';
import { ConflictError, NotFoundError, isStorageUnavailable } from '../../storage/errors.js';

/** The refusals of the JSON body parser (plugins/body.ts), made once the whole body was read. */
const BODY_PARSER_CODES: ReadonlySet<string> = new Set(['invalid_json', 'invalid_encoding', 'unsupported_media_type', 'invalid_request']);

/** Whether a name is a configured model group (the only `model` label values besides `<provider>/*`). */
export type IsModelGroup = (name: string) => boolean;

export function registerErrorHandling(app: FastifyInstance, observers: Observers, isModelGroup: IsModelGroup): void {
  app.setErrorHandler((err: FastifyError | GatewayError, request, reply) => {
    const error = fromFastifyError(err, request);
    if (error.code === 'internal_error') request.log.error({ err: error.cause ?? err }, 'unexpected error');
    return sendError(request, reply, error, observers, isModelGroup);
  });
  app.setNotFoundHandler((request, reply) => {
    const error = new GatewayError('route_not_found', `Unknown route: ${request.method} ${request.url.split('?')[0]}. See the README for the endpoints this gateway serves.`);
    // Not an API request, whatever its path (DELETE /v1/chat/completions): not logged as one.
    return sendError(request, reply, error, observers, isModelGroup, 'other');
  });
}

function sendError(request: FastifyRequest, reply: FastifyReply, error: GatewayError, observers: Observers, isModelGroup: IsModelGroup, route = routeOf(request.url)): FastifyReply {
  // Failures before a route handler ran (bad body, bad key, unknown route) are settled too, and
  // traced like any API request (the client's trace context is kept).
  let rc = request.rc;
  if (!rc) {
    rc = createRequestContext(request.id, route, request.startedAt);
    // Authentication runs before the body is read: a bad body from a good key is that key's request.
    rc.principal = request.principal ?? undefined;
    if (observers.tracing && route !== 'other') rc.trace = startTrace(observers.tracing, request, route);
  }
  // Refused before routing named its group: a request for a configured group still counts under it
  // (metrics, the request log, that group's SLOs).
  if (rc.model === undefined) {
    const asked = (request.body as { model?: unknown } | undefined)?.model;
    if (typeof asked === 'string' && isModelGroup(asked)) rc.model = asked;
  }
  rc.status = error.status;
  rc.error = error;
  reply.headers(gatewayHeaders(rc));
  settle(rc, observers, request.log);
  if (error.retryAfterMs !== undefined) reply.header('retry-after', String(Math.max(1, Math.ceil(error.retryAfterMs / 1000))));
  // The official SDKs retry 429s and 5xx on their own unless told not to: these a retry cannot
  // change (a spent budget waits for its period's end, often hours away).
  if (error.code === 'budget_exceeded' || (error.retryAfterMs === undefined && (error.code === 'rate_limit_exceeded' || error.code === 'not_cached'))) reply.header('x-should-retry', 'false');
  if (error.headers) reply.headers(error.headers);
  // Fastify closes the connection after rejecting a body it did not read; closing while the client
  // is still uploading resets the socket, and fetch (so the OpenAI SDKs) reports EPIPE instead of
  // this 413. Without `connection: close` Node reads and discards the rest of the body instead.
  if (error.code === 'request_too_large') reply.removeHeader('connection');
  // Fastify closes the connection after any body parser error, in case the client is still
  // sending; ours reads the whole body first (parseAs: 'buffer'), so its refusals keep it open.
  if (BODY_PARSER_CODES.has(error.code)) reply.removeHeader('connection');
  return sendShaped(request, reply, error);
}

/**
 * An error's body in the surface's own shape: Anthropic's on the Messages API, which names the
 * request in `request_id` (and in a `request-id` header, the SDKs' error.requestID, which the
 * caller sets), OpenAI's elsewhere.
 */
export function shapedErrorBody(error: GatewayError, requestId: string, anthropic: boolean): object {
  return anthropic ? { ...toAnthropicErrorBody(error), request_id: requestId } : toOpenAIErrorBody(error);
}

/** The error in the surface's own shape (shapedErrorBody). */
function sendShaped(request: FastifyRequest, reply: FastifyReply, error: GatewayError): FastifyReply {
  const anthropic = isAnthropicPath(request.url);
  if (anthropic) reply.header('request-id', request.id);
  const body = shapedErrorBody(error, request.id, anthropic);
  return reply.code(error.status).type('application/json; charset=utf-8').send(body);
}

function routeOf(url: string): RouteName {
  if (url.includes('/chat/completions')) return 'chat';
  if (url.includes('/embeddings')) return 'embeddings';
  if (url.includes('/messages/count_tokens')) return 'count_tokens';
  if (isAnthropicPath(url)) return 'messages';
  return 'other';
}

/**
 * Fastify's own refusals before any route (its `frameworkErrors`): a path with a malformed
 * percent-escape, or a path parameter longer than the router takes. Answered in the API's error
 * shape, as every other error, not in Fastify's.
 */
export function frameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const gatewayError =
    error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? new GatewayError('invalid_request', 'A segment of the URL path is too long.', { status: 414 })
      : new GatewayError('invalid_request', 'The URL path is malformed (a % that does not start a valid escape such as %20).');
  reply.header('x-request-id', request.id);
  void sendShaped(request, reply, gatewayError);
}

/** The Messages API (served with and without the /v1 prefix) answers in Anthropic's error shape. */
export function isAnthropicPath(url: string): boolean {
  return url.startsWith('/v1/messages') || url.startsWith('/messages');
}

function fromFastifyError(err: FastifyError | GatewayError, request: FastifyRequest): GatewayError {
  if (err instanceof GatewayError) return err;
  // The admin API's storage errors: their messages name the entity and are meant for the operator.
  if (err instanceof NotFoundError) return new GatewayError('not_found', err.message);
  if (err instanceof ConflictError) return new GatewayError('conflict', err.message);
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new GatewayError('request_too_large', 'The request body is larger than this gateway accepts (server.body_limit).');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new GatewayError('unsupported_media_type', 'Unsupported content type; send JSON with "Content-Type: application/json".');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new GatewayError('invalid_json', 'The request body is empty; send a JSON object.');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new GatewayError('invalid_request', 'The request body does not match its Content-Length.');
  }
  // Fastify's 400 for a body whose stream ended with "aborted": the client left while uploading.
  // (Not any ECONNRESET: a database connection reset in an admin route is not the client's doing.)
  if (err.code === 'ECONNRESET' && err.statusCode === 400) {
    // Unless the gateway closed it, having answered already (a timeout, a malformed chunk): that answer is the outcome.
    const answered = closedWithAnswer.get(request.raw.socket);
    if (answered) return answered;
    return new GatewayError('client_closed_request', 'The client closed the connection before the whole request had arrived.');
  }
  const status = err.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    return new GatewayError('invalid_request', err.message, { status });
  }
  // An admin route's database failing (Fastify's own errors, the client's, were settled above).
  if (status === undefined && isStorageUnavailable(err)) {
    return new GatewayError('service_unavailable', 'The database (storage.url) is unavailable right now; requests to models are still served. Retry shortly.', { retryAfterMs: 5000, cause: err });
  }
  return asGatewayError(err);
}

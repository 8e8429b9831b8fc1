/** Assembles the Fastify app: request ids, body parsing, auth, error mapping, and the routes. */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Config } from '../config/schema.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../gateway/errors.js';
import type { RequestContext } from '../gateway/context.js';
import type { ResponseCache } from '../cache/response-cache.js';
import type { Pipeline } from '../gateway/pipeline.js';
import type { SharedCalls } from '../gateway/shared-calls.js';
import type { Observers } from '../observability/observers.js';
import type { Authenticator, Principal } from '../governance/principal.js';
import { adminRoutes, type AdminRoutesOptions } from './routes/admin/index.js';
import { clientErrorHandler } from './client-errors.js';
import { isForeignOrigin, registerCors } from './cors.js';
import { registerJsonBodyParser } from './plugins/body.js';
import { frameworkError, isAnthropicPath, registerErrorHandling, shapedErrorBody } from './plugins/errors.js';
import { requestIdOf } from './request-id.js';
import { anthropicRoutes } from './routes/anthropic.js';
import { cacheRoutes } from './routes/cache.js';
import { openaiRoutes } from './routes/openai.js';
import { opsRoutes, type Readiness } from './routes/ops.js';
import { providerRoutes } from './routes/providers.js';
import { slaRoutes } from './routes/sla.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** performance.now() at arrival. */
    startedAt: number;
    /** The pipeline's per-request state, on API routes. */
    rc: RequestContext | null;
    /** The JSON body's bytes as received. */
    rawBody: Buffer | null;
    /** Who sent it, on API routes (set by the auth hook). */
    principal: Principal | null;
  }
}

export interface AppOptions {
  config: Config;
  pipeline: Pipeline;
  cache: ResponseCache;
  shared: SharedCalls;
  observers: Observers;
  logger: FastifyBaseLogger;
  readiness: Readiness;
  authenticator: Authenticator;
  /** The admin API (absent: not served). */
  admin?: AdminRoutesOptions;
}

export function buildApp({ config, pipeline, cache, shared, observers, logger, readiness, authenticator, admin }: AppOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: logger,
    // One log line per request comes from the pipeline's settle stage instead.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    bodyLimit: config.server.body_limit,
    // A request (headers and body) that has not fully arrived by then is answered 408 and closed:
    // a client trickling its body would otherwise hold a connection for ever. Node applies it only
    // when given to createServer (Fastify's own option alone is set too late to take effect), and
    // looks for expired requests every 30 s by default: once a second holds them to the deadline.
    requestTimeout: config.server.request_timeout_ms,
    http: { requestTimeout: config.server.request_timeout_ms, connectionsCheckingInterval: 1_000 },
    // Malformed framing, oversized headers and that timeout: answered in the gateway's error shape.
    clientErrorHandler: clientErrorHandler(config.server.request_timeout_ms, logger),
    // Accept a well-formed x-request-id from the client; otherwise make one.
    genReqId: requestIdOf,
    // Requests that still arrive on an open connection once shutdown began are answered below, in the API's shape.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    // Path parameters (a model id in /v1/models/*, an admin id) up to the longest model name the
    // API takes (formats/validate-body.ts MAX_MODEL_LENGTH), not Fastify's 100 characters.
    routerOptions: { maxParamLength: 600 },
    frameworkErrors: frameworkError,
  });

  app.decorateRequest('startedAt', 0);
  app.decorateRequest('rc', null);
  app.decorateRequest('rawBody', null);
  app.decorateRequest('principal', null);
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onRequest', (request, reply, done) => {
    request.startedAt = performance.now();
    reply.header('x-request-id', request.id);
    if (closing) {
      // The listener is closed; this connection was opened before. It is closed after this answer.
      reply.header('connection', 'close');
      done(new GatewayError('service_unavailable', 'The gateway is shutting down; send the request again (another instance will take it).'));
      return;
    }
    done();
  });

  // Node answers an Expect other than 100-continue with a bare 417 unless asked: in the API's shape instead.
  app.server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    const error = new GatewayError('expectation_failed', `Unsupported Expect header "${String(req.headers.expect).slice(0, 100)}": only 100-continue is supported.`);
    const requestId = requestIdOf(req);
    const anthropic = isAnthropicPath(req.url ?? '');
    const body = JSON.stringify(shapedErrorBody(error, requestId, anthropic));
    const headers = { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'x-request-id': requestId, ...(anthropic ? { 'request-id': requestId } : {}), connection: 'close' };
    res.writeHead(417, headers).end(body);
  });
  registerCors(app, config.server.cors.origins);
  registerJsonBodyParser(app);
  registerErrorHandling(app, observers, (name) => pipeline.models.group(name) !== undefined);
  opsRoutes(app, { metrics: observers.metrics, readiness });

  void app.register(async (api) => {
    api.addHook('onRequest', (request, _reply, done) => {
      try {
        request.principal = authenticator.authenticate(request.headers);
        if (authenticator.open && isForeignOrigin(request, config.server.cors.origins, config.server.host)) {
          throw new GatewayError('access_denied', `This gateway has no auth, so requests from web pages of other origins (${String(request.headers.origin).slice(0, 200)}) are refused. List the origin in server.cors.origins, or set auth.master_key.`);
        }
        done();
      } catch (err) {
        done(err as Error);
      }
    });
    const allowRoutingOverrides = config.routing.allow_client_overrides;
    openaiRoutes(api, { pipeline, observers, startedAt: Math.floor(Date.now() / 1000), allowRoutingOverrides });
    anthropicRoutes(api, { pipeline, observers, allowRoutingOverrides });
    slaRoutes(api, observers.sla);
    providerRoutes(api, { models: () => pipeline.models, mayUse: (principal, model, direct) => pipeline.mayUse(principal, model, direct) });
    cacheRoutes(api, { cache, inFlight: () => shared.inFlight, masterKeySet: authenticator.hasMasterKey });
  });
  if (admin) void app.register((scope) => adminRoutes(scope, admin), { prefix: '/admin' });

  return app;
}

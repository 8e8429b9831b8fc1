/** The OpenAI-compatible API surface: chat completions, embeddings, models. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CacheDirective } from '../../cache/directive.js';
import { expectSchema } from '../../gateway/answer-notes.js';
import { withClientJson } from '../../gateway/client-json.js';
import type { RequestContext } from '../../gateway/context.js';
import { GatewayError, toOpenAIErrorBody } from '../../gateway/errors.js';
import type { Pipeline } from '../../gateway/pipeline.js';
import { toJson, toJsonWithoutUsage } from '../../gateway/raw-json.js';
import { isUsageOnlyChunk, type ChatRequest } from '../../gateway/types.js';
import { validateChatRequest, validateEmbeddingsRequest } from '../../formats/openai/validate.js';
import type { Observers } from '../../observability/observers.js';
import type { RouteHints } from '../../routing/router.js';
import { gatewayHeaders, requestCacheDirective, streamTrailers } from '../headers.js';
import { routeHints } from '../route-hints.js';
import { SseWriter } from '../sse.js';
import { beginRequest, runStream, sendJson, stopReading } from '../reply.js';

export interface OpenAIRoutesOptions {
  pipeline: Pipeline;
  observers: Observers;
  /** Unix seconds, reported as `created` by the models list. */
  startedAt: number;
  /** routing.allow_client_overrides */
  allowRoutingOverrides: boolean;
}

export function openaiRoutes(app: FastifyInstance, { pipeline, observers, startedAt, allowRoutingOverrides }: OpenAIRoutesOptions): void {
  const chat = async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const rc = beginRequest(request, reply, 'chat', observers);
    const body = validateChatRequest(request.body);
    // While nothing changes it, an OpenAI-format upstream gets the request as the client wrote it.
    if (request.rawBody) withClientJson(body, request.rawBody);
    // Answers that must follow a JSON schema are checked against it (answer quality, SLA).
    if (observers.sla && body.response_format) expectSchema(rc, body.response_format);
    const hints = routeHints(request.headers, allowRoutingOverrides);
    const directive = requestCacheDirective(request);
    if (body.stream) return streamChat(body, rc, hints, directive, request, reply, pipeline, observers);
    const completion = await pipeline.chat(body, rc, hints, directive);
    return finish(rc, request, reply, observers, completion);
  };

  const embeddings = async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const rc = beginRequest(request, reply, 'embeddings', observers);
    const body = validateEmbeddingsRequest(request.body);
    if (request.rawBody) withClientJson(body, request.rawBody);
    const response = await pipeline.embeddings(body, rc, routeHints(request.headers, allowRoutingOverrides), requestCacheDirective(request));
    return finish(rc, request, reply, observers, response);
  };

  const model = (id: string) => ({ id, object: 'model', created: startedAt, owned_by: 'switchyard' });
  // A key limited to some models sees only those.
  const listModels = async (request: FastifyRequest) => ({ object: 'list', data: pipeline.visibleModels(request.principal ?? undefined).map(model) });
  const getModel = async (request: FastifyRequest<{ Params: { '*': string } }>) => {
    const id = request.params['*'];
    // A model the key may not use is not shown, as in the list (and as OpenAI answers for models an account cannot see).
    // Whether the key may use it first: resolving a provider's model keeps a target for it.
    const direct = pipeline.models.group(id) === undefined;
    if (!pipeline.mayUse(request.principal ?? undefined, id, direct) || !pipeline.models.resolve(id)) {
      throw new GatewayError('model_not_found', `The model "${id}" does not exist on this gateway.`, { param: 'model' });
    }
    return model(id);
  };

  // Clients whose base URL lacks /v1 are served on the bare paths too.
  for (const prefix of ['/v1', '']) {
    app.post(`${prefix}/chat/completions`, chat);
    app.post(`${prefix}/embeddings`, embeddings);
    app.get(`${prefix}/models`, listModels);
    app.get(`${prefix}/models/*`, getModel);
  }
}


function finish(rc: RequestContext, request: FastifyRequest, reply: FastifyReply, observers: Observers, body: object): string {
  return sendJson(rc, request, reply, observers, gatewayHeaders(rc), toJson(body));
}

async function streamChat(
  body: ChatRequest,
  rc: RequestContext,
  hints: RouteHints,
  directive: CacheDirective,
  request: FastifyRequest,
  reply: FastifyReply,
  pipeline: Pipeline,
  observers: Observers,
): Promise<void> {
  // Failures until the first chunk arrived are ordinary HTTP errors (the error handler answers).
  const chunks = await pipeline.chatStream(body, rc, hints, directive);
  // Everything that can fail is done before Fastify lets go of the reply; the rest runs in runStream.
  const headers = [reply.getHeaders(), gatewayHeaders(rc)];
  const trailers = streamTrailers(rc);
  reply.hijack();
  const sse = new SseWriter(reply.raw);
  const wantsUsage = body.stream_options?.include_usage === true;
  await runStream(
    sse,
    [headers, trailers],
    rc,
    request.log,
    observers,
    async () => {
      for await (const chunk of chunks) {
        rc.firstByteMs ??= performance.now() - rc.startedAt;
        // The usage trailer was asked for upstream; a client that did not ask gets none of it.
        if (!wantsUsage && isUsageOnlyChunk(chunk)) continue;
        await sse.data(wantsUsage ? toJson(chunk) : toJsonWithoutUsage(chunk));
        if (stopReading(sse, rc)) return false;
      }
      if (sse.closed) return false;
      sse.end(true);
      return true;
    },
    (error) => `data: ${JSON.stringify(toOpenAIErrorBody(error, 'stream'))}\n\n`,
  );
}

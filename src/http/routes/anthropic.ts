/**
 * Anthropic's Messages API surface: `POST /v1/messages` (JSON or SSE) and
 * `POST /v1/messages/count_tokens`, served from any model group. A request is decoded into the
 * canonical (OpenAI chat) request, goes through the same pipeline as /v1/chat/completions, and the
 * answer is encoded back into Anthropic's message, stream events and error shape.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { closeClient, createRequestContext, type RequestContext, type RouteName } from '../../gateway/context.js';
import { GatewayError, asGatewayError } from '../../gateway/errors.js';
import type { Pipeline } from '../../gateway/pipeline.js';
import { settle } from '../../gateway/settle.js';
import type { ChatRequest } from '../../gateway/types.js';
import { estimateInputTokens } from '../../formats/anthropic-messages/count-tokens.js';
import { decodeMessagesRequest } from '../../formats/anthropic-messages/decode-request.js';
import { encodeMessage } from '../../formats/anthropic-messages/encode-response.js';
import { MessageStreamEncoder } from '../../formats/anthropic-messages/encode-stream.js';
import { validateCountTokensRequest, validateMessagesRequest } from '../../formats/anthropic-messages/validate.js';
import type { MessagesRequest, StreamEvent } from '../../providers/anthropic/api.js';
import type { Metrics } from '../../observability/metrics.js';
import { anthropicErrorFrame, anthropicFrames } from '../anthropic-sse.js';
import { gatewayHeaders } from '../headers.js';
import { SseWriter } from '../sse.js';

export interface AnthropicRoutesOptions {
  pipeline: Pipeline;
  metrics: Metrics;
}

export function anthropicRoutes(app: FastifyInstance, { pipeline, metrics }: AnthropicRoutesOptions): void {
  const messages = async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const rc = begin(request, reply, 'messages');
    const body = validateMessagesRequest(request.body);
    const chatRequest = decodeMessagesRequest(body);
    if (chatRequest.stream) return streamMessages(body, chatRequest, rc, request, reply, pipeline, metrics);
    const completion = await pipeline.chat(chatRequest, rc);
    const message = encodeMessage(completion, {
      model: body.model,
      stopSequences: body.stop_sequences,
      onInvalidToolInput: (tool) => request.log.warn({ tool, provider: rc.providerId }, 'tool call arguments were not a JSON object; sent as input {}'),
    });
    return finish(rc, request, reply, metrics, message);
  };

  const countTokens = async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const rc = begin(request, reply, 'count_tokens');
    const body = validateCountTokensRequest(request.body);
    const group = pipeline.models.resolve(body.model);
    if (!group) {
      throw new GatewayError('model_not_found', `The model "${body.model}" does not exist on this gateway. Available models: ${pipeline.models.groupNames().join(', ') || '(none)'}.`, { param: 'model' });
    }
    rc.model = group.configured ? group.name : `${group.targets[0]!.providerId}/*`;
    return finish(rc, request, reply, metrics, { input_tokens: estimateInputTokens(decodeMessagesRequest(body)) });
  };

  // Clients whose base URL lacks /v1 are served on the bare paths too.
  for (const prefix of ['/v1', '']) {
    app.post(`${prefix}/messages`, messages);
    app.post(`${prefix}/messages/count_tokens`, countTokens);
  }
}

function begin(request: FastifyRequest, reply: FastifyReply, route: RouteName): RequestContext {
  const rc = createRequestContext(request.id, route, request.startedAt);
  const res = reply.raw;
  res.once('close', () => {
    if (!res.writableFinished) closeClient(rc);
  });
  request.rc = rc;
  return rc;
}

/** Anthropic's SDKs read the request id from `request-id` (`message._request_id`). */
function responseHeaders(rc: RequestContext): Record<string, string> {
  return { ...gatewayHeaders(rc), 'request-id': rc.requestId };
}

function finish(rc: RequestContext, request: FastifyRequest, reply: FastifyReply, metrics: Metrics, body: object): string {
  rc.status = 200;
  reply.headers(responseHeaders(rc)).type('application/json; charset=utf-8');
  setImmediate(settle, rc, metrics, request.log);
  return JSON.stringify(body);
}

async function streamMessages(
  body: MessagesRequest,
  chatRequest: ChatRequest,
  rc: RequestContext,
  request: FastifyRequest,
  reply: FastifyReply,
  pipeline: Pipeline,
  metrics: Metrics,
): Promise<void> {
  // Failures until the first chunk arrived are ordinary HTTP errors (the error handler answers).
  // Usage is asked for upstream by the adapters (stream_options.include_usage for OpenAI-format
  // servers unless a provider opts out), so message_delta can carry the output tokens.
  const chunks = await pipeline.chatStream(chatRequest, rc);
  reply.hijack();
  const sse = new SseWriter(reply.raw);
  sse.start({ ...(reply.getHeaders() as Record<string, string>), ...responseHeaders(rc) });
  const encoder = new MessageStreamEncoder({ model: body.model, stopSequences: body.stop_sequences });
  const events: StreamEvent[] = [];
  rc.status = 200;
  let completed = false;
  try {
    for await (const chunk of chunks) {
      rc.firstByteMs ??= performance.now() - rc.startedAt;
      encoder.push(chunk, events);
      if (events.length > 0) {
        await sse.frame(anthropicFrames(events));
        events.length = 0;
      }
      if (sse.closed) break;
    }
    if (!sse.closed) {
      encoder.end(events);
      await sse.frame(anthropicFrames(events));
      sse.end(false);
      completed = true;
    }
  } catch (err) {
    const error = asGatewayError(err);
    rc.error = error;
    if (error.code === 'internal_error') request.log.error({ err }, 'unexpected error while streaming');
    if (error.code === 'client_closed_request' || sse.closed) {
      rc.status = 499;
    } else {
      await sse.frame(anthropicErrorFrame(error));
      sse.end(false);
    }
  } finally {
    if (!completed && !rc.error) rc.status = 499;
    settle(rc, metrics, request.log);
  }
}

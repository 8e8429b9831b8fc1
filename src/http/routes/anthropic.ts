/**
 * Anthropic's Messages API surface: `POST /v1/messages` (JSON or SSE) and
 * `POST /v1/messages/count_tokens`, served from any model group. A target that speaks Anthropic's
 * API gets the client's request as it is and its answer goes back as it came (JSON text or events,
 * byte for byte); any other target gets the request decoded into the canonical (OpenAI chat)
 * format, through the same pipeline as /v1/chat/completions, and its answer encoded back into
 * Anthropic's message, stream events and error shape.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CacheDirective } from '../../cache/directive.js';
import { withClientJson } from '../../gateway/client-json.js';
import type { RequestContext } from '../../gateway/context.js';
import type { Pipeline } from '../../gateway/pipeline.js';
import { toJson } from '../../gateway/raw-json.js';
import type { ChatCompletionChunk, ChatRequest } from '../../gateway/types.js';
import { estimateInputTokens } from '../../formats/anthropic-messages/count-tokens.js';
import { decodeMessagesRequest } from '../../formats/anthropic-messages/decode-request.js';
import { encodeMessage } from '../../formats/anthropic-messages/encode-response.js';
import { MessageStreamEncoder } from '../../formats/anthropic-messages/encode-stream.js';
import { validateCountTokensRequest, validateMessagesRequest } from '../../formats/anthropic-messages/validate.js';
import type { MessagesRequest, StreamEvent } from '../../providers/anthropic/api.js';
import type { NativeStreamEvent } from '../../providers/types.js';
import type { MessagesCall } from '../../routing/executor.js';
import type { Observers } from '../../observability/observers.js';
import { anthropicErrorFrame, anthropicFrames, nativeFrame } from '../anthropic-sse.js';
import type { RouteHints } from '../../routing/router.js';
import { gatewayHeaders, requestCacheDirective, streamTrailers } from '../headers.js';
import { routeHints } from '../route-hints.js';
import { SseWriter } from '../sse.js';
import { beginRequest, runStream, sendJson, stopReading } from '../reply.js';
import { expectAnthropicSchema } from '../../gateway/answer-notes.js';

export interface AnthropicRoutesOptions {
  pipeline: Pipeline;
  observers: Observers;
  /** routing.allow_client_overrides */
  allowRoutingOverrides: boolean;
}

export function anthropicRoutes(app: FastifyInstance, { pipeline, observers, allowRoutingOverrides }: AnthropicRoutesOptions): void {
  const messages = async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const rc = beginRequest(request, reply, 'messages', observers);
    const body = validateMessagesRequest(request.body);
    // A target that speaks Anthropic's API natively gets the request as the client wrote it.
    if (request.rawBody) withClientJson(body, request.rawBody);
    // Structured outputs are checked against their schema (answer quality, SLA).
    if (observers.sla) expectAnthropicSchema(rc, body);
    const call = messagesCall(body, request);
    const hints = routeHints(request.headers, allowRoutingOverrides);
    const directive = requestCacheDirective(request);
    if (body.stream === true) return streamMessages(body, call, rc, hints, directive, request, reply, pipeline, observers);
    const result = await pipeline.messages(call, rc, hints, directive);
    // A native answer is the upstream's own JSON text (its `model` is the upstream model, as on
    // the OpenAI routes); a canonical one is encoded under the model name the client asked for.
    if (result.kind === 'native') return finish(rc, request, reply, observers, toJson(result.answer.message));
    const message = encodeMessage(result.completion, {
      model: body.model,
      stopSequences: body.stop_sequences,
      onInvalidToolInput: (tool) => request.log.warn({ tool, provider: rc.providerId }, 'tool call arguments were not a JSON object; sent as input {}'),
    });
    return finish(rc, request, reply, observers, JSON.stringify(message));
  };

  const countTokens = async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const rc = beginRequest(request, reply, 'count_tokens', observers);
    const body = validateCountTokensRequest(request.body);
    if (request.rawBody) withClientJson(body, request.rawBody);
    const counted = await pipeline.countTokens({ native: { body, beta: betaHeader(request) }, estimate: () => estimateInputTokens(decodeMessagesRequest(body)) }, rc, routeHints(request.headers, allowRoutingOverrides));
    return finish(rc, request, reply, observers, toJson(counted));
  };

  // Clients whose base URL lacks /v1 are served on the bare paths too.
  for (const prefix of ['/v1', '']) {
    app.post(`${prefix}/messages`, messages);
    app.post(`${prefix}/messages/count_tokens`, countTokens);
  }
}

/** The request for both kinds of target; the canonical form is decoded only if a target needs it, once. */
function messagesCall(body: MessagesRequest, request: FastifyRequest): MessagesCall {
  let canonical: ChatRequest | undefined;
  return { native: { body, beta: betaHeader(request) }, canonical: () => (canonical ??= decodeMessagesRequest(body)) };
}

/** The client's `anthropic-beta` header (repeated headers joined), passed on to Anthropic targets. */
function betaHeader(request: FastifyRequest): string | undefined {
  const value = request.headers['anthropic-beta'];
  return Array.isArray(value) ? value.join(',') : value;
}


/** Anthropic's SDKs read the request id from `request-id` (`message._request_id`). */
function responseHeaders(rc: RequestContext): Record<string, string> {
  const headers = gatewayHeaders(rc);
  headers['request-id'] = rc.requestId;
  return headers;
}

function finish(rc: RequestContext, request: FastifyRequest, reply: FastifyReply, observers: Observers, json: string): string {
  return sendJson(rc, request, reply, observers, responseHeaders(rc), json);
}

async function streamMessages(
  body: MessagesRequest,
  call: MessagesCall,
  rc: RequestContext,
  hints: RouteHints,
  directive: CacheDirective,
  request: FastifyRequest,
  reply: FastifyReply,
  pipeline: Pipeline,
  observers: Observers,
): Promise<void> {
  // Failures until the first chunk arrived are ordinary HTTP errors (the error handler answers).
  // Usage is asked for upstream by the adapters (stream_options.include_usage for OpenAI-format
  // servers unless a provider opts out), so message_delta can carry the output tokens.
  const stream = await pipeline.messagesStream(call, rc, hints, directive);
  // Everything that can fail is done before Fastify lets go of the reply; the rest runs in runStream.
  const headers = [reply.getHeaders(), responseHeaders(rc)];
  const trailers = streamTrailers(rc);
  reply.hijack();
  const sse = new SseWriter(reply.raw);
  await runStream(
    sse,
    [headers, trailers],
    rc,
    request.log,
    observers,
    () => (stream.kind === 'native' ? forwardEvents(stream.events, sse, rc) : encodeChunks(stream.chunks, body, sse, rc)),
    anthropicErrorFrame,
  );
}

/** A native stream: each upstream event as it came. Resolves false when the client left first. */
async function forwardEvents(events: AsyncIterable<NativeStreamEvent>, sse: SseWriter, rc: RequestContext): Promise<boolean> {
  for await (const event of events) {
    rc.firstByteMs ??= performance.now() - rc.startedAt;
    await sse.frame(nativeFrame(event));
    if (stopReading(sse, rc)) return false;
  }
  if (sse.closed) return false;
  sse.end(false);
  return true;
}

/** A canonical stream, encoded into Anthropic's events. Resolves false when the client left first. */
async function encodeChunks(chunks: AsyncIterable<ChatCompletionChunk>, body: MessagesRequest, sse: SseWriter, rc: RequestContext): Promise<boolean> {
  const encoder = new MessageStreamEncoder({ model: body.model, stopSequences: body.stop_sequences });
  const events: StreamEvent[] = [];
  for await (const chunk of chunks) {
    rc.firstByteMs ??= performance.now() - rc.startedAt;
    encoder.push(chunk, events);
    if (events.length > 0) {
      await sse.frame(anthropicFrames(events));
      events.length = 0;
    }
    if (stopReading(sse, rc)) return false;
  }
  if (sse.closed) return false;
  encoder.end(events);
  await sse.frame(anthropicFrames(events));
  sse.end(false);
  return true;
}

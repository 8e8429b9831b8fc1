/**
 * A fake Anthropic API on 127.0.0.1 (random port) speaking Anthropic's real wire format, for the
 * conformance suite (it implements test/conformance/contract.ts) and e2e tests.
 *
 * - `POST /v1/messages`: a Message as JSON, or an SSE stream with Anthropic's framing
 *   (`event: <type>\ndata: <json>\n\n`) and a ping; `POST /v1/messages/count_tokens`.
 * - Like the real API it requires `x-api-key` (401 authentication_error) and `anthropic-version`
 *   (400), rejects what Anthropic rejects (roles not alternating, orphan tool_result blocks,
 *   thinking budgets, forced tools while thinking), and sends a `request-id` header on every answer.
 * - Answers are scripted (`enqueue`, a FIFO queue; the contract's default when empty): replies,
 *   error classes with Anthropic's statuses (529 overloaded_error, 429 with retry-after), in-stream
 *   `error` events, plus faults only tests of this provider need (a garbage body, a truncated stream)
 *   and recorded bytes sent as they are (`raw`). `lastResponseText()` is the last body sent.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { closeFake, localOrigin, readRequestBody, serveFake } from './http-fake.js';
import { DEFAULT_REPLY, type ConformanceFake, type ScriptedReply, type UpstreamSummary } from '../conformance/contract.js';
import {
  blockEvents,
  classError,
  errorEvent,
  fakeTokenCount,
  frame,
  httpError,
  message,
  messageStart,
  replyBlocks,
  streamEvents,
  summarize,
  validateRequest,
  type AnthropicReply,
  type HttpError,
  type SseEvent,
  type WireRequest,
} from './anthropic-wire.js';

export { JSON_TOOL, fakeTokenCount, type AnthropicReply } from './anthropic-wire.js';

/** What the fake answers next: the contract's scripts, with Anthropic-only extras. */
export type AnthropicScript =
  | Exclude<ScriptedReply, { kind: 'reply' }>
  | AnthropicReply
  /** Streams: message_start and a ping, then an `error` event (Anthropic's usual overload shape). */
  | { kind: 'stream-error-after-start'; errorType?: string; message: string }
  /** A 200 whose body is not JSON. */
  | { kind: 'garbage' }
  /** Streams: the text, then the connection ends without message_delta / message_stop. */
  | { kind: 'stream-truncated'; text: string }
  /** Exactly these bytes (a recorded answer or stream), with this status and content type (JSON, or SSE for a stream request). */
  | { kind: 'raw'; body: string; status?: number; contentType?: string };

export interface FakeAnthropicOptions {
  /** The key requests must carry in `x-api-key`. */
  apiKey?: string;
  /** The upstream model the conformance suite's targets use. */
  model?: string;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
  /** The body's text as it arrived. */
  rawBody: string;
}

export class FakeAnthropic implements ConformanceFake {
  readonly model: string;
  readonly apiKey: string;
  /** Every request received, valid or not. */
  readonly requests: RecordedRequest[] = [];
  readonly #server: Server;
  #queue: AnthropicScript[] = [];
  #chats: WireRequest[] = [];
  #sequence = 0;
  #lastResponse: string | undefined;

  private constructor(server: Server, options: FakeAnthropicOptions) {
    this.#server = server;
    this.model = options.model ?? 'claude-sonnet-4-5-20250929';
    this.apiKey = options.apiKey ?? 'sk-ant-api03-conformance-fake-0001';
  }

  static async start(options: FakeAnthropicOptions = {}): Promise<FakeAnthropic> {
    const server = createServer();
    const fake = new FakeAnthropic(server, options);
    await serveFake(server, (req, res) => fake.#handle(req, res));
    return fake;
  }

  /** `http://127.0.0.1:<port>` (Anthropic's base URL has no /v1). */
  get url(): string {
    return localOrigin(this.#server);
  }

  providerConfig(): Record<string, unknown> {
    return { type: 'anthropic', base_url: this.url, api_key: this.apiKey };
  }

  enqueue(reply: AnthropicScript): void {
    this.#queue.push(reply);
  }

  lastChatRequest(): UpstreamSummary {
    return summarize(this.lastChatBody());
  }

  /** The last Messages request body as received (Anthropic's own format). */
  lastChatBody(): WireRequest {
    const last = this.#chats.at(-1);
    if (!last) throw new Error('the fake Anthropic upstream has received no chat request');
    return last;
  }

  /** The last request's headers. */
  lastHeaders(): IncomingHttpHeaders {
    const last = this.requests.at(-1);
    if (!last) throw new Error('the fake Anthropic upstream has received no request');
    return last.headers;
  }

  /** The body of the last answer the fake sent (a JSON text, or a whole SSE stream). */
  lastResponseText(): string {
    if (this.#lastResponse === undefined) throw new Error('the fake Anthropic upstream has sent no answer');
    return this.#lastResponse;
  }

  chatRequestCount(): number {
    return this.#chats.length;
  }

  reset(): void {
    this.#queue = [];
    this.#chats = [];
    this.requests.length = 0;
    this.#lastResponse = undefined;
  }

  async close(): Promise<void> {
    await closeFake(this.#server);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { text: rawBody, json: body } = await readRequestBody(req);
    const path = (req.url ?? '/').split('?')[0]!;
    this.requests.push({ method: req.method ?? '', path, headers: req.headers, body, rawBody });
    const requestId = `req_fake${String(++this.#sequence).padStart(6, '0')}`;
    const refuse = (status: number, type: string, msg: string): void => {
      this.#lastResponse = sendError(res, httpError(status, type, msg, requestId));
    };

    if (req.method !== 'POST' || (path !== '/v1/messages' && path !== '/v1/messages/count_tokens')) return refuse(404, 'not_found_error', 'Not Found');
    const key = req.headers['x-api-key'];
    if (!key) return refuse(401, 'authentication_error', 'x-api-key header is required');
    if (key !== this.apiKey) return refuse(401, 'authentication_error', 'invalid x-api-key');
    if (!req.headers['anthropic-version']) return refuse(400, 'invalid_request_error', 'anthropic-version: header is required');
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return refuse(400, 'invalid_request_error', 'There was an issue with the format of your request: the body is not valid JSON');
    const request = body as WireRequest;

    if (path === '/v1/messages/count_tokens') {
      this.#lastResponse = sendJson(res, 200, { input_tokens: fakeTokenCount(request) }, { 'request-id': requestId });
      return;
    }
    this.#chats.push(request);
    const invalid = validateRequest(request);
    if (invalid) return refuse(400, 'invalid_request_error', invalid);
    this.#lastResponse = this.#answer(request, this.#queue.shift() ?? DEFAULT_REPLY, requestId, res);
  }

  /** Sends the scripted answer; returns the body it sent. */
  #answer(request: WireRequest, script: AnthropicScript, requestId: string, res: ServerResponse): string {
    const model = String(request.model);
    const id = `msg_fake${requestId.slice(8)}`;
    const stream = request.stream === true;
    if (script.kind === 'http-error') return sendError(res, classError(script.errorClass, script.message, requestId, script.retryAfterSeconds));
    if (script.kind === 'raw') {
      res.writeHead(script.status ?? 200, { 'content-type': script.contentType ?? (stream ? 'text/event-stream; charset=utf-8' : 'application/json'), 'request-id': requestId });
      res.end(script.body);
      return script.body;
    }
    if (script.kind === 'garbage') {
      const garbage = '<html><body>upstream proxy error {"id": </body></html>';
      res.writeHead(200, { 'content-type': 'application/json', 'request-id': requestId });
      res.end(garbage);
      return garbage;
    }
    if (script.kind === 'reply') {
      const { blocks, stopReason } = replyBlocks(script, request, `toolu_fake${requestId.slice(8)}`);
      if (!stream) return sendJson(res, 200, message(id, model, blocks, stopReason, script), { 'request-id': requestId });
      return sendEvents(res, streamEvents(id, model, blocks, stopReason, script), requestId);
    }
    if (!stream) return sendError(res, classError('server', `the fake was scripted with "${script.kind}", which needs a stream`, requestId));
    const usage = { input: 12, output: 1 };
    const start = messageStart(id, model, usage);
    switch (script.kind) {
      case 'stream-error-before-output':
        return sendEvents(res, [errorEvent('overloaded_error', script.message)], requestId);
      case 'stream-error-after-start':
        return sendEvents(res, [start, ['ping', { type: 'ping' }], errorEvent(script.errorType ?? 'overloaded_error', script.message)], requestId);
      case 'stream-error-after-output':
        return sendEvents(res, [start, ...blockEvents(0, { type: 'text', text: script.text }).slice(0, -1), errorEvent('api_error', script.message)], requestId);
      case 'stream-truncated':
        return sendEvents(res, [start, ...blockEvents(0, { type: 'text', text: script.text })], requestId);
    }
  }
}

/** The senders return the body they sent (`lastResponseText`). */
function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string>): string {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
  return text;
}

function sendError(res: ServerResponse, error: HttpError): string {
  return sendJson(res, error.status, error.body, error.headers);
}

/** A 200 SSE stream of these events, each written on its own like a real stream. */
function sendEvents(res: ServerResponse, events: SseEvent[], requestId: string): string {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'request-id': requestId });
  let sent = '';
  for (const event of events) {
    const text = frame(event);
    sent += text;
    res.write(text);
  }
  res.end();
  return sent;
}

/**
 * A fake Gemini API (generativelanguage.googleapis.com/v1beta) on 127.0.0.1, speaking Gemini's real
 * wire format, for e2e and conformance tests (it implements test/conformance/contract.ts).
 *
 * - `POST /v1beta/models/{model}:generateContent`, `:streamGenerateContent` (`?alt=sse`: SSE with
 *   `data: <GenerateContentResponse>\r\n\r\n`; without it, one JSON array), `:embedContent`,
 *   `:batchEmbedContents`.
 * - The key goes in `x-goog-api-key` (or `?key=`): none → 403 PERMISSION_DENIED, a wrong one → 400
 *   API_KEY_INVALID, as Google answers. An unknown model → 404 NOT_FOUND.
 * - Like Google's JSON parser it refuses fields it does not know (`Unknown name "…"`), and roles
 *   other than user / model, so a translator bug shows up as the 400 it would cause for real.
 * - Chat answers follow a FIFO script (contract.ts), plus `raw` replies (any status and body) for
 *   malformed-upstream tests. Every request is recorded in `calls`.
 * - Vertex AI speaks the same wire format at other paths with other credentials: vertex-upstream.ts
 *   extends this fake through its protected hooks (route, authenticate, serveOther, embed, ...).
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { closeFake, localOrigin, readRequestBody, serveFake } from './http-fake.js';
import { DEFAULT_REPLY, type ConformanceFake, type ErrorClass, type ScriptedReply, type UpstreamSummary } from '../conformance/contract.js';
import {
  GEMINI_ERRORS,
  classError,
  embeddingValues,
  generateContentResponse,
  sseEvent,
  streamErrorEvent,
  streamEvents,
  summarize,
  textPieces,
  type GoogleError,
  type WireGenerateRequest,
} from './gemini-wire.js';

export { GEMINI_ERRORS, type GoogleError } from './gemini-wire.js';

/** A scripted reply, or a raw answer (status, body) for malformed-upstream tests. */
export type FakeGeminiReply = ScriptedReply | { kind: 'raw'; status: number; body: string; contentType?: string };

export interface FakeGeminiOptions {
  apiKey?: string;
  /** Models served; the first is `model` (the conformance suite's target). */
  models?: string[];
}

export interface RecordedCall {
  method: string;
  /** Path and query, as received. */
  url: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

const METHODS = new Set(['generateContent', 'streamGenerateContent', 'embedContent', 'batchEmbedContents']);
const REQUEST_FIELDS = new Set(['contents', 'systemInstruction', 'tools', 'toolConfig', 'generationConfig', 'safetySettings', 'cachedContent']);
const CONFIG_FIELDS = new Set([
  'stopSequences', 'responseMimeType', 'responseSchema', 'responseJsonSchema', 'responseModalities', 'candidateCount', 'maxOutputTokens', 'temperature', 'topP', 'topK',
  'seed', 'presencePenalty', 'frequencyPenalty', 'responseLogprobs', 'logprobs', 'thinkingConfig', 'mediaResolution', 'speechConfig',
]);

export class FakeGemini implements ConformanceFake {
  readonly model: string;
  readonly calls: RecordedCall[] = [];
  readonly #server: Server;
  readonly #apiKey: string;
  readonly models: string[];
  #queue: FakeGeminiReply[] = [];
  #chats: { body: WireGenerateRequest; model: string; stream: boolean }[] = [];
  #sequence = 0;

  protected constructor(server: Server, options: FakeGeminiOptions) {
    this.#server = server;
    this.#apiKey = options.apiKey ?? 'AIzaSyFakeConformanceKey0123456789abcd';
    this.models = options.models ?? ['gemini-2.5-flash', 'gemini-3-pro-preview', 'gemini-embedding-001'];
    this.model = this.models[0]!;
  }

  static async start(options: FakeGeminiOptions = {}): Promise<FakeGemini> {
    return FakeGemini.listen((server) => new FakeGemini(server, options));
  }

  /** Serves a fake (this class or a subclass) on 127.0.0.1. */
  protected static async listen<T extends FakeGemini>(make: (server: Server) => T): Promise<T> {
    const server = createServer();
    const fake = make(server);
    await serveFake(server, (req, res) => fake.#handle(req, res));
    return fake;
  }

  get url(): string {
    return localOrigin(this.#server);
  }

  providerConfig(): Record<string, unknown> {
    return { type: 'gemini', base_url: `${this.url}/v1beta`, api_key: this.#apiKey };
  }

  enqueue(reply: FakeGeminiReply): void {
    this.#queue.push(reply);
  }

  lastChatRequest(): UpstreamSummary {
    const last = this.#chats.at(-1);
    if (!last) throw new Error('the fake Gemini upstream has received no chat request');
    return summarize(last.body, last.model, last.stream);
  }

  /** The last generateContent / streamGenerateContent body, as sent. */
  lastChatBody(): WireGenerateRequest {
    const last = this.#chats.at(-1);
    if (!last) throw new Error('the fake Gemini upstream has received no chat request');
    return last.body;
  }

  chatRequestCount(): number {
    return this.#chats.length;
  }

  reset(): void {
    this.#queue = [];
    this.#chats = [];
    this.calls.length = 0;
  }

  async close(): Promise<void> {
    await closeFake(this.#server);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { text, json: body } = await readRequestBody(req);
    this.calls.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });

    const url = new URL(req.url ?? '/', this.url);
    if (await this.serveOther(req, url, text, res)) return;
    const route = this.route(req.method ?? '', url);
    if (!route) return sendError(res, GEMINI_ERRORS.notFound(`The requested URL ${url.pathname} was not found on this server.`));
    const refused = this.authenticate(req, url);
    if (refused) return sendError(res, refused);
    const { model, method } = route;
    if (!this.models.includes(model)) return sendError(res, this.modelNotFound(model, method));
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return sendError(res, GEMINI_ERRORS.invalidArgument('Invalid JSON payload received. Unexpected token.'));

    if (method !== 'generateContent' && method !== 'streamGenerateContent') return this.embed(method, model, body as Record<string, unknown>, res);
    const problem = requestProblem(body as Record<string, unknown>);
    if (problem) return sendError(res, GEMINI_ERRORS.invalidArgument(problem));
    const request = body as WireGenerateRequest;
    const stream = method === 'streamGenerateContent';
    this.#chats.push({ body: request, model, stream });
    const reply = this.#queue.shift() ?? DEFAULT_REPLY;
    const count = request.generationConfig?.candidateCount ?? 1;
    this.#answer(reply, stream, url.searchParams.get('alt') === 'sse', model, count, res);
  }

  /** The model and method a request names (`POST /v1beta/models/{model}:{method}`), or undefined for a 404. */
  protected route(method: string, url: URL): { model: string; method: string } | undefined {
    const match = /^\/v1beta\/models\/([^/:]+):([A-Za-z]+)$/.exec(url.pathname);
    if (method !== 'POST' || !match || !METHODS.has(match[2]!)) return undefined;
    return { model: decodeURIComponent(match[1]!), method: match[2]! };
  }

  /** The error for refused credentials, or undefined: the key in `x-goog-api-key` (or `?key=`). */
  protected authenticate(req: IncomingMessage, url: URL): GoogleError | undefined {
    const key = req.headers['x-goog-api-key'] ?? url.searchParams.get('key') ?? undefined;
    if (key === undefined) return GEMINI_ERRORS.missingKey();
    if (key !== this.#apiKey) return GEMINI_ERRORS.apiKeyInvalid();
    return undefined;
  }

  protected modelNotFound(model: string, method: string): GoogleError {
    return GEMINI_ERRORS.modelNotFound(model, method);
  }

  /** The error body a scripted `http-error` is sent with. */
  protected classError(errorClass: ErrorClass, message: string, retryAfterSeconds?: number): GoogleError {
    return classError(errorClass, message, retryAfterSeconds);
  }

  /** Requests outside the model API a subclass answers itself (true when answered). */
  protected serveOther(_req: IncomingMessage, _url: URL, _body: string, _res: ServerResponse): Promise<boolean> | boolean {
    return false;
  }

  #answer(reply: FakeGeminiReply, stream: boolean, sse: boolean, model: string, count: number, res: ServerResponse): void {
    const responseId = `fakeResp${String(++this.#sequence).padStart(6, '0')}`;
    switch (reply.kind) {
      case 'raw':
        res.writeHead(reply.status, { 'content-type': reply.contentType ?? 'text/event-stream' });
        res.end(reply.body);
        return;
      case 'http-error':
        return sendError(res, this.classError(reply.errorClass, reply.message, reply.retryAfterSeconds));
      case 'stream-error-before-output':
      case 'stream-error-after-output': {
        if (!stream) return sendError(res, GEMINI_ERRORS.internal(reply.message));
        const before = reply.kind === 'stream-error-after-output' ? textPieces(reply.text).map((text) => ({ candidates: [{ content: { parts: [{ text }], role: 'model' }, index: 0 }], modelVersion: model, responseId })) : [];
        return sendEvents(res, [...before, streamErrorEvent(reply.message)], sse);
      }
      case 'reply':
        if (!stream) return sendJson(res, 200, generateContentResponse(reply, count, model, responseId));
        return sendEvents(res, streamEvents(reply, count, model, responseId), sse);
    }
  }

  /** Any method but generateContent / streamGenerateContent that `route` accepted. */
  protected embed(method: string, model: string, body: Record<string, unknown>, res: ServerResponse): void {
    const embed = (request: unknown): number[] | GoogleError => {
      const r = request as { model?: unknown; content?: { parts?: { text?: unknown }[] }; outputDimensionality?: unknown } | null;
      const text = r?.content?.parts?.map((p) => (typeof p.text === 'string' ? p.text : '')).join('');
      if (text === undefined) return GEMINI_ERRORS.invalidArgument('* EmbedContentRequest.content: contents is not specified\n');
      if (r!.model !== undefined && r!.model !== `models/${model}`) {
        return GEMINI_ERRORS.invalidArgument(`* BatchEmbedContentsRequest.requests[0].model: model in request must match model in BatchEmbedContentsRequest: models/${model}\n`);
      }
      return embeddingValues(text, typeof r!.outputDimensionality === 'number' ? r!.outputDimensionality : 8);
    };
    if (method === 'embedContent') {
      const values = embed(body);
      return Array.isArray(values) ? sendJson(res, 200, { embedding: { values } }) : sendError(res, values);
    }
    const requests = body.requests;
    if (!Array.isArray(requests) || requests.length === 0) return sendError(res, GEMINI_ERRORS.invalidArgument('* BatchEmbedContentsRequest.requests: requests is not specified\n'));
    if (requests.length > 100) return sendError(res, GEMINI_ERRORS.invalidArgument('* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch\n'));
    const embeddings: { values: number[] }[] = [];
    for (const request of requests) {
      const values = embed(request);
      if (!Array.isArray(values)) return sendError(res, values);
      embeddings.push({ values });
    }
    sendJson(res, 200, { embeddings });
  }
}

/** What Google's request parser would refuse, in its words. */
function requestProblem(body: Record<string, unknown>): string | undefined {
  for (const key of Object.keys(body)) if (!REQUEST_FIELDS.has(key)) return `Invalid JSON payload received. Unknown name "${key}": Cannot find field.`;
  const config = body.generationConfig;
  if (config !== undefined) {
    for (const key of Object.keys(config as object)) if (!CONFIG_FIELDS.has(key)) return `Invalid JSON payload received. Unknown name "${key}" at 'generation_config': Cannot find field.`;
  }
  const contents = body.contents;
  if (!Array.isArray(contents) || contents.length === 0) return '* GenerateContentRequest.contents: contents is not specified\n';
  for (const content of contents as { role?: unknown; parts?: unknown }[]) {
    if (content.role !== undefined && content.role !== 'user' && content.role !== 'model') return 'Please use a valid role: user, model.';
    if (!Array.isArray(content.parts) || content.parts.length === 0) return '* GenerateContentRequest.contents: contents.parts must not be empty.\n';
  }
  return undefined;
}

/** A stream: SSE events (`alt=sse`), or without it the JSON array Google sends instead. */
function sendEvents(res: ServerResponse, events: unknown[], sse: boolean): void {
  if (!sse) return sendJson(res, 200, events);
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
  for (const event of events) res.write(sseEvent(event));
  res.end();
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value, null, 2);
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: ServerResponse, error: GoogleError): void {
  sendJson(res, error.status, error.body);
}

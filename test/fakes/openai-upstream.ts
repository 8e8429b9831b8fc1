/**
 * A fake OpenAI API on 127.0.0.1 (random port) speaking OpenAI's real wire format, for e2e tests.
 *
 * - `POST /v1/chat/completions` (JSON and SSE streams), `POST /v1/embeddings`, `GET /v1/models`.
 * - Unknown models → 404 `model_not_found`; with `apiKeys` set, a missing or wrong key → 401.
 * - Every request is recorded (method, path, headers, parsed body) in `requests`.
 * - Faults are injected programmatically (`inject`): an HTTP error with OpenAI's body, a reset
 *   connection, delayed headers, a garbage 200 body, a stream that errors or drops after K
 *   chunks, a slow stream; or at random with a given rate (`chaos`). `refusedURL()` gives an address that refuses connections.
 * - A stream the client abandoned mid-way is recorded in `aborts` (`waitForAbort`).
 */
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { closeFake, localOrigin, readRequestBody, serveFake } from './http-fake.js';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  OPENAI_ERRORS,
  chatChunks,
  chatCompletion,
  embeddingsResponse,
  modelsList,
  planReply,
  type WireChatRequest,
  type WireError,
  type WireErrorBody,
} from './openai-wire.js';

export { OPENAI_ERRORS, type WireError } from './openai-wire.js';

export interface RecordedRequest {
  method: string;
  /** Path without the query string, e.g. `/v1/chat/completions`. */
  path: string;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body (undefined when there was none or it was not JSON). */
  body: unknown;
  rawBody: string;
}

export type Fault =
  /** Answer with this error (status, OpenAI body, headers), after `afterMs` if given. */
  | { kind: 'http-error'; error: WireError; afterMs?: number }
  /** Destroy the socket before any response byte. */
  | { kind: 'reset' }
  /** Hold the response headers back for `ms`, then answer normally. */
  | { kind: 'delay-headers'; ms: number }
  /** `200 OK` with a body that is not JSON. */
  | { kind: 'garbage' }
  /** Streams only: after `afterChunks` chunks send an in-stream `data: {"error":...}` event and end. */
  | { kind: 'stream-error'; afterChunks: number; error?: WireErrorBody }
  /** Streams only: destroy the socket after `afterChunks` chunks. */
  | { kind: 'stream-drop'; afterChunks: number }
  /** Streams only: wait `chunkDelayMs` before each chunk. */
  | { kind: 'slow-stream'; chunkDelayMs: number }
  /** Streams only: ignore `stream: true` and answer the whole completion as JSON (servers without streaming do). */
  | { kind: 'json-for-stream' }
  /** Non-streaming: answer with this `usage` instead of the real one (a broken server's counts). */
  | { kind: 'usage'; usage: unknown };

export interface FaultScope {
  /** How many matching requests get the fault (default 1; Infinity until cleared). */
  times?: number;
  /** Only requests for this model (the upstream model name in the body). */
  model?: string;
  /** Only requests to this path, e.g. `/v1/embeddings`. */
  path?: string;
}

interface FaultRule extends Required<Pick<FaultScope, 'times'>> {
  fault: Fault;
  model?: string;
  path?: string;
}

export interface FakeOpenAIOptions {
  /** Models the fake serves; any other gets 404 model_not_found. */
  models?: string[];
  /** When set, requests must carry `Authorization: Bearer <one of these>`. */
  apiKeys?: string[];
}

export const DEFAULT_MODELS = ['gpt-4o-mini', 'gpt-4o', 'text-embedding-3-small', 'llama-3.1-8b-instruct'];

const STREAM_FAULTS = new Set<Fault['kind']>(['stream-error', 'stream-drop', 'slow-stream', 'json-for-stream']);

export class FakeOpenAI {
  readonly requests: RecordedRequest[] = [];
  /** Streams the client (the gateway) abandoned before they were complete. */
  readonly aborts: RecordedRequest[] = [];
  readonly #server: Server;
  readonly #options: Required<FakeOpenAIOptions>;
  #rules: FaultRule[] = [];
  #chaos: { rate: number; faults: Fault[]; random: () => number } | undefined;
  #abortWaiters: (() => void)[] = [];
  #sequence = 0;

  private constructor(server: Server, options: FakeOpenAIOptions) {
    this.#server = server;
    this.#options = { models: options.models ?? DEFAULT_MODELS, apiKeys: options.apiKeys ?? [] };
  }

  static async start(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
    const server = createServer();
    const fake = new FakeOpenAI(server, options);
    await serveFake(server, (req, res) => fake.#handle(req, res));
    return fake;
  }

  /** `http://127.0.0.1:<port>` */
  get url(): string {
    return localOrigin(this.#server);
  }

  /** The base URL a provider config uses: `http://127.0.0.1:<port>/v1`. */
  get baseURL(): string {
    return `${this.url}/v1`;
  }

  /** Faults the next matching request(s) (see FaultScope). */
  inject(fault: Fault, scope: FaultScope = {}): void {
    this.#rules.push({ fault, times: scope.times ?? 1, model: scope.model, path: scope.path });
  }

  clearFaults(): void {
    this.#rules = [];
    this.#chaos = undefined;
  }

  /**
   * Random faults: a request no scripted fault matched gets one of `faults` (those that fit it:
   * stream faults only for streams) with probability `rate`. `random` makes it reproducible.
   */
  chaos(rate: number, faults: Fault[], random: () => number = Math.random): void {
    this.#chaos = { rate, faults, random };
  }

  /** Forgets recorded requests and aborts, and clears faults (between tests). */
  reset(): void {
    this.requests.length = 0;
    this.aborts.length = 0;
    this.clearFaults();
  }

  /** Recorded requests to one path, e.g. `/v1/chat/completions`. */
  requestsTo(path: string): RecordedRequest[] {
    return this.requests.filter((r) => r.path === path);
  }

  lastRequest(path = '/v1/chat/completions'): RecordedRequest {
    const found = this.requestsTo(path).at(-1);
    if (!found) throw new Error(`the fake upstream received no request to ${path}`);
    return found;
  }

  /** Resolves when a client abandons a stream (at once if one already did); rejects on timeout. */
  async waitForAbort(timeoutMs = 5000): Promise<RecordedRequest> {
    if (this.aborts.length > 0) return this.aborts[0]!;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no stream was aborted within ${timeoutMs} ms`)), timeoutMs);
      this.#abortWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    return this.aborts[0]!;
  }

  async close(): Promise<void> {
    await closeFake(this.#server);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { text: rawBody, json: body } = await readRequestBody(req);
    const path = (req.url ?? '/').split('?')[0]!;
    const recorded: RecordedRequest = { method: req.method ?? 'GET', path, headers: req.headers, body, rawBody };
    this.requests.push(recorded);

    const authError = this.#checkKey(req.headers);
    if (authError) return sendError(res, authError);

    const isStream = isObject(body) && body.stream === true;
    const model = isObject(body) && typeof body.model === 'string' ? body.model : undefined;
    const fault = this.#takeFault(path, model, isStream);

    if (fault?.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    const delayMs = fault?.kind === 'delay-headers' ? fault.ms : fault?.kind === 'http-error' ? fault.afterMs : undefined;
    if (delayMs !== undefined) {
      const closed = new AbortController();
      res.once('close', () => closed.abort());
      try {
        await sleep(delayMs, undefined, { signal: closed.signal });
      } catch {
        return; // the client gave up waiting
      }
    }
    if (fault?.kind === 'http-error') return sendError(res, fault.error);
    if (fault?.kind === 'garbage') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('<html><body>this is not JSON {"id": </body></html>');
      return;
    }

    if (req.method === 'GET' && path === '/v1/models') return sendJson(res, 200, modelsList(this.#options.models));
    if (req.method === 'POST' && path === '/v1/chat/completions') return this.#chat(body, recorded, res, fault);
    if (req.method === 'POST' && path === '/v1/embeddings') return this.#embeddings(body, res);
    sendError(res, { status: 404, body: { error: { message: `Invalid URL (${req.method} ${path})`, type: 'invalid_request_error', param: null, code: null } } });
  }

  async #chat(body: unknown, recorded: RecordedRequest, res: ServerResponse, fault: Fault | undefined): Promise<void> {
    if (!isObject(body) || typeof body.model !== 'string' || !Array.isArray(body.messages)) {
      return sendError(res, {
        status: 400,
        body: { error: { message: "Missing required parameter: 'messages'.", type: 'invalid_request_error', param: 'messages', code: 'missing_required_parameter' } },
      });
    }
    const request = body as unknown as WireChatRequest;
    if (!this.#options.models.includes(request.model)) return sendError(res, OPENAI_ERRORS.modelNotFound(request.model));
    const id = `chatcmpl-fake${String(++this.#sequence).padStart(6, '0')}`;
    const created = Math.floor(Date.now() / 1000);
    const reply = planReply(request);
    if (!request.stream || fault?.kind === 'json-for-stream') {
      const completion = chatCompletion(id, created, request.model, reply);
      return sendJson(res, 200, fault?.kind === 'usage' ? { ...completion, usage: fault.usage } : completion);
    }

    const includeUsage = request.stream_options?.include_usage === true;
    const chunks = chatChunks(id, created, request.model, reply, includeUsage);
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-request-id': `req_fake${this.#sequence}` });
    res.flushHeaders();
    let droppedByUs = false;
    res.once('close', () => {
      if (res.writableFinished || droppedByUs) return;
      this.aborts.push(recorded);
      for (const wake of this.#abortWaiters.splice(0)) wake();
    });
    const gone = new AbortController();
    res.once('close', () => gone.abort());

    for (const [index, chunk] of chunks.entries()) {
      if (fault?.kind === 'stream-error' && index === fault.afterChunks) {
        res.end(`data: ${JSON.stringify(fault.error ?? OPENAI_ERRORS.serverError().body)}\n\n`);
        return;
      }
      if (fault?.kind === 'stream-drop' && index === fault.afterChunks) {
        droppedByUs = true;
        res.socket?.destroy();
        return;
      }
      if (fault?.kind === 'slow-stream') {
        try {
          await sleep(fault.chunkDelayMs, undefined, { signal: gone.signal });
        } catch {
          return;
        }
      }
      if (res.destroyed) return;
      // Flushed before the next step, so a drop after K chunks really delivered K chunks.
      await new Promise<void>((resolve) => res.write(`data: ${JSON.stringify(chunk)}\n\n`, () => resolve()));
    }
    res.end('data: [DONE]\n\n');
  }

  #embeddings(body: unknown, res: ServerResponse): void {
    if (!isObject(body) || typeof body.model !== 'string' || body.input === undefined) {
      return sendError(res, {
        status: 400,
        body: { error: { message: "'input' is a required property", type: 'invalid_request_error', param: null, code: null } },
      });
    }
    if (!this.#options.models.includes(body.model)) return sendError(res, OPENAI_ERRORS.modelNotFound(body.model));
    const inputs = typeof body.input === 'string' ? [body.input] : (body.input as unknown[]).map((item) => (typeof item === 'string' ? item : JSON.stringify(item)));
    const encoding = body.encoding_format === 'base64' ? 'base64' : 'float';
    const dimensions = typeof body.dimensions === 'number' ? body.dimensions : 8;
    sendJson(res, 200, embeddingsResponse(body.model, inputs, encoding, dimensions));
  }

  #checkKey(headers: IncomingHttpHeaders): WireError | undefined {
    if (this.#options.apiKeys.length === 0) return undefined;
    const match = /^Bearer (.+)$/.exec(headers.authorization ?? '');
    if (!match) return OPENAI_ERRORS.missingApiKey();
    return this.#options.apiKeys.includes(match[1]!) ? undefined : OPENAI_ERRORS.invalidApiKey(match[1]!);
  }

  #takeFault(path: string, model: string | undefined, isStream: boolean): Fault | undefined {
    const rule = this.#rules.find(
      (r) =>
        r.times > 0 &&
        (r.path === undefined || r.path === path) &&
        (r.model === undefined || r.model === model) &&
        (isStream || !STREAM_FAULTS.has(r.fault.kind)),
    );
    if (rule) {
      rule.times -= 1;
      return rule.fault;
    }
    const chaos = this.#chaos;
    if (!chaos || chaos.random() >= chaos.rate) return undefined;
    const fitting = chaos.faults.filter((f) => isStream || !STREAM_FAULTS.has(f.kind));
    return fitting[Math.floor(chaos.random() * fitting.length)];
  }
}

/** An address nothing listens on: connecting to it is refused. */
export async function refusedURL(): Promise<string> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const origin = localOrigin(server);
  await closeFake(server);
  return `${origin}/v1`;
}

function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(res: ServerResponse, error: WireError): void {
  sendJson(res, error.status, error.body, error.headers);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * A fake Amazon Bedrock Runtime on 127.0.0.1 (random port) speaking its real wire format, for the
 * conformance suite (it implements test/conformance/contract.ts) and e2e tests.
 *
 * - `POST /model/{modelId}/converse` (JSON) and `/converse-stream` (an AWS binary event stream,
 *   byte-exact framing with CRCs); `POST /model/{modelId}/invoke` for Titan and Cohere embeddings.
 *   The model id is read from the encoded path segment, as AWS does.
 * - Every request must be SigV4-signed: the fake recomputes the signature with
 *   @smithy/signature-v4 from the known test credentials and the request as received (method,
 *   encoded path, signed headers, body) and compares the Authorization header. An unknown key id
 *   → 403 UnrecognizedClientException, a mismatch → 403 InvalidSignatureException, a body that does
 *   not match x-amz-content-sha256 → 400 XAmzContentSHA256Mismatch.
 * - Converse requests are checked like Bedrock checks them (ValidationException 400).
 * - Answers are scripted (`enqueue`, FIFO; the contract's default when empty). Errors are sent as
 *   AWS sends them: `x-amzn-ErrorType` + `{"message"}` (no Retry-After: Bedrock sends none).
 *   Streams can also be scripted as raw event lists (`enqueueEvents`), and cut into small network
 *   chunks (`chunkBytes`) to exercise the client's framing.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { closeFake, localOrigin, readRequestBody, serveFake } from './http-fake.js';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { DEFAULT_REPLY, type ConformanceFake, type ScriptedReply, type UpstreamSummary } from '../conformance/contract.js';
import {
  asJsonToolReply,
  bedrockError,
  classError,
  converseResponse,
  encodeEvent,
  errorHeaders,
  forcesJsonTool,
  streamEvents,
  summarize,
  tokenCount,
  validateConverse,
  vectorFor,
  type BedrockError,
  type WireConverseRequest,
  type WireEvent,
} from './bedrock-wire.js';

export { JSON_TOOL, type WireEvent } from './bedrock-wire.js';

/** What the fake answers next: the contract's scripts, or a raw event list for a stream. */
export type BedrockScript = ScriptedReply | { kind: 'events'; events: WireEvent[] };

export interface FakeBedrockOptions {
  accessKeyId?: string;
  secretAccessKey?: string;
  /** When set, requests must carry it in x-amz-security-token (signed). */
  sessionToken?: string;
  region?: string;
  /** The upstream model id the conformance suite's targets use. */
  model?: string;
}

export interface RecordedRequest {
  method: string;
  /** The path as received (model id still encoded). */
  rawPath: string;
  modelId: string;
  operation: string;
  headers: IncomingHttpHeaders;
  body: unknown;
  /** The signature check's verdict ('ok', or the exception sent). */
  signature: string;
}

export class FakeBedrock implements ConformanceFake {
  readonly model: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string | undefined;
  readonly region: string;
  readonly requests: RecordedRequest[] = [];
  /** Bytes per network write of a stream (0: one write per event). */
  chunkBytes = 0;
  readonly #server: Server;
  readonly #signer: SignatureV4;
  #queue: BedrockScript[] = [];
  #chats: RecordedRequest[] = [];
  #sequence = 0;

  private constructor(server: Server, options: FakeBedrockOptions) {
    this.#server = server;
    this.model = options.model ?? 'anthropic.claude-3-5-sonnet-20241022-v2:0';
    this.accessKeyId = options.accessKeyId ?? 'AKIDFAKEBEDROCK0001';
    this.secretAccessKey = options.secretAccessKey ?? 'fake/Bedrock+Secret/Key0000000000000000001';
    this.sessionToken = options.sessionToken;
    this.region = options.region ?? 'us-east-1';
    const credentials = { accessKeyId: this.accessKeyId, secretAccessKey: this.secretAccessKey, sessionToken: this.sessionToken };
    this.#signer = new SignatureV4({ service: 'bedrock', region: this.region, credentials, sha256: Sha256 });
  }

  static async start(options: FakeBedrockOptions = {}): Promise<FakeBedrock> {
    const server = createServer();
    const fake = new FakeBedrock(server, options);
    await serveFake(server, (req, res) => fake.#handle(req, res));
    return fake;
  }

  get url(): string {
    return localOrigin(this.#server);
  }

  providerConfig(): Record<string, unknown> {
    const config: Record<string, unknown> = { type: 'bedrock', region: this.region, access_key_id: this.accessKeyId, secret_access_key: this.secretAccessKey, base_url: this.url };
    if (this.sessionToken) config.session_token = this.sessionToken;
    return config;
  }

  enqueue(reply: BedrockScript): void {
    this.#queue.push(reply);
  }

  /** Streams: the next stream sends exactly these events. */
  enqueueEvents(events: WireEvent[]): void {
    this.#queue.push({ kind: 'events', events });
  }

  lastChatRequest(): UpstreamSummary {
    const last = this.#chats.at(-1);
    if (!last) throw new Error('the fake Bedrock received no chat request');
    return summarize(last.modelId, last.operation === 'converse-stream', last.body as WireConverseRequest);
  }

  /** The last chat request's Converse body, as sent. */
  lastChatBody(): WireConverseRequest {
    const last = this.#chats.at(-1);
    if (!last) throw new Error('the fake Bedrock received no chat request');
    return last.body as WireConverseRequest;
  }

  chatRequestCount(): number {
    return this.#chats.length;
  }

  reset(): void {
    this.#queue = [];
    this.#chats = [];
    this.requests.length = 0;
    this.chunkBytes = 0;
  }

  async close(): Promise<void> {
    await closeFake(this.#server);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { text: rawBody, json: body } = await readRequestBody(req);
    const rawPath = (req.url ?? '/').split('?')[0]!;
    const match = /^\/model\/([^/]+)\/(converse|converse-stream|invoke)$/.exec(rawPath);
    const requestId = `fake-${String(++this.#sequence).padStart(8, '0')}-0000-4000-8000-000000000000`;
    const signature = await this.#verify(req, rawPath, rawBody);
    const recorded: RecordedRequest = { method: req.method ?? '', rawPath, modelId: match ? decodeURIComponent(match[1]!) : '', operation: match?.[2] ?? '', headers: req.headers, body, signature: signature?.type ?? 'ok' };
    this.requests.push(recorded);
    if (signature) return sendError(res, signature, requestId);
    if (req.method !== 'POST' || !match) return sendError(res, bedrockError('UnknownOperationException', `Unknown operation ${req.method} ${rawPath}`), requestId);
    if (body === undefined || body === null || typeof body !== 'object') return sendError(res, bedrockError('ValidationException', 'Malformed input request, please reformat your input and try again.'), requestId);
    if (recorded.operation === 'invoke') return this.#invoke(recorded, res, requestId);
    this.#chats.push(recorded);
    return this.#converse(recorded, res, requestId);
  }

  /** Recomputes the SigV4 signature of the request as received; undefined when it matches. */
  async #verify(req: IncomingMessage, rawPath: string, rawBody: string): Promise<BedrockError | undefined> {
    const authorization = req.headers.authorization ?? '';
    const parsed = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=[0-9a-f]{64}$/.exec(authorization);
    if (!parsed) return bedrockError('InvalidSignatureException', 'Authorization header requires \'Credential\', \'SignedHeaders\' and \'Signature\' parameters.');
    const [, keyId, , region, service, signedList] = parsed;
    if (keyId !== this.accessKeyId) return bedrockError('UnrecognizedClientException', 'The security token included in the request is invalid.');
    if (region !== this.region || service !== 'bedrock') return bedrockError('InvalidSignatureException', `Credential should be scoped to a valid region and to the service 'bedrock'.`);
    if (this.sessionToken && req.headers['x-amz-security-token'] !== this.sessionToken) return bedrockError('UnrecognizedClientException', 'The security token included in the request is invalid.');
    const sentHash = req.headers['x-amz-content-sha256'];
    if (sentHash !== undefined && sentHash !== createHash('sha256').update(rawBody).digest('hex')) {
      return { status: 400, type: 'XAmzContentSHA256Mismatch', message: 'The provided \'x-amz-content-sha256\' header does not match what was computed.' };
    }
    const amzDate = String(req.headers['x-amz-date'] ?? '');
    const date = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
    if (!date) return bedrockError('InvalidSignatureException', 'Missing or malformed X-Amz-Date header.');
    const headers: Record<string, string> = {};
    for (const name of signedList!.split(';')) {
      const value = req.headers[name];
      if (value === undefined) return bedrockError('InvalidSignatureException', `Signed header ${name} is missing.`);
      headers[name] = Array.isArray(value) ? value.join(',') : value;
    }
    const [host, port] = (req.headers.host ?? '').split(':');
    const expected = await this.#signer.sign(
      { method: req.method ?? 'POST', protocol: 'http:', hostname: host ?? '', port: port ? Number(port) : undefined, path: rawPath, query: {}, headers, body: rawBody },
      { signingDate: new Date(`${date[1]}-${date[2]}-${date[3]}T${date[4]}:${date[5]}:${date[6]}Z`) },
    );
    if (expected.headers.authorization !== authorization) {
      return bedrockError(
        'InvalidSignatureException',
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
      );
    }
    return undefined;
  }

  #converse(recorded: RecordedRequest, res: ServerResponse, requestId: string): Promise<void> | void {
    const body = recorded.body as WireConverseRequest;
    const invalid = validateConverse(body);
    if (invalid) return sendError(res, bedrockError('ValidationException', invalid), requestId);
    const script = this.#queue.shift() ?? DEFAULT_REPLY;
    if (script.kind === 'http-error') return sendError(res, classError(script.errorClass, script.message), requestId);
    const streaming = recorded.operation === 'converse-stream';
    if (!streaming) {
      if (script.kind !== 'reply') return sendError(res, bedrockError('InternalServerException', 'The fake was scripted with a stream for a Converse call.'), requestId);
      return sendJson(res, 200, converseResponse(asJsonToolReply(script, forcesJsonTool(body))), { 'x-amzn-requestid': requestId });
    }
    let events: WireEvent[];
    if (script.kind === 'reply') events = streamEvents(asJsonToolReply(script, forcesJsonTool(body)));
    else if (script.kind === 'events') events = script.events;
    else if (script.kind === 'stream-error-before-output') events = [{ event: 'messageStart', payload: { role: 'assistant' } }, { exception: 'internalServerException', payload: { message: script.message } }];
    else {
      events = [
        { event: 'messageStart', payload: { role: 'assistant' } },
        { event: 'contentBlockDelta', payload: { contentBlockIndex: 0, delta: { text: script.text } } },
        { exception: 'modelStreamErrorException', payload: { message: script.message, originalStatusCode: 500, originalMessage: script.message } },
      ];
    }
    return this.#stream(res, events, requestId);
  }

  async #stream(res: ServerResponse, events: WireEvent[], requestId: string): Promise<void> {
    res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream', 'x-amzn-requestid': requestId, 'transfer-encoding': 'chunked' });
    const body = Buffer.concat(events.map((event, n) => encodeEvent(event, n)));
    const writes: Uint8Array[] = [];
    if (this.chunkBytes > 0) {
      for (let i = 0; i < body.length; i += this.chunkBytes) writes.push(body.subarray(i, i + this.chunkBytes));
    } else {
      events.forEach((event, n) => writes.push(encodeEvent(event, n)));
    }
    for (const piece of writes) {
      if (res.destroyed) return;
      await new Promise<void>((resolve) => res.write(piece, () => resolve()));
    }
    res.end();
  }

  #invoke(recorded: RecordedRequest, res: ServerResponse, requestId: string): void {
    const model = recorded.modelId;
    const body = recorded.body as Record<string, unknown>;
    if (model.includes('amazon.titan-embed')) {
      if (typeof body.inputText !== 'string') return sendError(res, bedrockError('ValidationException', 'Malformed input request: #: required key [inputText] not found, please reformat your input and try again.'), requestId);
      const dimensions = typeof body.dimensions === 'number' ? body.dimensions : 1024;
      const tokens = tokenCount(body.inputText);
      sendJson(res, 200, { embedding: vectorFor(body.inputText, dimensions), embeddingsByType: { float: vectorFor(body.inputText, dimensions) }, inputTextTokenCount: tokens }, {
        'x-amzn-requestid': requestId,
        'x-amzn-bedrock-input-token-count': String(tokens),
        'x-amzn-bedrock-invocation-latency': '42',
      });
      return;
    }
    if (model.includes('cohere.embed')) {
      const texts = body.texts;
      if (!Array.isArray(texts) || typeof body.input_type !== 'string') {
        return sendError(res, bedrockError('ValidationException', 'Malformed input request: #: required key [input_type] not found, please reformat your input and try again.'), requestId);
      }
      if (texts.length > 96) return sendError(res, bedrockError('ValidationException', 'Malformed input request: #/texts: expected maximum item count: 96, found: ' + texts.length), requestId);
      const dimensions = typeof body.output_dimension === 'number' ? body.output_dimension : 1024;
      sendJson(res, 200, { id: requestId, embeddings: texts.map((t) => vectorFor(String(t), dimensions)), response_type: 'embeddings_floats', texts }, { 'x-amzn-requestid': requestId });
      return;
    }
    sendError(res, bedrockError('ValidationException', `The provided model identifier is invalid.`), requestId);
  }
}

function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(res: ServerResponse, error: BedrockError, requestId: string): void {
  sendJson(res, error.status, { message: error.message }, errorHeaders(error, requestId));
}

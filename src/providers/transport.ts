/**
 * Outbound HTTP for every provider: one shared undici Agent with keep-alive (DESIGN.md §3.5), and
 * transport failures classified once into GatewayErrors. Timeouts are the attempt's (its signal):
 * undici's own header/body timers are off, they are coarse (~1 s) and cost a timer per request.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { Agent, errors as undiciErrors, request, type Dispatcher } from 'undici';
import { GatewayError } from '../gateway/errors.js';

export interface TransportOptions {
  connectTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnectionsPerOrigin: number;
}

let agent: Agent | undefined;

export function configureTransport(options: TransportOptions): void {
  void agent?.close();
  agent = new Agent({
    keepAliveTimeout: options.keepAliveTimeoutMs,
    keepAliveMaxTimeout: Math.max(options.keepAliveTimeoutMs, 600_000),
    connections: options.maxConnectionsPerOrigin,
    connect: { timeout: options.connectTimeoutMs || undefined },
  });
}

function sharedAgent(): Agent {
  agent ??= new Agent({ keepAliveTimeout: 30_000 });
  return agent;
}

export async function closeTransport(): Promise<void> {
  const current = agent;
  agent = undefined;
  await current?.close();
}

export interface UpstreamRequest {
  url: string;
  method?: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  signal: AbortSignal;
  /** Called when the response headers arrived (stops the attempt's first-byte timeout). */
  onFirstByte?: () => void;
  /** Provider id, for error attribution (never the URL). */
  provider: string;
}

export type UpstreamResponse = Dispatcher.ResponseData;

export async function send(req: UpstreamRequest): Promise<UpstreamResponse> {
  try {
    const res = await request(req.url, {
      dispatcher: sharedAgent(),
      method: req.method ?? 'POST',
      headers: req.headers,
      body: req.body,
      signal: req.signal,
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    req.onFirstByte?.();
    return res;
  } catch (err) {
    throw classifyTransportError(err, req.provider, req.signal);
  }
}

export interface UpstreamTextResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/**
 * Sends a request and reads the whole answer as text, through undici's dispatch API: an answer
 * read whole needs no body stream (request()'s stream machinery was a measurable share of CPU).
 */
export function sendForText(req: UpstreamRequest): Promise<UpstreamTextResponse> {
  const { signal, provider } = req;
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(classifyTransportError(signal.reason, provider, signal));
      return;
    }
    const chunks: Buffer[] = [];
    let statusCode = 0;
    let headers: IncomingHttpHeaders = {};
    let controller: Dispatcher.DispatchController | undefined;
    const onAbort = (): void => controller?.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    const { origin, path } = splitUrl(req.url);
    sharedAgent().dispatch(
      { origin, path, method: req.method ?? 'POST', headers: req.headers, body: req.body, headersTimeout: 0, bodyTimeout: 0 },
      {
        onRequestStart(started) {
          controller = started;
          if (signal.aborted) started.abort(signal.reason);
        },
        onResponseStart(_controller, status, responseHeaders) {
          statusCode = status;
          headers = responseHeaders;
          req.onFirstByte?.();
        },
        onResponseData(_controller, chunk) {
          chunks.push(chunk);
        },
        onResponseEnd() {
          signal.removeEventListener('abort', onAbort);
          resolve({ statusCode, headers, text: Buffer.concat(chunks).toString('utf8') });
        },
        onResponseError(_controller, err) {
          signal.removeEventListener('abort', onAbort);
          reject(classifyTransportError(err, provider, signal));
        },
      },
    );
  });
}

/** Provider URLs are few and fixed: parse each once. */
const splitUrls = new Map<string, { origin: string; path: string }>();

function splitUrl(url: string): { origin: string; path: string } {
  let parts = splitUrls.get(url);
  if (!parts) {
    const parsed = new URL(url);
    parts = { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}` };
    if (splitUrls.size < 1000) splitUrls.set(url, parts);
  }
  return parts;
}

/** Reads a whole body as text, classifying failures (reset mid-body, timeout) like `send`. */
export async function readText(res: UpstreamResponse, provider: string, signal: AbortSignal): Promise<string> {
  try {
    return await res.body.text();
  } catch (err) {
    throw classifyTransportError(err, provider, signal);
  }
}

/**
 * Transport failures → GatewayError: timeouts are 504, everything else that kept us from an
 * answer (refused, reset, DNS, TLS) is 502; all retryable. An abort carries its own reason.
 */
export function classifyTransportError(err: unknown, provider: string, signal?: AbortSignal): unknown {
  if (err instanceof GatewayError) return err;
  if (signal?.aborted) {
    const reason: unknown = signal.reason;
    return reason instanceof GatewayError ? reason : err;
  }
  if (
    err instanceof undiciErrors.HeadersTimeoutError ||
    err instanceof undiciErrors.ConnectTimeoutError ||
    err instanceof undiciErrors.BodyTimeoutError
  ) {
    return new GatewayError('upstream_timeout', `The upstream provider "${provider}" did not answer in time.`, { provider, cause: err });
  }
  const code = (err as { code?: string } | null)?.code;
  const what =
    code === 'ECONNREFUSED' ? 'refused the connection'
    : code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' ? 'closed the connection unexpectedly'
    : code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'could not be resolved (DNS)'
    : 'could not be reached';
  return new GatewayError('upstream_error', `The upstream provider "${provider}" ${what}.`, { provider, cause: err });
}

/**
 * Decodes a streaming body, classifying transport failures that happen mid-body. When the decoder
 * stops early (at `[DONE]`, just before the body's own end), the rest is drained rather than the
 * body destroyed: destroying an unfinished undici body builds an error with a stack trace, a
 * measurable cost on every stream. A body that does not end soon after is destroyed all the same.
 */
export async function* decodeBody<T>(
  res: UpstreamResponse,
  provider: string,
  signal: AbortSignal,
  decode: (body: AsyncIterable<Uint8Array>) => AsyncIterable<T>,
): AsyncGenerator<T> {
  try {
    yield* decode(res.body.iterator({ destroyOnReturn: false }) as AsyncIterable<Uint8Array>);
  } catch (err) {
    throw classifyTransportError(err, provider, signal);
  } finally {
    if (!res.body.readableEnded && !res.body.destroyed) {
      res.body.dump({ limit: 64 * 1024, signal: AbortSignal.timeout(DRAIN_TIMEOUT_MS) }).catch(() => undefined);
    }
  }
}

const DRAIN_TIMEOUT_MS = 1000;

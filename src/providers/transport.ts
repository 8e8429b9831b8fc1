/**
 * Outbound HTTP for every provider: one shared undici Agent with keep-alive (DESIGN.md §3.5), and
 * transport failures classified once into GatewayErrors. Timeouts are the attempt's (its signal):
 * undici's own header/body timers are off, they are coarse (~1 s) and cost a timer per request.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { Agent, errors as undiciErrors, type Dispatcher } from 'undici';
import { GatewayError } from '../gateway/errors.js';
import type { CallSignal } from './call-signal.js';
import { StreamBody } from './stream-body.js';
import { withTraceContext } from './trace-context.js';

export interface TransportOptions {
  connectTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnectionsPerOrigin: number;
  /** An upstream answer larger than this is cut off: a broken upstream must not exhaust memory. */
  maxResponseBytes: number;
}

const DEFAULT_MAX_RESPONSE_BYTES = 256 * 1024 * 1024;

let agent: Agent | undefined;
let maxResponseBytes = DEFAULT_MAX_RESPONSE_BYTES;

export function configureTransport(options: TransportOptions): void {
  maxResponseBytes = options.maxResponseBytes;
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
  body?: string | Buffer;
  signal: CallSignal;
  /** Called when the response headers arrived (stops the attempt's first-byte timeout). */
  onFirstByte?: () => void;
  /** Provider id, for error attribution (never the URL). */
  provider: string;
}

export interface UpstreamTextResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/**
 * Sends a request and reads the whole answer as text. Both senders use undici's dispatch API
 * directly: request()'s body streams were a measurable share of the gateway's CPU.
 */
export function sendForText(req: UpstreamRequest): Promise<UpstreamTextResponse> {
  return dispatch(req, (_controller, statusCode, headers, resolve) => {
    const chunks: Buffer[] = [];
    return {
      push: (chunk) => chunks.push(chunk),
      end: () => resolve({ statusCode, headers, text: Buffer.concat(chunks).toString('utf8') }),
    };
  });
}

/** Where a dispatched answer's body goes once its headers arrived. */
interface BodySink {
  push(chunk: Buffer): void;
  end(): void;
  /** A failure after the promise resolved (a stream's body); before, the promise is rejected. */
  fail?(err: unknown): void;
}

/**
 * One upstream exchange on the shared agent. `onHeaders` decides what the promise resolves with
 * and returns the sink for the body. Errors reject the promise until it resolved, and go to the
 * sink after; either way classified, and an abort of the signal surfaces as its reason.
 */
function dispatch<T>(
  req: UpstreamRequest,
  onHeaders: (controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, resolve: (value: T) => void) => BodySink,
): Promise<T> {
  const { signal, provider } = req;
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) {
      reject(classifyTransportError(signal.reason, provider, signal));
      return;
    }
    let controller: Dispatcher.DispatchController | undefined;
    let sink: BodySink | undefined;
    let received = 0;
    // Abort reasons are Errors here: a GatewayError, or the default DOMException.
    const onAbort = (): void => controller?.abort(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    const { origin, path } = splitUrl(req.url);
    sharedAgent().dispatch(
      { origin, path, method: req.method ?? 'POST', headers: withTraceContext(req.headers, req.signal), body: req.body, headersTimeout: 0, bodyTimeout: 0 },
      {
        onRequestStart(started) {
          controller = started;
          if (signal.aborted) started.abort(signal.reason as Error);
        },
        onResponseStart(started, statusCode, headers) {
          if (statusCode < 200) return; // an informational 1xx; the real answer follows
          req.onFirstByte?.();
          sink = onHeaders(started, statusCode, headers, resolve);
        },
        onResponseData(started, chunk) {
          received += chunk.length;
          if (received > maxResponseBytes) {
            started.abort(new GatewayError('upstream_error', `The upstream provider "${provider}" sent an answer larger than upstream.max_response_bytes (${maxResponseBytes} bytes).`, { provider }));
            return;
          }
          sink?.push(chunk);
        },
        onResponseEnd() {
          signal.removeEventListener('abort', onAbort);
          sink?.end();
        },
        onResponseError(_controller, err) {
          signal.removeEventListener('abort', onAbort);
          const error = classifyTransportError(err, provider, signal);
          sink?.fail?.(error);
          reject(error);
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

/**
 * Transport failures → GatewayError: timeouts are 504, everything else that kept us from an
 * answer (refused, reset, DNS, TLS) is 502; all retryable. An abort carries its own reason.
 */
export function classifyTransportError(err: unknown, provider: string, signal?: CallSignal): unknown {
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

/** A streaming answer: status and headers once they arrived; the body as it comes. */
export interface UpstreamStreamResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: StreamBody;
}

/**
 * Sends a request whose answer is read as it arrives (server-sent events). Resolves at the
 * response headers; failures after that surface from the body's iterator, already classified.
 */
export function sendStreaming(req: UpstreamRequest): Promise<UpstreamStreamResponse> {
  return dispatch(req, (controller, statusCode, headers, resolve) => {
    const body = new StreamBody(controller);
    resolve({ statusCode, headers, body });
    return body;
  });
}

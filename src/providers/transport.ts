/**
 * Outbound HTTP for every provider: one shared undici Agent with keep-alive (DESIGN.md §3.5), and
 * transport failures classified once into GatewayErrors. Timeouts are the attempt's (its signal):
 * undici's own header/body timers are off, they are coarse (~1 s) and cost a timer per request.
 */
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

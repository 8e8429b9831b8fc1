/** OpenAI response and error bodies → canonical results and classified GatewayErrors. */
import { GatewayError } from '../../gateway/errors.js';
import { withRawJson } from '../../gateway/raw-json.js';
import type { OpenAIErrorBody } from './api.js';

/** Parses a 2xx JSON body; anything unreadable is an upstream failure (502, retryable). */
export function parseJsonBody<T>(text: string, provider: string): T {
  try {
    const value: unknown = JSON.parse(text);
    if (value !== null && typeof value === 'object') return withRawJson(value as T & object, text);
  } catch {
    // fall through
  }
  throw new GatewayError('upstream_error', `The upstream provider "${provider}" returned a response that is not valid JSON.`, { provider });
}

type HeaderValue = string | string[] | undefined;

/**
 * An upstream error status → GatewayError. 4xx the client caused keep their status and the
 * provider's message; 408/409/429 and 5xx are retryable; 429 keeps its Retry-After.
 * 401 / 403 concern the gateway's own provider credentials, not the client's key: they become a
 * retryable 502 (another target may work) whose message names no part of the key.
 */
export function upstreamHttpError(status: number, bodyText: string, headers: Record<string, HeaderValue>, provider: string): GatewayError {
  const detail = readErrorDetail(bodyText);
  if (status === 401 || status === 403) {
    const reason = detail.message ? `: ${redactSecrets(detail.message)}` : '.';
    return new GatewayError('upstream_error', `The upstream provider "${provider}" refused the gateway's credentials (HTTP ${status})${reason} Check this provider's api_key in the gateway configuration.`, {
      provider,
      upstreamCode: detail.code,
    });
  }
  if (status === 429) {
    return new GatewayError('upstream_rate_limited', detail.message ?? `The upstream provider "${provider}" is rate limiting requests.`, {
      provider,
      retryAfterMs: retryAfterMs(headers),
      upstreamType: detail.type,
      upstreamCode: detail.code,
    });
  }
  if (status >= 400 && status < 500) {
    return new GatewayError('upstream_client_error', detail.message ?? `The upstream provider "${provider}" rejected the request (HTTP ${status}).`, {
      provider,
      status,
      retryable: status === 408 || status === 409,
      param: detail.param,
      upstreamType: detail.type,
      upstreamCode: detail.code,
    });
  }
  const suffix = detail.message ? `: ${detail.message}` : '.';
  return new GatewayError('upstream_error', `The upstream provider "${provider}" failed with HTTP ${status}${suffix}`, {
    provider,
    retryAfterMs: retryAfterMs(headers),
  });
}

/** An `error` object inside a 200 stream. Before any output it is retried like a 5xx. */
export function streamError(value: OpenAIErrorBody, provider: string): GatewayError {
  const detail = readErrorDetail(value);
  return new GatewayError('upstream_error', `The upstream provider "${provider}" failed mid-stream${detail.message ? `: ${detail.message}` : '.'}`, {
    provider,
    upstreamType: detail.type,
    upstreamCode: detail.code,
  });
}

/** Masks anything that looks like an API key (even a provider's own masked echo of one). */
export function redactSecrets(text: string): string {
  return text.replace(/\b(?:sk|pk|rk|key|api[-_]?key)[-_][A-Za-z0-9_*.\-…]{4,}/gi, '[redacted]');
}

interface ErrorDetail {
  message?: string;
  type?: string;
  code?: string;
  param?: string;
}

function readErrorDetail(body: string | OpenAIErrorBody): ErrorDetail {
  let parsed: OpenAIErrorBody | undefined;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body) as OpenAIErrorBody;
    } catch {
      const text = body.trim();
      return text && text.length <= 300 && !text.startsWith('<') ? { message: text } : {};
    }
  } else {
    parsed = body;
  }
  if (parsed === null || typeof parsed !== 'object') return {};
  const error = parsed.error;
  if (typeof error === 'string') return { message: error };
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined);
  if (error && typeof error === 'object') {
    return { message: str(error.message), type: str(error.type), code: str(error.code), param: str(error.param) };
  }
  return { message: str(parsed.message) };
}

function retryAfterMs(headers: Record<string, HeaderValue>): number | undefined {
  const first = (v: HeaderValue): string | undefined => (Array.isArray(v) ? v[0] : v);
  const ms = Number(first(headers['retry-after-ms']));
  if (Number.isFinite(ms) && ms >= 0 && first(headers['retry-after-ms']) !== undefined) return ms;
  const value = first(headers['retry-after']);
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

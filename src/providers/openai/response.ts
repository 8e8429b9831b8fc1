/** OpenAI response and error bodies → canonical results and classified GatewayErrors. */
import { GatewayError } from '../../gateway/errors.js';
import { withRawJson } from '../../gateway/raw-json.js';
import type { OpenAIErrorBody } from './api.js';
import { upstreamStatusError, type HeaderValue, type UpstreamErrorDetail } from '../upstream-errors.js';

export { redactSecrets } from '../upstream-errors.js';

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

/** An upstream error status with an OpenAI-style error body → GatewayError. */
export function upstreamHttpError(status: number, bodyText: string, headers: Record<string, HeaderValue>, provider: string): GatewayError {
  return upstreamStatusError(status, readErrorDetail(bodyText), headers, provider);
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

function readErrorDetail(body: string | OpenAIErrorBody): UpstreamErrorDetail {
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

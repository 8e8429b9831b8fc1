/**
 * Upstream HTTP errors → GatewayErrors, decided once for every provider (DESIGN.md §3.3). Each
 * provider reads its own error body into an UpstreamErrorDetail; the status decides the rest.
 */
import { GatewayError } from '../gateway/errors.js';

export type HeaderValue = string | string[] | undefined;

/** What a provider's error body says, in its own words. */
export interface UpstreamErrorDetail {
  message?: string;
  type?: string;
  code?: string;
  param?: string;
}

/**
 * 4xx the client caused keep their status and the provider's message; 408/409/429 and 5xx
 * (Anthropic's 529 "overloaded" included) are retryable; 429 keeps its Retry-After.
 * 401 / 403 concern the gateway's own provider credentials, not the client's key: they become a
 * retryable 502 (another target may work) whose message names no part of the key.
 */
export interface UpstreamErrorHints {
  /** The provider says its credentials were refused with another status (Google: 400 API_KEY_INVALID). */
  credentials?: boolean;
  /** How long to wait, when the provider says so in its body rather than a header (Google's RetryInfo). */
  retryAfterMs?: number;
  /** The config keys a refused credential comes from (default `api_key`). */
  credentialKeys?: string;
}

export function upstreamStatusError(status: number, detail: UpstreamErrorDetail, headers: Record<string, HeaderValue>, provider: string, hints: UpstreamErrorHints = {}): GatewayError {
  if (status === 401 || status === 403 || hints.credentials) {
    // No upstream code on it: the provider's `invalid_api_key` would read as the client's key being wrong.
    // Key-like text in the provider's words is masked by GatewayError, as in every error with a provider.
    const reason = detail.message ? `: ${detail.message.replace(/[.\s]*$/, '.')}` : '.';
    return new GatewayError('upstream_error', `The upstream provider "${provider}" refused the gateway's credentials (HTTP ${status})${reason} Check this provider's credentials (${hints.credentialKeys ?? 'api_key'}) in the gateway configuration.`, {
      provider,
      sameTargetRetryable: false,
    });
  }
  if (status === 429) {
    return new GatewayError('upstream_rate_limited', detail.message ?? `The upstream provider "${provider}" is rate limiting requests.`, {
      provider,
      retryAfterMs: retryAfterMs(headers) ?? hints.retryAfterMs,
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
    retryAfterMs: retryAfterMs(headers) ?? hints.retryAfterMs,
    upstreamCode: detail.code,
  });
}

export function retryAfterMs(headers: Record<string, HeaderValue>): number | undefined {
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

/** A short, non-HTML error text is worth showing; a proxy's HTML error page is not. */
export function plainErrorText(body: string): string | undefined {
  const text = body.trim();
  return text && text.length <= 300 && !text.startsWith('<') ? text : undefined;
}

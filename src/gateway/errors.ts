/**
 * The one table of gateway error codes (DESIGN.md §3.3). Every error a client can see is a
 * GatewayError built from a code here; the HTTP status and client-facing types are decided once.
 */
import { redactSecrets } from './redact-secrets.js';

export interface ErrorCodeSpec {
  /** HTTP status sent to the client (upstream 4xx errors may override it with the upstream's). */
  status: number;
  /** `error.type` in OpenAI's error shape. */
  openaiType: string;
  /** `error.type` in Anthropic's error shape (used by the Messages endpoint). */
  anthropicType: string;
  /** Whether a router may retry the request on another attempt / target. */
  retryable: boolean;
}

export const ERROR_CODES = {
  invalid_json: { status: 400, openaiType: 'invalid_request_error', anthropicType: 'invalid_request_error', retryable: false },
  invalid_encoding: { status: 400, openaiType: 'invalid_request_error', anthropicType: 'invalid_request_error', retryable: false },
  /** Framing Node's HTTP parser rejects (bad request line, conflicting lengths); the connection is closed. */
  invalid_http: { status: 400, openaiType: 'invalid_request_error', anthropicType: 'invalid_request_error', retryable: false },
  invalid_request: { status: 400, openaiType: 'invalid_request_error', anthropicType: 'invalid_request_error', retryable: false },
  invalid_api_key: { status: 401, openaiType: 'authentication_error', anthropicType: 'authentication_error', retryable: false },
  model_not_allowed: { status: 403, openaiType: 'permission_error', anthropicType: 'permission_error', retryable: false },
  model_not_found: { status: 404, openaiType: 'invalid_request_error', anthropicType: 'not_found_error', retryable: false },
  route_not_found: { status: 404, openaiType: 'invalid_request_error', anthropicType: 'not_found_error', retryable: false },
  /** Admin API: no org / team / key / user with that id. */
  not_found: { status: 404, openaiType: 'invalid_request_error', anthropicType: 'not_found_error', retryable: false },
  /** Admin API: the change contradicts what is stored (a parent with children, a duplicate id). */
  conflict: { status: 409, openaiType: 'invalid_request_error', anthropicType: 'invalid_request_error', retryable: false },
  /** Admin API: the configuration file cannot be applied (invalid, or its providers cannot be built). */
  config_invalid: { status: 422, openaiType: 'invalid_request_error', anthropicType: 'invalid_request_error', retryable: false },
  method_not_allowed: { status: 405, openaiType: 'invalid_request_error', anthropicType: 'invalid_request_error', retryable: false },
  /** The request had not arrived in full within `server.request_timeout_ms`; the connection is closed. */
  request_timeout: { status: 408, openaiType: 'invalid_request_error', anthropicType: 'invalid_request_error', retryable: false },
  request_too_large: { status: 413, openaiType: 'invalid_request_error', anthropicType: 'request_too_large', retryable: false },
  /** Request headers over Node's limit (`--max-http-header-size`, 16 KB by default). */
  /** An `Expect` header other than 100-continue, which is all the gateway supports. */
  expectation_failed: { status: 417, openaiType: 'invalid_request_error', anthropicType: 'invalid_request_error', retryable: false },
  headers_too_large: { status: 431, openaiType: 'invalid_request_error', anthropicType: 'invalid_request_error', retryable: false },
  unsupported_media_type: { status: 415, openaiType: 'invalid_request_error', anthropicType: 'invalid_request_error', retryable: false },
  /** The prompt (plus max_tokens) fits no eligible target's context window. */
  context_length_exceeded: { status: 400, openaiType: 'invalid_request_error', anthropicType: 'invalid_request_error', retryable: false },
  /** No target the request may use can serve it (regions, provider pins, capabilities). */
  no_eligible_target: { status: 400, openaiType: 'invalid_request_error', anthropicType: 'invalid_request_error', retryable: false },
  /** Client routing headers when the operator has not allowed them. */
  routing_override_not_allowed: { status: 403, openaiType: 'permission_error', anthropicType: 'permission_error', retryable: false },
  /** A key, team, org or end user is blocked or expired, or asked for a region it may not use. */
  access_denied: { status: 403, openaiType: 'permission_error', anthropicType: 'permission_error', retryable: false },
  /** A budgeted request to a model without a known price, under `governance.unpriced_models: deny`. */
  model_not_priced: { status: 403, openaiType: 'permission_error', anthropicType: 'permission_error', retryable: false },
  rate_limit_exceeded: { status: 429, openaiType: 'rate_limit_error', anthropicType: 'rate_limit_error', retryable: false },
  /** A budget would be overrun (OpenAI answers a spent quota with 429 `insufficient_quota`). */
  budget_exceeded: { status: 429, openaiType: 'insufficient_quota', anthropicType: 'rate_limit_error', retryable: false },
  /** Limits cannot be checked (Redis unreachable) and `governance.limits.on_redis_error` is `closed`. */
  limits_unavailable: { status: 503, openaiType: 'api_error', anthropicType: 'overloaded_error', retryable: false },
  /** The upstream rejected the request (4xx): its status and message are passed on. */
  upstream_client_error: { status: 400, openaiType: 'invalid_request_error', anthropicType: 'invalid_request_error', retryable: false },
  /** The upstream is rate limiting (429): retryable on another target, passed on as 429. */
  upstream_rate_limited: { status: 429, openaiType: 'rate_limit_error', anthropicType: 'rate_limit_error', retryable: true },
  /** Upstream 5xx, refused / reset connection, or an unreadable answer. */
  upstream_error: { status: 502, openaiType: 'api_error', anthropicType: 'api_error', retryable: true },
  upstream_timeout: { status: 504, openaiType: 'timeout_error', anthropicType: 'timeout_error', retryable: true },
  /** The client went away before the answer was complete (nginx's 499; logs and metrics only). */
  client_closed_request: { status: 499, openaiType: 'api_error', anthropicType: 'api_error', retryable: false },
  /** `Cache-Control: only-if-cached` and nothing cached (RFC 9111: 504). */
  not_cached: { status: 504, openaiType: 'invalid_request_error', anthropicType: 'not_found_error', retryable: false },
  service_unavailable: { status: 503, openaiType: 'api_error', anthropicType: 'overloaded_error', retryable: false },
  internal_error: { status: 500, openaiType: 'api_error', anthropicType: 'api_error', retryable: false },
} as const satisfies Record<string, ErrorCodeSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface GatewayErrorOptions {
  /** The request field at fault, as OpenAI's `error.param` (e.g. `messages[0].role`). */
  param?: string | null;
  /** Overrides the table's status (upstream 4xx statuses are passed on as they are). */
  status?: number;
  /** Overrides the table's retryability (decided where the error is built). */
  retryable?: boolean;
  retryAfterMs?: number;
  /** False when trying the same target again cannot help (its credentials were refused); another target still may. */
  sameTargetRetryable?: boolean;
  /** Upstream's own `type` / `code`, passed on to the client when the upstream gave them. */
  upstreamType?: string;
  upstreamCode?: string;
  /** The provider id the error came from, for logs and metrics (never the URL or key). */
  provider?: string;
  /** Response headers of its own (a rate-limit refusal's x-ratelimit-*). */
  headers?: Readonly<Record<string, string>>;
  cause?: unknown;
}

export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly param: string | null;
  readonly retryAfterMs: number | undefined;
  readonly sameTargetRetryable: boolean;
  readonly upstreamType: string | undefined;
  readonly upstreamCode: string | undefined;
  readonly provider: string | undefined;
  readonly headers: Readonly<Record<string, string>> | undefined;

  constructor(code: ErrorCode, message: string, options: GatewayErrorOptions = {}) {
    // An error from a provider may quote what the provider said, which reaches the client (HTTP
    // body, stream event) and the logs: whatever looks like a key is masked here, once for all.
    super(options.provider === undefined ? message : redactSecrets(message), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    const spec = ERROR_CODES[code];
    this.code = code;
    this.status = options.status ?? spec.status;
    this.retryable = options.retryable ?? spec.retryable;
    this.param = options.param ?? null;
    this.retryAfterMs = options.retryAfterMs;
    this.sameTargetRetryable = options.sameTargetRetryable ?? true;
    this.upstreamType = options.upstreamType;
    this.upstreamCode = options.upstreamCode;
    this.provider = options.provider;
    this.headers = options.headers;
  }

  get spec(): ErrorCodeSpec {
    return ERROR_CODES[this.code];
  }
}

export function isGatewayError(err: unknown): err is GatewayError {
  return err instanceof GatewayError;
}

/**
 * OpenAI's error body: `{"error":{"message","type","param","code"}}`. The provider's own type and
 * code go on where its status does (a 4xx passed on, a 429), and in the error event that ends a
 * stream; an HTTP answer the gateway gives for a provider's failure (502, 504) has the gateway's,
 * whether the failure was an HTTP 5xx or an error event before any output.
 */
export function toOpenAIErrorBody(err: GatewayError, where: 'http' | 'stream' = 'http'): { error: { message: string; type: string; param: string | null; code: string } } {
  const upstreams = where === 'stream' || err.code === 'upstream_client_error' || err.code === 'upstream_rate_limited';
  return {
    error: {
      message: err.message,
      type: (upstreams ? err.upstreamType : undefined) ?? err.spec.openaiType,
      param: err.param,
      code: (upstreams ? err.upstreamCode : undefined) ?? err.code,
    },
  };
}

/**
 * Anthropic's error body: `{"type":"error","error":{"type","message"}}`. In the error event that
 * ends a stream, an Anthropic provider's own type goes on (`overloaded_error`), as on OpenAI's surface.
 */
export function toAnthropicErrorBody(err: GatewayError, where: 'http' | 'stream' = 'http'): { type: 'error'; error: { type: string; message: string } } {
  let type = err.code === 'upstream_client_error' ? (ANTHROPIC_TYPE_BY_STATUS[err.status] ?? err.spec.anthropicType) : err.spec.anthropicType;
  if (where === 'stream' && err.upstreamType !== undefined && ANTHROPIC_ERROR_TYPES.has(err.upstreamType)) type = err.upstreamType;
  return { type: 'error', error: { type, message: err.message } };
}

/** The error types of Anthropic's API (https://docs.anthropic.com/en/api/errors). */
const ANTHROPIC_ERROR_TYPES = new Set(['invalid_request_error', 'authentication_error', 'permission_error', 'not_found_error', 'billing_error', 'request_too_large', 'rate_limit_error', 'api_error', 'timeout_error', 'overloaded_error']);

/** An upstream 4xx passed on keeps its status; Anthropic's error type follows the status. */
const ANTHROPIC_TYPE_BY_STATUS: Record<number, string> = {
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
};

/** Any thrown value as a GatewayError; unknown errors become a generic 500 with no internals. */
export function asGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  return new GatewayError('internal_error', 'The gateway hit an unexpected error. It has been logged; please retry.', { cause: err });
}

/** OpenAI response and error bodies → canonical results and classified GatewayErrors. */
import { GatewayError } from '../../gateway/errors.js';
import { withRawJson } from '../../gateway/raw-json.js';
import type { OpenAIErrorBody } from './api.js';
import { upstreamStatusError, type HeaderValue, type UpstreamErrorDetail } from '../upstream-errors.js';
import { MAX_UPSTREAM_JSON_DEPTH, isJsonObject as isObject, nestsDeeperThan } from '../upstream-json.js';


/**
 * Parses a 2xx JSON body, which must be an object holding the `list` array (`choices` for a chat
 * completion, `data` for embeddings); anything else is an upstream failure (502, retryable), not
 * an answer to pass on.
 */
export function parseJsonBody<T>(text: string, provider: string, list: 'choices' | 'data'): T {
  if (nestsDeeperThan(text, MAX_UPSTREAM_JSON_DEPTH)) {
    throw new GatewayError('upstream_error', `The upstream provider "${provider}" returned JSON nested deeper than ${MAX_UPSTREAM_JSON_DEPTH} levels.`, { provider });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new GatewayError('upstream_error', `The upstream provider "${provider}" returned a response that is not valid JSON.`, { provider });
  }
  const items = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[list] : undefined;
  const kind = list === 'choices' ? 'a chat completion' : 'an embeddings list';
  if (!Array.isArray(items)) {
    // Some servers answer a failure with a 200 and an error body: its message is the useful part.
    const error = isObject(value) && (isObject(value.error) || typeof value.error === 'string') ? readErrorDetail(value as OpenAIErrorBody).message?.slice(0, 1000) : undefined;
    if (error) throw new GatewayError('upstream_error', `The upstream provider "${provider}" answered 200 with an error: ${error}`, { provider });
    throw new GatewayError('upstream_error', `The upstream provider "${provider}" returned JSON that is not ${kind} (no "${list}" array).`, { provider });
  }
  if (list === 'choices') {
    // Each choice must be an object with a message object: everything downstream reads them so.
    // A choice without one (a filtered answer from some servers) gets an empty assistant message.
    for (const choice of items) {
      if (!isObject(choice) || (choice.message !== undefined && !isObject(choice.message))) {
        throw new GatewayError('upstream_error', `The upstream provider "${provider}" returned a chat completion whose choices are not all objects with a message.`, { provider });
      }
      if (choice.message !== undefined && !hasSoundToolCalls(choice.message)) {
        throw new GatewayError('upstream_error', `The upstream provider "${provider}" returned a chat completion whose tool_calls are not a list of objects.`, { provider });
      }
      choice.message ??= { role: 'assistant', content: null };
    }
  }
  return withRawJson(value as T & object, text);
}


/** A message's or delta's `tool_calls`, when present, is a list of objects whose `function`, when present, is an object. */
export function hasSoundToolCalls(message: Record<string, unknown>): boolean {
  const calls = message.tool_calls;
  if (calls == null) return true;
  return Array.isArray(calls) && calls.every((call) => isObject(call) && (call.function == null || isObject(call.function)));
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
  return { message: str(parsed.message) ?? fastApiDetail((parsed as { detail?: unknown }).detail) };
}

/**
 * FastAPI's error body, which some compatible servers answer with: `{"detail": "text"}`, or for a
 * validation error `{"detail": [{"loc": ["body", "max_tokens"], "msg": "...", ...}]}` (the first).
 */
function fastApiDetail(detail: unknown): string | undefined {
  if (typeof detail === 'string') return detail.length <= 300 ? detail : undefined;
  const first: unknown = Array.isArray(detail) ? detail[0] : undefined;
  if (first === null || typeof first !== 'object') return undefined;
  const { loc, msg } = first as { loc?: unknown; msg?: unknown };
  if (typeof msg !== 'string' || msg.length > 300) return undefined;
  const where = Array.isArray(loc) ? loc.filter((part) => part !== 'body').join('.') : '';
  return where ? `${where}: ${msg}` : msg;
}

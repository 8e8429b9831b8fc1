/**
 * An upstream's JSON read defensively, the same way for every provider: anything that is not a
 * JSON object is an upstream failure (502 `upstream_error`, retryable), never a TypeError later.
 */
import { GatewayError } from '../gateway/errors.js';

export type JsonObject = Record<string, unknown>;

export function isJsonObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A whole 2xx answer body, any JSON value (for callers with their own shape check). */
export function parseResponseJson(text: string, provider: string): unknown {
  const value = tryParse(text);
  if (value === NOT_JSON) throw unreadable(provider, 'returned a response that is not valid JSON');
  return value;
}

/** A whole 2xx answer body that must be a JSON object. */
export function parseResponseBody(text: string, provider: string): JsonObject {
  const value = parseResponseJson(text, provider);
  if (!isJsonObject(value)) throw unreadable(provider, 'returned a response that is not a JSON object');
  return value;
}

/** One server-sent event's `data`. */
export function parseStreamEvent(data: string, provider: string): JsonObject {
  const value = tryParse(data);
  if (value === NOT_JSON) throw unreadable(provider, 'sent a stream event that is not valid JSON');
  if (!isJsonObject(value)) throw unreadable(provider, 'sent an unexpected stream event');
  return value;
}

const NOT_JSON = Symbol('not JSON');

function tryParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return NOT_JSON;
  }
}

function unreadable(provider: string, what: string): GatewayError {
  return new GatewayError('upstream_error', `The upstream provider "${provider}" ${what}.`, { provider });
}

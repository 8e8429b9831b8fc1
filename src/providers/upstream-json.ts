/**
 * An upstream's JSON read defensively, the same way for every provider: anything that is not a
 * JSON object is an upstream failure (502 `upstream_error`, retryable), never a TypeError later.
 */
import { nestingDepth } from '../gateway/client-json.js';
import { GatewayError } from '../gateway/errors.js';

export type JsonObject = Record<string, unknown>;

export function isJsonObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A whole 2xx answer body, any JSON value (for callers with their own shape check). */
export function parseResponseJson(text: string, provider: string): unknown {
  const value = tryParse(text);
  if (value === NOT_JSON) throw unreadable(provider, 'returned a response that is not valid JSON');
  if (value === TOO_DEEP) throw unreadable(provider, `returned JSON nested deeper than ${MAX_UPSTREAM_JSON_DEPTH} levels`);
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
  if (value === TOO_DEEP) throw unreadable(provider, `sent a stream event nested deeper than ${MAX_UPSTREAM_JSON_DEPTH} levels`);
  if (!isJsonObject(value)) throw unreadable(provider, 'sent an unexpected stream event');
  return value;
}

const NOT_JSON = Symbol('not JSON');
const TOO_DEEP = Symbol('nested too deeply');

/**
 * Upstream JSON nested deeper than this is refused as unreadable: JSON.stringify of it (a tool
 * call's arguments, an answer stored in the cache) would overflow the stack, a 500. Real answers
 * nest a few dozen levels at most.
 */
export const MAX_UPSTREAM_JSON_DEPTH = 512;

function tryParse(text: string): unknown {
  if (nestsDeeperThan(text, MAX_UPSTREAM_JSON_DEPTH)) return TOO_DEEP;
  try {
    return JSON.parse(text);
  } catch {
    return NOT_JSON;
  }
}

/**
 * Whether JSON text nests arrays and objects deeper than `limit` (brackets inside strings do not
 * count). Text shorter than two brackets a level cannot (nearly every answer and stream event: no
 * work); else the brackets are counted with native searches, and only more of them than `limit`
 * lead to the walk.
 */
export function nestsDeeperThan(text: string, limit: number): boolean {
  if (text.length <= 2 * limit) return false;
  let brackets = 0;
  for (let at = text.indexOf('{'); at >= 0 && brackets <= limit; at = text.indexOf('{', at + 1)) brackets++;
  for (let at = text.indexOf('['); at >= 0 && brackets <= limit; at = text.indexOf('[', at + 1)) brackets++;
  // Rare (a long answer of many small objects, or garbage): the client body's walk, on a copy.
  return brackets > limit && nestingDepth(Buffer.from(text, 'utf8')) > limit;
}

function unreadable(provider: string, what: string): GatewayError {
  return new GatewayError('upstream_error', `The upstream provider "${provider}" ${what}.`, { provider });
}

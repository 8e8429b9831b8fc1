/**
 * Request bodies: every content type is read as JSON (curl's default form type included), checked
 * for valid UTF-8 first, and rejected with a clear 400 when it is not JSON.
 */
import { isUtf8 } from 'node:buffer';
import type { FastifyInstance } from 'fastify';
import { nestingDepth } from '../../gateway/client-json.js';
import { GatewayError } from '../../gateway/errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route takes no body, or an optional one: an empty body is no body, whatever its content type. */
    bodyOptional?: boolean;
  }
}

export function registerJsonBodyParser(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (request, body, done) => {
    // No route here (a wrong method or path): the answer is the 404, whatever the body holds.
    // An empty body is no body where none is needed: routes that say so, and any DELETE (clients
    // that set content-type: application/json on every request send one).
    if (request.is404 || ((body as Buffer).length === 0 && (request.routeOptions.config.bodyOptional || request.method === 'DELETE'))) {
      done(null, undefined);
      return;
    }
    try {
      checkContentEncoding(request.headers['content-encoding']);
      const parsed = parseJsonBody(body as Buffer);
      // Kept for the cache: identical bytes need not be re-encoded into a key (cache/key-memo.ts).
      request.rawBody = body as Buffer;
      done(null, parsed);
    } catch (err) {
      done(err as Error, undefined);
    }
  });
}

/** Bodies are read as sent: a compressed one would only fail later as "not valid UTF-8". */
function checkContentEncoding(encoding: string | undefined): void {
  if (encoding === undefined || encoding.trim() === '' || encoding.trim().toLowerCase() === 'identity') return;
  throw new GatewayError('unsupported_media_type', `Request bodies are not accepted with Content-Encoding "${encoding}"; send the JSON uncompressed.`);
}

/**
 * Arrays and objects nested deeper than this are refused. JSON.parse takes any depth, but the code
 * that walks a request (translators, token counts, cache keys) recurses, and a few thousand levels
 * (a 10 KB body) overflowed the stack: a 500. Real requests, JSON schemas included, nest a few
 * dozen levels at most.
 */
export const MAX_JSON_DEPTH = 256;

export function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) throw new GatewayError('invalid_json', 'The request body is empty; send a JSON object.');
  if (!isUtf8(body)) throw new GatewayError('invalid_encoding', 'The request body is not valid UTF-8.');
  let parsed: unknown;
  try {
    // Some Windows tools prefix a byte order mark; it is not part of the JSON.
    const text = body.toString('utf8');
    parsed = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (err) {
    throw new GatewayError('invalid_json', `The request body is not valid JSON: ${(err as Error).message}`);
  }
  if (body.length > 2 * MAX_JSON_DEPTH && openingBrackets(body, MAX_JSON_DEPTH + 1) > MAX_JSON_DEPTH && nestingDepth(body) > MAX_JSON_DEPTH) {
    throw new GatewayError('invalid_request', `The request body nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep.`);
  }
  return parsed;
}

/** `[` and `{`. */
const OPENING_BRACKETS = [0x5b, 0x7b] as const;

/**
 * How many `[` and `{` bytes the body holds, strings included, counted up to `atMost`: a bound on
 * its nesting that native searches find. Most requests hold a few dozen (a message is one object),
 * so the walk of nestingDepth, which cost 2-3 times the JSON.parse of a prompt of 10-30 KB,
 * runs only for bodies with more brackets than the depth allowed.
 */
function openingBrackets(json: Buffer, atMost: number): number {
  let count = 0;
  for (const bracket of OPENING_BRACKETS) {
    for (let at = json.indexOf(bracket); at !== -1 && count < atMost; at = json.indexOf(bracket, at + 1)) count++;
  }
  return count;
}

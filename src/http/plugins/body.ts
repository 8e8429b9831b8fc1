/**
 * Request bodies: every content type is read as JSON (curl's default form type included), checked
 * for valid UTF-8 first, and rejected with a clear 400 when it is not JSON.
 */
import { isUtf8 } from 'node:buffer';
import type { FastifyInstance } from 'fastify';
import { GatewayError } from '../../gateway/errors.js';

export function registerJsonBodyParser(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (request, body, done) => {
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

export function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) throw new GatewayError('invalid_json', 'The request body is empty; send a JSON object.');
  if (!isUtf8(body)) throw new GatewayError('invalid_encoding', 'The request body is not valid UTF-8.');
  try {
    // Some Windows tools prefix a byte order mark; it is not part of the JSON.
    const text = body.toString('utf8');
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (err) {
    throw new GatewayError('invalid_json', `The request body is not valid JSON: ${(err as Error).message}`);
  }
}

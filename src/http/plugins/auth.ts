/**
 * Client authentication: `Authorization: Bearer <key>` or `x-api-key: <key>`. With no master key
 * configured the gateway runs open (and says so at start-up). Keys are compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { GatewayError } from '../../gateway/errors.js';

export function clientKey(headers: IncomingHttpHeaders): string | undefined {
  const authorization = headers.authorization;
  if (authorization) {
    const match = /^Bearer\s+(.+)$/i.exec(authorization);
    if (match) return match[1]!.trim();
  }
  const apiKey = headers['x-api-key'];
  return typeof apiKey === 'string' && apiKey !== '' ? apiKey : undefined;
}

/** A check that throws a 401 GatewayError unless the request carries an accepted key. */
export function createKeyCheck(masterKey: string | undefined): ((headers: IncomingHttpHeaders) => void) | undefined {
  if (!masterKey) return undefined;
  const expected = sha256(masterKey);
  // Keys already verified skip the hash: a Set lookup of the presented string reveals nothing about
  // how close a wrong key is, and only accepted keys are ever stored.
  const verified = new Set<string>();
  return (headers) => {
    const key = clientKey(headers);
    if (key === undefined) {
      throw new GatewayError('invalid_api_key', 'Missing API key. Send it as "Authorization: Bearer <key>" or "x-api-key: <key>".');
    }
    if (verified.has(key)) return;
    if (!timingSafeEqual(sha256(key), expected)) {
      throw new GatewayError('invalid_api_key', 'Invalid API key. Check the key you configured in your client.');
    }
    verified.add(key);
  };
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

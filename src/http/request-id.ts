/**
 * Request ids the gateway makes: UUIDv7 (RFC 9562), time-ordered, so the request log's index on
 * request_id grows at its end like the table does. Random v4 ids land all over the index and made
 * each logged request cost ~30 µs more of SQLite work once the table was large.
 */
import { randomUUID } from 'node:crypto';

let lastMs = -1;
let lastHex = '';

/** A v4 UUID's random bits with the current Unix time in milliseconds in its first 48 bits and version 7. */
export function newRequestId(): string {
  const random = randomUUID();
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastHex = now.toString(16).padStart(12, '0');
  }
  // xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx: time in the first 12 hex digits, '7' for the version; the variant (y) is already RFC 9562's.
  return `${lastHex.slice(0, 8)}-${lastHex.slice(8)}-7${random.slice(15)}`;
}

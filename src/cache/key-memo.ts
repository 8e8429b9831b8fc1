/**
 * Remembers the exact key computed for a request body's bytes. Building a key encodes the request
 * canonically (sorted members at every depth) before hashing it; clients that repeat a request
 * usually repeat its bytes, and hashing bytes is several times cheaper. A memo hit gives the same
 * key the encoding would (the same bytes parse into the same request), so it is only a shortcut.
 */
import { hash } from 'node:crypto';

/** Bodies remembered (least recently used go first): ~250 bytes each. */
const DEFAULT_MAX_ENTRIES = 10_000;

/** Bodies larger than this are keyed directly: they are rarely repeated byte for byte. */
const MAX_BODY_BYTES = 64 * 1024;

export class KeyMemo {
  private readonly keys = new Map<string, string>();

  constructor(private readonly maxEntries = DEFAULT_MAX_ENTRIES) {}

  /** The key for `body` in `scope` (namespace, group, kind), from memory or from `compute`. */
  key(scope: string, body: Buffer | undefined, compute: () => string): string {
    if (body === undefined || body.length > MAX_BODY_BYTES) return compute();
    const id = `${scope}\u0000${hash('sha256', body, 'base64')}`;
    const known = this.keys.get(id);
    if (known !== undefined) {
      this.keys.delete(id);
      this.keys.set(id, known);
      return known;
    }
    const computed = compute();
    if (this.keys.size >= this.maxEntries) {
      const oldest = this.keys.keys().next();
      if (!oldest.done) this.keys.delete(oldest.value);
    }
    this.keys.set(id, computed);
    return computed;
  }
}

/**
 * The distributed cache store: Redis via ioredis, shared by every gateway instance. Values are
 * framed with their times and, from 1 KiB up, brotli-compressed; Redis expires keys itself
 * (`SET … PX`). An unreachable Redis makes the cache miss, never fail a request.
 */
import { promisify } from 'node:util';
import { brotliCompress, brotliCompressSync, brotliDecompress, brotliDecompressSync, constants as zlib, type BrotliOptions } from 'node:zlib';
import { Redis, ReplyError } from 'ioredis';
import { isExpired, isKeyInNamespace, isStorableTtl, type CacheEntry, type CacheStore, type CacheStoreStats } from './store.js';

/** Default key prefix: every key this store writes starts with it. */
export const DEFAULT_KEY_PREFIX = 'switchyard:cache:';

/** Values shorter than this are stored raw: brotli saves little on them and costs a call. */
export const COMPRESS_MIN_BYTES = 1024;

/**
 * Brotli quality 5 (text mode). Measured on chat-completion JSON of 1.4–128 KB (Node 20): frames
 * 4–9 % smaller than gzip -6 (e.g. 8.4 KB → 43 % vs 45 %, 1.4 KB → 54 % vs 59 %), compression
 * about 2× gzip's time up to 8 KB (120 vs 56 µs at 8.4 KB) and on par from 32 KB, decompression
 * within 1.3× of gunzip (25 vs 20 µs at 8.4 KB). Redis memory is the lasting cost; compression runs
 * once per stored response, decompression once per hit.
 */
const BROTLI_QUALITY = 5;

/**
 * Up to this many input bytes the codec runs synchronously (≤ ~0.75 ms at 32 KiB), which is
 * cheaper than the thread-pool round trip (~60–150 µs); larger values go to the pool so one big
 * entry does not stall the event loop.
 */
const SYNC_CODEC_MAX_BYTES = 32 * 1024;

/** Keys per SCAN call (a hint to Redis) and so per UNLINK or STRLEN batch. */
const SCAN_BATCH = 1000;

const FORMAT_RAW = 0;
const FORMAT_BROTLI = 1;
/** format byte, storedAt (float64 BE), expiresAt (float64 BE) */
const HEADER_BYTES = 17;

const compressAsync = promisify(brotliCompress);
const decompressAsync = promisify(brotliDecompress);

/** Options of {@link RedisStore}. */
export interface RedisStoreOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://` for TLS. */
  url: string;
  /** Prepended to every key; namespaces become `<keyPrefix><namespace>:*`. Default `switchyard:cache:`. */
  keyPrefix?: string;
  /** Receives every error the store swallows (connection errors, failed commands, unreadable values). Must not throw. */
  onError?: (err: Error) => void;
  /** How long a connection attempt may take before it counts as failed. Default 500 ms. */
  connectTimeoutMs?: number;
  /** How long a command may wait for its reply before the store gives up on it. Default 500 ms. */
  commandTimeoutMs?: number;
  /** Clock in epoch ms, for `storedAt` / `expiresAt`. Default `Date.now`. */
  now?: () => number;
  /** After a failed get or set, how long until the PING that may end the skipping. Default 1 s. */
  probeDelayMs?: number;
}

/**
 * Redis cache store. Connects on first use; that first call waits for the connection (at most
 * `connectTimeoutMs`). Afterwards, whenever the connection is down, `get` resolves undefined and
 * `set` resolves at once, without queueing, while ioredis reconnects in the background (backoff
 * 50 ms · attempt, at most 2 s). A Redis that stops answering keeps its connection "ready": after
 * a `get` or `set` fails for want of an answer (a command timeout), the following ones skip Redis
 * too until a PING, sent in the background a second later (and again after each failed one), is
 * answered, so an outage costs the requests of its first command timeout, not every request.
 * `delete`, `deleteNamespace`, `clear` and `stats` are maintenance calls and reject instead, so an
 * admin request can say it failed.
 */
export class RedisStore implements CacheStore {
  readonly kind = 'redis';
  private readonly client: Redis;
  private readonly prefix: string;
  private readonly onError: ((err: Error) => void) | undefined;
  private readonly now: () => number;
  private initialConnect: Promise<void> | undefined;
  /** A get or set failed: requests skip Redis until a background PING is answered. */
  private failing = false;
  private probe: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly probeDelayMs: number;

  constructor(options: RedisStoreOptions) {
    this.prefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
    this.onError = options.onError;
    this.now = options.now ?? Date.now;
    this.probeDelayMs = options.probeDelayMs ?? 1000;
    this.client = new Redis(options.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: options.connectTimeoutMs ?? 500,
      commandTimeout: options.commandTimeoutMs ?? 500,
    });
    this.client.on('error', (err: Error) => this.report(err));
  }

  /** True while the connection is ready; false before first use, during an outage and after close. */
  get healthy(): boolean {
    return this.client.status === 'ready' && !this.failing;
  }

  async get(key: string): Promise<CacheEntry | undefined> {
    if (!(await this.usable())) return undefined;
    let frame: Buffer | null;
    try {
      frame = await this.client.getBuffer(this.prefix + key);
    } catch (err) {
      this.commandFailed(err);
      return undefined;
    }
    if (frame === null) return undefined;
    try {
      const entry = await decodeEntry(frame);
      return isExpired(entry, this.now()) ? undefined : entry;
    } catch (err) {
      // An unreadable value is that entry's problem, not Redis's: a miss.
      this.report(err);
      return undefined;
    }
  }

  async set(key: string, value: Buffer, ttlMs: number): Promise<void> {
    if (!(await this.usable())) return;
    if (!isStorableTtl(ttlMs)) {
      await this.client.unlink(this.prefix + key).catch((err: unknown) => this.commandFailed(err));
      return;
    }
    let frame: Buffer;
    try {
      const storedAt = this.now();
      frame = await encodeEntry(value, storedAt, storedAt + ttlMs);
    } catch (err) {
      this.report(err);
      return;
    }
    try {
      await this.client.set(this.prefix + key, frame, 'PX', Math.ceil(ttlMs));
    } catch (err) {
      this.commandFailed(err);
    }
  }

  /** A maintenance call like deleteNamespace: rejects when Redis cannot be reached (so the caller can say so). */
  async delete(key: string): Promise<boolean> {
    await this.requireReady();
    return (await this.client.unlink(this.prefix + key)) > 0;
  }

  /** SCAN MATCH `<prefix><namespace>:*` and UNLINK in batches: O(all keys in the Redis database). */
  async deleteNamespace(namespace: string): Promise<number> {
    await this.requireReady();
    const fullNamespace = this.prefix + namespace;
    let deleted = 0;
    for await (const keys of this.scan(`${escapeGlob(fullNamespace)}:*`)) {
      const own = keys.filter((key) => isKeyInNamespace(key, fullNamespace));
      if (own.length > 0) deleted += await this.client.unlink(...own);
    }
    return deleted;
  }

  /** Removes every key under this store's prefix (never FLUSHDB): O(all keys in the Redis database). */
  async clear(): Promise<void> {
    await this.requireReady();
    for await (const keys of this.scan(`${escapeGlob(this.prefix)}*`)) await this.client.unlink(...keys);
  }

  /**
   * Walks the prefix with SCAN and one pipelined STRLEN per batch: O(all keys in the Redis
   * database), so for an admin request, not a per-request or frequent metrics call. `entries` is
   * approximate while keys change (SCAN may return a key twice during a rehash); `bytes` is the
   * stored frames (compressed value + 17-byte header), without keys and Redis's own overhead.
   * `evictions` is 0: Redis evicts under its maxmemory-policy and counts it server-wide only
   * (INFO stats `evicted_keys`), which this prefix cannot claim.
   */
  async stats(): Promise<CacheStoreStats> {
    await this.requireReady();
    let entries = 0;
    let bytes = 0;
    for await (const keys of this.scan(`${escapeGlob(this.prefix)}*`)) {
      const pipeline = this.client.pipeline();
      for (const key of keys) pipeline.strlen(key);
      for (const [err, length] of (await pipeline.exec()) ?? []) {
        if (err) throw err;
        if (typeof length === 'number' && length > 0) {
          entries++;
          bytes += length;
        }
      }
    }
    return { entries, bytes, evictions: 0 };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.probe);
    this.probe = undefined;
    if (this.client.status === 'ready' && !this.failing) {
      try {
        await this.client.quit();
        return;
      } catch {
        // The connection broke while quitting: drop it below.
      }
    }
    this.client.disconnect();
  }

  /** For get and set: ready, and not skipping Redis after a failed command. */
  private usable(): boolean | Promise<boolean> {
    return this.failing ? false : this.ready();
  }

  /**
   * A get or set failed. A reply error (a full Redis refusing writes under `noeviction`, say) is
   * Redis answering: reported, nothing more. Anything else (a command timeout, a lost connection)
   * means Redis is not answering: skip it until a PING a moment later is answered.
   */
  private commandFailed(err: unknown): void {
    this.report(err);
    if (err instanceof ReplyError) return;
    this.failing = true;
    this.probeLater();
  }

  private probeLater(): void {
    if (this.probe || this.closed) return;
    this.probe = setTimeout(() => {
      this.client.ping().then(
        () => {
          this.probe = undefined;
          this.failing = false;
        },
        (err: unknown) => {
          this.probe = undefined;
          this.report(err);
          this.probeLater();
        },
      );
    }, this.probeDelayMs);
    this.probe.unref();
  }

  /** Ready now, or after the lazy first connection; false (at once) during any later outage. */
  private ready(): boolean | Promise<boolean> {
    return this.client.status === 'ready' || this.connectFirst();
  }

  private async connectFirst(): Promise<boolean> {
    if (this.client.status === 'wait') this.initialConnect ??= this.client.connect().catch(() => undefined);
    await this.initialConnect;
    return this.client.status === 'ready';
  }

  private async requireReady(): Promise<void> {
    if (!(await this.ready())) throw new Error(`Redis cache store is not connected (status ${this.client.status})`);
  }

  private async *scan(pattern: string): AsyncGenerator<string[]> {
    let cursor = '0';
    do {
      const [next, keys] = await this.client.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_BATCH);
      cursor = next;
      if (keys.length > 0) yield keys;
    } while (cursor !== '0');
  }

  private report(err: unknown): void {
    try {
      this.onError?.(err instanceof Error ? err : new Error(String(err)));
    } catch {
      // A throwing error callback must not turn a cache miss into a failed request.
    }
  }
}

/**
 * The stored form of an entry: [format byte][storedAt f64][expiresAt f64][payload]. The payload is
 * brotli when the value is at least {@link COMPRESS_MIN_BYTES} and compression made it smaller,
 * otherwise the raw value, so a frame is never more than 17 bytes larger than its value.
 */
export async function encodeEntry(value: Buffer, storedAt: number, expiresAt: number): Promise<Buffer> {
  const compressed = value.length >= COMPRESS_MIN_BYTES ? await compress(value) : undefined;
  const useCompressed = compressed !== undefined && compressed.length < value.length;
  const payload = useCompressed ? compressed : value;
  const frame = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  frame[0] = useCompressed ? FORMAT_BROTLI : FORMAT_RAW;
  frame.writeDoubleBE(storedAt, 1);
  frame.writeDoubleBE(expiresAt, 9);
  payload.copy(frame, HEADER_BYTES);
  return frame;
}

/** Reads a frame written by {@link encodeEntry}; throws on a frame it does not know (never guesses). */
export async function decodeEntry(frame: Buffer): Promise<CacheEntry> {
  if (frame.length < HEADER_BYTES) throw new Error(`cache entry too short (${frame.length} bytes)`);
  const format = frame[0];
  const storedAt = frame.readDoubleBE(1);
  const expiresAt = frame.readDoubleBE(9);
  const payload = frame.subarray(HEADER_BYTES);
  if (format === FORMAT_RAW) return { value: payload, storedAt, expiresAt };
  if (format === FORMAT_BROTLI) return { value: await decompress(payload), storedAt, expiresAt };
  throw new Error(`unknown cache entry format ${format}`);
}

function compress(value: Buffer): Buffer | Promise<Buffer> {
  const options: BrotliOptions = {
    params: {
      [zlib.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
      [zlib.BROTLI_PARAM_MODE]: zlib.BROTLI_MODE_TEXT,
      [zlib.BROTLI_PARAM_SIZE_HINT]: value.length,
    },
  };
  return value.length <= SYNC_CODEC_MAX_BYTES ? brotliCompressSync(value, options) : compressAsync(value, options);
}

function decompress(payload: Buffer): Buffer | Promise<Buffer> {
  return payload.length <= SYNC_CODEC_MAX_BYTES ? brotliDecompressSync(payload) : decompressAsync(payload);
}

/** Escapes Redis glob metacharacters so a prefix or namespace matches only itself. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { Redis, ReplyError } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { COMPRESS_MIN_BYTES, RedisStore, decodeEntry, encodeEntry, escapeGlob } from './redis-store.js';
import { runStoreSuite } from './store-suite.js';
import { closedPort } from '../../test/helpers/ports.js';
import { TcpProxy as HangingProxy } from '../../test/helpers/tcp-proxy.js';

const REDIS_URL = process.env.REDIS_URL;
if (!REDIS_URL) console.warn('[redis-store.test] REDIS_URL is not set: the tests against a real Redis are skipped.');

/** Every key this run writes starts with it, so parallel runs never meet. */
const RUN_PREFIX = `switchyard:test:${randomUUID()}:`;
let storeCount = 0;
const newPrefix = (): string => `${RUN_PREFIX}${storeCount++}:`;

const MINUTE = 60_000;
const prose = Buffer.from(JSON.stringify({ content: 'Routing picks a target, the cache answers before it. '.repeat(40) }));

describe('Redis entry frame', () => {
  it(`stores values under ${COMPRESS_MIN_BYTES} bytes raw, behind a 17-byte header`, async () => {
    const value = Buffer.from('x'.repeat(COMPRESS_MIN_BYTES - 1));
    const frame = await encodeEntry(value, 1, 2);
    expect(frame[0]).toBe(0);
    expect(frame.length).toBe(value.length + 17);
  });

  it('compresses a compressible value', async () => {
    const frame = await encodeEntry(prose, 1, 2);
    expect(frame[0]).toBe(1);
    expect(frame.length).toBeLessThan(prose.length / 4);
  });

  it('keeps a value raw when compression would not shrink it', async () => {
    const value = randomBytes(4_096);
    const frame = await encodeEntry(value, 1, 2);
    expect(frame[0]).toBe(0);
    expect(frame.length).toBe(value.length + 17);
  });

  it('decodes what it encodes, on the synchronous and the thread-pool path', async () => {
    for (const value of [Buffer.from('small'), prose, Buffer.from('0123456789abcdef'.repeat(100_000)), randomBytes(100_000)]) {
      const entry = await decodeEntry(await encodeEntry(value, 1_700_000_000_123, 1_700_000_060_123));
      expect(entry.value.equals(value)).toBe(true);
      expect(entry.storedAt).toBe(1_700_000_000_123);
      expect(entry.expiresAt).toBe(1_700_000_060_123);
    }
  });

  it('refuses a frame it does not know', async () => {
    await expect(decodeEntry(Buffer.alloc(5))).rejects.toThrow(/too short/);
    const frame = await encodeEntry(Buffer.from('v'), 1, 2);
    frame[0] = 9;
    await expect(decodeEntry(frame)).rejects.toThrow(/unknown cache entry format 9/);
  });

  it('escapes glob metacharacters', () => {
    expect(escapeGlob('a*b?c[d]e\\f')).toBe('a\\*b\\?c\\[d\\]e\\\\f');
  });
});

describe('RedisStore during an outage', () => {
  it('misses, accepts writes and reports unhealthy when Redis is unreachable', { timeout: 1_000 }, async () => {
    const errors: Error[] = [];
    const store = new RedisStore({ url: `redis://127.0.0.1:${await closedPort()}`, onError: (err) => errors.push(err) });
    try {
      expect(store.healthy).toBe(false);
      expect(await store.get('ns:k')).toBeUndefined();
      await store.set('ns:k', Buffer.from('v'), MINUTE);
      const reads = await Promise.all(Array.from({ length: 100 }, () => store.get('ns:k')));
      expect(reads.every((entry) => entry === undefined)).toBe(true);
      expect(store.healthy).toBe(false);
      expect(errors.some((err) => /ECONNREFUSED/.test(err.message))).toBe(true);
      await expect(store.stats()).rejects.toThrow(/not connected/);
      await expect(store.deleteNamespace('ns')).rejects.toThrow(/not connected/);
      await expect(store.delete('ns:k')).rejects.toThrow(/not connected/);
    } finally {
      await store.close();
    }
  });
});

describe.skipIf(!REDIS_URL)('RedisStore against a real Redis', () => {
  const url = REDIS_URL ?? '';
  let inspector: Redis;

  beforeAll(() => {
    inspector = new Redis(url);
  });

  afterAll(async () => {
    const leftovers: string[] = [];
    for await (const keys of inspector.scanStream({ match: `${escapeGlob(RUN_PREFIX)}*`, count: 1_000 })) leftovers.push(...(keys as string[]));
    if (leftovers.length > 0) await inspector.unlink(...leftovers);
    await inspector.quit();
    expect(leftovers).toEqual([]);
  });

  runStoreSuite('redis', () => ({ store: new RedisStore({ url, keyPrefix: newPrefix() }), now: Date.now, elapse: () => {} }));

  /** A store with its own prefix, closed and cleared by the caller. */
  const withStore = async (test: (store: RedisStore, prefix: string) => Promise<void>, errors?: Error[]): Promise<void> => {
    const prefix = newPrefix();
    const store = new RedisStore({ url, keyPrefix: prefix, onError: (err) => errors?.push(err) });
    try {
      await test(store, prefix);
    } finally {
      await store.clear();
      await store.close();
    }
  };

  it('writes under its prefix with the TTL in Redis and the value compressed', () =>
    withStore(async (store, prefix) => {
      await store.set('ns:k', prose, MINUTE);
      const pttl = await inspector.pttl(`${prefix}ns:k`);
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(MINUTE);
      const stored = await inspector.getBuffer(`${prefix}ns:k`);
      expect(stored?.[0]).toBe(1);
      expect(stored?.length).toBeLessThan(prose.length / 4);
      expect(await store.stats()).toEqual({ entries: 1, bytes: stored?.length, evictions: 0 });
    }));

  it('uses the default prefix switchyard:cache:', async () => {
    const store = new RedisStore({ url });
    const key = `${randomUUID()}:k`;
    try {
      await store.set(key, Buffer.from('v'), MINUTE);
      expect(await inspector.exists(`switchyard:cache:${key}`)).toBe(1);
    } finally {
      await store.delete(key);
      await store.close();
    }
  });

  it('clears only its own prefix', () =>
    withStore(async (store, prefix) => {
      const neighbour = `${prefix.slice(0, -1)}-neighbour:ns:k`;
      await inspector.set(neighbour, 'theirs', 'PX', MINUTE);
      try {
        await store.set('ns:k', Buffer.from('ours'), MINUTE);
        await store.clear();
        expect(await inspector.get(neighbour)).toBe('theirs');
      } finally {
        await inspector.unlink(neighbour);
      }
    }));

  it('misses and reports a value it cannot read', async () => {
    const errors: Error[] = [];
    await withStore(async (store, prefix) => {
      await inspector.set(`${prefix}ns:bad`, Buffer.from([7, 1, 2]), 'PX', MINUTE);
      expect(await store.get('ns:bad')).toBeUndefined();
      expect(errors.map((err) => err.message)).toEqual(['cache entry too short (3 bytes)']);
    }, errors);
  });

  it('lets the first concurrent calls wait for the lazy connection', () =>
    withStore(async (store) => {
      expect(store.healthy).toBe(false);
      const keys = Array.from({ length: 20 }, (_, i) => `ns:${i}`);
      await Promise.all(keys.map((key) => store.set(key, Buffer.from(key), MINUTE)));
      expect(store.healthy).toBe(true);
      expect((await store.stats()).entries).toBe(20);
    }));

  it('skips a Redis that stopped answering after one command timed out, until a PING is answered again', async () => {
    const proxy = await HangingProxy.start({ host: new URL(url).hostname, port: Number(new URL(url).port || 6379) });
    const proxied = new URL(url);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(proxy.port);
    const store = new RedisStore({ url: proxied.href, keyPrefix: newPrefix(), onError: () => {}, commandTimeoutMs: 200, probeDelayMs: 50 });
    try {
      await store.set('ns:k', Buffer.from('v'), MINUTE);
      proxy.hang();
      const first = performance.now();
      expect(await store.get('ns:k')).toBeUndefined();
      expect(performance.now() - first).toBeGreaterThanOrEqual(150);
      expect(store.healthy).toBe(false);
      // The connection still looks ready; the store no longer waits on it.
      const rest = performance.now();
      for (let i = 0; i < 20; i++) expect(await store.get('ns:k')).toBeUndefined();
      await store.set('ns:other', Buffer.from('v'), MINUTE);
      expect(performance.now() - rest).toBeLessThan(150);

      proxy.restore();
      await vi.waitFor(() => expect(store.healthy).toBe(true), { timeout: 5_000, interval: 20 });
      expect((await store.get('ns:k'))?.value.toString()).toBe('v');
    } finally {
      proxy.restore();
      await store.clear();
      await store.close();
      await proxy.close();
    }
  });

  it('keeps reading from a Redis that refuses a write with an error (a full Redis under noeviction): it is answering', async () => {
    const prefix = newPrefix();
    const store = new RedisStore({ url, keyPrefix: prefix, onError: () => {} });
    try {
      await store.set('ns:k', Buffer.from('v'), MINUTE);
      const refusing = vi.spyOn(Redis.prototype, 'set').mockRejectedValueOnce(new ReplyError('OOM command not allowed when used memory > maxmemory.'));
      await store.set('ns:other', Buffer.from('w'), MINUTE);
      expect(refusing).toHaveBeenCalled();
      refusing.mockRestore();
      expect(store.healthy).toBe(true);
      expect((await store.get('ns:k'))?.value.toString()).toBe('v');
    } finally {
      await store.clear();
      await store.close();
    }
  });

  it('degrades to misses while the connection is cut, then recovers', async () => {
    const proxy = await TcpProxy.start(new URL(url));
    const proxied = new URL(url);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(proxy.port);
    const store = new RedisStore({ url: proxied.href, keyPrefix: newPrefix(), onError: () => {} });
    try {
      await store.set('ns:k', Buffer.from('v'), MINUTE);
      expect(store.healthy).toBe(true);

      await proxy.cut();
      await vi.waitFor(() => expect(store.healthy).toBe(false));
      expect(await store.get('ns:k')).toBeUndefined();
      await store.set('ns:other', Buffer.from('v'), MINUTE);

      await proxy.restore();
      await vi.waitFor(() => expect(store.healthy).toBe(true), { timeout: 5_000, interval: 20 });
      expect((await store.get('ns:k'))?.value.toString()).toBe('v');
    } finally {
      await store.clear();
      await store.close();
      await proxy.cut();
    }
  });
});

/** A TCP relay to Redis that can cut every connection and refuse new ones, then listen again on the same port. */
class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly target: URL,
    public port: number,
  ) {}

  static async start(target: URL): Promise<TcpProxy> {
    const proxy = new TcpProxy(target, 0);
    await proxy.restore();
    return proxy;
  }

  async restore(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(Number(this.target.port || 6379), this.target.hostname);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => {});
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/**
 * The behaviour every CacheStore shares, as one vitest suite each implementation's test file runs
 * against a fresh store per test (DESIGN: both stores pass the same suite, Redis against a real server).
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CacheStore } from './store.js';

/** A store under test and control of its clock. */
export interface StoreHarness {
  store: CacheStore;
  /** The store's clock (epoch ms). */
  now(): number;
  /** Lets `ms` pass for the store: a fake clock moves on; a real one needs nothing (the suite polls). */
  elapse(ms: number): void | Promise<void>;
}

const MINUTE = 60_000;
/** Short enough to wait for against a real clock, long enough to store and read back first. */
const SHORT_TTL_MS = 100;

/** Defines the shared store tests; `makeStore` is called before each test, the store cleared and closed after it. */
export function runStoreSuite(name: string, makeStore: () => StoreHarness | Promise<StoreHarness>): void {
  describe(`${name} cache store (shared suite)`, () => {
    let harness: StoreHarness;
    let store: CacheStore;

    beforeEach(async () => {
      harness = await makeStore();
      store = harness.store;
    });

    afterEach(async () => {
      await store.clear();
      await store.close();
    });

    const valueOf = async (key: string): Promise<Buffer | undefined> => (await store.get(key))?.value;

    it('misses a key that was never set', async () => {
      expect(await store.get('ns:absent')).toBeUndefined();
    });

    it('round-trips binary data byte for byte, the empty value included', async () => {
      const everyByte = Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256));
      await store.set('ns:bytes', everyByte, MINUTE);
      await store.set('ns:empty', Buffer.alloc(0), MINUTE);
      expect(await valueOf('ns:bytes')).toEqual(everyByte);
      expect(await valueOf('ns:empty')).toEqual(Buffer.alloc(0));
    });

    it('keeps what it stored when the caller reuses its buffer', async () => {
      const buffer = Buffer.from('original');
      await store.set('ns:k', buffer, MINUTE);
      buffer.write('changed!');
      expect((await valueOf('ns:k'))?.toString()).toBe('original');
    });

    it('stamps storedAt from its clock and expiresAt = storedAt + ttl', async () => {
      const before = harness.now();
      await store.set('ns:k', Buffer.from('v'), MINUTE);
      const after = harness.now();
      const entry = await store.get('ns:k');
      expect(entry?.storedAt).toBeGreaterThanOrEqual(before);
      expect(entry?.storedAt).toBeLessThanOrEqual(after);
      expect(entry && entry.expiresAt - entry.storedAt).toBe(MINUTE);
    });

    it('stops returning an entry once its TTL has passed', async () => {
      await store.set('ns:short', Buffer.from('v'), SHORT_TTL_MS);
      await store.set('ns:long', Buffer.from('v'), MINUTE);
      await harness.elapse(SHORT_TTL_MS);
      await vi.waitFor(
        async () => {
          expect(await store.get('ns:short')).toBeUndefined();
          expect((await store.stats()).entries).toBe(1);
        },
        { timeout: 5_000, interval: 20 },
      );
      expect(await valueOf('ns:long')).toEqual(Buffer.from('v'));
    });

    it('overwrites a value and its TTL', async () => {
      await store.set('ns:k', Buffer.from('first'), MINUTE);
      await store.set('ns:k', Buffer.from('second'), 2 * MINUTE);
      const entry = await store.get('ns:k');
      expect(entry?.value.toString()).toBe('second');
      expect(entry && entry.expiresAt - entry.storedAt).toBe(2 * MINUTE);
      expect((await store.stats()).entries).toBe(1);
    });

    it('stores nothing for a TTL that is not positive and finite, and drops the previous value', async () => {
      for (const ttl of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
        await store.set('ns:k', Buffer.from('kept?'), MINUTE);
        await store.set('ns:k', Buffer.from('v'), ttl);
        expect(await store.get('ns:k'), `ttl ${ttl}`).toBeUndefined();
      }
      expect((await store.stats()).entries).toBe(0);
    });

    it('deletes one key and says whether it was there', async () => {
      await store.set('ns:a', Buffer.from('a'), MINUTE);
      await store.set('ns:b', Buffer.from('b'), MINUTE);
      expect(await store.delete('ns:a')).toBe(true);
      expect(await store.delete('ns:a')).toBe(false);
      expect(await store.get('ns:a')).toBeUndefined();
      expect(await valueOf('ns:b')).toEqual(Buffer.from('b'));
    });

    it('deleteNamespace removes exactly that namespace and counts it', async () => {
      for (const key of ['a:1', 'a:2', 'ab:1', 'a:b:1', 'b:1', 'a']) await store.set(key, Buffer.from(key), MINUTE);
      expect(await store.deleteNamespace('a')).toBe(2);
      expect(await store.get('a:1')).toBeUndefined();
      expect(await store.get('a:2')).toBeUndefined();
      for (const key of ['ab:1', 'a:b:1', 'b:1', 'a']) expect(await valueOf(key), key).toEqual(Buffer.from(key));
      expect(await store.deleteNamespace('a:b')).toBe(1);
      expect(await store.deleteNamespace('absent')).toBe(0);
    });

    it('deleteNamespace takes glob characters literally', async () => {
      const keys = ['x*:1', 'xy:1', 'x?:1', '[x]:1', 'x:1', 'x\\:1'];
      for (const key of keys) await store.set(key, Buffer.from(key), MINUTE);
      expect(await store.deleteNamespace('x*')).toBe(1);
      expect(await store.deleteNamespace('[x]')).toBe(1);
      expect(await store.deleteNamespace('x\\')).toBe(1);
      for (const key of ['xy:1', 'x?:1', 'x:1']) expect(await valueOf(key), key).toEqual(Buffer.from(key));
    });

    it('deleteNamespace reaches every key of a large namespace', async () => {
      await setMany(store, 'big', 2_500);
      await setMany(store, 'other', 10);
      expect(await store.deleteNamespace('big')).toBe(2_500);
      expect((await store.stats()).entries).toBe(10);
    });

    it('clear removes every entry and the store keeps working', async () => {
      await setMany(store, 'ns', 20);
      await store.clear();
      expect(await store.stats()).toMatchObject({ entries: 0, bytes: 0 });
      expect(await store.get('ns:0')).toBeUndefined();
      await store.set('ns:again', Buffer.from('v'), MINUTE);
      expect(await valueOf('ns:again')).toEqual(Buffer.from('v'));
    });

    it('counts entries and bytes', async () => {
      expect(await store.stats()).toEqual({ entries: 0, bytes: 0, evictions: 0 });
      await store.set('ns:small', Buffer.from('v'), MINUTE);
      const one = await store.stats();
      expect(one.entries).toBe(1);
      expect(one.bytes).toBeGreaterThan(0);
      const incompressible = randomBytes(10_000);
      await store.set('ns:big', incompressible, MINUTE);
      const two = await store.stats();
      expect(two.entries).toBe(2);
      expect(two.bytes - one.bytes).toBeGreaterThanOrEqual(incompressible.length);
      await store.delete('ns:big');
      expect(await store.stats()).toEqual(one);
    });

    it('round-trips large values', async () => {
      const random = randomBytes(1024 * 1024);
      const text = Buffer.from(JSON.stringify({ content: 'The quick brown fox jumps over the lazy dog. '.repeat(100_000) }));
      await store.set('ns:random', random, MINUTE);
      await store.set('ns:text', text, MINUTE);
      expect((await valueOf('ns:random'))?.equals(random)).toBe(true);
      expect((await valueOf('ns:text'))?.equals(text)).toBe(true);
    });

    it('serves concurrent writes and reads', async () => {
      const keys = Array.from({ length: 50 }, (_, i) => `ns:${i}`);
      await Promise.all(keys.map((key) => store.set(key, Buffer.from(key), MINUTE)));
      const values = await Promise.all(keys.map(valueOf));
      expect(values.map((value) => value?.toString())).toEqual(keys);
    });
  });
}

async function setMany(store: CacheStore, namespace: string, count: number): Promise<void> {
  const batch = 250;
  for (let start = 0; start < count; start += batch) {
    const sets = [];
    for (let i = start; i < Math.min(count, start + batch); i++) sets.push(store.set(`${namespace}:${i}`, Buffer.from(`v${i}`), MINUTE));
    await Promise.all(sets);
  }
}

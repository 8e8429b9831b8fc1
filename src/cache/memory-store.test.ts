import { describe, expect, it } from 'vitest';
import { ENTRY_OVERHEAD_BYTES, MemoryStore, entrySize } from './memory-store.js';
import { runStoreSuite } from './store-suite.js';

/** A clock that moves only when told to. */
function fakeClock(start = 1_700_000_000_000): { now: () => number; advance: (ms: number) => void } {
  let time = start;
  return { now: () => time, advance: (ms) => (time += ms) };
}

runStoreSuite('memory', () => {
  const clock = fakeClock();
  return { store: new MemoryStore({ now: clock.now }), now: clock.now, elapse: clock.advance };
});

describe('MemoryStore', () => {
  const MINUTE = 60_000;
  const value = (size: number): Buffer => Buffer.alloc(size, 1);
  /** Room for exactly `count` entries with 1-character keys and `size`-byte values. */
  const roomFor = (count: number, size: number): number => count * entrySize('k', value(size));

  it('peeks synchronously what get returns, expiry and recency included', async () => {
    const clock = fakeClock();
    const store = new MemoryStore({ now: clock.now, maxBytes: roomFor(2, 100) });
    await store.set('a', value(100), MINUTE);
    await store.set('b', value(100), 10);
    expect(store.peek('a')).toEqual(await store.get('a'));
    expect(store.peek('absent')).toBeUndefined();
    clock.advance(10);
    expect(store.peek('b')).toBeUndefined();
    await store.set('c', value(100), MINUTE);
    store.peek('a'); // a use: c's successor evicts c, not a
    await store.set('d', value(100), MINUTE);
    expect(store.peek('a')).toBeDefined();
    expect(store.peek('c')).toBeUndefined();
  });

  it('charges each entry its key length, value length and the fixed overhead', async () => {
    const store = new MemoryStore();
    await store.set('ns:key', value(100), MINUTE);
    expect((await store.stats()).bytes).toBe('ns:key'.length + 100 + ENTRY_OVERHEAD_BYTES);
  });

  it('evicts the least recently used entry, a read counting as a use', async () => {
    const store = new MemoryStore({ maxBytes: roomFor(3, 100) });
    for (const key of ['a', 'b', 'c']) await store.set(key, value(100), MINUTE);
    await store.get('a');
    await store.set('d', value(100), MINUTE);
    expect(await store.get('b')).toBeUndefined();
    for (const key of ['a', 'c', 'd']) expect(await store.get(key), key).toBeDefined();
    expect(await store.stats()).toEqual({ entries: 3, bytes: roomFor(3, 100), evictions: 1 });
  });

  it('evicts as many entries as a large value needs, and never exceeds maxBytes', async () => {
    const maxBytes = roomFor(10, 100);
    const store = new MemoryStore({ maxBytes });
    for (let i = 0; i < 10; i++) await store.set(`${i}`, value(100), MINUTE);
    await store.set('x', value(3 * 100 + 2 * ENTRY_OVERHEAD_BYTES + 2), MINUTE);
    const stats = await store.stats();
    expect(stats.evictions).toBe(3);
    expect(stats.bytes).toBeLessThanOrEqual(maxBytes);
    for (const key of ['0', '1', '2']) expect(await store.get(key), key).toBeUndefined();
    expect(await store.get('3')).toBeDefined();
  });

  it('does not store a value bigger than maxBytes, and drops what the key held', async () => {
    const store = new MemoryStore({ maxBytes: 1_000 });
    await store.set('k', value(10), MINUTE);
    await store.set('other', value(10), MINUTE);
    await store.set('k', value(1_000), MINUTE);
    expect(await store.get('k')).toBeUndefined();
    expect(await store.get('other')).toBeDefined();
    expect(await store.stats()).toMatchObject({ entries: 1, evictions: 0 });
  });

  it('makes room from expired entries before evicting live ones', async () => {
    const clock = fakeClock();
    const store = new MemoryStore({ maxBytes: roomFor(3, 100), now: clock.now });
    await store.set('o', value(100), 10 * MINUTE); // live, least recently used
    await store.set('x', value(100), MINUTE); // expiring, most recently used
    await store.set('l', value(100), 10 * MINUTE);
    await store.get('x');
    clock.advance(MINUTE);
    await store.set('n', value(100), 10 * MINUTE);
    for (const key of ['o', 'l', 'n']) expect(await store.get(key), key).toBeDefined();
    expect(await store.stats()).toMatchObject({ entries: 3, evictions: 0 });
  });

  it('drops an expired entry when it is read, and does not report it as deleted', async () => {
    const clock = fakeClock();
    const store = new MemoryStore({ now: clock.now });
    await store.set('ns:a', value(10), 1_000);
    await store.set('ns:b', value(10), 1_000);
    clock.advance(999);
    expect(await store.get('ns:a')).toBeDefined();
    clock.advance(1);
    expect(await store.get('ns:a')).toBeUndefined();
    expect((await store.stats()).entries).toBe(1);
    expect(await store.delete('ns:b')).toBe(false);
    expect(await store.stats()).toEqual({ entries: 0, bytes: 0, evictions: 0 });
  });

  it('does not count expired entries deleted with their namespace', async () => {
    const clock = fakeClock();
    const store = new MemoryStore({ now: clock.now });
    await store.set('ns:old', value(10), 1_000);
    clock.advance(1_000);
    await store.set('ns:new', value(10), 1_000);
    expect(await store.deleteNamespace('ns')).toBe(1);
    expect((await store.stats()).entries).toBe(0);
  });

  it('hands out entries that cannot be altered', async () => {
    const store = new MemoryStore();
    await store.set('k', value(1), MINUTE);
    const entry = await store.get('k');
    expect(Object.isFrozen(entry)).toBe(true);
  });

  it('rejects a maxBytes that is not positive', () => {
    expect(() => new MemoryStore({ maxBytes: 0 })).toThrow(RangeError);
    expect(() => new MemoryStore({ maxBytes: Number.NaN })).toThrow(RangeError);
  });
});

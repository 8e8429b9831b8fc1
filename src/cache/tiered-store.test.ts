import { describe, expect, it } from 'vitest';
import { MemoryStore } from './memory-store.js';
import { runStoreSuite } from './store-suite.js';
import { TieredStore } from './tiered-store.js';

function fakeClock(start = 1_700_000_000_000): { now: () => number; advance: (ms: number) => void } {
  let time = start;
  return { now: () => time, advance: (ms) => (time += ms) };
}

/** The shared tier counted: how often the near tier had to ask it. */
class CountingStore extends MemoryStore {
  gets = 0;
  override get(key: string) {
    this.gets++;
    return super.get(key);
  }
}

// The contract holds with a near tier in front (the shared tier is a memory store here; the
// Redis-backed combination is exercised end to end in test/e2e/caching-redis.test.ts).
runStoreSuite('tiered (near + shared)', () => {
  const clock = fakeClock();
  const store = new TieredStore(new MemoryStore({ now: clock.now }), new MemoryStore({ now: clock.now }), 5_000, clock.now);
  return { store, now: clock.now, elapse: clock.advance };
});

describe('TieredStore', () => {
  const MINUTE = 60_000;

  it('serves a hot entry from the near tier, with the age it has in the shared tier', async () => {
    const clock = fakeClock();
    const shared = new CountingStore({ now: clock.now });
    const store = new TieredStore(new MemoryStore({ now: clock.now }), shared, 5_000, clock.now);
    await shared.set('ns:k', Buffer.from('v'), MINUTE);
    const storedAt = clock.now();
    clock.advance(2_000);
    expect((await store.get('ns:k'))?.storedAt).toBe(storedAt);
    expect((await store.get('ns:k'))?.storedAt).toBe(storedAt);
    expect(shared.gets).toBe(1);
  });

  it('may serve an entry deleted elsewhere only until its near copy expires', async () => {
    const clock = fakeClock();
    const shared = new MemoryStore({ now: clock.now });
    const store = new TieredStore(new MemoryStore({ now: clock.now }), shared, 5_000, clock.now);
    await store.set('ns:k', Buffer.from('v'), MINUTE);
    await shared.delete('ns:k'); // another instance deleted it
    expect(await store.get('ns:k')).toBeDefined();
    clock.advance(5_000);
    expect(await store.get('ns:k')).toBeUndefined();
  });

  it('never keeps a near copy past the shared entry expiry', async () => {
    const clock = fakeClock();
    const shared = new MemoryStore({ now: clock.now });
    const store = new TieredStore(new MemoryStore({ now: clock.now }), shared, 5_000, clock.now);
    await shared.set('ns:k', Buffer.from('v'), 1_000);
    await store.get('ns:k');
    await shared.set('ns:k', Buffer.from('renewed'), MINUTE); // a near copy past 1 s would hide this
    clock.advance(1_000);
    expect((await store.get('ns:k'))?.value.toString()).toBe('renewed');
  });

  it('deletes from both tiers at once', async () => {
    const clock = fakeClock();
    const shared = new MemoryStore({ now: clock.now });
    const store = new TieredStore(new MemoryStore({ now: clock.now }), shared, 5_000, clock.now);
    await store.set('ns:a', Buffer.from('v'), MINUTE);
    await store.set('other:b', Buffer.from('v'), MINUTE);
    expect(await store.delete('ns:a')).toBe(true);
    expect(await store.get('ns:a')).toBeUndefined();
    expect(await store.deleteNamespace('other')).toBe(1);
    expect(await store.get('other:b')).toBeUndefined();
    expect(await shared.get('other:b')).toBeUndefined();
  });
});

import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { FallbackLimiter } from './fallback-limiter.js';
import { LimiterUnavailableError, type Admission, type Lease, type Rule } from './limiter.js';
import { runLimiterSuite } from './limiter-suite.js';
import { MemoryLimiter } from './memory-limiter.js';
import { RedisLimiter } from './redis-limiter.js';
import { closedPort } from '../../../test/helpers/ports.js';

const REDIS_URL = process.env.REDIS_URL;
if (!REDIS_URL) console.warn('[fallback-limiter.test] REDIS_URL is not set: the test with a healthy Redis is skipped.');

const MINUTE = 60_000;
const slot: Rule = { kind: 'parallel', key: 'key:k1:parallel', limit: 1 };

const leaseOf = (admission: Admission): Lease => {
  if (!admission.admitted) throw new Error(`refused by rule ${admission.refused}`);
  return admission.lease;
};

/** Clients to a port nothing listens on, failing every command at once (the options a gateway would use). */
const downClients: Redis[] = [];
let downPort: number;

beforeAll(async () => {
  downPort = await closedPort();
});

afterAll(() => {
  for (const client of downClients) client.disconnect();
});

function downRedis(onError?: (err: Error) => void): RedisLimiter {
  const client = new Redis({ host: '127.0.0.1', port: downPort, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
  client.on('error', () => {});
  downClients.push(client);
  return new RedisLimiter(client, { onError });
}

/** A FallbackLimiter over a Redis that is down, with a local limiter and a recheck window on a clock the test moves. */
function overDownRedis(policy: 'open' | 'closed', options: { leaseTtlMs?: number; recheckMs?: number } = {}) {
  let now = 1_700_000_000_000;
  const errors: Error[] = [];
  const fallbacks: LimiterUnavailableError[] = [];
  const primary = downRedis((err) => errors.push(err));
  const local = new MemoryLimiter({ now: () => now, leaseTtlMs: options.leaseTtlMs, onError: (err) => errors.push(err) });
  const limiter = new FallbackLimiter(primary, local, { policy, recheckMs: options.recheckMs, now: () => now, onFallback: (err) => fallbacks.push(err) });
  return {
    limiter,
    primary,
    errors,
    fallbacks,
    now: () => now,
    elapse: (ms: number) => {
      now += ms;
    },
  };
}

runLimiterSuite('fallback (open, Redis down)', (options) => overDownRedis('open', options));

describe('FallbackLimiter with Redis down', () => {
  const open: { limiter: FallbackLimiter }[] = [];
  const use = (...args: Parameters<typeof overDownRedis>) => {
    const harness = overDownRedis(...args);
    open.push(harness);
    return harness;
  };

  afterEach(async () => {
    await Promise.all(open.splice(0).map(({ limiter }) => limiter.close()));
  });

  it("'open' admits through the local limiter, says so for every request, and settles there", async () => {
    const { limiter, fallbacks, errors } = use('open');
    const lease = leaseOf(await limiter.acquire('org-1', [slot]));
    expect(await limiter.acquire('org-1', [slot])).toMatchObject({ admitted: false, refused: 0 });
    await limiter.settle(lease, []);
    leaseOf(await limiter.acquire('org-1', [slot]));
    expect(fallbacks).toHaveLength(3);
    expect(fallbacks[0]).toBeInstanceOf(LimiterUnavailableError);
    expect(fallbacks[0]?.message).toMatch(/enableOfflineQueue/);
    expect(errors).toEqual([]);
  });

  it("'closed' refuses with LimiterUnavailableError (a 503), and says so", async () => {
    const { limiter, fallbacks } = use('closed');
    await expect(limiter.acquire('org-1', [slot])).rejects.toThrow(LimiterUnavailableError);
    await expect(limiter.acquire('org-1', [slot])).rejects.toThrow(LimiterUnavailableError);
    expect(fallbacks).toHaveLength(2);
  });

  it('leaves Redis alone for recheckMs after a failure, then asks it again', async () => {
    const harness = use('open', { recheckMs: 1_000 });
    const asked = vi.spyOn(harness.primary, 'acquire');
    for (let i = 0; i < 5; i++) await harness.limiter.acquire('org-1', []);
    expect(asked).toHaveBeenCalledTimes(1);
    harness.elapse(1_000);
    await harness.limiter.acquire('org-1', []);
    await harness.limiter.acquire('org-1', []);
    expect(asked).toHaveBeenCalledTimes(2);
    expect(harness.fallbacks).toHaveLength(7);
  });

  it('says once when the primary stops answering and once when it answers again', async () => {
    const local = new MemoryLimiter();
    let down = true;
    const primary = new MemoryLimiter();
    const flaky = { acquire: (tag: string, rules: Rule[]) => (down ? Promise.reject(new LimiterUnavailableError('Redis is down')) : primary.acquire(tag, rules)), settle: primary.settle.bind(primary), close: () => primary.close() };
    const changes: boolean[] = [];
    let now = 0;
    const limiter = new FallbackLimiter(flaky, local, { policy: 'open', recheckMs: 10, now: () => now, onAvailability: (available) => changes.push(available) });
    open.push({ limiter });
    await limiter.acquire('org-1', []);
    now += 10;
    await limiter.acquire('org-1', []);
    expect(changes).toEqual([false]);
    down = false;
    now += 10;
    await limiter.acquire('org-1', []);
    await limiter.acquire('org-1', []);
    expect(changes).toEqual([false, true]);
  });

  it('does not hide malformed rules behind the fallback', async () => {
    const { limiter, fallbacks } = use('open');
    await expect(limiter.acquire('org-1', [{ kind: 'rate', key: 'rpm', limit: 0, windowMs: MINUTE, amount: 1 }])).rejects.toThrow(RangeError);
    expect(fallbacks).toEqual([]);
  });
});

describe.skipIf(!REDIS_URL)('FallbackLimiter with a healthy Redis', () => {
  it('decides through Redis and settles there, without falling back', async () => {
    const prefix = `switchyard:test:${randomUUID()}:`;
    const clients = [new Redis(REDIS_URL ?? ''), new Redis(REDIS_URL ?? '')];
    const fallbacks: Error[] = [];
    const limiter = new FallbackLimiter(new RedisLimiter(clients[0] as Redis, { prefix }), new MemoryLimiter(), { policy: 'open', onFallback: (err) => fallbacks.push(err) });
    const otherInstance = new RedisLimiter(clients[1] as Redis, { prefix });
    try {
      const lease = leaseOf(await limiter.acquire('org-1', [slot]));
      expect(await otherInstance.acquire('org-1', [slot])).toMatchObject({ admitted: false });
      await limiter.settle(lease, []);
      await otherInstance.settle(leaseOf(await otherInstance.acquire('org-1', [slot])), []);
      expect(fallbacks).toEqual([]);
    } finally {
      await limiter.close();
      await otherInstance.close();
      const keys = await (clients[0] as Redis).keys(`${prefix}*`);
      if (keys.length > 0) await (clients[0] as Redis).unlink(...keys);
      await Promise.all(clients.map((client) => client.quit()));
    }
  });
});


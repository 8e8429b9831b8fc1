import { randomUUID } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis, type RedisOptions } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LimiterUnavailableError, type Admission, type Lease, type Rule } from './limiter.js';
import { runLimiterSuite } from './limiter-suite.js';
import { RedisLimiter } from './redis-limiter.js';
import { closedPort } from '../../../test/helpers/ports.js';

const REDIS_URL = process.env.REDIS_URL;
if (!REDIS_URL) console.warn('[redis-limiter.test] REDIS_URL is not set: the tests against a real Redis are skipped.');

/** Every key this run writes starts with it, so parallel runs never meet. */
const RUN_PREFIX = `switchyard:test:${randomUUID()}:`;
let limiterCount = 0;
const newPrefix = (): string => `${RUN_PREFIX}${limiterCount++}:`;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** Fail at once when the server is unreachable, as a gateway would configure its client. */
const FAIL_FAST: RedisOptions = { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, connectTimeout: 500 };

const leaseOf = (admission: Admission): Lease => {
  if (!admission.admitted) throw new Error(`refused by rule ${admission.refused}`);
  return admission.lease;
};

describe('RedisLimiter without a usable Redis', () => {
  it('rejects with LimiterUnavailableError at once when Redis refuses connections', async () => {
    const client = new Redis({ ...FAIL_FAST, port: await closedPort(), host: '127.0.0.1' });
    client.on('error', () => {});
    const limiter = new RedisLimiter(client);
    try {
      const outcomes = await Promise.allSettled(Array.from({ length: 20 }, () => limiter.acquire('org-1', [{ kind: 'parallel', key: 'p', limit: 1 }])));
      for (const outcome of outcomes) expect(outcome).toMatchObject({ status: 'rejected', reason: expect.any(LimiterUnavailableError) });
    } finally {
      await limiter.close();
      client.disconnect();
    }
  });

  it('gives up on a Redis that accepts the connection but never answers, after its deadline', async () => {
    const hung = await HungServer.start();
    // The default client queues commands while it is not ready: only the limiter's deadline ends the wait.
    const client = new Redis({ port: hung.port, host: '127.0.0.1', lazyConnect: true });
    client.on('error', () => {});
    const errors: Error[] = [];
    const limiter = new RedisLimiter(client, { timeoutMs: 100, onError: (err) => errors.push(err) });
    try {
      await expect(limiter.acquire('org-1', [{ kind: 'rate', key: 'rpm', limit: 1, windowMs: MINUTE, amount: 1 }])).rejects.toThrow(/did not answer the limits acquire within 100 ms/);
    } finally {
      await limiter.close();
      client.disconnect();
      await hung.close();
    }
  });

  it('refuses a prefix with braces and an empty tag, which would break the hash tag', async () => {
    const client = new Redis({ ...FAIL_FAST, port: 1 });
    try {
      expect(() => new RedisLimiter(client, { prefix: 'limits:{x}:' })).toThrow(RangeError);
      await expect(new RedisLimiter(client).acquire('', [])).rejects.toThrow(RangeError);
    } finally {
      client.disconnect();
    }
  });
});

describe.skipIf(!REDIS_URL)('RedisLimiter against a real Redis', () => {
  const url = REDIS_URL ?? '';
  const clients: Redis[] = [];
  let inspector: Redis;
  const newClient = (at = url): Redis => {
    const client = new Redis(at);
    client.on('error', () => {});
    clients.push(client);
    return client;
  };

  beforeAll(() => {
    inspector = newClient();
  });

  afterAll(async () => {
    const leftovers: string[] = [];
    for await (const keys of inspector.scanStream({ match: `${RUN_PREFIX}*`, count: 1_000 })) leftovers.push(...(keys as string[]));
    if (leftovers.length > 0) await inspector.unlink(...leftovers);
    await Promise.all(clients.map((client) => (client.status === 'ready' ? client.quit() : client.disconnect())));
  });

  runLimiterSuite('redis', (options) => {
    const errors: Error[] = [];
    return {
      limiter: new RedisLimiter(newClient(), { ...options, prefix: newPrefix(), onError: (err) => errors.push(err) }),
      now: Date.now,
      // Redis keeps time; a few ms more than asked absorbs the timer's and TIME's rounding.
      elapse: (ms) => sleep(ms + 5),
      errors,
    };
  });

  it('keys every rule under the request’s hash tag, each with the TTL it needs', async () => {
    const prefix = newPrefix();
    const limiter = new RedisLimiter(newClient(), { prefix, leaseTtlMs: MINUTE });
    const expiresAt = Date.now() + HOUR;
    const rules: Rule[] = [
      { kind: 'rate', key: 'key:k1:tpm', limit: 1_000, windowMs: MINUTE, amount: 500 },
      { kind: 'parallel', key: 'key:k1:parallel', limit: 2 },
      { kind: 'budget', key: 'key:k1:daily:2024-05-01', limit: 10_000, amount: 300, seed: 1_200, expiresAt },
    ];
    leaseOf(await limiter.acquire('org-1', rules));
    const keys = rules.map((rule) => `${prefix}{org-1}:${rule.key}`);
    const [tpm, parallel, daily] = keys as [string, string, string];
    expect((await inspector.keys(`${prefix}*`)).sort()).toEqual([...keys].sort());

    const tpmTtl = await inspector.pttl(tpm); // drains empty in 30 s
    expect(tpmTtl).toBeGreaterThan(29_000);
    expect(tpmTtl).toBeLessThanOrEqual(30_001);
    const parallelTtl = await inspector.pttl(parallel);
    expect(parallelTtl).toBeGreaterThan(MINUTE - 5_000);
    // The key expires at its newest lease's end rounded up to the ms (never before the lease), and
    // PTTL counts from Redis's whole-ms clock: up to 1 ms over.
    expect(parallelTtl).toBeLessThanOrEqual(MINUTE + 1);
    expect(await inspector.zcard(parallel)).toBe(1);
    expect(await inspector.call('PEXPIRETIME', daily)).toBe(expiresAt);
    expect(await inspector.get(daily)).toBe('1500');
    await limiter.close();
  });

  it('decides a request with one round trip, whatever its number of rules', async () => {
    const client = newClient();
    const limiter = new RedisLimiter(client, { prefix: newPrefix() });
    const rules = (n: number): Rule[] => Array.from({ length: n }, (_, i) => ({ kind: 'rate', key: `r${i}`, limit: 100, windowMs: MINUTE, amount: 1 }));
    leaseOf(await limiter.acquire('org-1', rules(1))); // loads the script on this connection
    const sent = vi.spyOn(client, 'sendCommand');
    const lease = leaseOf(await limiter.acquire('org-1', [...rules(5), { kind: 'parallel', key: 'p', limit: 5 }]));
    expect(sent).toHaveBeenCalledTimes(1);
    await limiter.settle(lease, [2, 2, 2, 2, 2, undefined]);
    expect(sent).toHaveBeenCalledTimes(2);
    await limiter.settle(leaseOf(await limiter.acquire('org-1', rules(3))), []); // nothing to reconcile: no round trip
    expect(sent).toHaveBeenCalledTimes(3);
    sent.mockRestore();
    await limiter.close();
  });

  it('shares one limit between instances: together they admit exactly the limit', async () => {
    const prefix = newPrefix();
    const instances = [new RedisLimiter(newClient(), { prefix }), new RedisLimiter(newClient(), { prefix })];
    const rpm: Rule = { kind: 'rate', key: 'team:t1:rpm', limit: 50, windowMs: MINUTE, amount: 1 };
    const admissions = await Promise.all(Array.from({ length: 200 }, (_, i) => (instances[i % 2] as RedisLimiter).acquire('org-1', [rpm])));
    expect(admissions.filter((admission) => admission.admitted).length).toBe(50);
    const slot: Rule = { kind: 'parallel', key: 'key:k1:parallel', limit: 1 };
    const lease = leaseOf(await (instances[0] as RedisLimiter).acquire('org-1', [slot]));
    expect(await (instances[1] as RedisLimiter).acquire('org-1', [slot])).toMatchObject({ admitted: false });
    await (instances[0] as RedisLimiter).settle(lease, []);
    leaseOf(await (instances[1] as RedisLimiter).acquire('org-1', [slot]));
    await Promise.all(instances.map((limiter) => limiter.close()));
  });

  it('hands back what an admission reserved when its reply came after the deadline', async () => {
    const prefix = newPrefix();
    const proxy = await SlowProxy.start(new URL(url), 300);
    const client = newClient(`redis://127.0.0.1:${proxy.port}`);
    const errors: Error[] = [];
    const slow = new RedisLimiter(client, { prefix, timeoutMs: 100, onError: (err) => errors.push(err) });
    const direct = new RedisLimiter(newClient(), { prefix });
    const expiresAt = Date.now() + HOUR;
    const rules: Rule[] = [
      { kind: 'parallel', key: 'key:k1:parallel', limit: 1 },
      { kind: 'budget', key: 'key:k1:daily', limit: 1_000, amount: 400, seed: 100, expiresAt },
      { kind: 'rate', key: 'key:k1:tpm', limit: 1_000, windowMs: MINUTE, amount: 600 },
    ];
    try {
      await expect(slow.acquire('org-1', rules)).rejects.toThrow(LimiterUnavailableError);
      // The script runs late and admits; the refund follows through the same slow connection.
      const leases = (): Promise<number> => inspector.zcard(`${prefix}{org-1}:key:k1:parallel`);
      await vi.waitFor(async () => expect(await leases()).toBe(1), { timeout: 5_000, interval: 10 });
      await vi.waitFor(async () => expect(await leases()).toBe(0), { timeout: 5_000, interval: 10 });
      await slow.close();
      expect(await inspector.get(`${prefix}{org-1}:key:k1:daily`)).toBe('100');
      const admission = await direct.acquire('org-1', rules);
      expect(admission).toMatchObject({ admitted: true, states: [{ remaining: 0 }, { remaining: 500 }, { remaining: 400 }] });
      // The refund itself missed its deadline through this proxy, and was reported though it landed.
      expect(errors.map((err) => err.message)).toEqual(['Redis did not answer the limits settle within 100 ms']);
    } finally {
      await direct.close();
      client.disconnect();
      await proxy.close();
    }
  });

  it('reports a settle Redis cannot take, without throwing', async () => {
    const client = newClient();
    const errors: Error[] = [];
    const limiter = new RedisLimiter(client, { prefix: newPrefix(), onError: (err) => errors.push(err) });
    const lease = leaseOf(await limiter.acquire('org-1', [{ kind: 'parallel', key: 'p', limit: 1 }]));
    client.disconnect();
    await expect(limiter.settle(lease, [])).resolves.toBeUndefined();
    expect(errors).toEqual([expect.any(LimiterUnavailableError)]);
    await limiter.close();
  });
});

/** Accepts TCP connections and never answers: a hung Redis. */
class HungServer {
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server) {
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('error', () => {});
    });
  }

  static async start(): Promise<HungServer> {
    const hung = new HungServer(createServer());
    await new Promise<void>((resolve) => hung.server.listen(0, '127.0.0.1', resolve));
    return hung;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A TCP relay to Redis that delivers every reply `delayMs` late. */
class SlowProxy {
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    target: URL,
    delayMs: number,
  ) {
    server.on('connection', (client) => {
      const upstream = connect(Number(target.port || 6379), target.hostname);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('error', () => {});
        socket.on('close', () => this.sockets.delete(socket));
      }
      client.pipe(upstream);
      upstream.on('data', (chunk: Buffer) => setTimeout(() => client.writable && client.write(chunk), delayMs));
    });
  }

  static async start(target: URL, delayMs: number): Promise<SlowProxy> {
    const proxy = new SlowProxy(createServer(), target, delayMs);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

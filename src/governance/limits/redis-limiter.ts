/**
 * The distributed limiter: limits shared by every gateway instance through Redis. One request's
 * admission is one round trip (one Lua script over all its rules, redis-scripts.ts); its keys are
 * `<prefix>{<tag>}:<rule key>`, so they share one hash slot and a Redis Cluster can run the script.
 *
 * Every call has its own deadline (a hung Redis must not hold requests): past it, acquire rejects
 * with LimiterUnavailableError. The script may still run afterwards; if that late reply admitted
 * the request, its reservation is handed back at once (refund + lease release), so a timeout
 * never leaks capacity for longer than the round trip.
 *
 * The ioredis client belongs to the caller (connection options, error listener, quit): with
 * `enableOfflineQueue: false` an outage fails each call at once; with the offline queue the call's
 * deadline bounds the wait.
 */
import { randomUUID } from 'node:crypto';
import { Redis, type Cluster } from 'ioredis';
import {
  DEFAULT_LEASE_TTL_MS,
  DEFAULT_PARALLEL_RETRY_AFTER_MS,
  LimiterUnavailableError,
  isActualFor,
  validateRules,
  type Admission,
  type Lease,
  type Limiter,
  type Rule,
  type RuleState,
} from './limiter.js';
import { ACQUIRE_LUA, SETTLE_LUA } from './redis-scripts.js';

export const DEFAULT_LIMITS_PREFIX = 'switchyard:limits:';

/**
 * The limiter's own connection: no offline queue and one retry, so that while Redis is away a
 * call fails within the limiter's deadline and the fallback decides, instead of waiting in a queue.
 */
export function connectLimiterRedis(url: string, onError: (err: Error) => void): Redis {
  const client = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 500, lazyConnect: true });
  client.on('error', onError);
  client.connect().catch(() => undefined); // reported through 'error'
  return client;
}

export interface RedisLimiterOptions {
  /** Prepended to every key. No braces: the hash tag must be the request's tag. Default `switchyard:limits:`. */
  prefix?: string;
  /** Receives settle's errors (Redis failures, misuse of a lease). Must not throw. */
  onError?: (err: Error) => void;
  /** Deadline of each call to Redis. Default 250 ms. */
  timeoutMs?: number;
  /** How long an unsettled parallel lease holds its slot (a crashed instance's leases free themselves). Default 10 minutes. */
  leaseTtlMs?: number;
  /** retryAfterMs of a parallel refusal. Default 1 s. */
  parallelRetryAfterMs?: number;
}

/** The scripts as ioredis defineCommand exposes them: numKeys, the keys, then the arguments. */
interface LimitScripts {
  switchyardLimitsAcquire(numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
  switchyardLimitsSettle(numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
}

class RedisLease implements Lease {
  settled = false;

  constructor(
    readonly id: string,
    readonly owner: RedisLimiter,
    readonly keys: string[],
    readonly rules: Rule[],
  ) {}
}

export class RedisLimiter implements Limiter {
  private readonly scripts: LimitScripts;
  private readonly prefix: string;
  private readonly onError: ((err: Error) => void) | undefined;
  private readonly timeoutMs: number;
  private readonly leaseTtlMs: number;
  private readonly parallelRetryAfterMs: number;
  /** Settles (and late refunds) still running, awaited by close. */
  private readonly pending = new Set<Promise<void>>();

  constructor(redis: Redis | Cluster, options: RedisLimiterOptions = {}) {
    this.prefix = options.prefix ?? DEFAULT_LIMITS_PREFIX;
    if (/[{}]/.test(this.prefix)) throw new RangeError(`the limits key prefix must not contain braces: ${this.prefix}`);
    this.onError = options.onError;
    this.timeoutMs = options.timeoutMs ?? 250;
    this.leaseTtlMs = options.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
    this.parallelRetryAfterMs = options.parallelRetryAfterMs ?? DEFAULT_PARALLEL_RETRY_AFTER_MS;
    // EVALSHA, with ioredis falling back to EVAL when the server does not have the script yet.
    redis.defineCommand('switchyardLimitsAcquire', { lua: ACQUIRE_LUA });
    redis.defineCommand('switchyardLimitsSettle', { lua: SETTLE_LUA });
    this.scripts = redis as unknown as LimitScripts;
  }

  async acquire(tag: string, rules: Rule[]): Promise<Admission> {
    validateRules(rules);
    if (tag === '') throw new RangeError('the limits hash tag must not be empty (Redis would hash each key on its own)');
    const base = `${this.prefix}{${tag}}:`;
    const keys = rules.map((rule) => base + rule.key);
    const lease = new RedisLease(randomUUID(), this, keys, rules);
    const args = [lease.id, String(this.leaseTtlMs), String(this.parallelRetryAfterMs)];
    for (const rule of rules) {
      if (rule.kind === 'rate') args.push('r', String(rule.limit), String(rule.amount), String(rule.windowMs), '');
      else if (rule.kind === 'parallel') args.push('p', String(rule.limit), '1', '', '');
      else args.push('b', String(rule.limit), String(rule.amount), String(rule.expiresAt), String(rule.seed));
    }
    const reply = await this.withDeadline('acquire', this.scripts.switchyardLimitsAcquire(keys.length, ...keys, ...args), (late) => {
      // The request was already answered 503: hand back what the late admission reserved.
      if (Array.isArray(late) && late[0] === 1) void this.track(this.runSettle(lease, rules.map(() => 0)));
    });
    return admissionOf(reply, rules, lease);
  }

  async settle(lease: Lease, actual: (number | undefined)[]): Promise<void> {
    if (!(lease instanceof RedisLease) || lease.owner !== this) return this.report(new Error(`lease ${lease.id} was not issued by this limiter`));
    if (lease.settled) return this.report(new Error(`lease ${lease.id} was settled twice`));
    lease.settled = true;
    await this.track(this.runSettle(lease, actual));
  }

  /** Waits for the settles still running; the Redis client stays open (it is the caller's). */
  async close(): Promise<void> {
    await Promise.allSettled(this.pending);
  }

  private async runSettle(lease: RedisLease, actual: (number | undefined)[]): Promise<void> {
    const keys: string[] = [];
    const args = [lease.id];
    lease.rules.forEach((rule, i) => {
      if (rule.kind === 'parallel') {
        keys.push(lease.keys[i] as string);
        args.push('p', '', '', '');
        return;
      }
      const amount = actual[i];
      if (amount === undefined || amount === rule.amount) return;
      if (!isActualFor(rule, amount)) {
        this.report(new RangeError(`settle of lease ${lease.id}: actual[${i}] = ${amount} is not a valid ${rule.kind} amount; the reservation stands`));
        return;
      }
      keys.push(lease.keys[i] as string);
      if (rule.kind === 'rate') args.push('r', String(rule.limit), String(rule.windowMs), String(amount - rule.amount));
      else args.push('b', '', '', String(amount - rule.amount));
    });
    if (keys.length === 0) return;
    try {
      await this.withDeadline('settle', this.scripts.switchyardLimitsSettle(keys.length, ...keys, ...args));
    } catch (err) {
      this.report(err);
    }
  }

  private async track(work: Promise<void>): Promise<void> {
    this.pending.add(work);
    try {
      await work;
    } finally {
      this.pending.delete(work);
    }
  }

  /** `call`'s result, or LimiterUnavailableError when it fails or misses the deadline (a later result goes to `onLate`). */
  private withDeadline<T>(what: string, call: Promise<T>, onLate?: (value: T) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let expired = false;
      let answered = false;
      const timer = setTimeout(() => {
        // Timers run before the event loop reads sockets: when a busy loop fires this late, the
        // reply may already be waiting. Let one round of I/O read it before calling Redis late.
        setImmediate(() => {
          if (answered) return;
          expired = true;
          reject(new LimiterUnavailableError(`Redis did not answer the limits ${what} within ${this.timeoutMs} ms`));
        });
      }, this.timeoutMs);
      call.then(
        (value) => {
          if (expired) return onLate?.(value);
          answered = true;
          clearTimeout(timer);
          resolve(value);
        },
        (err: unknown) => {
          // After the deadline the caller has its answer already; the late failure changes nothing.
          if (expired) return;
          answered = true;
          clearTimeout(timer);
          reject(new LimiterUnavailableError(`the limits ${what} failed in Redis: ${err instanceof Error ? err.message : String(err)}`, { cause: err }));
        },
      );
    });
  }

  private report(err: unknown): void {
    try {
      this.onError?.(err instanceof Error ? err : new Error(String(err)));
    } catch {
      // A throwing error callback must not make settle throw.
    }
  }
}

/** Reads the acquire script's reply: admitted, refused index, retryAfterMs (-1: never), then remaining / resetMs per rule. */
function admissionOf(reply: unknown, rules: Rule[], lease: RedisLease): Admission {
  if (!Array.isArray(reply) || reply.length !== 3 + 2 * rules.length || !reply.every((value) => typeof value === 'number')) {
    throw new LimiterUnavailableError(`unexpected reply from the limits acquire script: ${JSON.stringify(reply)}`);
  }
  const values = reply as number[];
  const states = rules.map((rule, i): RuleState => ({ limit: rule.limit, remaining: values[3 + 2 * i] as number, resetMs: values[4 + 2 * i] as number }));
  if (values[0] === 1) return { admitted: true, lease, states };
  const retryAfterMs = values[2] as number;
  return { admitted: false, refused: values[1] as number, retryAfterMs: retryAfterMs < 0 ? null : retryAfterMs, states };
}

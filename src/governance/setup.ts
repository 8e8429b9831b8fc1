/**
 * Builds governance from the config: the database (SQLite by default, PostgreSQL), the directory
 * of keys / teams / orgs / users kept in memory, the limiter (memory, or Redis with a fallback
 * policy), the batched spend writer, and the admission stage the pipeline runs.
 */
import type { FastifyBaseLogger } from 'fastify';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import { AdmissionStage } from '../gateway/admission-stage.js';
import type { ModelRegistry } from '../routing/models.js';
import { openDatabase, redactUrl } from '../storage/database.js';
import { GovernanceStore } from '../storage/governance-store.js';
import { SpendWriter, type SpendWriterStats } from '../storage/spend-writer.js';
import { isDataError } from '../storage/errors.js';
import { shutdownStep } from '../shutdown-step.js';
import type { RowQueue } from '../observability/request-recorder.js';
import { throttledLog, type ThrottledReport } from '../observability/throttled-log.js';
import { Admitter } from './admission.js';
import { Directory } from './directory.js';
import { Ledger } from './ledger.js';
import type { Limiter } from './limits/limiter.js';
import { MemoryLimiter } from './limits/memory-limiter.js';
import { Authenticator } from './principal.js';

export const DEFAULT_STORAGE_URL = 'sqlite://./data/switchyard.db';

/** The database could not be opened at start-up: the gateway cannot check keys without it. */
export class StorageUnavailableError extends Error {
  override readonly name = 'StorageUnavailableError';
}

export interface Governance {
  store: GovernanceStore;
  directory: Directory;
  authenticator: Authenticator;
  admission: AdmissionStage;
  /** The batched writer of request-log rows (which feed the spend rollups too). */
  rows: RowQueue;
  /** Where the data lives, password redacted (for the banner). */
  storageUrl: string;
  limiterBackend: 'memory' | 'redis';
  /** Flushes the spend rows, then closes the stores, each within a bound (`warn` says which was cut). */
  close(warn?: (what: string, ms: number) => void): Promise<void>;
}

/** How long closing the limits store or the database may take at shutdown. */
const STORE_CLOSE_MS = 3_000;

export interface GovernanceDeps {
  /** The registry in force (a configuration reload replaces it). */
  models: () => ModelRegistry;
  registry: Registry;
  logger: FastifyBaseLogger;
}

export async function createGovernance(config: Config, storageUrl: string, { models, registry, logger }: GovernanceDeps): Promise<Governance> {
  const settings = config.governance;
  const throttled = throttledLog(logger);
  const database = await openDatabase(storageUrl, { onError: (err) => throttled('database', err, 'the database connection failed') }).catch((err: unknown) => {
    throw new StorageUnavailableError(`cannot open the database (storage.url or DATABASE_URL): ${(err as Error).message}`, { cause: err });
  });
  const store = new GovernanceStore(database, { requestLog: config.request_log.enabled });

  const limiterBackend = settings.limits.backend ?? (config.redis.url ? 'redis' : 'memory');
  const directory = new Directory(store, {
    refreshIntervalMs: settings.refresh_interval_ms,
    // Counters in memory never start again while the process runs: only Redis's can (lost, or
    // counted elsewhere during an outage). And a large SQLite rollup read blocks the event loop.
    spendRefreshIntervalMs: limiterBackend === 'redis' ? settings.spend_refresh_interval_ms : 0,
    onError: (err) => throttled('directory', err, 'could not reload keys, teams and orgs from the database; the last ones loaded stay in force'),
  });
  await directory.start();

  const registers = [registry];
  const spilled = new Counter({ name: 'switchyard_request_log_rows_spilled_total', help: 'Request-log rows written to the spill file because the database was unavailable and the queue was full (written back later).', registers });
  const dropped = new Counter({ name: 'switchyard_request_log_rows_dropped_total', help: 'Request-log rows lost: the database and the spill file both failed, or the database refused the row itself.', registers });
  const behind = (): boolean => writerIsBehind(writer.stats(), settings.spend);
  const writer = new SpendWriter({
    write: (rows, batchId) => store.writeSpend(rows, batchId, behind),
    spillPath: settings.spend.spill_path,
    maxQueue: settings.spend.max_queue,
    batchSize: settings.spend.batch_size,
    flushIntervalMs: settings.spend.flush_interval_ms,
    onError: (err) => throttled('spend', err, 'could not write spend rows to the database; they are kept and retried'),
    onSpill: (rows) => spilled.inc(rows),
    // Spend recorded only now (kept in the spill file through an outage, maybe by the last process) raises the budgets' floor.
    onWrittenBack: () => directory.refreshSpendSoon(),
    onDrop: (rows) => dropped.inc(rows),
    isDataError,
  });
  registerWriterMetrics(writer, registers);

  // When Redis stops or starts answering again, budget counters start over from the recorded spend: read it afresh.
  const limiter = await createLimiter(config, limiterBackend, registry, throttled, () => void directory.refreshSpend());
  const admitter = new Admitter(directory, limiter, { unpricedModels: settings.unpriced_models, defaultMaxTokens: settings.default_max_tokens });
  const ledger = new Ledger((providerId, model) => models().knownTarget(providerId, model)?.info.price);

  return {
    store,
    directory,
    authenticator: new Authenticator(config.auth.master_key, directory),
    admission: new AdmissionStage(models, { admitter, ledger, drainMs: settings.drain_timeout_ms }),
    rows: writer,
    storageUrl: redactUrl(storageUrl),
    limiterBackend,
    async close(warn = () => undefined) {
      directory.stop();
      await writer.close(5_000);
      await shutdownStep('limits store', () => limiter.close(), STORE_CLOSE_MS, warn);
      await shutdownStep('database', () => database.close(), STORE_CLOSE_MS, warn);
    },
  };
}

/** The writer's own figures, read when scraped. */
function registerWriterMetrics(writer: SpendWriter, registers: Registry[]): void {
  new Gauge({
    name: 'switchyard_request_log_queue_depth',
    help: 'Request-log rows in memory waiting for the database.',
    registers,
    collect() {
      this.set(writer.stats().queued);
    },
  });
  const total = (name: string, help: string, read: (stats: SpendWriterStats) => number): void => {
    new Counter({
      name,
      help,
      registers,
      collect() {
        // A counter mirroring the writer's own: only ever grows.
        this.reset();
        this.inc(read(writer.stats()));
      },
    });
  };
  total('switchyard_request_log_rows_written_total', 'Request-log rows written to the database.', (stats) => stats.written);
  total('switchyard_request_log_write_failures_total', 'Batched request-log writes that failed (the rows are kept and retried).', (stats) => stats.failures);
}

async function createLimiter(config: Config, backend: 'memory' | 'redis', registry: Registry, report: ThrottledReport, onAvailability: () => void): Promise<Limiter> {
  // Registered with either backend, so dashboards and alerts find it (0 without Redis).
  const fallbacks = new Counter({ name: 'switchyard_limiter_fallbacks_total', help: `Admissions decided without Redis (on_redis_error: ${config.governance.limits.on_redis_error}).`, registers: [registry] });
  const local = new MemoryLimiter({ onError: (err) => report('limits', err, 'a limit reservation could not be settled') });
  if (backend === 'memory') return local;
  // ioredis and the Redis limiter load only when used.
  const [{ RedisLimiter, connectLimiterRedis }, { FallbackLimiter }] = await Promise.all([import('./limits/redis-limiter.js'), import('./limits/fallback-limiter.js')]);
  const settings = config.governance.limits;
  const client = connectLimiterRedis(config.redis.url!, (err) => report('redis', err, 'the Redis limiter connection failed'));
  const redisLimiter = new RedisLimiter(client, { timeoutMs: settings.redis_timeout_ms, onError: (err) => report('limits', err, 'a limit reservation could not be settled in Redis') });
  const limiter = new FallbackLimiter(redisLimiter, local, {
    policy: settings.on_redis_error,
    onAvailability,
    onFallback: (err) => {
      fallbacks.inc();
      report('limits-fallback', err, settings.on_redis_error === 'open' ? 'Redis is unreachable: limits are enforced per instance until it is back' : 'Redis is unreachable: requests are refused (governance.limits.on_redis_error: closed)');
    },
  });
  return {
    acquire: (tag, rules) => limiter.acquire(tag, rules),
    settle: (lease, actual) => limiter.settle(lease, actual),
    async close() {
      await limiter.close();
      client.disconnect();
    },
  };
}

/**
 * Whether the spend writer is behind (the SQLite request-log insert then stops pacing itself): a
 * whole batch waits after the one being written (the queue counts that one too), or rows wait in
 * the spill file (while they do, new rows join them there, not the queue).
 */
export function writerIsBehind({ queued, spilled }: SpendWriterStats, { batch_size, max_queue }: { batch_size: number; max_queue: number }): boolean {
  return spilled > 0 || queued >= Math.min(2 * batch_size, max_queue);
}

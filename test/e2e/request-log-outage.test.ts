/**
 * Request logs on SQLite and PostgreSQL, including a database outage during load (nothing lost
 * once it is back). Each run sends its own x-request-id per request through the official SDK,
 * takes the database away in the middle of the load, gives it back, and then reads the whole
 * request log through the admin API: every id must be there exactly once, every request must have
 * been answered 200 meanwhile, and the writer's metrics must show the outage was real (failed
 * writes) and that nothing was dropped.
 *
 * - PostgreSQL (a fresh database per run from DATABASE_URL; skipped without it): the gateway
 *   reaches it through a TCP proxy that drops every connection and resets new ones while cut.
 *   A second run loses the answer to one COMMIT (the write committed, the gateway sees a reset
 *   connection): the retried batch must not be applied twice, in the log or in the spend totals.
 * - SQLite: the test process holds the gateway's database file under BEGIN EXCLUSIVE for longer
 *   than the gateway's busy timeout, so its writes fail with SQLITE_BUSY until COMMIT. The
 *   requests sent meanwhile must not be held up by the lock (the docs: logging never waits on
 *   the database).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { raw, sdk } from '../helpers/client.js';
import { startGateway, stopAllGateways, type Gateway } from '../helpers/gateway.js';
import { admin } from '../helpers/governance.js';
import { parseMetrics, total } from '../helpers/metrics.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { createScratchDatabase, type ScratchDatabase } from '../helpers/postgres.js';

const DATABASE_URL = process.env.DATABASE_URL;
if (!DATABASE_URL) {
  console.warn('[request-log-outage.test] DATABASE_URL is not set: the PostgreSQL outage test is skipped (the SQLite one runs).');
}

const MASTER_KEY = 'sk-master-request-log-outage-e2e';
const CONCURRENCY = 10;

/** Small batches and a short flush interval: many writes, so the outage meets some of them. */
const GATEWAY_CONFIG = (storageUrl: string) => `
auth: { master_key: ${MASTER_KEY} }
storage: { url: "${storageUrl}" }
governance:
  spend: { flush_interval_ms: 50, batch_size: 20 }
providers:
  demo: { type: mock }
models:
  mock:
    targets: [ { provider: demo, model: mock } ]
    coalesce: off
`;

afterAll(stopAllGateways);

interface WriterMetrics {
  written: number;
  failures: number;
  dropped: number;
  spilled: number;
  queued: number;
}

async function writerMetrics(gateway: Gateway): Promise<WriterMetrics> {
  const samples = parseMetrics((await raw(gateway, '/metrics')).text);
  return {
    written: total(samples, 'switchyard_request_log_rows_written_total'),
    failures: total(samples, 'switchyard_request_log_write_failures_total'),
    dropped: total(samples, 'switchyard_request_log_rows_dropped_total'),
    spilled: total(samples, 'switchyard_request_log_rows_spilled_total'),
    queued: total(samples, 'switchyard_request_log_queue_depth'),
  };
}

/** Polls `check` until `accept` holds or the time is up; returns the last value for the caller's assertion. */
async function eventually<T>(check: () => Promise<T>, accept: (value: T) => boolean, timeoutMs: number, everyMs = 50): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (accept(value) || Date.now() > until) return value;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

interface LoadPlan {
  ids: string[];
  /** Starts the outage; resolves once it is over. */
  outage: () => Promise<void>;
  /** The outage starts when this many requests were answered (others in flight). */
  outageAt: number;
  /** Requests from this index on are sent only after the outage is over. */
  resumeAt: number;
  /** While the outage lasts, each of the CONCURRENCY senders waits this long between requests (spreads them over it). */
  paceMs?: number;
}

interface LoadResult {
  statuses: Map<string, number>;
  /** When each request was sent (epoch ms) and how long its answer took. */
  timing: Map<string, { sentAt: number; ms: number }>;
}

/**
 * Sends one chat per id, CONCURRENCY at a time, in two phases: ids before `resumeAt` (the outage
 * starts in the middle of them, when `outageAt` were answered, and the rest are sent while it
 * lasts), then, once the outage is over, the others. A gateway that dies on the way is reported
 * with its exit code and stderr.
 */
async function runLoad(gateway: Gateway, plan: LoadPlan): Promise<LoadResult> {
  const client = sdk(gateway, MASTER_KEY);
  const statuses = new Map<string, number>();
  const timing = new Map<string, { sentAt: number; ms: number }>();
  let answered = 0;
  let outage: Promise<void> | undefined;
  let outageOver = false;
  const send = async (ids: string[]): Promise<void> => {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < ids.length) {
        const id = ids[next++]!;
        const sentAt = Date.now();
        const { response } = await client.chat.completions.create({ model: 'mock', messages: [{ role: 'user', content: `request ${id}` }] }, { headers: { 'x-request-id': id } }).withResponse();
        timing.set(id, { sentAt, ms: Date.now() - sentAt });
        statuses.set(id, response.status);
        if (++answered === plan.outageAt) {
          outage = plan.outage().finally(() => (outageOver = true));
          // Awaited after this phase; marked handled now so an early failure is not an unhandled rejection.
          outage.catch(() => undefined);
        }
        if (outage && !outageOver && plan.paceMs) await new Promise((resolve) => setTimeout(resolve, plan.paceMs));
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  };
  try {
    await send(plan.ids.slice(0, plan.resumeAt));
    expect(outage, 'the outage started during the load').toBeDefined();
    await outage;
    await send(plan.ids.slice(plan.resumeAt));
  } catch (err) {
    await outage?.catch(() => undefined);
    const exited = await Promise.race([gateway.exited, new Promise<'running'>((resolve) => setTimeout(() => resolve('running'), 1_000))]);
    if (exited !== 'running') throw new Error(`the gateway exited with code ${exited} during the database outage:\n${gateway.stderr().slice(-2_000)}`, { cause: err });
    throw err;
  }
  return { statuses, timing };
}

interface LogRow {
  id: number;
  request_id: string;
  status: number;
  route: string;
  model: string | null;
  key_id: string | null;
}

/** The whole request log, newest first, page by page. */
async function allRows(gateway: Gateway): Promise<LogRow[]> {
  const rows: LogRow[] = [];
  let cursor: string | null = null;
  do {
    const res = await admin(gateway, MASTER_KEY, 'GET', `/logs?limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
    expect(res.status, res.text).toBe(200);
    const page = res.json as { data: LogRow[]; next_cursor: string | null };
    rows.push(...page.data);
    cursor = page.data.length === 0 ? null : page.next_cursor;
  } while (cursor);
  return rows;
}

/** Reads the request log until it holds `ids.length` rows (or the time is up); checks each id is there exactly once. */
async function expectEveryRowOnce(gateway: Gateway, ids: string[], timeoutMs: number): Promise<void> {
  const rows = await eventually(() => allRows(gateway), (found) => found.length >= ids.length, timeoutMs, 200);
  const counts = new Map<string, number>();
  for (const row of rows) counts.set(row.request_id, (counts.get(row.request_id) ?? 0) + 1);
  const missing = ids.filter((id) => !counts.has(id));
  const duplicated = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
  const unexpected = [...counts.keys()].filter((id) => !ids.includes(id));
  expect({ missing, duplicated, unexpected }).toEqual({ missing: [], duplicated: [], unexpected: [] });
  expect(rows).toHaveLength(ids.length);
  for (const row of rows) expect(row).toMatchObject({ status: 200, route: 'chat', model: 'mock', key_id: 'master' });
}

function requestIds(prefix: string, count: number): string[] {
  const run = randomBytes(4).toString('hex');
  return Array.from({ length: count }, (_, i) => `${prefix}-${run}-${String(i).padStart(4, '0')}`);
}

/** A scratch PostgreSQL database of its own, and a gateway that reaches it through a TCP proxy. */
interface BehindProxy {
  database: ScratchDatabase;
  proxy: TcpProxy;
  gateway: Gateway;
}

async function gatewayBehindProxy(prefix: string): Promise<BehindProxy> {
  const database = await createScratchDatabase(DATABASE_URL!, prefix);
  const proxy = await TcpProxy.start({ host: database.url.hostname, port: Number(database.url.port || 5432) });
  const viaProxy = new URL(database.url);
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  return { database, proxy, gateway: await startGateway(GATEWAY_CONFIG(viaProxy.toString())) };
}

async function stopBehindProxy(setup: Partial<BehindProxy> | undefined): Promise<void> {
  await setup?.gateway?.stop();
  await setup?.proxy?.close();
  await setup?.database?.drop();
}

describe.skipIf(!DATABASE_URL)('request log on PostgreSQL through an outage', () => {
  const N = 200;
  const OUTAGE_MS = 1_500;
  let setup: BehindProxy | undefined;
  let proxy: TcpProxy;
  let gateway: Gateway;

  beforeAll(async () => {
    setup = await gatewayBehindProxy('sy_e2e_log');
    ({ proxy, gateway } = setup);
  });

  afterAll(() => stopBehindProxy(setup));

  it('keeps every row through a cut connection and writes each exactly once when the database is back', async () => {
    const ids = requestIds('pg-outage', N);
    let duringOutage: WriterMetrics | undefined;
    let outageMs = 0;
    const result = await runLoad(gateway, {
      ids,
      outageAt: 70,
      resumeAt: 140,
      paceMs: 150,
      outage: async () => {
        proxy.cut();
        const cutAt = Date.now();
        // Down until the gateway has seen its writes fail, and for at least OUTAGE_MS (requests keep coming).
        duringOutage = await eventually(() => writerMetrics(gateway), (m) => m.failures > 0, 10_000);
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, cutAt + OUTAGE_MS - Date.now())));
        duringOutage = await writerMetrics(gateway);
        proxy.restore();
        outageMs = Date.now() - cutAt;
      },
    });
    console.info(`[request-log-outage.test] PostgreSQL cut for ${outageMs} ms; connections reset meanwhile: ${proxy.refused}; write failures seen then: ${duringOutage?.failures}`);

    expect([...result.statuses.values()].every((status) => status === 200)).toBe(true);
    expect(result.statuses.size).toBe(N);
    expect(duringOutage?.failures, 'write failures seen on /metrics during the outage').toBeGreaterThan(0);
    // Rows of the requests answered during the outage were waiting in memory.
    expect(duringOutage?.queued).toBeGreaterThan(0);

    // The admin API reads the same database: only now that it is back.
    await expectEveryRowOnce(gateway, ids, 30_000);
    const after = await eventually(() => writerMetrics(gateway), (m) => m.queued === 0 && m.written >= N, 5_000);
    expect(after).toMatchObject({ dropped: 0, queued: 0 });
    expect(after.written).toBe(N);
    expect(after.failures).toBeGreaterThanOrEqual(duringOutage!.failures);
  }, 60_000);
});

describe.skipIf(!DATABASE_URL)('request log on PostgreSQL when the answer to a commit is lost', () => {
  let setup: BehindProxy | undefined;
  let proxy: TcpProxy;
  let gateway: Gateway;

  beforeAll(async () => {
    setup = await gatewayBehindProxy('sy_e2e_commit');
    ({ proxy, gateway } = setup);
  });

  afterAll(() => stopBehindProxy(setup));

  it('retries the batch and applies it once: every row once, spend counted once', async () => {
    const ids = requestIds('pg-commit', 60);
    const client = sdk(gateway, MASTER_KEY);
    // Armed before the load: the first batch written loses its commit answer.
    proxy.loseNextCommitAnswer();
    for (const id of ids) {
      const { response } = await client.chat.completions.create({ model: 'mock', messages: [{ role: 'user', content: `request ${id}` }] }, { headers: { 'x-request-id': id } }).withResponse();
      expect(response.status).toBe(200);
    }
    await expectEveryRowOnce(gateway, ids, 30_000);
    expect(proxy.lostCommitAnswers).toBe(1);
    const metrics = await eventually(() => writerMetrics(gateway), (m) => m.queued === 0 && m.written >= ids.length, 5_000);
    expect(metrics).toMatchObject({ written: ids.length, dropped: 0, queued: 0 });
    expect(metrics.failures, 'the write whose answer was lost failed, as the gateway saw it').toBeGreaterThanOrEqual(1);
    const spend = await admin(gateway, MASTER_KEY, 'GET', '/spend?group_by=key');
    expect(spend.status, spend.text).toBe(200);
    expect((spend.json as { data: { group: string; requests: number }[] }).data).toEqual([expect.objectContaining({ group: 'master', requests: ids.length })]);
  }, 60_000);
});

describe.skipIf(!DATABASE_URL)('PostgreSQL that stops answering', () => {
  let setup: BehindProxy | undefined;

  beforeAll(async () => {
    setup = await gatewayBehindProxy('sy_e2e_hang');
  });

  afterAll(() => stopBehindProxy(setup));

  it('keeps serving, and on SIGTERM exits 0 within its bounds with the unwritten rows in the spill file', async () => {
    const { proxy, gateway } = setup!;
    const client = sdk(gateway, MASTER_KEY);
    // The pool holds a connection (the directory's poll and the spend writer use it).
    expect((await admin(gateway, MASTER_KEY, 'GET', '/keys')).status).toBe(200);
    proxy.hang();
    const ids = requestIds('pg-hang', 5);
    for (const id of ids) {
      const { response } = await client.chat.completions.create({ model: 'mock', messages: [{ role: 'user', content: `request ${id}` }] }, { headers: { 'x-request-id': id } }).withResponse();
      expect(response.status).toBe(200);
    }
    const signalled = Date.now();
    gateway.process.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);
    // The spend writer's 5 s for the database, then the database's close cut at 3 s (it hung forever before).
    expect(Date.now() - signalled).toBeLessThan(12_000);
    const messages = gateway.logs().map((line) => `${String(line.msg)} ${String(line.step ?? '')}`);
    expect(messages).toContain('shutdown: a step did not finish in time; going on without it database');
    expect(messages).toContain('switchyard stopped ');
    // Nothing lost: the rows the database never took wait in the spill file for the next start.
    const spilled = await readFile(join(dirname(gateway.configPath), 'data', 'spend-spill.jsonl'), 'utf8');
    for (const id of ids) expect(spilled).toContain(id);
    proxy.restore();
  }, 30_000);
});

describe('request log on SQLite while another process holds the write lock', () => {
  const N = 100;
  const LOCK_MS = 500;
  let dir: string;
  let file: string;
  let gateway: Gateway;
  let result: LoadResult | undefined;
  let lock: { from: number; to: number } | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'switchyard-e2e-sqlite-'));
    file = join(dir, 'x.db');
    gateway = await startGateway(GATEWAY_CONFIG(`sqlite://${file}`));
  });

  afterAll(async () => {
    await gateway?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps every row while the database is locked and writes each exactly once after COMMIT', async () => {
    const ids = requestIds('sqlite-lock', N);
    let duringLock: WriterMetrics | undefined;
    result = await runLoad(gateway, {
      ids,
      outageAt: 30,
      resumeAt: 70,
      paceMs: 100,
      outage: async () => {
        // Another process (this one) takes the write lock; the gateway's writes wait out their busy timeout and fail.
        const holder = new BetterSqlite3(file, { timeout: 10_000 });
        holder.exec('BEGIN EXCLUSIVE');
        const from = Date.now();
        try {
          duringLock = await eventually(() => writerMetrics(gateway), (m) => m.failures > 0, 20_000, 100);
          // Held for at least LOCK_MS, so requests are sent while it is (the first failed write can come within a few ms).
          await new Promise((resolve) => setTimeout(resolve, Math.max(0, from + LOCK_MS - Date.now())));
        } finally {
          holder.exec('COMMIT');
          holder.close();
          lock = { from, to: Date.now() };
        }
      },
    });
    const slowest = Math.max(...[...result.timing.values()].map((t) => t.ms));
    console.info(`[request-log-outage.test] SQLite locked for ${lock!.to - lock!.from} ms; write failures seen then: ${duringLock?.failures}; slowest request: ${slowest} ms`);

    expect(result.statuses.size).toBe(N);
    expect([...result.statuses.values()].every((status) => status === 200)).toBe(true);
    expect(duringLock?.failures, 'write failures seen on /metrics while the lock was held').toBeGreaterThan(0);

    await expectEveryRowOnce(gateway, ids, 30_000);
    const after = await eventually(() => writerMetrics(gateway), (m) => m.queued === 0 && m.written >= N, 5_000);
    expect(after).toMatchObject({ dropped: 0, queued: 0 });
    expect(after.written).toBe(N);
  }, 60_000);

  it("answers an admin write that cannot get the database with 503 service_unavailable, saying so (not a 500)", async () => {
    const holder = new BetterSqlite3(file, { timeout: 10_000 });
    holder.exec('BEGIN EXCLUSIVE');
    try {
      const created = await admin(gateway, MASTER_KEY, 'POST', '/keys', { name: 'while-locked' });
      expect(created.status, created.text).toBe(503);
      expect(created.json).toMatchObject({ error: { code: 'service_unavailable', type: 'api_error', message: expect.stringContaining('The database (storage.url) is unavailable') } });
      expect(created.headers.get('retry-after')).toBe('5');
    } finally {
      holder.exec('COMMIT');
      holder.close();
    }
    expect((await admin(gateway, MASTER_KEY, 'POST', '/keys', { name: 'after-the-lock' })).status).toBe(201);
  });

  it('answers requests while the lock is held: logging never waits on the database', () => {
    expect(result, 'the load above ran').toBeDefined();
    const duringLock = [...result!.timing].filter(([, t]) => t.sentAt >= lock!.from && t.sentAt < lock!.to);
    expect(duringLock.length).toBeGreaterThan(0);
    // A chat answered by the mock provider takes a few ms; a request held up by the lock takes the busy timeout.
    const slow = duringLock.filter(([, t]) => t.ms > 1_000).map(([id, t]) => `${id}: ${t.ms} ms`);
    expect(slow, 'requests sent while another process held the SQLite write lock that took over 1 s').toEqual([]);
  });
});

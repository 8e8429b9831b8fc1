/**
 * The request log: one lean row per request (no prompts, no answers), written by the batched
 * spend writer and read newest first by GET /admin/logs.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { setImmediate as nextTurn, setTimeout as pause } from 'node:timers/promises';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from './database.js';
import type { SpendRow } from '../governance/types.js';
import { pageSize } from './paging.js';
import { jsonForJsonb } from './postgres-text.js';
import { loopBusyShare, loopSample } from '../busy-poll.js';
import type { Selectable } from 'kysely';
import type { NewRequestLogRow, RequestLogTable, Schema } from './schema.js';

export interface RequestQuery {
  /** Epoch ms, inclusive. */
  from?: number;
  /** Epoch ms, inclusive. */
  to?: number;
  key_id?: string;
  team_id?: string;
  org_id?: string;
  end_user?: string;
  model?: string;
  provider?: string;
  /** An exact status, or a class: 2 for 2xx, 4 for 4xx, 5 for 5xx. */
  status?: number;
  status_class?: number;
  /** HIT, SEMANTIC_HIT, MISS, BYPASS, REFRESH; NONE for requests the cache did not take part in. */
  cache?: string;
  /** `name:value`: only requests carrying this tag. */
  tag?: string;
  error_code?: string;
  /** Default 100, at most 1000. */
  limit?: number;
  /** Only rows older than this id (the last id of the previous page). */
  before_id?: number;
}

export interface RequestRecord extends SpendRow {
  id: number;
}

/**
 * The request log's columns with their PostgreSQL types (jsonb_to_recordset needs them), in the
 * order rows are written.
 */
const COLUMNS = [
  ['request_id', 'text'],
  ['at', 'bigint'],
  ['key_id', 'text'],
  ['team_id', 'text'],
  ['org_id', 'text'],
  ['end_user', 'text'],
  ['model', 'text'],
  ['provider', 'text'],
  ['upstream_model', 'text'],
  ['prompt_tokens', 'integer'],
  ['completion_tokens', 'integer'],
  ['cost_usd', 'double precision'],
  ['latency_ms', 'integer'],
  ['status', 'integer'],
  ['cache', 'text'],
  ['tags', 'jsonb'],
  ['route', 'text'],
  ['stream', 'integer'],
  ['error_code', 'text'],
  ['ttft_ms', 'integer'],
  ['cached_tokens', 'integer'],
  ['attempts', 'integer'],
  ['trace_id', 'text'],
  ['request_body', 'text'],
  ['response_body', 'text'],
] as const satisfies readonly (readonly [keyof NewRequestLogRow, string])[];

const NAMES = COLUMNS.map(([name]) => name).join(', ');
const PG_FIELDS = sql.raw(COLUMNS.map(([name]) => (name === 'tags' ? 'tags::text' : name)).join(', '));
const PG_RECORD = sql.raw(COLUMNS.map(([name, type]) => `${name} ${type}`).join(', '));
/** SQLite: the sizes of the prepared multi-row inserts a batch is cut into, largest first. */
const SQLITE_STATEMENT_ROWS = [10, 1] as const;
/**
 * SQLite runs on the event loop, so the insert is cut into slices: it hands the loop back whenever
 * it has held it this long (checked after each 10-row statement, ~80 µs), and also before its
 * first statement and after its last, which separates it from the transaction's other statements.
 */
const SQLITE_SLICE_MS = 0.1;
/**
 * With the writer behind or the loop saturated, slices are this long, back to back: each yield
 * lets a whole turn of requests run, and under load 0.1 ms slices stretched a batch over 2.5
 * times as many turns, its rows waiting in memory meanwhile (peak RSS 3-4 MB higher).
 */
const SQLITE_HURRIED_SLICE_MS = 0.25;
/**
 * Between slices the insert waits this long, unless hurried or past MAX_PACED_MS. A request
 * crosses the event loop four times or so (its body, the upstream call, the answer, the reply) in
 * well under a millisecond; slices back to back (a 500-row batch is ~4 ms of them) met every
 * crossing of the requests of those milliseconds, and at c=1 each of five or six requests in a
 * row lost about 1 ms: every 500 requests, a burst over the p99 budget. Paced, a request meets
 * one slice at most.
 */
const SQLITE_PAUSE_MS = 1;
/**
 * Pacing is for a loop with time to spare. When the loop was busier than this through a pause
 * (saturation: requests fill every turn), the rest of the batch is hurried: there a pause
 * lasts a whole busy turn, a paced batch ~100 ms, and its rows wait in memory that long.
 */
const BUSY_LOOP = 0.8;
/**
 * A batch's transaction holds SQLite's write lock, and another process on the same file waits
 * 20 ms for it (database.ts) before its write fails busy: pacing stops once the insert has run
 * this long, and the rest of the batch goes back to back, in 0.1 ms slices (~2 ms of a 500-row
 * batch at c=1).
 */
const MAX_PACED_MS = 15;

/**
 * How a batch of request rows is inserted. Building a statement with Kysely, a bound value per
 * column per row, cost the gateway 30-60 µs of CPU per row; these cost a few µs.
 * - SQLite: prepared statements on Kysely's own connection (so inside its transaction), reused
 *   across batches, each inserting 10 rows or 1, in slices of SQLITE_SLICE_MS paced SQLITE_PAUSE_MS
 *   apart for up to MAX_PACED_MS. Other queries wait meanwhile (up to ~20 ms for a 500-row batch):
 *   Kysely holds its one connection for the transaction.
 * - PostgreSQL: the batch as ONE parameter, its rows' JSON, unpacked by jsonb_to_recordset.
 */
export class RequestLogInserter {
  readonly #statements = new Map<number, BetterSqlite3.Statement>();
  readonly #turnMs: number | undefined;
  readonly #pauseMs: number;
  readonly #maxPacedMs: number;

  /**
   * SQLite: `turnMs`, how long an insert may hold the event loop at a time (default
   * SQLITE_SLICE_MS, SQLITE_HURRIED_SLICE_MS once hurried); `pauseMs`, the wait between two slices
   * when not `behind` and the loop is not saturated (SQLITE_PAUSE_MS), during the insert's first
   * `maxPacedMs` (MAX_PACED_MS).
   */
  constructor(
    private readonly database: Database,
    { turnMs, pauseMs = SQLITE_PAUSE_MS, maxPacedMs = MAX_PACED_MS }: { turnMs?: number; pauseMs?: number; maxPacedMs?: number } = {},
  ) {
    this.#turnMs = turnMs;
    this.#pauseMs = pauseMs;
    this.#maxPacedMs = maxPacedMs;
  }

  /** `behind`: whether the writer has more rows waiting than it keeps up with paced (SQLite then inserts with no pause). */
  async insert(trx: Transaction<Schema>, rows: readonly SpendRow[], behind: () => boolean = notBehind): Promise<void> {
    const sqlite = this.database.sqlite;
    if (sqlite) {
      await this.#insertSqlite(sqlite, rows, behind);
      return;
    }
    // jsonb refuses the escapes JSON.stringify writes for NUL and lone surrogates (see postgres-text.ts).
    const json = jsonForJsonb(JSON.stringify(rows.map(toColumns)));
    await sql`insert into request_log (${sql.raw(NAMES)}) select ${PG_FIELDS} from jsonb_to_recordset(${json}::jsonb) as r(${PG_RECORD})`.execute(trx);
  }

  async #insertSqlite(sqlite: BetterSqlite3.Database, rows: readonly SpendRow[], behind: () => boolean): Promise<void> {
    await nextTurn();
    let turnStart = performance.now();
    const pacedUntil = turnStart + this.#maxPacedMs;
    // Once the writer is behind or the loop saturated: longer slices, back to back, for the rest of the batch.
    let hurried = false;
    let i = 0;
    for (const size of SQLITE_STATEMENT_ROWS) {
      for (; i + size <= rows.length; i += size) {
        const values: unknown[] = [];
        for (let j = i; j < i + size; j++) pushValues(values, rows[j]!);
        this.#statement(sqlite, size).run(values);
        const now = performance.now();
        if (now - turnStart < (this.#turnMs ?? (hurried ? SQLITE_HURRIED_SLICE_MS : SQLITE_SLICE_MS))) continue;
        hurried ||= behind();
        if (!hurried && this.#pauseMs > 0 && now < pacedUntil) {
          const before = loopSample();
          await pause(this.#pauseMs);
          hurried = loopBusyShare(before) >= BUSY_LOOP;
        } else {
          await nextTurn();
        }
        turnStart = performance.now();
      }
    }
    await nextTurn();
  }

  #statement(sqlite: BetterSqlite3.Database, rows: number): BetterSqlite3.Statement {
    let statement = this.#statements.get(rows);
    if (!statement) {
      const row = `(${COLUMNS.map(() => '?').join(', ')})`;
      statement = sqlite.prepare(`insert into request_log (${NAMES}) values ${Array.from({ length: rows }, () => row).join(', ')}`);
      this.#statements.set(rows, statement);
    }
    return statement;
  }
}

const notBehind = (): boolean => false;

/** A row's values in COLUMNS order (SQLite: tags as JSON text). */
function pushValues(values: unknown[], row: SpendRow): unknown[] {
  values.push(
    row.request_id,
    row.at,
    row.key_id,
    row.team_id,
    row.org_id,
    row.end_user,
    row.model,
    row.provider,
    row.upstream_model,
    row.prompt_tokens,
    row.completion_tokens,
    row.cost_usd,
    Math.round(row.latency_ms),
    row.status,
    row.cache,
    JSON.stringify(row.tags),
    row.route ?? null,
    streamFlag(row),
    row.error_code ?? null,
    roundOrNull(row.ttft_ms),
    row.cached_tokens ?? null,
    row.attempts ?? null,
    row.trace_id ?? null,
    row.request_body ?? null,
    row.response_body ?? null,
  );
  return values;
}

/** Field by field: a caller's row may carry more than SpendRow, and the table has no column for it. */
function toColumns(row: SpendRow): Omit<NewRequestLogRow, 'tags'> & { tags: readonly string[] } {
  return {
    request_id: row.request_id,
    at: row.at,
    key_id: row.key_id,
    team_id: row.team_id,
    org_id: row.org_id,
    end_user: row.end_user,
    model: row.model,
    provider: row.provider,
    upstream_model: row.upstream_model,
    prompt_tokens: row.prompt_tokens,
    completion_tokens: row.completion_tokens,
    cost_usd: row.cost_usd,
    // A measured duration may be fractional; the column is an integer.
    latency_ms: Math.round(row.latency_ms),
    status: row.status,
    cache: row.cache,
    tags: row.tags,
    route: row.route ?? null,
    stream: streamFlag(row),
    error_code: row.error_code ?? null,
    ttft_ms: roundOrNull(row.ttft_ms),
    cached_tokens: row.cached_tokens ?? null,
    attempts: row.attempts ?? null,
    trace_id: row.trace_id ?? null,
    request_body: row.request_body ?? null,
    response_body: row.response_body ?? null,
  };
}

/** Booleans are 0/1 in both backends' integer column. */
function streamFlag(row: SpendRow): number | null {
  return row.stream === undefined || row.stream === null ? null : row.stream ? 1 : 0;
}

function roundOrNull(ms: number | null | undefined): number | null {
  return ms === null || ms === undefined ? null : Math.round(ms);
}

/** Newest first. */
export async function listRequests({ db, backend }: Database, query: RequestQuery = {}): Promise<RequestRecord[]> {
  let select = db.selectFrom('request_log').selectAll();
  if (query.from !== undefined) select = select.where('at', '>=', query.from);
  if (query.to !== undefined) select = select.where('at', '<=', query.to);
  if (query.before_id !== undefined) select = select.where('id', '<', query.before_id);
  if (query.status !== undefined) select = select.where('status', '=', query.status);
  if (query.status_class !== undefined) select = select.where('status', '>=', query.status_class * 100).where('status', '<', query.status_class * 100 + 100);
  for (const column of ['key_id', 'team_id', 'org_id', 'end_user', 'model', 'provider', 'error_code'] as const) {
    const value = query[column];
    if (value !== undefined) select = select.where(column, '=', value);
  }
  if (query.cache !== undefined) select = query.cache === 'NONE' ? select.where('cache', 'is', null) : select.where('cache', '=', query.cache);
  if (query.tag !== undefined) select = select.where(hasTag(backend, query.tag));
  const rows = await select.orderBy('id', 'desc').limit(pageSize(query.limit)).execute();
  return rows.map(toRecord);
}

/** The rows of one request id (usually one; a client may reuse its x-request-id), newest first. */
export async function requestsById(db: Kysely<Schema>, requestId: string): Promise<RequestRecord[]> {
  const rows = await db.selectFrom('request_log').selectAll().where('request_id', '=', requestId).orderBy('id', 'desc').limit(100).execute();
  return rows.map(toRecord);
}

/**
 * Deletes rows older than `before` (epoch ms), at most `batch` rows a statement, so no statement
 * holds the table (SQLite: the write lock; PostgreSQL: many row locks) for long and writers
 * interleave. Resolves with the rows deleted.
 */
export async function deleteRequestsBefore(db: Kysely<Schema>, before: number, batch = 5_000): Promise<number> {
  let deleted = 0;
  for (;;) {
    const ids = db.selectFrom('request_log').select('id').where('at', '<', before).orderBy('id').limit(batch);
    const result = await db.deleteFrom('request_log').where('id', 'in', ids).executeTakeFirst();
    const count = Number(result.numDeletedRows);
    deleted += count;
    if (count < batch) return deleted;
    // A breath between statements, for the request-log writer and the admin API.
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Tags are a JSON array in a text column: membership through each backend's JSON functions. */
function hasTag(backend: Database['backend'], tag: string) {
  return backend === 'sqlite'
    ? sql<boolean>`exists (select 1 from json_each(request_log.tags) where json_each.value = ${tag})`
    : sql<boolean>`(request_log.tags::jsonb ? ${tag})`;
}

type LogRow = Selectable<RequestLogTable>;

function toRecord(row: LogRow): RequestRecord {
  return {
    ...row,
    tags: JSON.parse(row.tags) as string[],
    stream: row.stream === null ? null : row.stream === 1,
    // Rows written before migration 002 have none of its columns.
    cached_tokens: row.cached_tokens ?? 0,
    attempts: row.attempts ?? 0,
  };
}

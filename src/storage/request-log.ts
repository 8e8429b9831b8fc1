/**
 * The request log: one lean row per request (no prompts, no answers), written by the batched
 * spend writer and read newest first by GET /admin/logs.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from './database.js';
import type { SpendRow } from '../governance/types.js';
import { pageSize } from './paging.js';
import type { NewRequestLogRow, Schema } from './schema.js';

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
  status?: number;
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
] as const satisfies readonly (readonly [keyof NewRequestLogRow, string])[];

const NAMES = COLUMNS.map(([name]) => name).join(', ');
const PG_FIELDS = sql.raw(COLUMNS.map(([name]) => (name === 'tags' ? 'tags::text' : name)).join(', '));
const PG_RECORD = sql.raw(COLUMNS.map(([name, type]) => `${name} ${type}`).join(', '));
/** SQLite: the sizes of the prepared multi-row inserts a batch is cut into, largest first. */
const SQLITE_STATEMENT_ROWS = [100, 20, 5, 1] as const;

/**
 * How a batch of request rows is inserted. Building a statement with Kysely, a bound value per
 * column per row, cost the gateway 30-60 µs of CPU per row; these cost a few µs.
 * - SQLite: prepared statements on Kysely's own connection (so inside its transaction), reused
 *   across batches, each inserting 100, 20, 5 or 1 rows.
 * - PostgreSQL: the batch as ONE parameter, its rows' JSON, unpacked by jsonb_to_recordset.
 */
export class RequestLogInserter {
  readonly #statements = new Map<number, BetterSqlite3.Statement>();

  constructor(private readonly database: Database) {}

  async insert(trx: Transaction<Schema>, rows: readonly SpendRow[]): Promise<void> {
    const sqlite = this.database.sqlite;
    if (sqlite) {
      this.#insertSqlite(sqlite, rows);
      return;
    }
    const json = JSON.stringify(rows.map(toColumns));
    await sql`insert into request_log (${sql.raw(NAMES)}) select ${PG_FIELDS} from jsonb_to_recordset(${json}::jsonb) as r(${PG_RECORD})`.execute(trx);
  }

  #insertSqlite(sqlite: BetterSqlite3.Database, rows: readonly SpendRow[]): void {
    let i = 0;
    for (const size of SQLITE_STATEMENT_ROWS) {
      for (; i + size <= rows.length; i += size) {
        const values: unknown[] = [];
        for (let j = i; j < i + size; j++) pushValues(values, rows[j]!);
        this.#statement(sqlite, size).run(values);
      }
    }
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
  };
}

/** Newest first. */
export async function listRequests(db: Kysely<Schema>, query: RequestQuery = {}): Promise<RequestRecord[]> {
  let select = db.selectFrom('request_log').selectAll();
  if (query.from !== undefined) select = select.where('at', '>=', query.from);
  if (query.to !== undefined) select = select.where('at', '<=', query.to);
  if (query.before_id !== undefined) select = select.where('id', '<', query.before_id);
  if (query.status !== undefined) select = select.where('status', '=', query.status);
  for (const column of ['key_id', 'team_id', 'org_id', 'end_user', 'model'] as const) {
    const value = query[column];
    if (value !== undefined) select = select.where(column, '=', value);
  }
  const rows = await select.orderBy('id', 'desc').limit(pageSize(query.limit)).execute();
  return rows.map((row) => ({ ...row, tags: JSON.parse(row.tags) as string[] }));
}

/**
 * The request log: one lean row per request (no prompts, no answers), written by the batched
 * spend writer and read newest first by GET /admin/logs.
 */
import type { Kysely, Transaction } from 'kysely';
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

/** 17 columns a row: well under SQLite's 32766 and PostgreSQL's 65535 bound parameters per statement. */
const ROWS_PER_INSERT = 500;

export async function insertRequests(trx: Transaction<Schema>, rows: readonly SpendRow[]): Promise<void> {
  for (let start = 0; start < rows.length; start += ROWS_PER_INSERT) {
    await trx.insertInto('request_log').values(rows.slice(start, start + ROWS_PER_INSERT).map(toColumns)).execute();
  }
}

/** Field by field: a caller's row may carry more than SpendRow, and the table has no column for it. */
function toColumns(row: SpendRow): NewRequestLogRow {
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
    tags: JSON.stringify(row.tags),
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

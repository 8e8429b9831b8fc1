/**
 * The two traces every governance write leaves, inside its own transaction: an audit entry (who
 * changed what, before and after) and a bump of the revision counter, the one cheap value other
 * instances poll to learn that something changed.
 */
import type { Kysely, Transaction } from 'kysely';
import type { AuditEntry } from '../governance/types.js';
import { pageSize } from './paging.js';
import type { Schema } from './schema.js';

export interface AuditQuery {
  target_type?: AuditEntry['target_type'];
  target_id?: string;
  /** Epoch ms, inclusive. */
  from?: number;
  /** Epoch ms, inclusive. */
  to?: number;
  /** Default 100, at most 1000. */
  limit?: number;
  /** Only entries older than this id (the last id of the previous page). */
  before_id?: number;
}

export interface AuditRecord extends AuditEntry {
  id: number;
}

export async function recordChange(trx: Transaction<Schema>, entry: AuditEntry): Promise<void> {
  await trx
    .insertInto('audit_log')
    .values({
      at: entry.at,
      actor: entry.actor,
      action: entry.action,
      target_type: entry.target_type,
      target_id: entry.target_id,
      before: entry.before === undefined || entry.before === null ? null : JSON.stringify(entry.before),
      after: entry.after === undefined || entry.after === null ? null : JSON.stringify(entry.after),
    })
    .execute();
  await trx
    .updateTable('revision')
    .set((eb) => ({ value: eb('value', '+', 1) }))
    .where('id', '=', 1)
    .execute();
}

export async function readRevision(db: Kysely<Schema>): Promise<number> {
  const row = await db.selectFrom('revision').select('value').where('id', '=', 1).executeTakeFirstOrThrow();
  return row.value;
}

/** Newest first. */
export async function listAudit(db: Kysely<Schema>, query: AuditQuery = {}): Promise<AuditRecord[]> {
  const { target_type, target_id, from, to, before_id } = query;
  let select = db.selectFrom('audit_log').selectAll();
  if (target_type !== undefined) select = select.where('target_type', '=', target_type);
  if (target_id !== undefined) select = select.where('target_id', '=', target_id);
  if (from !== undefined) select = select.where('at', '>=', from);
  if (to !== undefined) select = select.where('at', '<=', to);
  if (before_id !== undefined) select = select.where('id', '<', before_id);
  const rows = await select.orderBy('id', 'desc').limit(pageSize(query.limit)).execute();
  return rows.map((row) => ({
    id: row.id,
    at: row.at,
    actor: row.actor,
    action: row.action,
    target_type: row.target_type as AuditEntry['target_type'],
    target_id: row.target_id,
    before: row.before === null ? null : (JSON.parse(row.before) as unknown),
    after: row.after === null ? null : (JSON.parse(row.after) as unknown),
  }));
}

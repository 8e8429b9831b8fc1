/**
 * Create, read, update and delete for one governance entity table (orgs, teams, keys or users),
 * written once for all four from their EntitySpec. Every write is one transaction that also
 * records the change (audit entry + revision bump), and constraint violations come out as
 * ConflictError with a message an operator can act on.
 */
import type { Kysely, Transaction } from 'kysely';
import type { AuditEntry } from '../governance/types.js';
import { recordChange } from './audit.js';
import type { Database } from './database.js';
import type { EntitySpec } from './entity-codec.js';
import { ConflictError, NotFoundError, constraintViolation, violationDetail } from './errors.js';
import type { EntityTable, Schema } from './schema.js';

/**
 * The database as the generic code below sees it. Kysely cannot type a query whose table is chosen
 * at run time, so the four entity tables appear here with only the column all of them share; the
 * spec's codec is what knows their other columns.
 */
type EntityDb = Omit<Schema, EntityTable> & Record<EntityTable, { id: string }>;

/** What an update may change: anything but the id and the creation time. */
export type Patch<R> = Partial<Omit<R, 'id' | 'created_at'>>;

type Operation = 'create' | 'update' | 'delete';

export class EntityRepo<T extends EntityTable, R extends { id: string; created_at: number; updated_at: number }> {
  private readonly table: EntityTable;

  constructor(
    private readonly database: Database,
    private readonly spec: EntitySpec<T, R>,
  ) {
    this.table = spec.table;
  }

  async list(): Promise<R[]> {
    const rows = await this.view(this.database.db).selectFrom(this.table).selectAll().orderBy('id').execute();
    return rows.map((row) => this.spec.fromRow(row as Schema[T]));
  }

  async get(id: string): Promise<R | undefined> {
    return this.read(this.view(this.database.db), id, false);
  }

  /** Stores the record as given (the caller stamps created_at / updated_at). */
  async create(record: R, actor: string): Promise<R> {
    await this.write('create', record.id, record, async (trx) => {
      await this.view(trx).insertInto(this.table).values(this.spec.toRow(record)).execute();
      await recordChange(trx, this.change(actor, `${this.spec.type}.create`, record.id, null, record));
    });
    return record;
  }

  /**
   * Applies the patch (undefined fields are left alone) and returns the updated record; updated_at
   * becomes now unless the patch sets it. `action` names the change in the audit log (`key.rotate`).
   */
  /**
   * `check` sees the record as the transaction read it (locked on PostgreSQL; SQLite runs one
   * transaction at a time) and may throw to refuse the change: for a change computed from an
   * earlier read that must not have been overtaken.
   */
  async update(id: string, patch: Patch<R>, actor: string, action = `${this.spec.type}.update`, check?: (before: R) => void): Promise<R> {
    const changes = Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined)) as Patch<R>;
    return this.write('update', id, changes as Partial<R>, async (trx) => {
      const before = await this.read(this.view(trx), id, true);
      if (!before) throw this.notFound(id);
      check?.(before);
      const after: R = { ...before, updated_at: Date.now(), ...changes, id, created_at: before.created_at };
      await this.view(trx).updateTable(this.table).set(this.spec.toRow(after)).where('id', '=', id).execute();
      await recordChange(trx, this.change(actor, action, id, before, after));
      return after;
    });
  }

  /** Deletes and returns the record; ConflictError while other entities still reference it. */
  async delete(id: string, actor: string): Promise<R> {
    return this.write('delete', id, {}, async (trx) => {
      const before = await this.read(this.view(trx), id, true);
      if (!before) throw this.notFound(id);
      await this.view(trx).deleteFrom(this.table).where('id', '=', id).execute();
      await recordChange(trx, this.change(actor, `${this.spec.type}.delete`, id, before, null));
      return before;
    });
  }

  private view(db: Kysely<Schema>): Kysely<EntityDb> {
    return db as unknown as Kysely<EntityDb>;
  }

  /** `lock`: on PostgreSQL, hold the row until the transaction ends, so concurrent updates do not overwrite each other. */
  private async read(db: Kysely<EntityDb>, id: string, lock: boolean): Promise<R | undefined> {
    const row = await db
      .selectFrom(this.table)
      .selectAll()
      .where('id', '=', id)
      .$if(lock && this.database.backend === 'postgres', (q) => q.forUpdate())
      .executeTakeFirst();
    return row && this.spec.fromRow(row as Schema[T]);
  }

  private async write<V>(op: Operation, id: string, fields: Partial<R>, body: (trx: Transaction<Schema>) => Promise<V>): Promise<V> {
    try {
      return await this.database.db.transaction().execute(body);
    } catch (err) {
      throw this.conflict(err, op, id, fields) ?? err;
    }
  }

  /** The ConflictError a constraint violation means for this operation, or undefined for any other error. */
  private conflict(err: unknown, op: Operation, id: string, fields: Partial<R>): ConflictError | undefined {
    const { type, parent, children } = this.spec;
    switch (constraintViolation(err)) {
      case 'foreign_key':
        if (op === 'delete') return new ConflictError(`${type} '${id}' still has ${children?.what ?? 'references'}; ${children?.remedy ?? 'remove them first'}`);
        return new ConflictError(`${parent?.type ?? 'parent'} '${String(parent && fields[parent.column])}' does not exist`);
      case 'unique':
        if (violationDetail(err).includes('key_hash')) return new ConflictError('another key already has this key_hash');
        return new ConflictError(`${type} '${id}' already exists`);
      default:
        return undefined;
    }
  }

  private notFound(id: string): NotFoundError {
    return new NotFoundError(`${this.spec.type} '${id}' not found`);
  }

  private change(actor: string, action: string, id: string, before: R | null, after: R | null): AuditEntry {
    return { at: Date.now(), actor, action, target_type: this.spec.type, target_id: id, before: this.redact(before), after: this.redact(after) };
  }

  /** The record as the audit log keeps it: without the secret fields (key hashes). */
  private redact(record: R | null): Partial<R> | null {
    if (!record || !this.spec.secret) return record;
    const copy: Partial<R> = { ...record };
    for (const field of this.spec.secret) delete copy[field];
    return copy;
  }
}

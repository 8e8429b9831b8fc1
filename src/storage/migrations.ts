/**
 * Versioned schema migrations, applied by openDatabase. The migrations live in code (a static
 * provider, not a folder Kysely reads) so they ship inside dist/ with nothing to copy. A migration
 * is never edited once released: a change is a new entry, named so it sorts after the others.
 *
 * Column types are the portable subset both backends read the same way: text; integer / bigint
 * (SQLite gives both INTEGER affinity); double precision (REAL in SQLite); epoch-millisecond
 * timestamps; JSON as text; booleans as 0/1.
 */
import { Migrator, sql, type Kysely, type Migration } from 'kysely';

export type Backend = 'sqlite' | 'postgres';

/**
 * Migrations see the database untyped: they describe the tables as they were when written, not as
 * the current Schema says.
 */
type AnyDb = Kysely<unknown>;

const MEASURE_COLUMNS = ['requests', 'errors', 'prompt_tokens', 'completion_tokens', 'cache_hits', 'unpriced'] as const;

function governance001(backend: Backend): Migration {
  // A growing integer primary key: SQLite's AUTOINCREMENT never reuses an id; bigserial is PostgreSQL's.
  const serialType = backend === 'sqlite' ? 'integer' : 'bigserial';

  const policyTable = (db: AnyDb, name: string) =>
    db.schema
      .createTable(name)
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('models', 'text')
      .addColumn('budget', 'text')
      .addColumn('limits', 'text')
      .addColumn('regions', 'text')
      .addColumn('metadata', 'text')
      .addColumn('expires_at', 'bigint')
      .addColumn('blocked', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull());

  const rollupTable = (db: AnyDb, name: string) => {
    let table = db.schema.createTable(name);
    for (const column of MEASURE_COLUMNS) table = table.addColumn(column, 'bigint', (c) => c.notNull().defaultTo(0));
    return table.addColumn('cost_usd', 'double precision', (c) => c.notNull().defaultTo(0));
  };

  return {
    async up(db: AnyDb): Promise<void> {
      await policyTable(db, 'orgs').addColumn('name', 'text', (c) => c.notNull()).execute();
      await policyTable(db, 'teams')
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('org_id', 'text', (c) => c.references('orgs.id'))
        .execute();
      await policyTable(db, 'keys')
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('team_id', 'text', (c) => c.references('teams.id'))
        .addColumn('key_hash', 'text', (c) => c.notNull().unique())
        .addColumn('key_hint', 'text', (c) => c.notNull())
        .addColumn('previous_hash', 'text')
        .addColumn('previous_expires_at', 'bigint')
        .addColumn('revoked_at', 'bigint')
        .execute();
      await policyTable(db, 'users').addColumn('name', 'text').execute();
      // Deleting a parent looks its children up by these (PostgreSQL does not index foreign keys itself).
      await db.schema.createIndex('teams_org_id').on('teams').column('org_id').execute();
      await db.schema.createIndex('keys_team_id').on('keys').column('team_id').execute();
      await db.schema.createIndex('keys_previous_hash').on('keys').column('previous_hash').execute();

      await db.schema
        .createTable('revision')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('value', 'bigint', (c) => c.notNull())
        .addCheckConstraint('revision_single_row', sql`id = 1`)
        .execute();
      await sql`insert into revision (id, value) values (1, 0)`.execute(db);

      await db.schema
        .createTable('audit_log')
        .addColumn('id', serialType, (c) => (backend === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('target_type', 'text', (c) => c.notNull())
        .addColumn('target_id', 'text', (c) => c.notNull())
        .addColumn('before', 'text')
        .addColumn('after', 'text')
        .execute();
      await db.schema.createIndex('audit_log_target').on('audit_log').columns(['target_type', 'target_id']).execute();
      await db.schema.createIndex('audit_log_at').on('audit_log').column('at').execute();

      await db.schema
        .createTable('request_log')
        .addColumn('id', serialType, (c) => (backend === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
        .addColumn('request_id', 'text', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('key_id', 'text')
        .addColumn('team_id', 'text')
        .addColumn('org_id', 'text')
        .addColumn('end_user', 'text')
        .addColumn('model', 'text')
        .addColumn('provider', 'text')
        .addColumn('upstream_model', 'text')
        .addColumn('prompt_tokens', 'integer', (c) => c.notNull())
        .addColumn('completion_tokens', 'integer', (c) => c.notNull())
        .addColumn('cost_usd', 'double precision')
        .addColumn('latency_ms', 'integer', (c) => c.notNull())
        .addColumn('status', 'integer', (c) => c.notNull())
        .addColumn('cache', 'text')
        .addColumn('tags', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('request_log_at').on('request_log').column('at').execute();
      await db.schema.createIndex('request_log_key_at').on('request_log').columns(['key_id', 'at']).execute();

      // '' rather than NULL in every dimension: NULLs never compare equal, so they could not take part in the key upserts use.
      await rollupTable(db, 'spend_daily')
        .addColumn('day', 'text', (c) => c.notNull())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('team_id', 'text', (c) => c.notNull())
        .addColumn('org_id', 'text', (c) => c.notNull())
        .addColumn('end_user', 'text', (c) => c.notNull())
        .addColumn('model', 'text', (c) => c.notNull())
        .addColumn('provider', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('spend_daily_pk', ['day', 'key_id', 'team_id', 'org_id', 'end_user', 'model', 'provider'])
        .execute();

      await rollupTable(db, 'spend_daily_tags')
        .addColumn('day', 'text', (c) => c.notNull())
        .addColumn('tag', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('spend_daily_tags_pk', ['day', 'tag'])
        .execute();
    },
  };
}

/**
 * The request log records every request (issue 7): what failed and why, time to first token,
 * attempts, cached tokens, the trace id, and optional redacted bodies; indexes for the admin
 * API's lookups by request id and team.
 */
const requestLog002: Migration = {
  async up(db: AnyDb) {
    const columns: [string, 'text' | 'integer'][] = [
      ['route', 'text'],
      ['stream', 'integer'],
      ['error_code', 'text'],
      ['ttft_ms', 'integer'],
      ['cached_tokens', 'integer'],
      ['attempts', 'integer'],
      ['trace_id', 'text'],
      ['request_body', 'text'],
      ['response_body', 'text'],
    ];
    // Nullable without defaults: adding them rewrites no existing row on either backend.
    for (const [name, type] of columns) await db.schema.alterTable('request_log').addColumn(name, type).execute();
    await db.schema.createIndex('request_log_request_id').on('request_log').column('request_id').execute();
    await db.schema.createIndex('request_log_team_at').on('request_log').columns(['team_id', 'at']).execute();
  },
};

/**
 * The ids of the spend batches written lately: a batch whose commit answer was lost (connection
 * cut) is retried under the same id, and the retry finds it here instead of counting it twice.
 */
const spendBatches003: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createTable('spend_batches')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('spend_batches_at').on('spend_batches').column('at').execute();
  },
};

/** Every migration, by name; Migrator applies them in name order. */
export function migrations(backend: Backend): Record<string, Migration> {
  return { '001_governance': governance001(backend), '002_request_log': requestLog002, '003_spend_batches': spendBatches003 };
}

/**
 * Brings the database to the latest version; a no-op when it is there already, and safe when
 * several instances start together. On PostgreSQL, Migrator takes an advisory lock.
 * `migrationSchema` pins Kysely's bookkeeping tables to one PostgreSQL schema (its existence check
 * otherwise looks in every schema). Kysely's SQLite adapter takes no lock (it assumes a single
 * connection), so there the whole run happens in one IMMEDIATE transaction: a second process
 * opening the same file waits for the first (busy_timeout), then finds the work done.
 */
export async function migrateToLatest(db: Kysely<unknown>, backend: Backend, migrationSchema?: string): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations(backend) },
    ...(migrationSchema ? { migrationTableSchema: migrationSchema } : {}),
    // On SQLite the transaction is ours (below); Kysely's would start too late to serialize anything.
    disableTransactions: backend === 'sqlite',
  });
  if (backend === 'sqlite') await sql`begin immediate`.execute(db);
  const { error, results } = await migrator.migrateToLatest();
  if (backend === 'sqlite') await sql.raw(error ? 'rollback' : 'commit').execute(db);
  if (error) {
    const failed = results?.find((result) => result.status === 'Error')?.migrationName;
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`database migration${failed ? ` ${failed}` : ''} failed: ${reason}`, { cause: error });
  }
}

/**
 * Opens the one database Switchyard keeps governance and spend in: SQLite (embedded, the default:
 * a file under ./data/) or PostgreSQL (shared by several instances), both behind Kysely, and brings
 * its schema up to date. Nothing on the request path waits on it, so a database that cannot be
 * reached fails start-up quickly and clearly rather than hanging.
 */
import { dirname, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import { ensureDir } from './ensure-dir.js';
import { constraintViolation } from './errors.js';
import { migrateToLatest, type Backend } from './migrations.js';
import type { Schema } from './schema.js';

export interface Database {
  db: Kysely<Schema>;
  backend: Backend;
  /** SQLite only: the connection Kysely uses, for the spend writer's prepared statements. */
  sqlite?: BetterSqlite3.Database;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** PostgreSQL only: keep every table in this schema (created when missing) instead of the default one. */
  pgSchema?: string;
  /** PostgreSQL only: an idle pooled connection failed (the pool drops it and opens a new one when next needed). */
  onError?: (err: Error) => void;
}

export const ACCEPTED_URLS = 'sqlite://./relative/path.db, sqlite:///absolute/path.db, sqlite::memory:, postgres://… or postgresql://…';

/**
 * How long SQLite waits for another process's lock before reporting the database busy: long while
 * opening (instances starting together migrate one after the other), then short. better-sqlite3
 * waits on the event loop, so a long wait would stall every request while another process holds
 * the file; the spend writer retries busy writes with its own backoff instead.
 */
const SQLITE_OPEN_BUSY_TIMEOUT_MS = 5_000;
const SQLITE_BUSY_TIMEOUT_MS = 20;
/** SQLite's page cache per connection, in KiB when negative (SQLite's own default, -2000). */
const SQLITE_CACHE_SIZE = -2000;
/** Lower-case only: it goes unquoted into search_path, where PostgreSQL folds case. */
const PG_SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export async function openDatabase(url: string, options: OpenOptions = {}): Promise<Database> {
  if (url === 'sqlite::memory:') return openSqlite(':memory:');
  if (url.startsWith('sqlite://')) {
    const path = url.slice('sqlite://'.length);
    if (path === '') throw new Error(`database URL '${url}' names no file; accepted forms: ${ACCEPTED_URLS}`);
    return openSqlite(resolve(process.cwd(), path));
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return openPostgres(url, options);
  throw new Error(`unsupported database URL '${redactUrl(url)}'; accepted forms: ${ACCEPTED_URLS}`);
}

/** The URL with any password replaced by ***, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password === '') return url;
    parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@]*@/, '//$1:***@');
  }
}

async function openSqlite(file: string): Promise<Database> {
  let sqlite: BetterSqlite3.Database | undefined;
  try {
    if (file !== ':memory:') ensureDir(dirname(file));
    sqlite = new BetterSqlite3(file, { timeout: SQLITE_OPEN_BUSY_TIMEOUT_MS });
    // WAL lets readers (the refresher, reports) run while the spend writer writes.
    sqlite.pragma('journal_mode = WAL');
    // In WAL mode NORMAL syncs at checkpoints, not at every commit: a crash or power loss may undo
    // the last batches but never corrupts the file, and the spend writer's commits stop blocking
    // the event loop on fsync.
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    // better-sqlite3 builds SQLite with a 16 MB page cache where SQLite's own default is 2 MB. The
    // gateway mostly appends (request log, spend rollups), so the bigger cache only filled with
    // pages written once: ~20 MB more RSS under load. Reads that miss hit the OS file cache.
    sqlite.pragma(`cache_size = ${SQLITE_CACHE_SIZE}`);
    // Temporary storage in memory. Each multi-row insert of a spend batch after the first one
    // rewrites pages the batch already changed, so SQLite keeps a statement journal to undo that
    // statement alone; past 64 KiB it spills to a new file in /var/tmp, which it writes, unlinks
    // and closes again: ~160 writes and a file created per batch, on the event loop.
    sqlite.pragma('temp_store = MEMORY');
  } catch (err) {
    sqlite?.close();
    throw new Error(`cannot open SQLite database ${file}: ${(err as Error).message}`, { cause: err });
  }
  const db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: sqlite }) });
  const database = await finishOpening({ db, backend: 'sqlite', sqlite, close: () => db.destroy() }, () => migrateToLatest(db as Kysely<unknown>, 'sqlite'));
  sqlite.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
  return database;
}

async function openPostgres(url: string, options: OpenOptions): Promise<Database> {
  const schema = options.pgSchema;
  if (schema !== undefined && !PG_SCHEMA_NAME.test(schema)) {
    throw new Error(`invalid PostgreSQL schema name '${schema}' (lower-case letters, digits and _, not starting with a digit)`);
  }
  const { createPool } = await import('./postgres-pool.js');
  const pool = createPool(url, schema, options.onError);
  const { PostgresTextPlugin } = await import('./postgres-text.js');
  const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }), plugins: [new PostgresTextPlugin()] });
  const database: Database = { db, backend: 'postgres', close: () => db.destroy() };

  try {
    await sql`select 1`.execute(db);
  } catch (err) {
    await database.close();
    throw new Error(`cannot connect to database ${redactUrl(url)}: ${(err as Error).message}`, { cause: err });
  }
  return finishOpening(database, async () => {
    if (schema) await createSchema(db, schema);
    const current = await sql<{ name: string | null }>`select current_schema() as name`.execute(db);
    const migrationSchema = current.rows[0]?.name;
    if (!migrationSchema) throw new Error('the connection has no current schema (search_path names none that exists)');
    await migrateToLatest(db as Kysely<unknown>, 'postgres', migrationSchema);
  });
}

/** Creates the schema unless it exists; another instance creating it at the same moment is fine too. */
async function createSchema(db: Kysely<Schema>, schema: string): Promise<void> {
  try {
    await db.schema.createSchema(schema).ifNotExists().execute();
  } catch (err) {
    // IF NOT EXISTS does not cover a concurrent creation: that one surfaces as a unique violation on the catalog.
    if (constraintViolation(err) !== 'unique') throw err;
  }
}

/** Runs the migrations; a database that cannot be brought up to date is closed, not leaked. */
async function finishOpening(database: Database, migrate: () => Promise<void>): Promise<Database> {
  try {
    await migrate();
    return database;
  } catch (err) {
    await database.close();
    throw err;
  }
}

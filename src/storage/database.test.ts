import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase, redactUrl } from './database.js';

const DATABASE_URL = process.env.DATABASE_URL;
if (!DATABASE_URL) console.warn('[database.test] DATABASE_URL is not set: the tests against a real PostgreSQL are skipped.');

const dir = mkdtempSync(join(tmpdir(), 'switchyard-database-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('openDatabase URLs', () => {
  it('refuses a URL it does not know, naming the accepted forms', async () => {
    await expect(openDatabase('mysql://root:pw@localhost/db')).rejects.toThrow(
      "unsupported database URL 'mysql://root:***@localhost/db'; accepted forms: sqlite://./relative/path.db, sqlite:///absolute/path.db, sqlite::memory:, postgres://… or postgresql://…",
    );
    await expect(openDatabase('./data/switchyard.db')).rejects.toThrow(/accepted forms: sqlite:\/\//);
    await expect(openDatabase('sqlite://')).rejects.toThrow(/names no file; accepted forms/);
  });

  it('redacts passwords and leaves URLs without one alone', () => {
    expect(redactUrl('postgres://app:s3cret@db:5432/gw')).toBe('postgres://app:***@db:5432/gw');
    expect(redactUrl('postgres://app@db/gw')).toBe('postgres://app@db/gw');
    expect(redactUrl('weird://app:s3cret@[bad')).toBe('weird://app:***@[bad');
  });

  it('refuses a PostgreSQL schema name that search_path would not read back as written', async () => {
    await expect(openDatabase('postgres://postgres@127.0.0.1:1/x', { pgSchema: 'Bad-Name' })).rejects.toThrow(/invalid PostgreSQL schema name 'Bad-Name'/);
  });
});

describe('openDatabase on SQLite', () => {
  it('resolves a relative path from the working directory, creating its folder, in WAL mode with foreign keys on, a 2 MB page cache and temporary storage in memory', async () => {
    const file = join(dir, 'nested', 'deeper', 'relative.db');
    const database = await openDatabase(`sqlite://${relative(process.cwd(), file)}`);
    try {
      expect(database.backend).toBe('sqlite');
      expect(existsSync(file)).toBe(true);
      expect((await sql<{ journal_mode: string }>`pragma journal_mode`.execute(database.db)).rows[0]?.journal_mode).toBe('wal');
      expect((await sql<{ foreign_keys: number }>`pragma foreign_keys`.execute(database.db)).rows[0]?.foreign_keys).toBe(1);
      // better-sqlite3's build default is -16000 (16 MB), which a busy request log fills.
      expect((await sql<{ cache_size: number }>`pragma cache_size`.execute(database.db)).rows[0]?.cache_size).toBe(-2000);
      // 2: MEMORY (statement journals and sorts stay off the disk).
      expect((await sql<{ temp_store: number }>`pragma temp_store`.execute(database.db)).rows[0]?.temp_store).toBe(2);
    } finally {
      await database.close();
    }
  });

  it('opens an absolute path and an in-memory database, migrated', async () => {
    for (const url of [`sqlite://${join(dir, 'absolute.db')}`, 'sqlite::memory:']) {
      const database = await openDatabase(url);
      try {
        expect(await database.db.selectFrom('revision').select('value').executeTakeFirst()).toEqual({ value: 0 });
      } finally {
        await database.close();
      }
    }
  });

  it('says which file it could not open', async () => {
    const notADirectory = join(dir, 'plain-file');
    writeFileSync(notADirectory, '');
    await expect(openDatabase(`sqlite://${notADirectory}/x.db`)).rejects.toThrow(`cannot open SQLite database ${notADirectory}/x.db`);
    const notADatabase = join(dir, 'not-a-database.db');
    writeFileSync(notADatabase, 'x'.repeat(4_096));
    await expect(openDatabase(`sqlite://${notADatabase}`)).rejects.toThrow(`cannot open SQLite database ${notADatabase}: file is not a database`);
  });
});

describe('openDatabase on an unreachable PostgreSQL', () => {
  it('fails at once on a refused connection, naming the URL without its password', async () => {
    const error = await openDatabase('postgres://postgres:hunter2@127.0.0.1:1/x').catch((err: Error) => err);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/^cannot connect to database postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/x: .*ECONNREFUSED/);
    expect((error as Error).message).not.toContain('hunter2');
  });

  it('gives up on a server that accepts the connection but never answers, instead of hanging', async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      await expect(openDatabase(`postgres://postgres@127.0.0.1:${port}/x`)).rejects.toThrow(new RegExp(`^cannot connect to database postgres://postgres@127\\.0\\.0\\.1:${port}/x: .*timeout`));
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});

describe.skipIf(!DATABASE_URL)('openDatabase on PostgreSQL', () => {
  it('creates and uses its schema, and parses int8 as numbers for its own pool only', async () => {
    const pgSchema = `switchyard_test_${randomBytes(6).toString('hex')}`;
    const database = await openDatabase(DATABASE_URL!, { pgSchema });
    try {
      expect(database.backend).toBe('postgres');
      const tables = await sql<{ table_name: string }>`select table_name from information_schema.tables where table_schema = ${pgSchema} order by table_name`.execute(database.db);
      expect(tables.rows.map((row) => row.table_name)).toEqual(
        ['audit_log', 'keys', 'kysely_migration', 'kysely_migration_lock', 'orgs', 'request_log', 'revision', 'spend_batches', 'spend_daily', 'spend_daily_tags', 'teams', 'users'],
      );
      expect((await sql<{ n: unknown }>`select 9007199254740991::int8 as n`.execute(database.db)).rows[0]?.n).toBe(Number.MAX_SAFE_INTEGER);
      expect(pg.types.getTypeParser(20)('42')).toBe('42');
    } finally {
      await sql`drop schema ${sql.id(pgSchema)} cascade`.execute(database.db);
      await database.close();
    }
  });

  it('lets several instances open a fresh database at once: one migrates, the others find it done', async () => {
    const pgSchema = `switchyard_test_${randomBytes(6).toString('hex')}`;
    const opened = await Promise.allSettled(Array.from({ length: 4 }, () => openDatabase(DATABASE_URL!, { pgSchema })));
    const databases = opened.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    try {
      expect(opened.filter((result) => result.status === 'rejected')).toEqual([]);
      const migrations = await sql<{ name: string }>`select name from kysely_migration`.execute(databases[0]!.db);
      expect(migrations.rows).toEqual([{ name: '001_governance' }, { name: '002_request_log' }, { name: '003_spend_batches' }]);
    } finally {
      if (databases[0]) await sql`drop schema ${sql.id(pgSchema)} cascade`.execute(databases[0].db);
      for (const database of databases) await database.close();
    }
  });
});

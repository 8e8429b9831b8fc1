import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { openDatabase } from './database.js';
import { isDataError } from './errors.js';
import { RequestLogInserter } from './request-log.js';
import { writeSpend } from './spend.js';
import { spendRows } from './__fixtures__/spend-rows.js';

const DATABASE_URL = process.env.DATABASE_URL;
if (!DATABASE_URL) console.warn('[data-error.test] DATABASE_URL is not set: the PostgreSQL case is skipped.');

/** The error a real database raises for a spend batch holding `row`. */
async function refusal(url: string, over: Parameters<ReturnType<typeof spendRows>>[0], pgSchema?: string): Promise<unknown> {
  const database = await openDatabase(url, pgSchema ? { pgSchema } : {});
  try {
    await writeSpend(database.db, [spendRows(Date.UTC(2026, 11, 7))(over)], new RequestLogInserter(database), { id: randomUUID() });
    return undefined;
  } catch (err) {
    return err;
  } finally {
    if (pgSchema) await sql`drop schema ${sql.id(pgSchema)} cascade`.execute(database.db);
    await database.close();
  }
}

describe('isDataError and row-by-row writes', () => {
  it("recognises SQLite's refusal of a row's values, and not an outage", async () => {
    const refused = await refusal('sqlite::memory:', { cost_usd: Number.NaN });
    expect(refused).toBeDefined();
    expect(isDataError(refused)).toBe(true);
    expect(isDataError(Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' }))).toBe(false);
    expect(isDataError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(false);
    expect(isDataError(Object.assign(new Error('terminating connection'), { code: '57P01' }))).toBe(false);
    // pg throws TypeErrors on some broken connections: no driver code, so not the row's fault.
    expect(isDataError(new TypeError("Cannot read properties of null (reading 'handleCommandComplete')"))).toBe(false);
  });

  it('a row of a batch written row by row is skipped when the whole batch committed after all', async () => {
    const database = await openDatabase('sqlite::memory:');
    try {
      const row = spendRows(Date.UTC(2026, 11, 7));
      const rows = [row(), row()];
      const log = new RequestLogInserter(database);
      await writeSpend(database.db, rows, log, { id: 'batch-1' });
      // The writer took the lost answer for a refusal and went row by row: nothing is applied twice.
      await writeSpend(database.db, [rows[0]!], log, { id: 'batch-1/0' });
      await writeSpend(database.db, [rows[1]!], log, { id: 'batch-1/1' });
      const logged = await sql<{ n: number }>`select count(*) as n from request_log`.execute(database.db);
      expect(Number(logged.rows[0]!.n)).toBe(2);
      // A row whose batch never committed is written.
      await writeSpend(database.db, [row()], log, { id: 'batch-2/0' });
      expect(Number((await sql<{ n: number }>`select count(*) as n from request_log`.execute(database.db)).rows[0]!.n)).toBe(3);
    } finally {
      await database.close();
    }
  });

  it.skipIf(!DATABASE_URL)("recognises PostgreSQL's refusal of a row's values (a count past an integer column)", async () => {
    const refused = await refusal(DATABASE_URL!, { prompt_tokens: 5e9 }, `switchyard_test_${randomBytes(6).toString('hex')}`);
    expect((refused as { code?: string }).code).toBe('22003');
    expect(isDataError(refused)).toBe(true);
  });
});

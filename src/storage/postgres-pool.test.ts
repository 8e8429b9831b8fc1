import { afterAll, describe, expect, it } from 'vitest';
import { createPool } from './postgres-pool.js';

const DATABASE_URL = process.env.DATABASE_URL;
if (!DATABASE_URL) console.warn('[postgres-pool.test] DATABASE_URL is not set: the tests against a real PostgreSQL are skipped.');

describe.skipIf(!DATABASE_URL)('the PostgreSQL pool', () => {
  // One connection, so a poisoned one would be the one handed out next.
  const pool = DATABASE_URL ? createPool(DATABASE_URL, undefined, undefined, { queryTimeoutMs: 300, max: 1 }) : undefined;
  afterAll(() => pool?.end());

  it('drops a connection whose query timed out, so the next query gets a fresh one instead of waiting behind it', async () => {
    const first = await pool!.connect();
    const firstPid = (await first.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    await expect(first.query('select pg_sleep(10)')).rejects.toThrow('Query read timeout');
    first.release();

    // Kept, the connection would still be running pg_sleep: this query would time out behind it.
    const second = await pool!.connect();
    try {
      const { rows } = await second.query<{ pid: number; one: number }>('select pg_backend_pid() as pid, 1 as one');
      expect(rows[0]!.one).toBe(1);
      expect(rows[0]!.pid).not.toBe(firstPid);
    } finally {
      second.release();
    }
  });

  it('keeps a connection whose query failed for any other reason', async () => {
    const client = await pool!.connect();
    const pid = (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    await expect(client.query('select * from no_such_table_here')).rejects.toThrow(/does not exist/);
    client.release();
    const again = await pool!.connect();
    try {
      expect((await again.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid).toBe(pid);
    } finally {
      again.release();
    }
  });
});

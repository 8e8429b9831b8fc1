import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from './database.js';
import { listRequests, RequestLogInserter } from './request-log.js';
import { writeSpend } from './spend.js';
import { turnsDuring } from './__fixtures__/event-loop-turns.js';
import { spendRows } from './__fixtures__/spend-rows.js';

describe('RequestLogInserter on SQLite', () => {
  let dir: string;
  let database: Database;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'switchyard-request-log-'));
    database = await openDatabase(`sqlite://${join(dir, 'switchyard.db')}`);
  });
  afterAll(async () => {
    await database?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('hands the event loop back between statements once its time is up, and writes every row', async () => {
    const request = spendRows(Date.UTC(2026, 2, 1));
    const rows = Array.from({ length: 503 }, () => request());
    // A budget of 0: a turn after every statement (50 of 10 rows, 3 of 1), before the first and after the last.
    const turns = await turnsDuring(() => writeSpend(database.db, rows, new RequestLogInserter(database, { turnMs: 0, pauseMs: 0 }), { id: randomUUID() }));
    expect(turns).toBeGreaterThanOrEqual(53 + 2);
    const written = await listRequests(database, { limit: 1_000 });
    expect(written.map((row) => row.request_id).sort()).toEqual(rows.map((row) => row.request_id).sort());
  });

  it('pauses between slices while the writer keeps up, and stops pausing once it is behind', async () => {
    const request = spendRows(Date.UTC(2026, 2, 2));
    const inserter = new RequestLogInserter(database, { turnMs: 0, pauseMs: 150, maxPacedMs: Infinity });
    const timed = async (behind: () => boolean): Promise<number> => {
      const rows = Array.from({ length: 3 }, () => request());
      const start = performance.now();
      await writeSpend(database.db, rows, inserter, { id: randomUUID(), behind });
      const ms = performance.now() - start;
      const written = await listRequests(database, { limit: 1_000 });
      expect(written.map((row) => row.request_id)).toEqual(expect.arrayContaining(rows.map((row) => row.request_id)));
      return ms;
    };
    // Three 1-row statements, each followed by a pause: 450 ms.
    expect(await timed(() => false)).toBeGreaterThanOrEqual(440);
    // Behind from the start: no pause at all.
    expect(await timed(() => true)).toBeLessThan(300);
    // Behind after the first pause: asked before each pause until it says so, then no more pauses.
    let asked = 0;
    const ms = await timed(() => ++asked > 1);
    expect(asked).toBe(2);
    expect(ms).toBeGreaterThanOrEqual(140);
    expect(ms).toBeLessThan(440);
  });

  it('stops pausing for the rest of a batch once a pause found the event loop saturated', async () => {
    const request = spendRows(Date.UTC(2026, 2, 3));
    const rows = Array.from({ length: 3 }, () => request());
    // Other work fills every turn of the loop while the insert runs.
    let busy = true;
    const spin = (): void => {
      const until = performance.now() + 1;
      while (performance.now() < until);
      if (busy) setImmediate(spin);
    };
    setImmediate(spin);
    const start = performance.now();
    try {
      await writeSpend(database.db, rows, new RequestLogInserter(database, { turnMs: 0, pauseMs: 150, maxPacedMs: Infinity }), { id: randomUUID(), behind: () => false });
    } finally {
      busy = false;
    }
    const ms = performance.now() - start;
    // The first pause only (three without the loop's load: 450 ms).
    expect(ms).toBeGreaterThanOrEqual(140);
    expect(ms).toBeLessThan(440);
    const written = await listRequests(database, { limit: 1_000 });
    expect(written.map((row) => row.request_id)).toEqual(expect.arrayContaining(rows.map((row) => row.request_id)));
  });

  it('stops pausing once the insert has run maxPacedMs (the write lock is held meanwhile)', async () => {
    const request = spendRows(Date.UTC(2026, 2, 4));
    const rows = Array.from({ length: 5 }, () => request());
    const start = performance.now();
    await writeSpend(database.db, rows, new RequestLogInserter(database, { turnMs: 0, pauseMs: 100, maxPacedMs: 150 }), { id: randomUUID(), behind: () => false });
    const ms = performance.now() - start;
    // Pauses after the first two statements (at ~0 and ~100 ms), none after ~150 ms: five uncapped would be 500 ms.
    expect(ms).toBeGreaterThanOrEqual(190);
    expect(ms).toBeLessThan(390);
    const written = await listRequests(database, { limit: 1_000 });
    expect(written.map((row) => row.request_id)).toEqual(expect.arrayContaining(rows.map((row) => row.request_id)));
  });
});

import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { openDatabase } from './database.js';
import { jsonForJsonb, withoutNul } from './postgres-text.js';
import { listRequests, RequestLogInserter } from './request-log.js';
import { spendReport, writeSpend } from './spend.js';
import { spendRows } from './__fixtures__/spend-rows.js';

const DATABASE_URL = process.env.DATABASE_URL;
if (!DATABASE_URL) console.warn('[postgres-text.test] DATABASE_URL is not set: the tests against a real PostgreSQL are skipped.');

describe('withoutNul and jsonForJsonb', () => {
  it('replace NUL with U+FFFD, and leave other text as it is (the same string)', () => {
    expect(withoutNul('a\u0000b\u0000')).toBe('a\uFFFDb\uFFFD');
    const plain = 'no nul here';
    expect(withoutNul(plain)).toBe(plain);
  });

  it("replace JSON's NUL escape, but not an escaped backslash followed by the text u0000", () => {
    const json = JSON.stringify({ user: 'a\u0000b', literal: '\\u0000', both: '\\\u0000' });
    expect(JSON.parse(jsonForJsonb(json))).toEqual({ user: 'a\uFFFDb', literal: '\\u0000', both: '\\\uFFFD' });
  });

  it('replace the escape of a lone surrogate, and keep a pair (written as itself) and the escaped text', () => {
    const json = JSON.stringify({ high: 'bob\ud800', low: '\udfff!', pair: '\ud83d\ude00', literal: '\\ud800' });
    expect(JSON.parse(jsonForJsonb(json))).toEqual({ high: 'bob\uFFFD', low: '\uFFFD!', pair: '\ud83d\ude00', literal: '\\ud800' });
  });
});

describe.skipIf(!DATABASE_URL)('NUL and lone surrogates in values sent to PostgreSQL', () => {
  it('is stored as U+FFFD in the request log and spend, and a lookup by such a value is replaced alike instead of failing', async () => {
    const pgSchema = `switchyard_test_${randomBytes(6).toString('hex')}`;
    const database = await openDatabase(DATABASE_URL!, { pgSchema });
    try {
      const at = Date.UTC(2026, 11, 7);
      const row = spendRows(at);
      const rows = [row({ end_user: 'a\u0000b', tags: ['t:x\u0000y'], request_body: '{"user":"a\\u0000b"}' }), row(), row({ end_user: 'bob\ud800', tags: ['t:\udc00'] })];
      await writeSpend(database.db, rows, new RequestLogInserter(database), { id: randomUUID() });
      const logged = await listRequests(database, { limit: 10 });
      expect(logged.map((r) => r.end_user).sort()).toEqual(['alice', 'a\uFFFDb', 'bob\uFFFD']);
      expect(logged.find((r) => r.end_user === 'bob\uFFFD')!.tags).toEqual(['t:\uFFFD']);
      expect(logged.find((r) => r.end_user === 'a\uFFFDb')!.tags).toEqual(['t:x\uFFFDy']);
      const byUser = await spendReport(database.db, { group_by: 'user', from: '2026-12-07', to: '2026-12-07' });
      expect(byUser.map((r) => [r.group, r.requests]).sort()).toEqual([['alice', 1], ['a\uFFFDb', 1], ['bob\uFFFD', 1]]);
      // Filters with a NUL in them are replaced alike: no "invalid byte sequence" error.
      expect(await listRequests(database, { end_user: 'a\u0000b', limit: 10 })).toHaveLength(1);
      expect(await spendReport(database.db, { group_by: 'key', from: '2026-12-07', to: '2026-12-07', key_id: 'k\u0000' })).toEqual([]);
    } finally {
      await sql`drop schema ${sql.id(pgSchema)} cascade`.execute(database.db);
      await database.close();
    }
  });
});

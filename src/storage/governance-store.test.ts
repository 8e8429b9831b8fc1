import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { KeyRecord, OrgRecord, Policy, TeamRecord, UserRecord } from '../governance/types.js';
import { openDatabase, type Database } from './database.js';
import { ConflictError, GovernanceStore, NotFoundError } from './governance-store.js';
import type { Schema } from './schema.js';
import { turnsDuring } from './__fixtures__/event-loop-turns.js';
import { spendRows } from './__fixtures__/spend-rows.js';

const DATABASE_URL = process.env.DATABASE_URL;
if (!DATABASE_URL) console.warn('[governance-store.test] DATABASE_URL is not set: the PostgreSQL run of the governance store suite is skipped.');

/** Opens the database under test; called once per run, and again to check that reopening is harmless. */
type Open = () => Promise<Database>;

const EVERY_TABLE: (keyof Schema)[] = ['keys', 'teams', 'orgs', 'users', 'audit_log', 'request_log', 'spend_daily', 'spend_daily_tags', 'spend_batches'];

const noPolicy = (): Policy => ({ models: null, budget: null, limits: null, regions: null, metadata: null, expires_at: null, blocked: false });
const fullPolicy = (): Policy => ({
  models: ['gpt', 'claude'],
  budget: { usd: 12.5, period: 'monthly' },
  limits: { rpm: 60, tpm: 1_000, tpd: 100_000, max_parallel: 4 },
  regions: ['eu', 'us'],
  metadata: { env: 'prod', note: 'a "quoted" ünïcode value' },
  // Past 2^31: must survive PostgreSQL's bigint and come back a number.
  expires_at: 1_900_000_000_123,
  blocked: true,
});
const stamps = { created_at: 1_000, updated_at: 1_000 };
const org = (id: string, policy = noPolicy()): OrgRecord => ({ id, name: `Org ${id}`, ...policy, ...stamps });
const team = (id: string, orgId: string | null, policy = noPolicy()): TeamRecord => ({ id, name: `Team ${id}`, org_id: orgId, ...policy, ...stamps });
const key = (id: string, teamId: string | null, over: Partial<KeyRecord> = {}): KeyRecord => ({
  id,
  name: `Key ${id}`,
  team_id: teamId,
  key_hash: `hash-${id}`,
  key_hint: 'sk-sy-abcd…wxyz',
  previous_hash: null,
  previous_expires_at: null,
  revoked_at: null,
  ...noPolicy(),
  ...stamps,
  ...over,
});
const user = (id: string, policy = noPolicy()): UserRecord => ({ id, name: null, ...policy, ...stamps });

const D1 = Date.parse('2026-03-01T12:00:00Z');
const D2 = Date.parse('2026-03-02T00:00:00Z');
const D3 = Date.parse('2026-03-03T08:00:00Z');
const request = spendRows(D1);

/** The measures of a report row, in the order the expectations below list them. */
const measures = (requests: number, errors: number, prompt_tokens: number, completion_tokens: number, cost_usd: number, cache_hits: number, unpriced: number) => ({
  requests,
  errors,
  prompt_tokens,
  completion_tokens,
  cost_usd,
  cache_hits,
  unpriced,
});

function runGovernanceStoreSuite(name: string, open: Open): void {
  describe(`GovernanceStore on ${name}`, () => {
    let database: Database;
    let store: GovernanceStore;

    beforeAll(async () => {
      database = await open();
      store = new GovernanceStore(database);
    });
    afterAll(async () => {
      await database?.close();
    });
    beforeEach(async () => {
      for (const table of EVERY_TABLE) await database.db.deleteFrom(table).execute();
    });

    it('opens the same database again without migrating it twice, and keeps its data', async () => {
      await store.orgs.create(org('o1'), 'master');
      const revision = await store.revision();
      const again = await open();
      try {
        const migrations = await sql<{ name: string }>`select name from kysely_migration`.execute(again.db);
        expect(migrations.rows.map((row) => row.name)).toEqual(['001_governance', '002_request_log', '003_spend_batches']);
        const reopened = new GovernanceStore(again);
        expect(await reopened.revision()).toBe(revision);
        expect(await reopened.orgs.get('o1')).toEqual(org('o1'));
      } finally {
        await again.close();
      }
    });

    it('round-trips every field of every entity: JSON, nulls, booleans and large timestamps', async () => {
      const records = {
        orgs: [org('o1', fullPolicy()), org('o2')],
        teams: [team('t1', 'o1', fullPolicy()), team('t2', null)],
        keys: [key('k1', 't1', { ...fullPolicy(), previous_hash: 'old', previous_expires_at: 1_900_000_000_000, revoked_at: 1_800_000_000_000 }), key('k2', null)],
        users: [user('alice', fullPolicy()), { ...user('bob'), name: 'Bob' }],
      };
      for (const o of records.orgs) expect(await store.orgs.create(o, 'master')).toEqual(o);
      for (const t of records.teams) await store.teams.create(t, 'master');
      for (const k of records.keys) await store.keys.create(k, 'master');
      for (const u of records.users) await store.users.create(u, 'master');

      expect(await store.listOrgs()).toEqual(records.orgs);
      expect(await store.listTeams()).toEqual(records.teams);
      expect(await store.listKeys()).toEqual(records.keys);
      expect(await store.listUsers()).toEqual(records.users);
      expect(await store.keys.get('k1')).toEqual(records.keys[0]);
      expect(typeof (await store.keys.get('k1'))?.expires_at).toBe('number');
      expect(await store.orgs.get('nope')).toBeUndefined();
    });

    it('updates what the patch names, returns the new record and stamps updated_at', async () => {
      await store.orgs.create(org('o1'), 'master');
      await store.teams.create(team('t1', 'o1', fullPolicy()), 'master');
      const before = Date.now();
      const updated = await store.teams.update('t1', { name: 'Renamed', budget: null, blocked: false, models: ['x'], org_id: undefined }, 'master');
      expect(updated).toEqual({ ...team('t1', 'o1', fullPolicy()), name: 'Renamed', budget: null, blocked: false, models: ['x'], updated_at: updated.updated_at });
      expect(updated.updated_at).toBeGreaterThanOrEqual(before);
      expect(await store.teams.get('t1')).toEqual(updated);
      expect(await store.teams.update('t1', { org_id: null, updated_at: 5 }, 'master')).toMatchObject({ org_id: null, updated_at: 5, created_at: 1_000 });
    });

    it('deletes a record and returns it', async () => {
      await store.users.create(user('alice'), 'master');
      expect(await store.users.delete('alice', 'master')).toEqual(user('alice'));
      expect(await store.users.get('alice')).toBeUndefined();
    });

    it('bumps the revision once per write, and not for reads or failed writes', async () => {
      const start = await store.revision();
      await store.orgs.create(org('o1'), 'master');
      await store.teams.create(team('t1', 'o1'), 'master');
      await store.keys.create(key('k1', 't1'), 'master');
      await store.users.create(user('alice'), 'master');
      expect(await store.revision()).toBe(start + 4);
      await store.keys.update('k1', { name: 'n' }, 'master');
      await store.users.delete('alice', 'master');
      await store.listKeys();
      await store.keys.get('k1');
      expect(await store.revision()).toBe(start + 6);
      await expect(store.orgs.delete('o1', 'master')).rejects.toThrow(ConflictError);
      await expect(store.users.update('ghost', { name: 'x' }, 'master')).rejects.toThrow(NotFoundError);
      expect(await store.revision()).toBe(start + 6);
    });

    it("refuses an update whose check fails on the record as its transaction reads it, changing nothing", async () => {
      await store.keys.create(key('k1', null), 'master');
      const read = await store.keys.get('k1');
      // Another writer rotates in between.
      await store.keys.update('k1', { key_hash: 'rotated-by-b' }, 'master', 'key.rotate');
      const stale = (current: { key_hash: string }) => {
        if (current.key_hash !== read!.key_hash) throw new Error('overtaken');
      };
      const revision = await store.revision();
      await expect(store.keys.update('k1', { key_hash: 'rotated-by-a' }, 'master', 'key.rotate', stale)).rejects.toThrow('overtaken');
      expect(await store.keys.get('k1')).toMatchObject({ key_hash: 'rotated-by-b' });
      expect(await store.revision()).toBe(revision);
      // Against the record as it is now, it goes through.
      const fresh = await store.keys.get('k1');
      await store.keys.update('k1', { key_hash: 'rotated-by-a' }, 'master', 'key.rotate', (current) => expect(current.key_hash).toBe(fresh!.key_hash));
      expect(await store.keys.get('k1')).toMatchObject({ key_hash: 'rotated-by-a' });
    });

    it('audits every write with before and after, never keeping key hashes', async () => {
      await store.keys.create(key('k1', null, { previous_hash: 'p' }), 'master');
      await store.keys.update('k1', { key_hash: 'new-hash', previous_hash: 'hash-k1', previous_expires_at: 2_000, updated_at: 3_000 }, 'admin-2', 'key.rotate');
      await store.keys.delete('k1', 'master');
      await store.orgs.create(org('o1'), 'master');

      const entries = await store.listAudit();
      expect(entries.map((e) => e.action)).toEqual(['org.create', 'key.delete', 'key.rotate', 'key.create']);
      expect(entries.map((e) => e.id)).toEqual([...entries.map((e) => e.id)].sort((a, b) => b - a));
      const [, deleted, rotated, created] = entries;
      const { key_hash: _h, previous_hash: _p, ...visible } = key('k1', null);
      expect(created).toMatchObject({ actor: 'master', target_type: 'key', target_id: 'k1', before: null, after: visible });
      const rotatedVisible = { ...visible, previous_expires_at: 2_000, updated_at: 3_000 };
      expect(rotated).toMatchObject({ actor: 'admin-2', before: visible, after: rotatedVisible });
      expect(deleted).toMatchObject({ before: rotatedVisible, after: null });
      expect(JSON.stringify(entries)).not.toMatch(/hash-k1|new-hash|"p"|key_hash|previous_hash/);
      expect(entries[0]).toMatchObject({ target_type: 'org', after: org('o1') });
    });

    it('filters and pages the audit log', async () => {
      for (const id of ['a', 'b', 'c']) await store.users.create(user(id), 'master');
      await store.users.update('b', { name: 'B' }, 'master');
      await store.orgs.create(org('o1'), 'master');

      expect((await store.listAudit({ target_type: 'user', target_id: 'b' })).map((e) => e.action)).toEqual(['user.update', 'user.create']);
      expect((await store.listAudit({ target_type: 'org' })).map((e) => e.target_id)).toEqual(['o1']);
      const firstPage = await store.listAudit({ limit: 2 });
      expect(firstPage.map((e) => e.target_id)).toEqual(['o1', 'b']);
      const secondPage = await store.listAudit({ limit: 2, before_id: firstPage[1]!.id });
      expect(secondPage.map((e) => `${e.action}:${e.target_id}`)).toEqual(['user.create:c', 'user.create:b']);
      const all = await store.listAudit();
      expect(await store.listAudit({ from: all[0]!.at + 1 })).toEqual([]);
      expect(await store.listAudit({ to: all.at(-1)!.at - 1 })).toEqual([]);
      expect(await store.listAudit({ from: all.at(-1)!.at, to: all[0]!.at })).toEqual(all);
    });

    it('refuses writes that break references or uniqueness with a ConflictError, writing nothing', async () => {
      await store.orgs.create(org('o1'), 'master');
      await store.teams.create(team('t1', 'o1'), 'master');
      await store.keys.create(key('k1', 't1'), 'master');
      const revision = await store.revision();
      const audited = (await store.listAudit()).length;

      await expect(store.orgs.delete('o1', 'master')).rejects.toThrow(new ConflictError('org \'o1\' still has teams; delete them or move them to another org (PATCH /admin/teams/<id> with "org_id") first'));
      await expect(store.teams.delete('t1', 'master')).rejects.toThrow(new ConflictError('team \'t1\' still has keys (revoked ones too: a revoked key keeps its spend history); move them out (PATCH /admin/keys/<id> with "team_id": null or another team) first'));
      await expect(store.teams.create(team('t2', 'nope'), 'master')).rejects.toThrow(new ConflictError("org 'nope' does not exist"));
      await expect(store.keys.update('k1', { team_id: 'nope' }, 'master')).rejects.toThrow(new ConflictError("team 'nope' does not exist"));
      await expect(store.orgs.create(org('o1'), 'master')).rejects.toThrow(new ConflictError("org 'o1' already exists"));
      await expect(store.keys.create(key('k2', null, { key_hash: 'hash-k1' }), 'master')).rejects.toThrow(new ConflictError('another key already has this key_hash'));

      expect(await store.revision()).toBe(revision);
      expect(await store.listAudit()).toHaveLength(audited);
      expect(await store.teams.get('t2')).toBeUndefined();
      expect((await store.keys.get('k1'))?.team_id).toBe('t1');

      // Once the children are gone, the parents go too.
      await store.keys.delete('k1', 'master');
      await store.teams.delete('t1', 'master');
      await store.orgs.delete('o1', 'master');
      expect(await store.listOrgs()).toEqual([]);
    });

    it('reports missing ids with a NotFoundError', async () => {
      await expect(store.orgs.update('nope', { name: 'x' }, 'master')).rejects.toThrow(new NotFoundError("org 'nope' not found"));
      await expect(store.keys.delete('nope', 'master')).rejects.toThrow(new NotFoundError("key 'nope' not found"));
    });

    it('finds a key by its hash, and by its previous hash only during the grace period', async () => {
      const now = Date.now();
      await store.keys.create(key('k1', null, { key_hash: 'current', previous_hash: 'rotated', previous_expires_at: now + 3_600_000 }), 'master');
      await store.keys.create(key('k2', null, { key_hash: 'current-2', previous_hash: 'expired', previous_expires_at: now - 1 }), 'master');
      expect((await store.findKeyByHash('current'))?.id).toBe('k1');
      expect((await store.findKeyByHash('rotated'))?.id).toBe('k1');
      expect(await store.findKeyByHash('expired')).toBeUndefined();
      expect(await store.findKeyByHash('unknown')).toBeUndefined();
    });

    describe('spend', () => {
      // Costs are binary fractions, so sums compare exactly.
      const r1 = request({});
      const r2 = request({ at: Date.parse('2026-03-01T23:59:59.999Z'), model: 'claude', provider: 'anthropic', prompt_tokens: 20, completion_tokens: 10, cost_usd: 0.5, tags: ['env:prod', 'team:x'] });
      const r3 = request({ at: D2, key_id: 'k2', team_id: 't2', end_user: null, prompt_tokens: 30, completion_tokens: 0, cost_usd: null, status: 500, cache: null, tags: [] });
      const r4 = request({ at: D2 + 1, cost_usd: 0, cache: 'HIT', tags: ['env:dev', 'env:dev'] });
      const r5 = request({ at: D3, key_id: null, team_id: null, org_id: null, end_user: 'bob', cost_usd: 2, status: 429, cache: 'SEMANTIC_HIT' });
      // Same rollup row as r1: r6 is added in a later batch (upsert), r7 in the same batch as r6.
      const r6 = request({});
      const r7 = request({});
      const all = { from: '2026-03-01', to: '2026-03-03' };

      beforeEach(async () => {
        await store.writeSpend([r1, r2, r3], randomUUID());
        await store.writeSpend([r6, r7, r4, r5], randomUUID());
      });

      it('reports per key, team, org and user, most expensive first, requests without one under null', async () => {
        const k1 = measures(5, 0, 60, 30, 1.25, 1, 0);
        expect(await store.spendReport({ group_by: 'key', ...all })).toEqual([
          { group: null, ...measures(1, 1, 10, 5, 2, 1, 0) },
          { group: 'k1', ...k1 },
          { group: 'k2', ...measures(1, 1, 30, 0, 0, 0, 1) },
        ]);
        expect((await store.spendReport({ group_by: 'team', ...all })).map((r) => [r.group, r.requests, r.cost_usd])).toEqual([
          [null, 1, 2],
          ['t1', 5, 1.25],
          ['t2', 1, 0],
        ]);
        expect(await store.spendReport({ group_by: 'org', ...all })).toEqual([
          { group: null, ...measures(1, 1, 10, 5, 2, 1, 0) },
          { group: 'o1', ...measures(6, 1, 90, 30, 1.25, 1, 1) },
        ]);
        expect((await store.spendReport({ group_by: 'user', ...all })).map((r) => [r.group, r.requests, r.cost_usd, r.unpriced])).toEqual([
          ['bob', 1, 2, 0],
          ['alice', 5, 1.25, 0],
          [null, 1, 0, 1],
        ]);
      });

      it('reports per model, provider, day and tag', async () => {
        const gpt = measures(6, 2, 80, 25, 2.75, 2, 1);
        const claude = measures(1, 0, 20, 10, 0.5, 0, 0);
        expect(await store.spendReport({ group_by: 'model', ...all })).toEqual([
          { group: 'gpt', ...gpt },
          { group: 'claude', ...claude },
        ]);
        expect(await store.spendReport({ group_by: 'provider', ...all })).toEqual([
          { group: 'openai', ...gpt },
          { group: 'anthropic', ...claude },
        ]);
        // r2 at 23:59:59.999 UTC still counts on its own day, r3 at midnight on the next.
        expect(await store.spendReport({ group_by: 'day', ...all })).toEqual([
          { group: '2026-03-03', ...measures(1, 1, 10, 5, 2, 1, 0) },
          { group: '2026-03-01', ...measures(4, 0, 50, 25, 1.25, 0, 0) },
          { group: '2026-03-02', ...measures(2, 1, 40, 5, 0, 1, 1) },
        ]);
        // A tag repeated on one request counts once.
        expect(await store.spendReport({ group_by: 'tag', ...all })).toEqual([
          { group: 'env:prod', ...measures(5, 1, 60, 30, 3.25, 1, 0) },
          { group: 'team:x', ...measures(1, 0, 20, 10, 0.5, 0, 0) },
          { group: 'env:dev', ...measures(1, 0, 10, 5, 0, 1, 0) },
        ]);
      });

      it('limits reports to the days asked for, both ends included', async () => {
        expect(await store.spendReport({ group_by: 'key', from: '2026-03-02', to: '2026-03-03' })).toEqual([
          { group: null, ...measures(1, 1, 10, 5, 2, 1, 0) },
          { group: 'k1', ...measures(1, 0, 10, 5, 0, 1, 0) },
          { group: 'k2', ...measures(1, 1, 30, 0, 0, 0, 1) },
        ]);
        expect((await store.spendReport({ group_by: 'tag', from: '2026-03-01', to: '2026-03-01' })).map((r) => [r.group, r.requests, r.cost_usd])).toEqual([
          ['env:prod', 4, 1.25],
          ['team:x', 1, 0.5],
        ]);
        expect(await store.spendReport({ group_by: 'day', from: '2025-01-01', to: '2026-02-28' })).toEqual([]);
      });

      it('applies the filters to every grouping but tag', async () => {
        expect((await store.spendReport({ group_by: 'model', ...all, key_id: 'k1' })).map((r) => [r.group, r.requests, r.cost_usd])).toEqual([
          ['gpt', 4, 0.75],
          ['claude', 1, 0.5],
        ]);
        expect((await store.spendReport({ group_by: 'day', ...all, end_user: 'alice', provider: 'openai' })).map((r) => [r.group, r.requests, r.cost_usd])).toEqual([
          ['2026-03-01', 3, 0.75],
          ['2026-03-02', 1, 0],
        ]);
        expect((await store.spendReport({ group_by: 'user', ...all, org_id: 'o1', team_id: 't2', model: 'gpt' })).map((r) => [r.group, r.requests])).toEqual([[null, 1]]);
        expect(await store.spendReport({ group_by: 'key', ...all, model: 'none' })).toEqual([]);
        expect(await store.spendReport({ group_by: 'tag', ...all, key_id: 'k2' })).toEqual(await store.spendReport({ group_by: 'tag', ...all }));
      });

      it('totals cost per level since a day, or for all time', async () => {
        expect(await store.spendTotals('key', null)).toEqual(new Map([['k1', 1.25], ['k2', 0]]));
        expect(await store.spendTotals('org', null)).toEqual(new Map([['o1', 1.25]]));
        // An end user's spend per tenant (the org, else the team, else the key, else the user alone).
        expect(await store.spendTotals('user', null)).toEqual(new Map([['alice\u0000org:o1', 1.25], ['bob\u0000user:bob', 2]]));
        expect(await store.spendTotals('user', '2026-03-03')).toEqual(new Map([['bob\u0000user:bob', 2]]));
        expect(await store.spendTotals('team', '2026-03-02')).toEqual(new Map([['t1', 0], ['t2', 0]]));
        expect(await store.spendTotals('key', '2026-03-03')).toEqual(new Map());
      });

      it('lists request rows newest first, with every field, filtered and paged', async () => {
        const ids = (rows: { request_id: string }[]) => rows.map((row) => row.request_id);
        const newestFirst = [r5, r4, r7, r6, r3, r2, r1];
        const rows = await store.listRequests();
        expect(ids(rows)).toEqual(ids(newestFirst));
        rows.forEach((row, i) => expect(row).toEqual({ ...newestFirst[i], id: row.id }));

        expect(ids(await store.listRequests({ key_id: 'k1' }))).toEqual(ids([r4, r7, r6, r2, r1]));
        expect(ids(await store.listRequests({ status: 500 }))).toEqual(ids([r3]));
        expect(ids(await store.listRequests({ model: 'claude' }))).toEqual(ids([r2]));
        expect(ids(await store.listRequests({ end_user: 'bob', org_id: undefined }))).toEqual(ids([r5]));
        expect(ids(await store.listRequests({ team_id: 't2', org_id: 'o1' }))).toEqual(ids([r3]));
        expect(ids(await store.listRequests({ from: D2 }))).toEqual(ids([r5, r4, r3]));
        expect(ids(await store.listRequests({ to: r2.at }))).toEqual(ids([r7, r6, r2, r1]));

        const page1 = await store.listRequests({ limit: 3 });
        const page2 = await store.listRequests({ limit: 3, before_id: page1.at(-1)!.id });
        const page3 = await store.listRequests({ limit: 3, before_id: page2.at(-1)!.id });
        expect([ids(page1), ids(page2), ids(page3)]).toEqual([ids([r5, r4, r7]), ids([r6, r3, r2]), ids([r1])]);
        expect(await store.listRequests({ before_id: page3[0]!.id })).toEqual([]);
      });

      it('filters request rows by provider, cache status, tag, status class and error code, and finds one by request id', async () => {
        const ids = (rows: { request_id: string }[]) => rows.map((row) => row.request_id);
        expect(ids(await store.listRequests({ provider: 'anthropic' }))).toEqual(ids([r2]));
        expect(ids(await store.listRequests({ cache: 'HIT' }))).toEqual(ids([r4]));
        expect(ids(await store.listRequests({ cache: 'NONE' }))).toEqual(ids([r3]));
        expect(ids(await store.listRequests({ tag: 'team:x' }))).toEqual(ids([r2]));
        expect(ids(await store.listRequests({ tag: 'env:dev' }))).toEqual(ids([r4]));
        expect(ids(await store.listRequests({ tag: 'env' }))).toEqual([]);
        expect(ids(await store.listRequests({ status_class: 4 }))).toEqual(ids([r5]));
        expect(ids(await store.listRequests({ status_class: 2, provider: 'openai', cache: 'MISS' }))).toEqual(ids([r7, r6, r1]));
        expect(ids(await store.listRequests({ error_code: 'nope' }))).toEqual([]);
        expect(ids(await store.requestsById(r3.request_id))).toEqual([r3.request_id]);
        expect(await store.requestsById('never-seen')).toEqual([]);
      });
    });

    it('keeps refusals (spend: false) in the request log but out of the spend rollups', async () => {
      const refused = request({ status: 401, error_code: 'invalid_api_key', prompt_tokens: 0, completion_tokens: 0, cost_usd: 0, spend: false });
      await store.writeSpend([request({}), refused], randomUUID());
      expect((await store.listRequests()).map((row) => [row.status, row.error_code])).toEqual([
        [401, 'invalid_api_key'],
        [200, null],
      ]);
      const [day] = await store.spendReport({ group_by: 'day', from: '2026-03-01', to: '2026-03-01' });
      expect(day).toMatchObject({ requests: 1, errors: 0 });
    });

    it('deletes rows older than a time in batches, keeping the rest and the rollups', async () => {
      await store.writeSpend(Array.from({ length: 25 }, (_, i) => request({ at: D1 + i })), randomUUID());
      expect(await store.deleteRequestsBefore(D1 + 20, 7)).toBe(20);
      expect((await store.listRequests()).map((row) => row.at)).toEqual([D1 + 24, D1 + 23, D1 + 22, D1 + 21, D1 + 20]);
      expect(await store.deleteRequestsBefore(D1 + 20, 7)).toBe(0);
      expect((await store.spendReport({ group_by: 'day', from: '2026-03-01', to: '2026-03-01' }))[0]?.requests).toBe(25);
    });

    it('pages 100 rows by default and never more than 1000', async () => {
      await store.writeSpend(Array.from({ length: 1_001 }, (_, i) => request({ at: D1 + i })), randomUUID());
      expect(await store.listRequests()).toHaveLength(100);
      expect(await store.listRequests({ limit: 5_000 })).toHaveLength(1_000);
      expect((await store.spendReport({ group_by: 'key', ...{ from: '2026-03-01', to: '2026-03-01' } }))[0]?.requests).toBe(1_001);
    });

    it('lets other callbacks run while it writes a large batch (SQLite works on the event loop)', async () => {
      const turns = await turnsDuring(() => store.writeSpend(Array.from({ length: 500 }, (_, i) => request({ at: D1 + i })), randomUUID()));
      // SQLite's driver is synchronous: only the insert's yields (before, during, after) give other
      // callbacks a turn; PostgreSQL's round trips always do.
      expect(turns).toBeGreaterThanOrEqual(2);
      expect(await store.listRequests({ limit: 1_000 })).toHaveLength(500);
    });

    it('applies a batch once when it is written again under its id (a retry after a lost commit answer)', async () => {
      const batch = [request({ tags: [] }), request({ tags: ['env:prod'] })];
      await store.writeSpend(batch, 'batch-1');
      await store.writeSpend(batch, 'batch-1');
      await store.writeSpend([request({ tags: [] })], 'batch-2');
      expect(await store.listRequests()).toHaveLength(3);
      const [day] = await store.spendReport({ group_by: 'day', from: '2026-03-01', to: '2026-03-01' });
      expect(day?.requests).toBe(3);
      expect((await store.spendReport({ group_by: 'tag', from: '2026-03-01', to: '2026-03-01' }))[0]).toMatchObject({ group: 'env:prod', requests: 1 });
    });

    it('forgets batch ids older than a week, at most once a minute', async () => {
      const batchIds = async () => (await database.db.selectFrom('spend_batches').select('id').execute()).map((row) => row.id);
      const weekAndADay = 8 * 86_400_000;
      // Earlier tests wrote through this store: a minute later (Date only: the drivers' timers run as usual) it prunes again.
      vi.useFakeTimers({ toFake: ['Date'] });
      try {
        vi.setSystemTime(Date.now() + 61_000);
        await database.db.insertInto('spend_batches').values({ id: 'old', at: Date.now() - weekAndADay }).execute();
        await database.db.insertInto('spend_batches').values({ id: 'recent', at: Date.now() - 86_400_000 }).execute();
        await store.writeSpend([request({})], 'a');
        expect((await batchIds()).sort()).toEqual(['a', 'recent']);
        // Within the minute, an old id stays until the next pruning.
        await database.db.insertInto('spend_batches').values({ id: 'old-2', at: Date.now() - weekAndADay }).execute();
        await store.writeSpend([request({})], 'b');
        expect((await batchIds()).sort()).toEqual(['a', 'b', 'old-2', 'recent']);
      } finally {
        vi.useRealTimers();
      }
      expect(await store.listRequests()).toHaveLength(2);
    });

    it('reports costs to the nano-dollar, without the float noise of the sums (in memory and in SQL)', async () => {
      // 0.1 + 0.2 is 0.30000000000000004 in binary floats: k1's are added in one batch (in memory), k2's by an upsert (in SQL).
      await store.writeSpend([request({ cost_usd: 0.1 }), request({ cost_usd: 0.2 })], randomUUID());
      await store.writeSpend([request({ key_id: 'k2', cost_usd: 0.1 })], randomUUID());
      await store.writeSpend([request({ key_id: 'k2', cost_usd: 0.2 })], randomUUID());
      // A fraction of a micro-dollar is kept (one token at $0.15 per 1M, and a cost as governance/cost.ts computes one: 0.00021869999999999998).
      await store.writeSpend([request({ key_id: 'k3', cost_usd: 0.00000015 }), request({ key_id: 'k3', cost_usd: (1234 * 0.15 + 56 * 0.6) / 1e6 })], randomUUID());
      const day = { from: '2026-03-01', to: '2026-03-01' };
      expect((await store.spendReport({ group_by: 'key', ...day })).map((r) => [r.group, r.cost_usd])).toEqual([
        ['k1', 0.3],
        ['k2', 0.3],
        ['k3', 0.00021885],
      ]);
      expect((await store.spendReport({ group_by: 'day', ...day })).map((r) => [r.group, r.cost_usd])).toEqual([['2026-03-01', 0.60021885]]);
      expect((await store.spendReport({ group_by: 'tag', ...day })).map((r) => [r.group, r.cost_usd])).toEqual([['env:prod', 0.60021885]]);
    });

    it("adds up each request's cost as its answer said it (to the nano-dollar), so every grouping has the same total", async () => {
      // 0.0000058025 each: the header says 0.000005802 (toFixed(9)), and two of them are 0.000011604, not 0.000011605.
      const cost = 0.0000058024999;
      await store.writeSpend([request({ key_id: 'k1', end_user: 'u1', cost_usd: cost }), request({ key_id: 'k1', end_user: 'u2', cost_usd: cost })], randomUUID());
      const day = { from: '2026-03-01', to: '2026-03-01' };
      expect((await store.spendReport({ group_by: 'key', ...day })).map((r) => r.cost_usd)).toEqual([0.000011604]);
      expect((await store.spendReport({ group_by: 'user', ...day })).map((r) => r.cost_usd)).toEqual([0.000005802, 0.000005802]);
    });

    it('writes a spend batch all or nothing', async () => {
      const broken = request({ request_id: null as unknown as string });
      await expect(store.writeSpend([request({}), broken], randomUUID())).rejects.toThrow();
      expect(await store.listRequests()).toEqual([]);
      expect(await store.spendReport({ group_by: 'day', from: '2026-01-01', to: '2026-12-31' })).toEqual([]);
      expect(await store.spendReport({ group_by: 'tag', from: '2026-01-01', to: '2026-12-31' })).toEqual([]);
    });
  });
}

const sqliteDir = mkdtempSync(join(tmpdir(), 'switchyard-storage-'));
afterAll(() => rmSync(sqliteDir, { recursive: true, force: true }));
runGovernanceStoreSuite('SQLite', () => openDatabase(`sqlite://${join(sqliteDir, 'governance.db')}`));

describe.skipIf(!DATABASE_URL)('PostgreSQL', () => {
  // A schema of its own per run, so parallel runs sharing the test database never meet.
  const pgSchema = `switchyard_test_${randomBytes(6).toString('hex')}`;
  afterAll(async () => {
    const database = await openDatabase(DATABASE_URL!, { pgSchema });
    try {
      await sql`drop schema ${sql.id(pgSchema)} cascade`.execute(database.db);
    } finally {
      await database.close();
    }
  });
  runGovernanceStoreSuite('PostgreSQL', () => openDatabase(DATABASE_URL!, { pgSchema }));
});

import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { KeyRecord, Policy } from '../../../governance/types.js';
import { openDatabase, type Database } from '../../../storage/database.js';
import { GovernanceStore } from '../../../storage/governance-store.js';
import type { Schema } from '../../../storage/schema.js';
import { reportRoutes, SPEND_GROUPS } from './reports.js';
import { spendRows } from '../../../storage/__fixtures__/spend-rows.js';

const EVERY_TABLE: (keyof Schema)[] = ['keys', 'teams', 'orgs', 'users', 'audit_log', 'request_log', 'spend_daily', 'spend_daily_tags', 'spend_batches'];
const DAY = '2026-03-01';
const AT = Date.parse(`${DAY}T12:00:00Z`);

let database: Database;
let store: GovernanceStore;
let app: FastifyInstance;

beforeAll(async () => {
  database = await openDatabase('sqlite::memory:');
  store = new GovernanceStore(database);
  app = Fastify();
  await app.register(async (scope) => reportRoutes(scope, store), { prefix: '/admin' });
});
afterAll(async () => {
  await app?.close();
  await database?.close();
});
beforeEach(async () => {
  for (const table of EVERY_TABLE) await database.db.deleteFrom(table).execute();
});

async function get(url: string): Promise<{ status: number; text: string; json: Record<string, unknown> }> {
  const response = await app.inject({ method: 'GET', url });
  const json = String(response.headers['content-type'] ?? '').startsWith('application/json') ? (response.json() as Record<string, unknown>) : {};
  return { status: response.statusCode, text: response.body, json };
}

const request = spendRows(AT);

const noPolicy = (): Policy => ({ models: null, budget: null, limits: null, regions: null, metadata: null, expires_at: null, blocked: false });

describe('GET /admin/audit', () => {
  it('shows the times of the before and after snapshots as ISO strings, as at the top level, and leaves other numbers alone', async () => {
    const created = Date.parse('2026-12-01T10:00:00Z');
    const key: KeyRecord = {
      id: 'k1',
      name: 'audited',
      team_id: null,
      key_hash: 'hash-now',
      key_hint: 'sk-sy-abcd…wxyz',
      previous_hash: null,
      previous_expires_at: null,
      revoked_at: null,
      ...noPolicy(),
      budget: { usd: 12.5, period: 'monthly' },
      limits: { rpm: 60, tpm: 1_000 },
      metadata: { created_at: '42' },
      expires_at: Date.parse('2021-01-01T00:00:00Z'),
      created_at: created,
      updated_at: created,
    };
    await store.keys.create(key, 'master');
    const rotatedUntil = Date.parse('2027-01-01T00:00:00Z');
    await store.keys.update('k1', { key_hash: 'hash-new', previous_hash: 'hash-now', previous_expires_at: rotatedUntil, expires_at: null, updated_at: created + 1_000 }, 'master', 'key.rotate');
    const revoked = created + 2_000;
    await store.keys.update('k1', { revoked_at: revoked, updated_at: revoked }, 'master', 'key.revoke');
    await store.orgs.create({ id: 'o1', name: 'gone', ...noPolicy(), created_at: created, updated_at: created }, 'master');
    await store.orgs.delete('o1', 'master');

    const response = await get('/admin/audit');
    expect(response.status).toBe(200);
    const entries = response.json.data as { action: string; at: unknown; before: Record<string, unknown> | null; after: Record<string, unknown> | null }[];
    expect(entries.map((entry) => entry.action)).toEqual(['org.delete', 'org.create', 'key.revoke', 'key.rotate', 'key.create']);
    for (const entry of entries) expect(entry.at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);

    const [orgDelete, orgCreate, revoke, rotate, create] = entries;
    expect(create!.before).toBeNull();
    expect(create!.after).toMatchObject({
      created_at: '2026-12-01T10:00:00.000Z',
      updated_at: '2026-12-01T10:00:00.000Z',
      expires_at: '2021-01-01T00:00:00.000Z',
      previous_expires_at: null,
      revoked_at: null,
      // Not times: budgets, limits and tags keep their values.
      budget: { usd: 12.5, period: 'monthly' },
      limits: { rpm: 60, tpm: 1_000 },
      metadata: { created_at: '42' },
    });
    expect(rotate!.before).toMatchObject({ expires_at: '2021-01-01T00:00:00.000Z', updated_at: '2026-12-01T10:00:00.000Z', previous_expires_at: null });
    expect(rotate!.after).toMatchObject({ expires_at: null, updated_at: '2026-12-01T10:00:01.000Z', previous_expires_at: '2027-01-01T00:00:00.000Z' });
    expect(revoke!.after).toMatchObject({ revoked_at: '2026-12-01T10:00:02.000Z', created_at: '2026-12-01T10:00:00.000Z' });
    expect(orgCreate!.after).toMatchObject({ created_at: '2026-12-01T10:00:00.000Z', updated_at: '2026-12-01T10:00:00.000Z' });
    expect(orgDelete!.before).toMatchObject({ created_at: '2026-12-01T10:00:00.000Z' });
    expect(orgDelete!.after).toBeNull();

    // No epoch milliseconds left anywhere, and never a hash.
    expect(response.text).not.toMatch(/"(at|created_at|updated_at|expires_at|revoked_at|previous_expires_at)":\d/);
    expect(response.text).not.toMatch(/key_hash|previous_hash|hash-now|hash-new/);
  });
});

describe('GET /admin/spend', () => {
  beforeEach(async () => {
    // Binary floats: 0.1 + 0.2 is 0.30000000000000004, for k1 added in memory (one batch), for k2 in SQL (an upsert).
    await store.writeSpend([request({ cost_usd: 0.1 }), request({ cost_usd: 0.2 })], randomUUID());
    await store.writeSpend([request({ key_id: 'k2', team_id: 't2', model: 'claude', cost_usd: 0.1 })], randomUUID());
    await store.writeSpend([request({ key_id: 'k2', team_id: 't2', model: 'claude', cost_usd: 0.2 })], randomUUID());
    // A fraction of a micro-dollar (one token at $0.15 per 1M), kept as x-switchyard-cost-usd gives it.
    await store.writeSpend([request({ key_id: 'k3', team_id: 't3', model: 'embed', cost_usd: 0.00000015, tags: ['env:dev'] })], randomUUID());
  });

  it('gives rows and the total to the nano-dollar, without float noise', async () => {
    const response = await get(`/admin/spend?group_by=key&from=${DAY}&to=${DAY}`);
    expect(response.status).toBe(200);
    expect(response.json.total_cost_usd).toBe(0.60000015);
    expect((response.json.data as { group: string; cost_usd: number }[]).map((row) => [row.group, row.cost_usd])).toEqual([
      ['k1', 0.3],
      ['k2', 0.3],
      ['k3', 0.00000015],
    ]);
    expect(response.text).toContain('"total_cost_usd":0.60000015,');
    expect(response.text).not.toMatch(/\d{12}/);
  });

  it('gives every grouping its rows and total to the nano-dollar, the total the sum of the rows (but per tag)', async () => {
    for (const groupBy of SPEND_GROUPS) {
      const response = await get(`/admin/spend?group_by=${groupBy}&from=${DAY}&to=${DAY}`);
      expect(response.status, groupBy).toBe(200);
      // Per tag too: the total comes from the untagged rollup.
      expect(response.json.total_cost_usd, groupBy).toBe(0.60000015);
      const costs = (response.json.data as { cost_usd: number }[]).map((row) => row.cost_usd);
      for (const cost of costs) expect(cost, groupBy).toBe(Number(cost.toFixed(9)));
      // A request with several tags counts under each: tag rows need not add up to the total.
      if (groupBy !== 'tag') expect(costs.reduce((sum, cost) => sum + Math.round(cost * 1e9), 0), groupBy).toBe(600_000_150);
      expect(response.text, groupBy).not.toMatch(/\d{12}/);
    }
  });

  it('gives tags their cost to the nano-dollar', async () => {
    const response = await get(`/admin/spend?group_by=tag&from=${DAY}&to=${DAY}`);
    expect((response.json.data as { group: string; cost_usd: number }[]).map((row) => [row.group, row.cost_usd])).toEqual([
      ['env:prod', 0.6],
      ['env:dev', 0.00000015],
    ]);
  });
});

describe('GET /admin/logs', () => {
  // Tokens × USD per 1M tokens / 1e6, as governance/cost.ts computes a cost: 0.00021869999999999998 in binary floats.
  const noisy = (1234 * 0.15 + 56 * 0.6) / 1e6;
  const rows = [request({ request_id: 'noisy', cost_usd: noisy }), request({ request_id: 'tiny', cost_usd: 0.00000015 }), request({ request_id: 'unpriced', cost_usd: null })];

  beforeEach(async () => {
    await store.writeSpend(rows, randomUUID());
  });

  it('gives each row its cost to the nano-dollar (null when unknown), in the list, the export and by request id', async () => {
    const expected = { noisy: 0.0002187, tiny: 0.00000015, unpriced: null };
    const list = await get('/admin/logs');
    expect(Object.fromEntries((list.json.data as { request_id: string; cost_usd: number | null }[]).map((row) => [row.request_id, row.cost_usd]))).toEqual(expected);
    expect(list.text).toContain('"cost_usd":0.0002187,');

    const exported = await get('/admin/logs/export');
    const lines = exported.text.trim().split('\n').map((line) => JSON.parse(line) as { request_id: string; cost_usd: number | null });
    expect(Object.fromEntries(lines.map((row) => [row.request_id, row.cost_usd]))).toEqual(expected);

    expect((await get('/admin/logs/noisy')).json.cost_usd).toBe(0.0002187);
    expect((await get('/admin/logs/unpriced')).json.cost_usd).toBeNull();
  });
});

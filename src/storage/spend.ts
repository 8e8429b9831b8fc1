/**
 * Spend rollups: each batch of request rows is folded into per-day totals (spend_daily per key,
 * team, org, end user, model and provider; spend_daily_tags per tag), and reports and budget
 * seeding read only those totals, never the request log, so they stay cheap however many
 * requests there were.
 */
import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import { roundUsd } from '../governance/cost.js';
import { endUserTenant, endUserTenantId } from '../governance/tenant.js';
import type { SpendRow } from '../governance/types.js';
import type { RequestLogInserter } from './request-log.js';
import type { Schema, SpendDailyTable, SpendDailyTagsTable, SpendMeasures } from './schema.js';

export const SPEND_GROUPS = ['key', 'team', 'org', 'user', 'model', 'provider', 'tag', 'day'] as const;
export type SpendGroup = (typeof SPEND_GROUPS)[number];
export type SpendLevel = 'key' | 'team' | 'org' | 'user';

export interface SpendQuery {
  group_by: SpendGroup;
  /** 'YYYY-MM-DD' (UTC), inclusive. */
  from: string;
  /** 'YYYY-MM-DD' (UTC), inclusive. */
  to: string;
  /** The filters below narrow every grouping but `tag`: tag totals are kept per day and tag only. */
  key_id?: string;
  team_id?: string;
  org_id?: string;
  end_user?: string;
  model?: string;
  provider?: string;
}

export interface SpendReportRow extends SpendMeasures {
  /** The key / team / org / user id, model, provider, tag or day; null for requests without one. */
  group: string | null;
}

type Dimension = 'key_id' | 'team_id' | 'org_id' | 'end_user' | 'model' | 'provider';

const GROUP_COLUMN: Record<Exclude<SpendGroup, 'tag'>, Dimension | 'day'> = {
  key: 'key_id',
  team: 'team_id',
  org: 'org_id',
  user: 'end_user',
  model: 'model',
  provider: 'provider',
  day: 'day',
};
const LEVEL_COLUMN: Record<SpendLevel, Dimension> = { key: 'key_id', team: 'team_id', org: 'org_id', user: 'end_user' };
const DIMENSIONS: readonly Dimension[] = ['key_id', 'team_id', 'org_id', 'end_user', 'model', 'provider'];
const MEASURES: readonly (keyof SpendMeasures)[] = ['requests', 'errors', 'prompt_tokens', 'completion_tokens', 'cost_usd', 'cache_hits', 'unpriced'];
const CACHE_HITS = new Set(['HIT', 'SEMANTIC_HIT']);
/** 14 columns a row, well under either backend's limit on bound parameters. */
const ROWS_PER_UPSERT = 500;

/** How long a batch id is remembered: far longer than any retry of a batch takes. */
export const SPEND_BATCH_ID_TTL_MS = 7 * 86_400_000;

export interface SpendBatch {
  /** The same id each time the batch is retried (spend-writer.ts). */
  id: string;
  /** Also prune the ids older than SPEND_BATCH_ID_TTL_MS, in the same transaction. */
  prune?: boolean;
  /** Whether the writer is falling behind: the request-log insert then stops pacing itself (request-log.ts). */
  behind?: () => boolean;
}

/**
 * Records a batch: the request rows and their rollups, in one transaction (all or nothing). A
 * batch whose id was recorded already is skipped: its earlier write committed, and only the
 * answer was lost.
 */
export async function writeSpend(db: Kysely<Schema>, rows: readonly SpendRow[], requestLog: RequestLogInserter | null, batch: SpendBatch): Promise<void> {
  if (rows.length === 0) return;
  const { daily, tags } = rollUp(rows);
  const now = Date.now();
  await db.transaction().execute(async (trx) => {
    const recorded = await trx
      .insertInto('spend_batches')
      .values({ id: batch.id, at: now })
      .onConflict((oc) => oc.column('id').doNothing())
      .executeTakeFirst();
    if (Number(recorded.numInsertedOrUpdatedRows ?? 0) === 0) return;
    // A row of a batch written row by row (`<batch id>/<index>`, storage/row-by-row.ts): skipped too
    // when the whole batch committed after all (its answer was lost, and the retry was refused).
    const slash = batch.id.lastIndexOf('/');
    if (slash > 0 && (await trx.selectFrom('spend_batches').select('id').where('id', '=', batch.id.slice(0, slash)).executeTakeFirst())) return;
    if (batch.prune) await trx.deleteFrom('spend_batches').where('at', '<', now - SPEND_BATCH_ID_TTL_MS).execute();
    await requestLog?.insert(trx, rows, batch.behind);
    await upsertDaily(trx, daily);
    await upsertTags(trx, tags);
  });
}

/** Totals per group over the days from..to, most expensive first; costs to the nano-dollar (roundUsd). */
export async function spendReport(db: Kysely<Schema>, query: SpendQuery): Promise<SpendReportRow[]> {
  // Both branches sum the same measures; only the table and the grouping column differ.
  const sums = MEASURES.map((measure) => sql<number>`sum(${sql.ref(measure)})`.as(measure));
  let rows: Record<string, unknown>[];
  if (query.group_by === 'tag') {
    rows = await db
      .selectFrom('spend_daily_tags')
      .select([sql<string>`tag`.as('group'), ...sums])
      .where('day', '>=', query.from)
      .where('day', '<=', query.to)
      .groupBy('tag')
      .execute();
  } else {
    const column = GROUP_COLUMN[query.group_by];
    let select = db
      .selectFrom('spend_daily')
      .select([sql<string>`${sql.ref(column)}`.as('group'), ...sums])
      .where('day', '>=', query.from)
      .where('day', '<=', query.to);
    for (const dimension of DIMENSIONS) {
      const value = query[dimension];
      if (value !== undefined) select = select.where(dimension, '=', value);
    }
    rows = await select.groupBy(column).execute();
  }
  return rows.map(toReportRow).sort((a, b) => b.cost_usd - a.cost_usd || compareGroups(a.group, b.group));
}

/**
 * Cost per id at one level since a day (null: all time), to seed budget counters at start-up. An
 * end user's counters are kept per tenant (admission.ts), so theirs are per user and tenant:
 * `<user>\u0000<tenant>` (governance/tenant.ts).
 */
export async function spendTotals(db: Kysely<Schema>, level: SpendLevel, sinceDay: string | null): Promise<Map<string, number>> {
  if (level === 'user') return endUserSpend(db, sinceDay);
  const column = LEVEL_COLUMN[level];
  const rows = await db
    .selectFrom('spend_daily')
    .select([sql<string>`${sql.ref(column)}`.as('id'), sql<number>`sum(cost_usd)`.as('usd')])
    .where(column, '<>', '')
    .$if(sinceDay !== null, (q) => q.where('day', '>=', sinceDay as string))
    .groupBy(column)
    .execute();
  return new Map(rows.map((row) => [row.id, row.usd]));
}

async function endUserSpend(db: Kysely<Schema>, sinceDay: string | null): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('spend_daily')
    .select(['end_user', 'org_id', 'team_id', 'key_id', sql<number>`sum(cost_usd)`.as('usd')])
    .where('end_user', '<>', '')
    .$if(sinceDay !== null, (q) => q.where('day', '>=', sinceDay as string))
    .groupBy(['end_user', 'org_id', 'team_id', 'key_id'])
    .execute();
  const totals = new Map<string, number>();
  for (const row of rows) {
    const id = endUserTenantId(row.end_user, endUserTenant(row));
    totals.set(id, (totals.get(id) ?? 0) + Number(row.usd));
  }
  return totals;
}

/** The UTC day of an epoch-ms instant, as the rollups key it. */
export function dayOf(at: number): string {
  // A batch's rows are mostly of one day: format it once.
  if (at >= lastDay.start && at < lastDay.start + 86_400_000) return lastDay.text;
  const start = at - (((at % 86_400_000) + 86_400_000) % 86_400_000);
  lastDay = { start, text: new Date(start).toISOString().slice(0, 10) };
  return lastDay.text;
}

let lastDay = { start: NaN, text: '' };

/** The batch folded in memory first, so each rollup row is upserted once (PostgreSQL refuses to touch a row twice in one statement). */
function rollUp(rows: readonly SpendRow[]): { daily: SpendDailyTable[]; tags: SpendDailyTagsTable[] } {
  const daily = new Map<string, SpendDailyTable>();
  const tags = new Map<string, SpendDailyTagsTable>();
  for (const row of rows) {
    // Refusals and failures before admission are in the request log only.
    if (row.spend === false) continue;
    const day = dayOf(row.at);
    const keyId = row.key_id ?? '';
    const teamId = row.team_id ?? '';
    const orgId = row.org_id ?? '';
    const endUser = row.end_user ?? '';
    const model = row.model ?? '';
    const provider = row.provider ?? '';
    // Ids and names by length, so no value can run into the next (JSON.stringify of the values cost ~1 µs a row).
    const id = `${day}${keyId.length}:${keyId}${teamId.length}:${teamId}${orgId.length}:${orgId}${endUser.length}:${endUser}${model.length}:${model}${provider.length}:${provider}`;
    let total = daily.get(id);
    if (!total) daily.set(id, (total = { day, key_id: keyId, team_id: teamId, org_id: orgId, end_user: endUser, model, provider, ...zero() }));
    add(total, row);
    if (row.tags.length === 0) continue;
    for (const tag of new Set(row.tags)) {
      const tagId = day + tag;
      add(tags.get(tagId) ?? setNew(tags, tagId, { day, tag, ...zero() }), row);
    }
  }
  return { daily: [...daily.values()], tags: [...tags.values()] };
}

function setNew<V>(map: Map<string, V>, id: string, value: V): V {
  map.set(id, value);
  return value;
}

function zero(): SpendMeasures {
  return { requests: 0, errors: 0, prompt_tokens: 0, completion_tokens: 0, cost_usd: 0, cache_hits: 0, unpriced: 0 };
}

function add(total: SpendMeasures, row: SpendRow): void {
  total.requests += 1;
  if (row.status >= 400) total.errors += 1;
  total.prompt_tokens += row.prompt_tokens;
  total.completion_tokens += row.completion_tokens;
  if (row.cost_usd === null) total.unpriced += 1;
  // As x-switchyard-cost-usd says it (to the nano-dollar): a report's totals are then the exact
  // sums of what the answers said, whatever the grouping.
  else total.cost_usd += roundUsd(row.cost_usd);
  if (row.cache !== null && CACHE_HITS.has(row.cache)) total.cache_hits += 1;
}

/** SET m = <table>.m + excluded.m for every measure: what an existing rollup row gains from the batch. */
function accumulate(table: 'spend_daily' | 'spend_daily_tags'): Record<keyof SpendMeasures, RawBuilder<number>> {
  const entries = MEASURES.map((measure) => [measure, sql<number>`${sql.ref(`${table}.${measure}`)} + ${sql.ref(`excluded.${measure}`)}`]);
  return Object.fromEntries(entries) as Record<keyof SpendMeasures, RawBuilder<number>>;
}

async function upsertDaily(trx: Transaction<Schema>, rows: SpendDailyTable[]): Promise<void> {
  for (let start = 0; start < rows.length; start += ROWS_PER_UPSERT) {
    await trx
      .insertInto('spend_daily')
      .values(rows.slice(start, start + ROWS_PER_UPSERT))
      .onConflict((oc) => oc.columns(['day', ...DIMENSIONS]).doUpdateSet(accumulate('spend_daily')))
      .execute();
  }
}

async function upsertTags(trx: Transaction<Schema>, rows: SpendDailyTagsTable[]): Promise<void> {
  for (let start = 0; start < rows.length; start += ROWS_PER_UPSERT) {
    await trx
      .insertInto('spend_daily_tags')
      .values(rows.slice(start, start + ROWS_PER_UPSERT))
      .onConflict((oc) => oc.columns(['day', 'tag']).doUpdateSet(accumulate('spend_daily_tags')))
      .execute();
  }
}

/** PostgreSQL returns sums of bigint columns as numeric, which pg hands over as strings. The cost is rounded to the nano-dollar (roundUsd). */
function toReportRow(row: Record<string, unknown>): SpendReportRow {
  const group = row.group as string;
  const measures = Object.fromEntries(MEASURES.map((measure) => [measure, Number(row[measure] ?? 0)])) as unknown as SpendMeasures;
  measures.cost_usd = roundUsd(measures.cost_usd);
  return { group: group === '' ? null : group, ...measures };
}

/** Ties on cost in a stable order: by group, the null group last. */
function compareGroups(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return a < b ? -1 : 1;
}

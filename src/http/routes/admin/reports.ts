/** GET /admin/spend (rolled-up spend), /admin/audit (admin changes) and /admin/logs (request rows). */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { day } from '../../../governance/periods.js';
import { GatewayError } from '../../../gateway/errors.js';
import type { GovernanceStore } from '../../../storage/governance-store.js';
import { SPEND_GROUPS } from '../../../storage/spend.js';
import { parseInput, present } from './schemas.js';

export { SPEND_GROUPS };

/** A UTC day; an ISO time is taken as its UTC day. */
const dayParam = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}(T.*)?$/, 'expected a day such as 2026-12-01 (or an ISO time)')
  .refine((text) => !Number.isNaN(Date.parse(text)), 'not a calendar day or time')
  .transform((text) => (text.length === 10 ? text : new Date(Date.parse(text)).toISOString().slice(0, 10)));
/** An ISO time or epoch milliseconds. */
const timeParam = z.union([z.string().regex(/^\d+$/).transform(Number), z.iso.datetime({ offset: true }).transform((text) => Date.parse(text))]);
const limitParam = z.string().regex(/^\d+$/, 'expected a number').transform(Number).pipe(z.number().int().min(1).max(1000));
const idParam = z.string().regex(/^\d+$/, 'expected a number').transform(Number);

const spendQuery = z.strictObject({
  group_by: z.enum(SPEND_GROUPS).default('day'),
  from: dayParam.optional(),
  to: dayParam.optional(),
  key_id: z.string().optional(),
  team_id: z.string().optional(),
  org_id: z.string().optional(),
  end_user: z.string().optional(),
  model: z.string().optional(),
  provider: z.string().optional(),
});

const auditQuery = z.strictObject({
  target_type: z.enum(['org', 'team', 'key', 'user']).optional(),
  target_id: z.string().optional(),
  from: timeParam.optional(),
  to: timeParam.optional(),
  limit: limitParam.optional(),
  before_id: idParam.optional(),
});

const logsQuery = z.strictObject({
  from: timeParam.optional(),
  to: timeParam.optional(),
  key_id: z.string().optional(),
  team_id: z.string().optional(),
  org_id: z.string().optional(),
  end_user: z.string().optional(),
  model: z.string().optional(),
  status: z.string().regex(/^\d{3}$/, 'expected an HTTP status').transform(Number).optional(),
  limit: limitParam.optional(),
  before_id: idParam.optional(),
});

const FILTERS = ['key_id', 'team_id', 'org_id', 'end_user', 'model', 'provider'] as const;

/** Spend reports default to the last 30 days. */
const DEFAULT_DAYS = 30;

export function reportRoutes(app: FastifyInstance, store: GovernanceStore): void {
  app.get('/spend', async (request) => {
    const query = parseInput(spendQuery, request.query);
    const to = query.to ?? day(Date.now());
    const from = query.from ?? day(Date.parse(to) - (DEFAULT_DAYS - 1) * 86_400_000);
    if (query.group_by === 'tag') {
      const filter = FILTERS.find((name) => query[name] !== undefined);
      if (filter) throw new GatewayError('invalid_request', `${filter}: spend per tag is kept per day and tag only, so it cannot be narrowed by ${filter}.`, { param: filter });
    }
    const rows = await store.spendReport({ ...query, from, to });
    // A request with several tags is in several tag rows: the total comes from the untagged rollup.
    const totalRows = query.group_by === 'tag' ? await store.spendReport({ group_by: 'day', from, to }) : rows;
    const total = totalRows.reduce((sum, row) => sum + row.cost_usd, 0);
    return { object: 'spend_report', group_by: query.group_by, from, to, total_cost_usd: total, data: rows };
  });

  app.get('/audit', async (request) => {
    const entries = await store.listAudit(parseInput(auditQuery, request.query));
    return { object: 'list', data: entries.map((entry) => present(entry)), ...nextPage(entries) };
  });

  app.get('/logs', async (request) => {
    const rows = await store.listRequests(parseInput(logsQuery, request.query));
    return { object: 'list', data: rows.map((row) => ({ ...row, at: new Date(row.at).toISOString() })), ...nextPage(rows) };
  });
}

/** Newest first: the next page starts before the last id shown. */
function nextPage(rows: { id: number }[]): { next_before_id?: number } {
  const last = rows.at(-1);
  return last === undefined ? {} : { next_before_id: last.id };
}

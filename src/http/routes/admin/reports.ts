/** GET /admin/spend (rolled-up spend), /admin/audit (admin changes) and /admin/logs (request rows). */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { day } from '../../../governance/periods.js';
import { GatewayError } from '../../../gateway/errors.js';
import { Readable } from 'node:stream';
import type { GovernanceStore, RequestQuery, RequestRecord } from '../../../storage/governance-store.js';
import { pageSize } from '../../../storage/paging.js';
import { fromNanos, roundUsd, toNanos } from '../../../governance/cost.js';
import { SPEND_GROUPS } from '../../../storage/spend.js';
import { parseInput, presentAuditEntry } from './schemas.js';

export { SPEND_GROUPS };

/** Whether text starts with a day the calendar has: Date.parse takes 2026-02-30 as March 2. */
function isCalendarDay(text: string): boolean {
  const day = text.slice(0, 10);
  const ms = Date.parse(`${day}T00:00:00Z`);
  return !Number.isNaN(ms) && new Date(ms).toISOString().slice(0, 10) === day;
}

/** A UTC day; an ISO time is taken as its UTC day. */
const dayParam = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}(T.*)?$/, 'expected a day such as 2026-12-01 (or an ISO time)')
  .refine((text) => !Number.isNaN(Date.parse(text)) && isCalendarDay(text), 'not a calendar day or time')
  .transform((text) => (text.length === 10 ? text : new Date(Date.parse(text)).toISOString().slice(0, 10)));
const LAST_MS_OF_DAY = 86_399_999;

/** An ISO time, epoch milliseconds, or a UTC day: its first millisecond as a `from`, its last as a `to`. */
function timeParam(bound: 'from' | 'to') {
  return z.union(
    [
      z.string().regex(/^\d+$/).transform(Number),
      z
        .string()
        .regex(/^\d{4}-\d{2}-\d{2}$/)
        .refine(isCalendarDay)
        .transform((text) => Date.parse(`${text}T00:00:00Z`) + (bound === 'to' ? LAST_MS_OF_DAY : 0)),
      z.iso.datetime({ offset: true }).refine(isCalendarDay).transform((text) => Date.parse(text)),
    ],
    { error: 'expected an ISO time (2026-12-07T10:00:00Z), a day (2026-12-07) or epoch milliseconds' },
  );
}
const limitParam = z.string().regex(/^\d+$/, 'expected a number').transform(Number).pipe(z.number().int().min(1).max(1000));
const idParam = z.string().regex(/^\d+$/, 'expected a number').transform(Number);

/** Who and what a spend report or the request log can be narrowed to. */
const levelFilters = {
  key_id: z.string().optional(),
  team_id: z.string().optional(),
  org_id: z.string().optional(),
  end_user: z.string().optional(),
  model: z.string().optional(),
  provider: z.string().optional(),
};

const spendQuery = z.strictObject({
  group_by: z.enum(SPEND_GROUPS).default('day'),
  from: dayParam.optional(),
  to: dayParam.optional(),
  ...levelFilters,
});

const auditQuery = z.strictObject({
  target_type: z.enum(['org', 'team', 'key', 'user']).optional(),
  target_id: z.string().optional(),
  from: timeParam('from').optional(),
  to: timeParam('to').optional(),
  limit: limitParam.optional(),
  before_id: idParam.optional(),
});

const logsFilters = {
  from: timeParam('from').optional(),
  to: timeParam('to').optional(),
  ...levelFilters,
  /** 429, or a class: 2xx, 4xx, 5xx. */
  status: z.string().regex(/^(\d{3}|[1-5]xx)$/, 'expected an HTTP status (429) or a class (2xx, 4xx, 5xx)').optional(),
  cache: z.enum(['HIT', 'SEMANTIC_HIT', 'MISS', 'BYPASS', 'REFRESH', 'NONE']).optional(),
  tag: z.string().regex(/^[^:]+:.*$/, 'expected name:value').optional(),
  error_code: z.string().optional(),
};
const logsQuery = z.strictObject({ ...logsFilters, limit: limitParam.optional(), before_id: idParam.optional(), cursor: idParam.optional() });
const exportQuery = z.strictObject({
  ...logsFilters,
  limit: z.string().regex(/^\d+$/, 'expected a number').transform(Number).pipe(z.number().int().min(1).max(1_000_000)).optional(),
  // Where a paged listing stopped: the export continues from there.
  before_id: idParam.optional(),
  cursor: idParam.optional(),
});
/** Export pages through the log this many rows at a time. */
const EXPORT_PAGE = 1000;

const FILTERS = ['key_id', 'team_id', 'org_id', 'end_user', 'model', 'provider'] as const;

/** Spend reports default to the last 30 days. */
const DEFAULT_DAYS = 30;

export function reportRoutes(app: FastifyInstance, store: GovernanceStore): void {
  app.get('/spend', async (request) => {
    const query = parseInput(spendQuery, request.query, 'query parameters');
    const to = query.to ?? day(Date.now());
    const from = query.from ?? day(Date.parse(to) - (DEFAULT_DAYS - 1) * 86_400_000);
    if (from > to) throw new GatewayError('invalid_request', `from: ${from} is after to (${to}).`, { param: 'from' });
    if (query.group_by === 'tag') {
      const filter = FILTERS.find((name) => query[name] !== undefined);
      if (filter) throw new GatewayError('invalid_request', `${filter}: spend per tag is kept per day and tag only, so it cannot be narrowed by ${filter}.`, { param: filter });
    }
    const rows = await store.spendReport({ ...query, from, to });
    // A request with several tags is in several tag rows: the total comes from the untagged rollup.
    const totalRows = query.group_by === 'tag' ? await store.spendReport({ group_by: 'day', from, to }) : rows;
    // Rows' costs are to the nano-dollar: summed as integer nano-dollars, the total is exact (no float noise).
    const total = fromNanos(totalRows.reduce((sum, row) => sum + toNanos(row.cost_usd), 0));
    return { object: 'spend_report', group_by: query.group_by, from, to, total_cost_usd: total, data: rows };
  });

  app.get('/audit', async (request) => {
    const query = parseInput(auditQuery, request.query, 'query parameters');
    const entries = await store.listAudit(query);
    return { object: 'list', data: entries.map((entry) => presentAuditEntry(entry)), ...nextPage(entries, query.limit) };
  });

  app.get('/logs', async (request, reply) => {
    // JSON Lines asked for here too: ?format=jsonl, or Accept: application/x-ndjson.
    const { format, ...rest } = request.query as Record<string, unknown>;
    if (format === 'jsonl' || (format === undefined && /\bapplication\/(x-)?ndjson\b/.test(request.headers.accept ?? ''))) return exportLogs(rest, reply);
    if (format !== undefined && format !== 'json') throw new GatewayError('invalid_request', 'format: expected json or jsonl', { param: 'format' });
    const { cursor, before_id, ...query } = parseInput(logsQuery, rest, 'query parameters');
    const rows = await store.listRequests({ ...toRequestQuery(query), before_id: cursor ?? before_id });
    const page = nextPage(rows, query.limit);
    return { object: 'list', data: rows.map(presentRow), ...page, next_cursor: page.next_before_id === undefined ? null : String(page.next_before_id) };
  });

  // JSON Lines, newest first, read a page at a time while it is sent (so any size streams in constant memory).
  app.get('/logs/export', async (request, reply) => exportLogs(request.query, reply));

  async function exportLogs(input: unknown, reply: FastifyReply): Promise<FastifyReply> {
    const { limit = Infinity, cursor, before_id, ...filters } = parseInput(exportQuery, input, 'query parameters');
    const query = toRequestQuery(filters);
    const first = await store.listRequests({ ...query, limit: Math.min(EXPORT_PAGE, limit), before_id: cursor ?? before_id });
    async function* lines(): AsyncGenerator<string> {
      let rows = first;
      let sent = 0;
      while (rows.length > 0) {
        yield rows.map((row) => JSON.stringify(presentRow(row)) + '\n').join('');
        sent += rows.length;
        if (rows.length < EXPORT_PAGE || sent >= limit) return;
        rows = await store.listRequests({ ...query, limit: Math.min(EXPORT_PAGE, limit - sent), before_id: rows.at(-1)!.id });
      }
    }
    const day = new Date().toISOString().slice(0, 10);
    reply.type('application/x-ndjson; charset=utf-8').header('content-disposition', `attachment; filename="switchyard-requests-${day}.jsonl"`);
    return reply.send(Readable.from(lines()));
  }

  app.get<{ Params: { request_id: string } }>('/logs/:request_id', async (request) => {
    const rows = await store.requestsById(request.params.request_id);
    if (rows.length === 0) throw new GatewayError('not_found', `No request ${JSON.stringify(request.params.request_id)} in the request log (it may be older than request_log.retention_days, or not written yet).`);
    // A client may reuse an x-request-id: the newest is the answer, the others are listed.
    return { ...presentRow(rows[0]!), ...(rows.length > 1 ? { others: rows.slice(1).map(presentRow) } : {}) };
  });
}

type LogsFilters = z.output<z.ZodObject<typeof logsFilters>>;

function toRequestQuery({ status, ...filters }: LogsFilters): RequestQuery {
  if (status === undefined) return filters;
  return status.endsWith('xx') ? { ...filters, status_class: Number(status[0]) } : { ...filters, status: Number(status) };
}

/** A row as the API shows it: its time in ISO form, its cost to the nano-dollar (as x-switchyard-cost-usd gave it). */
function presentRow(row: RequestRecord): Record<string, unknown> {
  return { ...row, at: new Date(row.at).toISOString(), cost_usd: row.cost_usd === null ? null : roundUsd(row.cost_usd) };
}

/** Newest first: the next page starts before the last id shown; a page shorter than asked for was the last. */
function nextPage(rows: { id: number }[], limit: number | undefined): { next_before_id?: number } {
  const last = rows.at(-1);
  return last === undefined || rows.length < pageSize(limit) ? {} : { next_before_id: last.id };
}

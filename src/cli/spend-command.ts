/**
 * `switchyard spend`: the admin API's spend report (GET /admin/spend) as a table with a total.
 * Grouped by key, team or org, the ids get their names from the matching list, so the report is
 * readable without a second command.
 */
import { parseArgs } from 'node:util';
import { AdminUsageError, callAdmin, COMMON_OPTIONS, COMMON_USAGE, processIo, resolveConnection, runAdminCommand, type AdminRequest, type CliIo } from './admin-client.js';
import { formatTable } from './table.js';

export const SPEND_USAGE = `Usage:
  switchyard spend [--group-by key|team|org|user|model|provider|tag|day]
                   [--from YYYY-MM-DD] [--to YYYY-MM-DD]
                   [--key KEY_ID] [--team TEAM_ID] [--org ORG_ID] [--user END_USER]
                   [--model MODEL] [--provider PROVIDER]
  Days are UTC and both ends count; the default is the last 30 days, grouped by day.
  The filters narrow every grouping but tag.

${COMMON_USAGE}`;

export const GROUPS = ['key', 'team', 'org', 'user', 'model', 'provider', 'tag', 'day'] as const;
export type Group = (typeof GROUPS)[number];

const SPEND_OPTIONS = {
  ...COMMON_OPTIONS,
  'group-by': { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  key: { type: 'string' },
  team: { type: 'string' },
  org: { type: 'string' },
  user: { type: 'string' },
  model: { type: 'string' },
  provider: { type: 'string' },
} as const;

export type SpendCommand =
  | { action: 'help' }
  | { action: 'report'; group: Group; request: AdminRequest; json: boolean; flags: { url?: string | undefined; 'master-key'?: string | undefined } };

/** The command line (after `spend`) as the GET /admin/spend request it stands for. */
export function parseSpendCommand(argv: string[]): SpendCommand {
  const { values, positionals } = parseArgs({ args: argv, options: SPEND_OPTIONS, allowPositionals: true });
  if (values.help || positionals[0] === 'help') return { action: 'help' };
  if (positionals.length > 0) throw new AdminUsageError(`spend takes no arguments besides its options (got "${positionals.join(' ')}")`);
  const group = values['group-by'] ?? 'day';
  if (!(GROUPS as readonly string[]).includes(group)) throw new AdminUsageError(`--group-by: expected one of ${GROUPS.join(', ')}, got "${group}"`);
  for (const flag of ['from', 'to'] as const) {
    const text = values[flag];
    if (text !== undefined && (!/^\d{4}-\d{2}-\d{2}$/.test(text) || Number.isNaN(Date.parse(text)))) throw new AdminUsageError(`--${flag}: expected a day such as 2026-03-01, got "${text}"`);
  }
  if (values.from !== undefined && values.to !== undefined && values.from > values.to) throw new AdminUsageError(`--from ${values.from} is after --to ${values.to}`);
  const query = {
    group_by: group,
    from: values.from,
    to: values.to,
    key_id: values.key,
    team_id: values.team,
    org_id: values.org,
    end_user: values.user,
    model: values.model,
    provider: values.provider,
  };
  return { action: 'report', group: group as Group, json: values.json ?? false, flags: values, request: { method: 'GET', path: '/spend', query } };
}

/** GET /admin/spend's answer. */
export interface SpendReport {
  group_by: Group;
  from: string;
  to: string;
  total_cost_usd: number;
  data: SpendReportRow[];
}

export interface SpendReportRow {
  group: string | null;
  requests: number;
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  cost_usd: number;
  cache_hits: number;
  unpriced: number;
}

/** The lists that name a grouping's ids. */
const NAMED: Partial<Record<Group, AdminRequest>> = {
  key: { method: 'GET', path: '/keys', query: { include_revoked: 'true' } },
  team: { method: 'GET', path: '/teams' },
  org: { method: 'GET', path: '/orgs' },
};

/** The report as text: a heading, one row per group, a total (except per tag), and a note on unpriced requests. */
export function formatSpendReport(report: SpendReport, names?: ReadonlyMap<string, string>): string {
  const heading = `Spend by ${report.group_by}, ${report.from} to ${report.to} (UTC)`;
  if (report.data.length === 0) return `${heading}: no requests.\n`;
  // Days read best in order; every other grouping stays most expensive first, as the API sorts it.
  const rows = report.group_by === 'day' ? [...report.data].sort((a, b) => (a.group ?? '').localeCompare(b.group ?? '')) : report.data;
  const label = (group: string | null): string[] => [group ?? '(none)', ...(names ? [group === null ? '' : (names.get(group) ?? '')] : [])];
  const measures = (row: Omit<SpendReportRow, 'group'>): string[] => [
    count(row.requests),
    count(row.errors),
    count(row.cache_hits),
    count(row.prompt_tokens),
    count(row.completion_tokens),
    formatCost(row.cost_usd),
  ];
  const body = rows.map((row) => [...label(row.group), ...measures(row)]);
  // A request with several tags counts under each, so per tag the rows do not add up.
  const total = totals(rows);
  if (report.group_by !== 'tag') body.push(['TOTAL', ...(names ? [''] : []), ...measures(total)]);
  const columns = [
    { header: report.group_by.toUpperCase() },
    ...(names ? [{ header: 'NAME' }] : []),
    ...['REQUESTS', 'ERRORS', 'CACHE HITS', 'TOKENS IN', 'TOKENS OUT', 'COST (USD)'].map((header) => ({ header, align: 'right' as const })),
  ];
  const notes: string[] = [];
  if (report.group_by === 'tag') notes.push('A request with several tags counts under each, so there is no total; requests without tags are not shown.');
  if (total.unpriced > 0 && report.group_by !== 'tag') notes.push(`${count(total.unpriced)} of the requests had no known price and count as $0.`);
  return `${heading}\n\n${formatTable(columns, body)}\n${notes.map((note) => `\n${note}`).join('')}${notes.length > 0 ? '\n' : ''}`;
}

function totals(rows: readonly SpendReportRow[]): Omit<SpendReportRow, 'group'> {
  const sum = (field: keyof Omit<SpendReportRow, 'group'>): number => rows.reduce((total, row) => total + row[field], 0);
  return {
    requests: sum('requests'),
    errors: sum('errors'),
    cache_hits: sum('cache_hits'),
    prompt_tokens: sum('prompt_tokens'),
    completion_tokens: sum('completion_tokens'),
    cost_usd: sum('cost_usd'),
    unpriced: sum('unpriced'),
  };
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** Four decimals (a request often costs fractions of a cent); a non-zero amount never shows as zero. */
export function formatCost(usd: number): string {
  if (usd > 0 && usd < 0.00005) return '<0.0001';
  return usd.toLocaleString('en-US', { minimumFractionDigits: 4, maximumFractionDigits: 4 });
}

export async function runSpendCommand(argv: string[], env: NodeJS.ProcessEnv = process.env, io: CliIo = processIo): Promise<number> {
  return runAdminCommand(SPEND_USAGE, io, async () => {
    const command = parseSpendCommand(argv);
    if (command.action === 'help') return io.stdout(`${SPEND_USAGE}\n`);
    const connection = resolveConnection(command.flags, env);
    const report = await callAdmin<SpendReport>(connection, command.request);
    if (command.json) return io.stdout(`${JSON.stringify(report, null, 2)}\n`);
    const query = command.request.query ?? {};
    if (command.group === 'tag' && ['key_id', 'team_id', 'org_id', 'end_user', 'model', 'provider'].some((filter) => query[filter] !== undefined)) {
      io.stderr('switchyard: note: the filters do not narrow the tag grouping; this report covers every request.\n');
    }
    const lookup = NAMED[command.group];
    const names = lookup && report.data.length > 0 ? namesOf(await callAdmin<{ data: { id: string; name: string | null }[] }>(connection, lookup)) : undefined;
    io.stdout(formatSpendReport(report, names));
  });
}

function namesOf(list: { data: { id: string; name: string | null }[] }): Map<string, string> {
  return new Map(list.data.map((entity) => [entity.id, entity.name ?? '']));
}

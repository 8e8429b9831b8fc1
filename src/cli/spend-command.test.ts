import { describe, expect, it } from 'vitest';
import { AdminUsageError } from './admin-client.js';
import { formatCost, formatSpendReport, parseSpendCommand, type SpendReport, type SpendReportRow } from './spend-command.js';

describe('parseSpendCommand', () => {
  it('turns the options into the GET /admin/spend query, leaving out what was not given', () => {
    expect(parseSpendCommand([])).toMatchObject({ action: 'report', group: 'day', json: false, request: { method: 'GET', path: '/spend', query: { group_by: 'day' } } });
    const command = parseSpendCommand(['--group-by', 'model', '--from', '2026-03-01', '--to', '2026-03-31', '--key', 'key_1', '--team', 't', '--org', 'o', '--user', 'u', '--model', 'm', '--provider', 'p', '--json']);
    expect(command).toMatchObject({ action: 'report', group: 'model', json: true });
    if (command.action !== 'report') throw new Error('expected a report');
    expect(command.request.query).toEqual({ group_by: 'model', from: '2026-03-01', to: '2026-03-31', key_id: 'key_1', team_id: 't', org_id: 'o', end_user: 'u', model: 'm', provider: 'p' });
  });

  it.each([
    [['--group-by', 'week'], /--group-by: expected one of key, team, org, user, model, provider, tag, day/],
    [['--from', '2026-3-1'], /--from: expected a day such as 2026-03-01/],
    [['--to', '2026-02-30x'], /--to: expected a day/],
    [['--from', '2026-04-01', '--to', '2026-03-01'], /--from 2026-04-01 is after --to 2026-03-01/],
    [['key'], /spend takes no arguments/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseSpendCommand(argv)).toThrow(AdminUsageError);
    expect(() => parseSpendCommand(argv)).toThrow(message);
  });

  it('asks for help with --help or help', () => {
    expect(parseSpendCommand(['--help'])).toEqual({ action: 'help' });
    expect(parseSpendCommand(['help'])).toEqual({ action: 'help' });
  });
});

const row = (group: string | null, over: Partial<SpendReportRow> = {}): SpendReportRow => ({
  group,
  requests: 1,
  errors: 0,
  prompt_tokens: 10,
  completion_tokens: 5,
  cost_usd: 0.015,
  cache_hits: 0,
  unpriced: 0,
  ...over,
});

const report = (group_by: SpendReport['group_by'], data: SpendReportRow[]): SpendReport => ({
  group_by,
  from: '2026-03-01',
  to: '2026-03-30',
  total_cost_usd: data.reduce((sum, r) => sum + r.cost_usd, 0),
  data,
});

describe('formatSpendReport', () => {
  it('prints a table per group with names, right-aligned measures and a total', () => {
    const text = formatSpendReport(
      report('key', [row('key_1', { requests: 1200, prompt_tokens: 48000, completion_tokens: 2000, cost_usd: 1.5, errors: 2, cache_hits: 3 }), row(null, { cost_usd: 0 })]),
      new Map([['key_1', 'ci']]),
    );
    expect(text.split('\n')).toEqual([
      'Spend by key, 2026-03-01 to 2026-03-30 (UTC)',
      '',
      'KEY     NAME  REQUESTS  ERRORS  CACHE HITS  TOKENS IN  TOKENS OUT  COST (USD)',
      'key_1   ci       1,200       2           3     48,000       2,000      1.5000',
      '(none)               1       0           0         10           5      0.0000',
      'TOTAL            1,201       2           3     48,010       2,005      1.5000',
      '',
    ]);
  });

  it('leaves the name column out when nothing names the groups, and notes unpriced requests', () => {
    const text = formatSpendReport(report('model', [row('gpt', { unpriced: 1, cost_usd: 0 }), row('mock', { unpriced: 2, requests: 2, cost_usd: 0 })]));
    expect(text).toContain('MODEL  REQUESTS  ERRORS');
    expect(text).not.toContain('NAME');
    expect(text).toMatch(/TOTAL\s+3\s/);
    expect(text.endsWith('\n\n3 of the requests had no known price and count as $0.\n')).toBe(true);
  });

  it('puts days in order', () => {
    const text = formatSpendReport(report('day', [row('2026-03-03', { cost_usd: 9 }), row('2026-03-01'), row('2026-03-02')]));
    expect(text.split('\n').slice(3, 6).map((line) => line.slice(0, 10))).toEqual(['2026-03-01', '2026-03-02', '2026-03-03']);
  });

  it('gives no total per tag, since a request with several tags counts under each', () => {
    const text = formatSpendReport(report('tag', [row('env:prod'), row('team:x')]));
    expect(text).not.toContain('TOTAL');
    expect(text).toContain('A request with several tags counts under each');
  });

  it('says when there was nothing to report', () => {
    expect(formatSpendReport(report('team', []))).toBe('Spend by team, 2026-03-01 to 2026-03-30 (UTC): no requests.\n');
  });
});

describe('formatCost', () => {
  it('shows four decimals, and never a non-zero amount as zero', () => {
    expect(formatCost(0)).toBe('0.0000');
    expect(formatCost(0.00012)).toBe('0.0001');
    expect(formatCost(0.000001)).toBe('<0.0001');
    expect(formatCost(1234.56789)).toBe('1,234.5679');
  });
});

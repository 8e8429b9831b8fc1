/**
 * The shipped observability assets (deploy/grafana/dashboards/*.json, deploy/prometheus/alerts.yml)
 * against the real gateway: after a small mixed workload, every metric a dashboard or an alert rule
 * queries must be in GET /metrics, with the right type (a histogram only through _bucket / _sum /
 * _count) and with the label names the queries filter and group by. The files' own structure is
 * checked too (Grafana dashboard shape; Prometheus rule groups), and, where promtool is installed,
 * the PromQL syntax of every query.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { apiError, collect, raw, sdk } from '../helpers/client.js';
import { REPO_ROOT, startGateway, stopAllGateways, type Gateway } from '../helpers/gateway.js';

const DASHBOARDS_DIR = join(REPO_ROOT, 'deploy/grafana/dashboards');
const ALERTS_FILE = join(REPO_ROOT, 'deploy/prometheus/alerts.yml');
const MASTER_KEY = 'sk-master-deploy-assets';

/** All our metrics share the prefix, so a token scan finds every reference in PromQL. */
const METRIC_NAME = /\bswitchyard_[a-z0-9_]+\b/g;
/** Labels Prometheus adds at scrape time, and the optional `team` label (metrics.team_labels). */
const LABELS_NOT_EXPORTED = new Set(['job', 'instance', 'team']);
const HISTOGRAM_SERIES_SUFFIXES = ['_bucket', '_sum', '_count'] as const;
/** Prometheus's rule checker, when installed, also checks the PromQL syntax. */
const PROMTOOL = spawnSync('promtool', ['--version']).status === 0;
if (!PROMTOOL) console.warn('[deploy-assets.test] promtool is not installed: the PromQL syntax check of the alert rules is skipped (the rest of this file runs).');

interface Exposition {
  /** Metric family → type, from the `# TYPE <name> <type>` lines. */
  types: Map<string, string>;
  /** Metric family → label names seen on its samples (absent when it has no sample yet). */
  labels: Map<string, Set<string>>;
}

/** Where a PromQL expression was found, for error messages. */
interface Query {
  where: string;
  expr: string;
}

interface GrafanaTarget {
  expr?: unknown;
  datasource?: { uid?: unknown };
}
interface GrafanaPanel {
  type?: unknown;
  title?: unknown;
  datasource?: { uid?: unknown };
  gridPos?: { x: number; w: number };
  targets?: GrafanaTarget[];
  panels?: GrafanaPanel[];
}
interface GrafanaVariable {
  name?: unknown;
  type?: unknown;
  query?: unknown;
  definition?: unknown;
}
interface GrafanaDashboard {
  uid?: unknown;
  title?: unknown;
  schemaVersion?: unknown;
  panels?: GrafanaPanel[];
  templating?: { list?: GrafanaVariable[] };
}

interface AlertRule {
  alert?: unknown;
  record?: unknown;
  expr?: unknown;
  for?: unknown;
  labels?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
}
interface RuleFile {
  groups?: { name?: unknown; rules?: AlertRule[] }[];
}

let gateway: Gateway;
let exposition: Exposition;

const dashboards: { file: string; json: GrafanaDashboard }[] = readdirSync(DASHBOARDS_DIR)
  .filter((file) => file.endsWith('.json'))
  .sort()
  .map((file) => ({ file, json: JSON.parse(readFileSync(join(DASHBOARDS_DIR, file), 'utf8')) as GrafanaDashboard }));
const ruleFile = parseYaml(readFileSync(ALERTS_FILE, 'utf8')) as RuleFile;

/** The mock provider, a cached group, a master key and one SLO (so the SLA metrics exist); no Redis. */
const GATEWAY_CONFIG = `
auth: { master_key: ${MASTER_KEY} }
providers:
  demo: { type: mock }
models:
  chat:
    targets: [ { provider: demo, model: mock-1 } ]
    cache: { exact: true }
sla:
  objectives:
    - name: chat-availability
      model: chat
      availability: 99
      p95_latency_ms: 1000
`;

/** A chat, a stream, a cache hit, an unknown model (404) and a bad key (401). */
async function runWorkload(client: OpenAI, stranger: OpenAI): Promise<void> {
  const ask = { model: 'chat', messages: [{ role: 'user' as const, content: 'Dashboards need data.' }] };
  const first = await client.chat.completions.create(ask).withResponse();
  expect(first.response.headers.get('x-switchyard-cache')).toBe('MISS');
  const repeated = await client.chat.completions.create(ask).withResponse();
  expect(repeated.response.headers.get('x-switchyard-cache')).toBe('HIT');

  const chunks = await collect(
    await client.chat.completions.create({
      model: 'chat',
      messages: [{ role: 'user', content: 'Stream it.' }],
      stream: true,
      stream_options: { include_usage: true },
    }),
  );
  expect(chunks.length).toBeGreaterThan(1);

  expect((await apiError(() => client.chat.completions.create({ ...ask, model: 'no-such-model' }))).status).toBe(404);
  expect((await apiError(() => stranger.chat.completions.create(ask))).status).toBe(401);
}

/** Reads the Prometheus text format: families from `# TYPE`, label names from the samples. */
function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const labels = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+/.exec(line);
    if (!sample) continue;
    const family = familyOfSeries(sample[1]!, types);
    if (!family) continue;
    const names = labels.get(family) ?? new Set<string>();
    // Quotes inside label values are escaped (\"), so `name="` only matches at a label's start.
    for (const match of (sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) names.add(match[1]!);
    labels.set(family, names);
  }
  return { types, labels };
}

/** The family a series name belongs to: itself, or a histogram / summary it is a part of. */
function familyOfSeries(series: string, types: Map<string, string>): string | undefined {
  if (types.has(series)) return series;
  for (const suffix of HISTOGRAM_SERIES_SUFFIXES) {
    if (!series.endsWith(suffix)) continue;
    const base = series.slice(0, -suffix.length);
    const type = types.get(base);
    if (type === 'histogram' || (type === 'summary' && suffix !== '_bucket')) return base;
  }
  return undefined;
}

/** Why a name used in a query is no series the gateway exports, or undefined when it is one. */
function problemWith(name: string, types: Map<string, string>): string | undefined {
  const type = types.get(name);
  if (type === 'histogram') return `${name} is a histogram: query ${name}_bucket, _sum or _count`;
  if (type !== undefined) return undefined;
  if (familyOfSeries(name, types)) return undefined;
  return `${name} is not in /metrics`;
}

function dashboardPanels(panels: GrafanaPanel[] = []): GrafanaPanel[] {
  return panels.flatMap((panel) => [panel, ...dashboardPanels(panel.panels)]);
}

function dashboardQueries({ file, json }: { file: string; json: GrafanaDashboard }): Query[] {
  const queries: Query[] = [];
  for (const panel of dashboardPanels(json.panels)) {
    for (const target of panel.targets ?? []) {
      if (typeof target.expr === 'string') queries.push({ where: `${file} panel "${String(panel.title)}"`, expr: target.expr });
    }
  }
  for (const variable of json.templating?.list ?? []) {
    const query = typeof variable.query === 'object' && variable.query !== null ? (variable.query as { query?: unknown }).query : variable.query;
    const texts = new Set([query, variable.definition].filter((text): text is string => typeof text === 'string'));
    if (variable.type === 'query') for (const expr of texts) queries.push({ where: `${file} variable $${String(variable.name)}`, expr });
  }
  return queries;
}

const alertRules = (): AlertRule[] => (ruleFile.groups ?? []).flatMap((group) => group.rules ?? []);

function alertQueries(): Query[] {
  return alertRules().map((rule) => ({ where: `alerts.yml ${String(rule.alert ?? rule.record)}`, expr: String(rule.expr) }));
}

const metricNames = (expr: string): string[] => [...new Set(expr.match(METRIC_NAME) ?? [])];

/** Label names used in the selectors `switchyard_x{label=...}` of an expression, per metric name. */
function selectorLabels(expr: string): { name: string; labels: string[] }[] {
  const withoutStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  return [...withoutStrings.matchAll(/\b(switchyard_[a-z0-9_]+)\s*\{([^}]*)\}/g)].map((match) => ({
    name: match[1]!,
    labels: [...match[2]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((label) => label[1]!),
  }));
}

/** Label names in `by (...)`, `without (...)`, `on (...)`, `ignoring (...)`, `group_left (...)`. */
function groupingLabels(expr: string): string[] {
  return [...expr.matchAll(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g)].flatMap((match) =>
    match[1]!
      .split(',')
      .map((label) => label.trim())
      .filter(Boolean),
  );
}

/** Every query of every asset, each checked against /metrics; returns the problems found. */
function checkQueries(queries: Query[]): string[] {
  const problems: string[] = [];
  for (const { where, expr } of queries) {
    for (const name of metricNames(expr)) {
      const problem = problemWith(name, exposition.types);
      if (problem) problems.push(`${where}: ${problem}`);
    }
    for (const { name, labels } of selectorLabels(expr)) {
      const family = familyOfSeries(name, exposition.types);
      const seen = family ? exposition.labels.get(family) : undefined;
      if (!seen) continue; // no sample yet: its labels are unknown
      for (const label of labels) {
        if (!seen.has(label) && !LABELS_NOT_EXPORTED.has(label)) problems.push(`${where}: ${name} has no label "${label}"`);
      }
    }
    for (const match of expr.matchAll(/label_values\(\s*(switchyard_[a-z0-9_]+)[^,]*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)/g)) {
      const seen = exposition.labels.get(familyOfSeries(match[1]!, exposition.types) ?? '');
      if (seen && !seen.has(match[2]!)) problems.push(`${where}: ${match[1]!} has no label "${match[2]!}"`);
    }
    // Grouping labels must exist on some metric of the expression, once all of them have samples.
    const families = metricNames(expr).map((name) => familyOfSeries(name, exposition.types));
    const labelSets = families.map((family) => (family ? exposition.labels.get(family) : undefined));
    if (families.length > 0 && labelSets.every((set) => set !== undefined)) {
      const known = new Set(['le', ...LABELS_NOT_EXPORTED, ...labelSets.flatMap((set) => [...set!])]);
      for (const label of groupingLabels(expr)) {
        if (!known.has(label)) problems.push(`${where}: no metric in the expression has the label "${label}"`);
      }
    }
  }
  return problems;
}

function balanced(expr: string): boolean {
  let depth = 0;
  for (const char of expr.replace(/"(?:[^"\\]|\\.)*"/g, '""')) {
    if (char === '(' || char === '{' || char === '[') depth++;
    if (char === ')' || char === '}' || char === ']') depth--;
    if (depth < 0) return false;
  }
  return depth === 0;
}

describe('Grafana dashboards', () => {
  it('ships overview, providers, cost and cache, each with a unique uid and title', () => {
    expect(dashboards.map((d) => d.file)).toEqual(['cache.json', 'cost.json', 'overview.json', 'providers.json']);
    const uids = dashboards.map((d) => d.json.uid);
    const titles = dashboards.map((d) => d.json.title);
    for (const value of [...uids, ...titles]) expect(typeof value === 'string' && value.length > 0).toBe(true);
    expect(new Set(uids).size).toBe(dashboards.length);
    expect(new Set(titles).size).toBe(dashboards.length);
    for (const { json } of dashboards) expect(json.schemaVersion).toBeGreaterThanOrEqual(36);
  });

  it('has a Prometheus data source variable that every panel and query uses', () => {
    for (const { file, json } of dashboards) {
      const variable = json.templating?.list?.find((v) => v.name === 'datasource');
      expect(variable, file).toMatchObject({ type: 'datasource', query: 'prometheus' });
      for (const panel of dashboardPanels(json.panels)) {
        if (panel.type === 'row') continue;
        expect(panel.datasource?.uid, `${file} "${String(panel.title)}"`).toBe('${datasource}');
        for (const target of panel.targets ?? []) expect(target.datasource?.uid, `${file} "${String(panel.title)}"`).toBe('${datasource}');
      }
    }
  });

  it('gives every panel at least one query, balanced and inside the 24-column grid', () => {
    for (const { file, json } of dashboards) {
      const panels = dashboardPanels(json.panels).filter((panel) => panel.type !== 'row');
      expect(panels.length, file).toBeGreaterThan(3);
      for (const panel of panels) {
        const where = `${file} "${String(panel.title)}"`;
        const exprs = (panel.targets ?? []).map((target) => target.expr);
        expect(exprs.length, where).toBeGreaterThan(0);
        for (const expr of exprs) {
          expect(typeof expr === 'string' && expr.trim() !== '', where).toBe(true);
          expect(balanced(String(expr)), `${where}: ${String(expr)}`).toBe(true);
        }
        expect(panel.gridPos!.x + panel.gridPos!.w, where).toBeLessThanOrEqual(24);
      }
    }
  });
});

describe('Prometheus alert rules', () => {
  it('is a rule file: groups of alerts with expr, for, severity, summary and description', () => {
    const groups = ruleFile.groups ?? [];
    expect(groups.length).toBeGreaterThan(0);
    expect(new Set(groups.map((g) => g.name)).size).toBe(groups.length);
    for (const group of groups) {
      expect(typeof group.name).toBe('string');
      expect(group.rules?.length, String(group.name)).toBeGreaterThan(0);
    }
    const rules = alertRules();
    expect(new Set(rules.map((r) => r.alert)).size).toBe(rules.length);
    for (const rule of rules) {
      const where = String(rule.alert);
      expect(rule.alert, where).toMatch(/^Switchyard[A-Za-z0-9]+$/);
      expect(typeof rule.expr === 'string' && balanced(rule.expr), where).toBe(true);
      expect(rule.for, where).toMatch(/^\d+[smh]$/);
      expect(['critical', 'warning', 'info'], where).toContain(rule.labels?.severity);
      for (const key of ['summary', 'description']) {
        const text = rule.annotations?.[key];
        expect(typeof text === 'string' && text.length > 10, `${where} ${key}`).toBe(true);
      }
    }
  });

  it('only names labels in annotations that the aggregated expression keeps', () => {
    for (const rule of alertRules()) {
      const expr = String(rule.expr);
      const kept = groupingLabels(expr);
      if (!/\bby\s*\(/.test(expr)) continue; // no aggregation: every label of the series is kept
      for (const text of Object.values(rule.annotations ?? {})) {
        for (const match of String(text).matchAll(/\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)/g)) {
          expect(kept, `${String(rule.alert)} uses $labels.${match[1]!}`).toContain(match[1]);
        }
      }
    }
  });
});

describe.skipIf(!PROMTOOL)('PromQL syntax (promtool, when installed)', () => {
  /** promtool output for a rule file, and whether it accepted it. */
  const check = (path: string) => {
    const result = spawnSync('promtool', ['check', 'rules', path], { encoding: 'utf8' });
    return { ok: result.status === 0, output: `${result.stdout}${result.stderr}` };
  };

  it('accepts the alert rules', () => {
    const result = check(ALERTS_FILE);
    expect(result.ok, result.output).toBe(true);
  });

  it("accepts every dashboard query (as recording rules, Grafana's variables filled in)", () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-promql-'));
    try {
      const rules = dashboards
        .flatMap(dashboardQueries)
        .filter((query) => !query.expr.startsWith('label_values('))
        .map((query, i) => ({
          record: `dashboard:query:${i}`,
          expr: query.expr.replaceAll('$__rate_interval', '1m').replaceAll('$__range', '1h').replace(/\$(model|provider)\b/g, '.*'),
        }));
      writeFileSync(join(dir, 'dashboards.yml'), stringifyYaml({ groups: [{ name: 'dashboards', rules }] }));
      const result = check(join(dir, 'dashboards.yml'));
      expect(result.ok, result.output).toBe(true);
      expect(result.output).toContain(`${rules.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('against the /metrics of the gateway after a mixed workload', () => {
  beforeAll(async () => {
    gateway = await startGateway(GATEWAY_CONFIG);
    await runWorkload(sdk(gateway, MASTER_KEY), sdk(gateway, 'sk-not-a-key'));
    const metrics = await raw(gateway, '/metrics');
    expect(metrics.status).toBe(200);
    exposition = parseExposition(metrics.text);
  });

  afterAll(stopAllGateways);

  it('exports the metric families the assets are built on', () => {
    expect(exposition.types.get('switchyard_requests_total')).toBe('counter');
    expect(exposition.types.get('switchyard_request_duration_seconds')).toBe('histogram');
    expect(exposition.labels.get('switchyard_requests_total')).toEqual(new Set(['route', 'model', 'provider', 'upstream_model', 'status', 'cache']));
  });

  it('every dashboard query uses only metrics, and labels, that /metrics has', () => {
    for (const dashboard of dashboards) expect(dashboardQueries(dashboard).flatMap((q) => metricNames(q.expr)).length, dashboard.file).toBeGreaterThan(0);
    expect(checkQueries(dashboards.flatMap(dashboardQueries))).toEqual([]);
  });

  it("every alert rule uses only metrics, and labels, that /metrics has (up is Prometheus's own)", () => {
    for (const rule of alertRules()) {
      const expr = String(rule.expr);
      expect(metricNames(expr).length > 0 || /\bup\b/.test(expr), String(rule.alert)).toBe(true);
    }
    expect(alertQueries().flatMap((q) => metricNames(q.expr)).length).toBeGreaterThan(10);
    expect(checkQueries(alertQueries())).toEqual([]);
  });
});

/** Turns raw load results into the comparison table (metric | gateway | direct | added | target). */

/** The targets. `on` says which number a target is checked against. */
export const TARGETS = {
  throughput: { min: 5000, text: '>= 5,000 req/s' },
  addedP50c1: { max: 0.2, text: 'added <= 0.2 ms' },
  addedP99c1: { max: 1, text: 'added <= 1 ms' },
  streamFirstByte: { max: 0.5, text: 'added <= 0.5 ms' },
  rss: { max: 120, text: '<= 120 MB' },
};

const get = (object, path) => path.split('.').reduce((value, key) => (value == null ? undefined : value[key]), object);

/**
 * @param {object} runs  runs[scenarioId][target] = load result
 * @param {object} memory memory[target] = { hwmKB, peakRssKB }
 * @param {{ concurrency: number, satConcurrency: number, targets: string[] }} options
 */
export function buildRows(runs, memory, { concurrency, satConcurrency, targets }) {
  const rows = [];
  const servers = targets.filter((t) => t !== 'direct');
  const latency = (scenario, field, label, target) => {
    const ms = (t) => {
      const us = get(runs[scenario]?.[t], field);
      return us === undefined ? undefined : us / 1000;
    };
    const values = Object.fromEntries(targets.map((t) => [t, ms(t)]));
    const added = Object.fromEntries(servers.map((t) => [t, values[t] !== undefined && values.direct !== undefined ? values[t] - values.direct : undefined]));
    const row = { metric: label, unit: 'ms', values, added };
    if (target) {
      row.target = target.text;
      row.pass = added.gateway === undefined ? undefined : added.gateway <= target.max;
    }
    rows.push(row);
  };

  if (runs.saturation) {
    const values = Object.fromEntries(targets.map((t) => [t, runs.saturation[t]?.rps]));
    rows.push({
      metric: `throughput, non-streaming, c=${satConcurrency} (req/s)`,
      unit: 'req/s',
      values,
      added: {},
      target: TARGETS.throughput.text,
      pass: values.gateway === undefined ? undefined : values.gateway >= TARGETS.throughput.min,
    });
    const cpu = Object.fromEntries(targets.map((t) => [t, runs.saturation[t]?.cpu?.server]));
    rows.push({ metric: '  server CPU during saturation (% of a core)', unit: '%', values: cpu, added: {} });
    const loader = Object.fromEntries(targets.map((t) => [t, runs.saturation[t]?.cpu?.loadCore]));
    rows.push({ metric: '  load core CPU: loader + mock (% of a core)', unit: '%', values: loader, added: {} });
    const others = Object.fromEntries(targets.map((t) => [t, runs.saturation[t]?.cpu?.others]));
    rows.push({ metric: '  other processes on the cores used (noise, % of a core)', unit: '%', values: others, added: {} });
  }
  // What the gateway itself reports (its log: latency − upstream wait), free of cross-core wake-ups.
  const own = (scenario, label) => {
    const self = runs[scenario]?.gateway?.selfReported;
    if (!self) return;
    for (const q of ['p50', 'p99']) rows.push({ metric: `  ${label} ${q}, gateway's own time (from its log) (ms)`, unit: 'ms', values: { gateway: self[q] }, added: {} });
  };
  if (runs['nonstream-c1']) {
    latency('nonstream-c1', 'total.p50', 'non-streaming c=1 p50 (ms)', TARGETS.addedP50c1);
    latency('nonstream-c1', 'total.p99', 'non-streaming c=1 p99 (ms)', TARGETS.addedP99c1);
    own('nonstream-c1', 'c=1');
  }
  if (runs[`nonstream-c${concurrency}`]) {
    latency(`nonstream-c${concurrency}`, 'total.p50', `non-streaming c=${concurrency} p50 (ms)`);
    latency(`nonstream-c${concurrency}`, 'total.p99', `non-streaming c=${concurrency} p99 (ms)`);
  }
  if (runs['stream-c1']) {
    latency('stream-c1', 'firstByte.p50', 'streaming first byte c=1 p50 (ms)', TARGETS.streamFirstByte);
    latency('stream-c1', 'firstByte.p99', 'streaming first byte c=1 p99 (ms)');
    latency('stream-c1', 'total.p50', 'streaming whole stream c=1 p50 (ms)');
    own('stream-c1', 'streaming c=1, whole stream,');
  }
  if (runs[`stream-c${concurrency}`]) {
    latency(`stream-c${concurrency}`, 'firstByte.p50', `streaming first byte c=${concurrency} p50 (ms)`);
    latency(`stream-c${concurrency}`, 'firstByte.p99', `streaming first byte c=${concurrency} p99 (ms)`);
  }
  const rss = Object.fromEntries(servers.map((t) => [t, memory[t]?.hwmKB === undefined ? undefined : memory[t].hwmKB / 1024]));
  rows.push({ metric: 'server peak RSS, VmHWM (MB)', unit: 'MB', values: rss, added: {}, target: TARGETS.rss.text, pass: rss.gateway === undefined ? undefined : rss.gateway <= TARGETS.rss.max });
  return rows;
}

function format(value, unit) {
  if (value === undefined || value === null || Number.isNaN(value)) return '-';
  if (unit === 'ms') return value.toFixed(3);
  if (unit === 'req/s') return Math.round(value).toLocaleString('en-US');
  if (unit === '%') return `${Math.round(value)}%`;
  if (unit === 'MB') return value.toFixed(1);
  return String(value);
}

function signed(value, unit) {
  if (value === undefined) return '';
  const text = format(value, unit);
  return value >= 0 ? `+${text}` : text;
}

/** The table as aligned plain text (also valid as a Markdown table with `markdown: true`). */
export function formatTable(rows, targets, { markdown = false } = {}) {
  const servers = targets.filter((t) => t !== 'direct');
  const header = ['metric', 'switchyard', 'direct', 'added'];
  const extra = servers.filter((t) => t !== 'gateway');
  for (const t of extra) header.push(t, `${t} added`);
  header.push('target', 'result');
  const body = rows.map((row) => {
    const cells = [row.metric.trimEnd(), format(row.values.gateway, row.unit), format(row.values.direct, row.unit), signed(row.added.gateway, row.unit)];
    for (const t of extra) cells.push(format(row.values[t], row.unit), signed(row.added[t], row.unit));
    cells.push(row.target ?? '', row.pass === undefined ? '' : row.pass ? 'PASS' : 'FAIL');
    return cells;
  });
  if (markdown) {
    const line = (cells) => `| ${cells.join(' | ')} |`;
    return [line(header), line(header.map((_, i) => (i === 0 ? '---' : '---:'))), ...body.map(line)].join('\n');
  }
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((cells) => cells[i].length)));
  const line = (cells) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { slaSchema } from '../../config/sla-schema.js';
import { SlaMonitor, type RequestSample } from './monitor.js';

/** A real webhook endpoint: records every call; answers with the statuses queued, else 200. */
class WebhookServer {
  readonly calls: { path: string; headers: IncomingMessage['headers']; body: Record<string, unknown> }[] = [];
  readonly statuses: number[] = [];
  delayMs = 0;
  #server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        this.calls.push({ path: req.url ?? '', headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> });
        setTimeout(() => res.writeHead(this.statuses.shift() ?? 200).end('ok'), this.delayMs);
      });
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  to(path: string) {
    return this.calls.filter((call) => call.path === path);
  }

  reset(): void {
    this.calls.length = 0;
    this.statuses.length = 0;
    this.delayMs = 0;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()));
  }
}

const server = new WebhookServer();
beforeAll(() => server.start());
afterAll(() => server.close());
beforeEach(() => server.reset());

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);

interface Logged {
  level: 'info' | 'warn' | 'error';
  msg: string;
  obj: object;
}

function setup(sla: unknown, options: { retryDelayMs?: number } = {}) {
  const clock = { now: T0 };
  const logs: Logged[] = [];
  const logger = {
    info: (obj: object, msg: string) => void logs.push({ level: 'info', msg, obj }),
    warn: (obj: object, msg: string) => void logs.push({ level: 'warn', msg, obj }),
    error: (obj: object, msg: string) => void logs.push({ level: 'error', msg, obj }),
  };
  const registry = new Registry();
  const monitor = new SlaMonitor(slaSchema.parse(sla), { registry, logger, now: () => clock.now, retryDelayMs: options.retryDelayMs ?? 5 });
  const observe = (count: number, sample: Partial<RequestSample>) => {
    for (let i = 0; i < count; i++) monitor.observe({ model: 'smart', provider: 'openai', status: 200, totalMs: 100, stream: false, ...sample });
  };
  return { monitor, registry, logs, clock, observe };
}

const webhooks = () => [
  { url: `${server.url}/json`, format: 'json', headers: { authorization: 'Bearer hook-secret' } },
  { url: `${server.url}/slack`, format: 'slack' },
];

const availabilitySlo = { name: 'smart-availability', model: 'smart', window_ms: 60_000, min_requests: 20, availability: 99 };
const upstreamFailure = { status: 502, errorCode: 'upstream_error' } as const;

describe('SLO violation and recovery alerts', () => {
  it('a violation sends exactly one call per webhook, staying violated sends nothing, recovery sends exactly one', async () => {
    // No cool-down: only the state machine keeps a lasting violation to one alert.
    const { monitor, observe, clock } = setup({ objectives: [availabilitySlo], alerts: { cooldown_ms: 0, webhooks: webhooks() } });
    observe(100, {});
    await monitor.evaluate();
    expect(server.calls).toHaveLength(0);
    expect(monitor.snapshot().data[0]!.indicators[0]!.state).toBe('ok');

    // A burst of upstream failures: 100 / 110 = 90.9% < 99%.
    clock.now += 1_000;
    observe(10, upstreamFailure);
    await monitor.evaluate();
    expect(server.to('/json')).toHaveLength(1);
    expect(server.to('/slack')).toHaveLength(1);
    const violation = server.to('/json')[0]!;
    expect(violation.headers.authorization).toBe('Bearer hook-secret');
    expect(violation.headers['content-type']).toBe('application/json');
    expect(violation.body).toEqual({
      type: 'slo.violation',
      slo: 'smart-availability',
      indicator: 'availability',
      unit: 'percent',
      target: { model: 'smart' },
      objective: 99,
      value: 90.9091,
      window_ms: 60_000,
      requests: 110,
      state: 'violated',
      at: new Date(T0 + 1_000).toISOString(),
    });
    const slack = server.to('/slack')[0]!.body as { text: string; blocks: { type: string; text?: { type: string; text: string }; fields?: { type: string; text: string }[] }[] };
    expect(slack.text).toContain('*smart-availability* violated');
    expect(slack.text).toContain('availability 90.909%');
    expect(slack.text).toContain('objective ≥ 99%');
    expect(slack.blocks.map((b) => b.type)).toEqual(['header', 'section', 'section', 'context']);
    expect(slack.blocks[0]!.text).toEqual({ type: 'plain_text', text: 'SLO smart-availability violated' });
    expect(slack.blocks[1]!.text!.type).toBe('mrkdwn');
    expect(slack.blocks[2]!.fields).toContainEqual({ type: 'mrkdwn', text: '*Requests*\n110' });
    expect(slack.blocks[2]!.fields).toContainEqual({ type: 'mrkdwn', text: '*Target*\nmodel group smart' });

    // Still violated: no more calls, however often it is evaluated.
    for (let i = 0; i < 3; i++) {
      clock.now += 5_000;
      observe(1, upstreamFailure);
      await monitor.evaluate();
    }
    expect(server.calls).toHaveLength(2);

    // The failures leave the window; healthy traffic recovers it.
    clock.now += 61_000;
    observe(50, {});
    await monitor.evaluate();
    expect(server.to('/json')).toHaveLength(2);
    expect(server.to('/slack')).toHaveLength(2);
    expect(server.to('/json')[1]!.body).toMatchObject({ type: 'slo.recovery', slo: 'smart-availability', value: 100, state: 'ok', requests: 50 });
    expect((server.to('/slack')[1]!.body as { text: string }).text).toContain('recovered');

    // Staying healthy sends nothing more.
    await monitor.evaluate();
    expect(server.calls).toHaveLength(4);
    await monitor.stop();
  });

  it('a violation within the cool-down is held back, then sent if it lasts past the cool-down', async () => {
    const { monitor, observe, clock, registry } = setup({ objectives: [availabilitySlo], alerts: { cooldown_ms: 600_000, webhooks: [webhooks()[0]] } });
    const flap = async (healthy: boolean) => {
      clock.now += 61_000; // a fresh window
      observe(40, {});
      if (!healthy) observe(10, upstreamFailure);
      await monitor.evaluate();
    };
    await flap(false); // violation at T0+61s: sent
    await flap(true); // recovery: sent
    expect(server.calls.map((c) => c.body.type)).toEqual(['slo.violation', 'slo.recovery']);
    const firstAlertAt = T0 + 61_000;

    await flap(false); // violated again within the cool-down: held back
    await flap(false);
    expect(server.calls).toHaveLength(2);
    expect(await registry.metrics()).toContain('switchyard_slo_alerts_total{slo="smart-availability",indicator="availability",kind="violation",outcome="suppressed"} 1');

    // Still violated when the cool-down ends: the alert goes out then, once.
    clock.now = firstAlertAt + 600_000 - 61_000;
    await flap(false);
    expect(server.calls.map((c) => c.body.type)).toEqual(['slo.violation', 'slo.recovery', 'slo.violation']);
    await flap(false);
    await flap(true);
    expect(server.calls.map((c) => c.body.type)).toEqual(['slo.violation', 'slo.recovery', 'slo.violation', 'slo.recovery']);
    await monitor.stop();
  });

  it('a held-back violation that ends within the cool-down ends silently', async () => {
    const { monitor, observe, clock } = setup({ objectives: [availabilitySlo], alerts: { cooldown_ms: 600_000, webhooks: [webhooks()[0]] } });
    for (const healthy of [false, true, false, true]) {
      clock.now += 61_000;
      observe(40, {});
      if (!healthy) observe(10, upstreamFailure);
      await monitor.evaluate();
    }
    expect(server.calls.map((c) => c.body.type)).toEqual(['slo.violation', 'slo.recovery']);
    await monitor.stop();
  });

  it('too few samples: insufficient_data, never an alert', async () => {
    const { monitor, observe, registry } = setup({ objectives: [availabilitySlo], alerts: { webhooks: webhooks() } });
    observe(19, upstreamFailure);
    await monitor.evaluate();
    const indicator = monitor.snapshot().data[0]!.indicators[0]!;
    expect(indicator).toMatchObject({ state: 'insufficient_data', value: 0, samples: 19 });
    expect(server.calls).toHaveLength(0);
    expect(await registry.metrics()).toContain('switchyard_slo_violated{slo="smart-availability",indicator="availability"} 0');
    // One more failure crosses min_requests.
    observe(1, upstreamFailure);
    await monitor.evaluate();
    expect(server.calls).toHaveLength(2);
    await monitor.stop();
  });

  it('a violation whose traffic dries up stays owed its recovery', async () => {
    const { monitor, observe, clock } = setup({ objectives: [availabilitySlo], alerts: { cooldown_ms: 0, webhooks: [webhooks()[0]] } });
    observe(30, upstreamFailure);
    await monitor.evaluate();
    clock.now += 61_000; // nothing in the window
    await monitor.evaluate();
    expect(monitor.snapshot().data[0]!.indicators[0]!.state).toBe('insufficient_data');
    observe(30, upstreamFailure); // violated again: the same incident, no new alert
    await monitor.evaluate();
    clock.now += 61_000;
    observe(30, {});
    await monitor.evaluate();
    expect(server.calls.map((c) => c.body.type)).toEqual(['slo.violation', 'slo.recovery']);
    await monitor.stop();
  });
});

describe('indicators', () => {
  it('availability leaves client errors and refusals out; error rate counts every error answer', async () => {
    const slo = { name: 'smart', model: 'smart', min_requests: 1, availability: 50, error_rate: 50 };
    const { monitor, observe } = setup({ objectives: [slo] });
    observe(60, {});
    observe(10, { status: 400, errorCode: 'invalid_request' });
    observe(5, { status: 404, errorCode: 'upstream_client_error' });
    observe(5, { status: 504, errorCode: 'not_cached' }); // the client's only-if-cached
    observe(10, { status: 429, errorCode: 'upstream_rate_limited' }); // the provider's limit: a failure
    observe(10, { status: 200, errorCode: 'upstream_error' }); // a stream that failed after its 200
    observe(5, { status: 503 }); // shedding
    // Neither: the client left, or policy refused as configured.
    observe(7, { status: 499, errorCode: 'client_closed_request' });
    observe(7, { status: 499 });
    observe(7, { status: 429, errorCode: 'rate_limit_exceeded' });
    observe(7, { status: 429, errorCode: 'budget_exceeded' });
    observe(7, { status: 403, errorCode: 'model_not_allowed' });
    await monitor.evaluate();
    const view = monitor.snapshot().data[0]!;
    expect(view.requests).toBe(105);
    const [availability, errorRate] = view.indicators;
    // 60 successes, 25 server failures.
    expect(availability).toMatchObject({ indicator: 'availability', samples: 85, value: 70.5882, state: 'ok' });
    // 20 client errors + 25 server failures of 105.
    expect(errorRate).toMatchObject({ indicator: 'error_rate', samples: 105, value: 42.8571, state: 'ok' });
  });

  it('p95 latency of successful requests, within the histogram precision', async () => {
    const slo = { name: 'fast', model: 'smart', min_requests: 10, p95_latency_ms: 1000 };
    const { monitor, observe, clock } = setup({ objectives: [slo] });
    observe(96, { totalMs: 200 });
    observe(4, { totalMs: 5_000 });
    observe(20, { totalMs: 30_000, status: 502, errorCode: 'upstream_error' }); // failures do not count
    await monitor.evaluate();
    let indicator = monitor.snapshot().data[0]!.indicators[0]!;
    expect(indicator.samples).toBe(100);
    expect(indicator.value! / 200).toBeGreaterThan(0.968);
    expect(indicator.value! / 200).toBeLessThan(1.032);
    expect(indicator.state).toBe('ok');

    clock.now += 1_000;
    observe(10, { totalMs: 4_000 }); // 14 of 110 slow: p95 is slow
    await monitor.evaluate();
    indicator = monitor.snapshot().data[0]!.indicators[0]!;
    expect(indicator.value! / 4_000).toBeGreaterThan(0.968);
    expect(indicator.value! / 4_000).toBeLessThan(1.032);
    expect(indicator.state).toBe('violated');
  });

  it('p95 time to first token counts successful streams only', async () => {
    const slo = { name: 'ttft', model: 'smart', min_requests: 5, p95_ttft_ms: 500 };
    const { monitor, observe } = setup({ objectives: [slo] });
    observe(50, { stream: false, firstTokenMs: 5_000 }); // not a stream: ignored
    observe(20, { stream: true, firstTokenMs: 900, status: 502, errorCode: 'upstream_error' }); // failed: ignored
    observe(19, { stream: true, firstTokenMs: 300 });
    await monitor.evaluate();
    expect(monitor.snapshot().data[0]!.indicators[0]!).toMatchObject({ samples: 19, state: 'ok' });
    observe(2, { stream: true, firstTokenMs: 1_200 });
    await monitor.evaluate();
    const indicator = monitor.snapshot().data[0]!.indicators[0]!;
    expect(indicator).toMatchObject({ samples: 21, state: 'violated' });
    expect(Math.abs(indicator.value! - 1_200) / 1_200).toBeLessThan(0.032);
  });

  it('provider objectives count that provider; model objectives count the group, cache hits included', async () => {
    const objectives = [
      { name: 'by-model', model: 'smart', min_requests: 1, error_rate: 10 },
      { name: 'by-provider', provider: 'openai', min_requests: 1, error_rate: 10 },
      { name: 'cache-provider', provider: 'cache', min_requests: 1, error_rate: 10 },
    ];
    const { monitor, observe } = setup({ objectives });
    observe(3, { model: 'smart', provider: 'anthropic' });
    observe(5, { model: 'other', provider: 'openai' });
    observe(7, { model: 'smart', provider: 'cache' });
    observe(11, { model: '', provider: '' });
    await monitor.evaluate();
    const requests = Object.fromEntries(monitor.snapshot().data.map((o) => [o.name, o.requests]));
    expect(requests).toEqual({ 'by-model': 10, 'by-provider': 5, 'cache-provider': 0 });
    expect(monitor.snapshot().data.map((o) => o.target)).toEqual([{ model: 'smart' }, { provider: 'openai' }, { provider: 'cache' }]);
  });
});

describe('webhook delivery', () => {
  it('a failing webhook is retried; a dead one never throws and is counted failed, its URL path never logged', async () => {
    const dead = createServer();
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    const deadUrl = `http://127.0.0.1:${(dead.address() as AddressInfo).port}/services/T000/B000/secret-token`;
    await new Promise<void>((resolve) => dead.close(() => resolve()));

    server.statuses.push(500); // the live webhook fails once, then accepts
    const { monitor, observe, registry, logs } = setup({
      objectives: [availabilitySlo],
      alerts: { retries: 2, webhooks: [{ url: `${server.url}/json` }, { url: deadUrl, format: 'slack', timeout_ms: 1_000 }] },
    });
    observe(30, upstreamFailure);
    await expect(monitor.evaluate()).resolves.toBeUndefined();
    expect(server.to('/json')).toHaveLength(2); // the failed call and its retry
    const metrics = await registry.metrics();
    expect(metrics).toContain('switchyard_slo_alerts_total{slo="smart-availability",indicator="availability",kind="violation",outcome="sent"} 1');
    expect(metrics).toContain('switchyard_slo_alerts_total{slo="smart-availability",indicator="availability",kind="violation",outcome="failed"} 1');
    const failures = logs.filter((l) => l.msg === 'SLO alert webhook failed');
    expect(failures).toHaveLength(1);
    expect(JSON.stringify(failures[0]!.obj)).not.toContain('secret-token');
    expect(failures[0]!.obj).toMatchObject({ webhook: new URL(deadUrl).origin, slo: 'smart-availability', kind: 'violation' });
    await monitor.stop();
  });

  it('stop() waits for deliveries under way', async () => {
    server.delayMs = 150;
    const { monitor, observe, registry } = setup({ objectives: [availabilitySlo], alerts: { webhooks: [webhooks()[0]] } });
    observe(30, upstreamFailure);
    const evaluation = monitor.evaluate();
    await monitor.stop();
    expect(server.calls).toHaveLength(1);
    expect(await registry.metrics()).toContain('kind="violation",outcome="sent"} 1');
    await evaluation;
  });

  it('with no webhooks, violations are still decided and logged', async () => {
    const { monitor, observe, logs } = setup({ objectives: [availabilitySlo] });
    observe(30, upstreamFailure);
    await monitor.evaluate();
    expect(logs.filter((l) => l.level === 'warn' && l.msg === 'SLO violated')).toHaveLength(1);
    expect(logs[0]!.obj).toMatchObject({ slo: 'smart-availability', model: 'smart', indicator: 'availability', value: 0, objective: 99 });
  });
});

describe('snapshot and metrics', () => {
  it('GET /v1/sla body: every objective with its indicators, and quality per model', async () => {
    const slo = { name: 'smart', model: 'smart', window_ms: 3_600_000, min_requests: 5, availability: 99.5, p95_latency_ms: 2_000, p95_ttft_ms: 800 };
    const { monitor, observe, clock } = setup({ objectives: [slo] });
    expect(monitor.snapshot()).toEqual({
      object: 'list',
      evaluated_at: null,
      data: [
        {
          name: 'smart',
          target: { model: 'smart' },
          window_ms: 3_600_000,
          min_requests: 5,
          requests: 0,
          state: 'insufficient_data',
          indicators: [
            { indicator: 'availability', unit: 'percent', objective: 99.5, value: null, samples: 0, state: 'insufficient_data', since: new Date(T0).toISOString() },
            { indicator: 'p95_latency', unit: 'ms', objective: 2_000, value: null, samples: 0, state: 'insufficient_data', since: new Date(T0).toISOString() },
            { indicator: 'p95_ttft', unit: 'ms', objective: 800, value: null, samples: 0, state: 'insufficient_data', since: new Date(T0).toISOString() },
          ],
        },
      ],
      quality: [],
    });
    clock.now += 10_000;
    observe(10, { totalMs: 1_000 });
    monitor.observeAnswer({ model: 'smart', finishReasons: ['length'], empty: false });
    await monitor.evaluate();
    const snapshot = monitor.snapshot();
    expect(snapshot.evaluated_at).toBe(new Date(T0 + 10_000).toISOString());
    expect(snapshot.data[0]).toMatchObject({ requests: 10, state: 'ok' });
    expect(snapshot.data[0]!.indicators.map((i) => [i.state, i.since])).toEqual([
      ['ok', new Date(T0 + 10_000).toISOString()],
      ['ok', new Date(T0 + 10_000).toISOString()],
      ['insufficient_data', new Date(T0).toISOString()],
    ]);
    expect(snapshot.quality).toEqual([
      { model: 'smart', answers: 1, truncated: 1, empty: 0, schema_valid: 0, schema_invalid: 0, truncation_rate: 1, empty_rate: 0, schema_compliance_rate: null },
    ]);
  });

  it('metrics: ratios and seconds, objectives from the start, values once there are samples', async () => {
    const slo = { name: 'smart', model: 'smart', min_requests: 1, availability: 99.5, error_rate: 2, p95_latency_ms: 2_000 };
    const { monitor, observe, registry } = setup({ objectives: [slo] });
    let text = await registry.metrics();
    expect(text).toContain('# TYPE switchyard_slo_objective gauge');
    expect(text).toContain('switchyard_slo_objective{slo="smart",indicator="availability"} 0.995');
    expect(text).toContain('switchyard_slo_objective{slo="smart",indicator="error_rate"} 0.02');
    expect(text).toContain('switchyard_slo_objective{slo="smart",indicator="p95_latency"} 2');
    expect(text).not.toContain('switchyard_slo_value{');
    observe(3, { totalMs: 1_000 });
    observe(1, upstreamFailure);
    await monitor.evaluate();
    text = await registry.metrics();
    expect(text).toContain('switchyard_slo_value{slo="smart",indicator="availability"} 0.75');
    expect(text).toContain('switchyard_slo_value{slo="smart",indicator="error_rate"} 0.25');
    expect(text).toMatch(/switchyard_slo_value\{slo="smart",indicator="p95_latency"\} (0\.9[7-9]|1\.0[0-3])/);
    expect(text).toContain('switchyard_slo_violated{slo="smart",indicator="availability"} 1');
    expect(text).toContain('switchyard_slo_violated{slo="smart",indicator="p95_latency"} 0');
    expect(text).toContain('# TYPE switchyard_slo_alerts_total counter');
  });
});

describe('lifecycle', () => {
  afterEach(() => void vi.useRealTimers());

  it('start() evaluates every evaluation_interval_ms; no objectives: observe is a no-op and nothing runs', async () => {
    vi.useFakeTimers();
    const { monitor, observe } = setup({ evaluation_interval_ms: 1_000, objectives: [availabilitySlo] });
    monitor.start();
    observe(30, {});
    expect(monitor.snapshot().evaluated_at).toBeNull();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(monitor.snapshot().data[0]!.indicators[0]!.state).toBe('ok');
    await monitor.stop();

    const empty = setup({});
    empty.monitor.start();
    empty.observe(5, {});
    await vi.advanceTimersByTimeAsync(60_000);
    expect(empty.monitor.snapshot()).toEqual({ object: 'list', evaluated_at: null, data: [], quality: [] });
    expect(vi.getTimerCount()).toBe(0);
    await empty.monitor.stop();
  });

  it('once started, samples are stamped with the ticking clock, not a clock read per request', async () => {
    vi.useFakeTimers();
    // A 60 s window: 1 s slices, a 250 ms tick.
    const { monitor, observe, clock } = setup({ evaluation_interval_ms: 3_600_000, objectives: [{ ...availabilitySlo, min_requests: 1 }] });
    monitor.start();
    clock.now += 120_000; // the clock moved, no tick yet: samples still carry T0
    observe(5, {});
    await monitor.evaluate();
    expect(monitor.snapshot().data[0]!.requests).toBe(0); // T0 is outside the window ending at T0 + 120 s
    await vi.advanceTimersByTimeAsync(250);
    observe(5, {});
    await monitor.evaluate();
    expect(monitor.snapshot().data[0]!.requests).toBe(5);
    await monitor.stop();
  });
});

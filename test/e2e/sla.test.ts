/**
 * SLOs and answer quality end to end. An availability objective on a model group (2 s window,
 * evaluated every 200 ms) is driven into violation by upstream 500s from the fake OpenAI upstream,
 * kept there, then brought back with successful traffic: each webhook (json and slack) must get
 * exactly one violation and, later, exactly one recovery, while GET /v1/sla and /metrics show the
 * state. Answer quality: json_schema answers that match their schema or not, and a truncated one.
 */
import OpenAI, { InternalServerError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeOpenAI, OPENAI_ERRORS } from '../fakes/openai-upstream.js';
import { raw, sdk } from '../helpers/client.js';
import { startGateway, stopAllGateways, type Gateway } from '../helpers/gateway.js';
import { admin } from '../helpers/governance.js';
import { parseMetrics, value } from '../helpers/metrics.js';
import { WebhookReceiver, type WebhookCall } from '../helpers/webhook-receiver.js';

const MASTER_KEY = 'sk-master-sla-e2e';
const SLO = 'flaky-availability';
const WINDOW_MS = 2_000;
const EVALUATION_MS = 200;
const MIN_REQUESTS = 5;
const AVAILABILITY = 90;

interface IndicatorView {
  indicator: string;
  unit: string;
  objective: number;
  value: number | null;
  samples: number;
  state: string;
  since: string;
}

interface SloView {
  name: string;
  target: Record<string, string>;
  window_ms: number;
  min_requests: number;
  requests: number;
  state: string;
  indicators: IndicatorView[];
}

interface QualityView {
  model: string;
  answers: number;
  truncated: number;
  empty: number;
  schema_valid: number;
  schema_invalid: number;
  truncation_rate: number;
  empty_rate: number;
  schema_compliance_rate: number | null;
}

interface SlaList {
  object: string;
  evaluated_at: string | null;
  data: SloView[];
  quality: QualityView[];
}

let upstream: FakeOpenAI;
let hooks: WebhookReceiver;
let gateway: Gateway;
/** A virtual key: GET /v1/sla is for any valid client key. */
let clientKey: string;
let client: OpenAI;

const ask = (model: string, content: string) => ({ model, messages: [{ role: 'user' as const, content }] });

async function sla(): Promise<SlaList> {
  const res = await raw(gateway, '/v1/sla', { headers: { authorization: `Bearer ${clientKey}` } });
  expect(res.status, res.text).toBe(200);
  return res.json as SlaList;
}

async function objective(): Promise<SloView> {
  const found = (await sla()).data.find((o) => o.name === SLO);
  expect(found, `objective ${SLO} in GET /v1/sla`).toBeDefined();
  return found!;
}

async function metric(name: string, labels: Record<string, string>): Promise<number | undefined> {
  return value(parseMetrics((await raw(gateway, '/metrics')).text), name, labels);
}

/** One request the upstream fails with a 500: the gateway answers it with a server error. */
async function failOnce(): Promise<void> {
  upstream.inject({ kind: 'http-error', error: OPENAI_ERRORS.serverError() }, { model: 'gpt-4o-mini', times: 1 });
  await expect(client.chat.completions.create(ask('flaky', 'fail'))).rejects.toBeInstanceOf(InternalServerError);
}

async function succeedOnce(): Promise<void> {
  const answer = await client.chat.completions.create(ask('flaky', 'fine'));
  expect(answer.choices[0]!.finish_reason).toBe('stop');
}

/** Alerts received so far per webhook, by payload kind. */
function alertsOf(path: '/json' | '/slack'): { violations: WebhookCall[]; recoveries: WebhookCall[] } {
  const calls = hooks.callsTo(path);
  if (path === '/json') {
    const type = (call: WebhookCall) => (call.body as { type?: string }).type;
    return { violations: calls.filter((c) => type(c) === 'slo.violation'), recoveries: calls.filter((c) => type(c) === 'slo.recovery') };
  }
  const text = (call: WebhookCall) => (call.body as { text?: string }).text ?? '';
  return { violations: calls.filter((c) => text(c).includes('violated')), recoveries: calls.filter((c) => text(c).includes('recovered')) };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  [upstream, hooks] = await Promise.all([FakeOpenAI.start(), WebhookReceiver.start()]);
  gateway = await startGateway(`
auth: { master_key: ${MASTER_KEY} }
providers:
  up: { type: openai, base_url: "${upstream.baseURL}", api_key: sk-upstream }
  demo: { type: mock }
models:
  flaky: { targets: [ { provider: up, model: gpt-4o-mini } ] }
  structured: { targets: [ { provider: up, model: gpt-4o } ] }
  short: { targets: [ { provider: demo, model: mock } ] }
routing:
  retry: { max_retries: 0 }
  circuit_breaker: { enabled: false }
sla:
  evaluation_interval_ms: ${EVALUATION_MS}
  objectives:
    - { name: ${SLO}, model: flaky, window_ms: ${WINDOW_MS}, min_requests: ${MIN_REQUESTS}, availability: ${AVAILABILITY} }
  alerts:
    webhooks:
      - { url: "${hooks.url('/json')}", format: json, headers: { authorization: "Bearer hook-secret" } }
      - { url: "${hooks.url('/slack')}", format: slack }
`);
  const created = await admin(gateway, MASTER_KEY, 'POST', '/keys', { name: 'sla reader' });
  expect(created.status, created.text).toBe(201);
  clientKey = (created.json as { key: string }).key;
  client = sdk(gateway, clientKey);
});

afterAll(async () => {
  await stopAllGateways();
  await Promise.all([upstream?.close(), hooks?.close()]);
});

describe('an availability objective', () => {
  it('has too little data before any traffic, and refuses GET /v1/sla without a key', async () => {
    const view = await objective();
    expect(view).toMatchObject({ target: { model: 'flaky' }, window_ms: WINDOW_MS, min_requests: MIN_REQUESTS, state: 'insufficient_data' });
    expect(view.indicators).toEqual([expect.objectContaining({ indicator: 'availability', unit: 'percent', objective: AVAILABILITY, state: 'insufficient_data' })]);
    expect((await raw(gateway, '/v1/sla')).status).toBe(401);
    expect(await metric('switchyard_slo_objective', { slo: SLO, indicator: 'availability' })).toBe(AVAILABILITY / 100);
    expect(await metric('switchyard_slo_violated', { slo: SLO, indicator: 'availability' })).toBe(0);
  });

  it('alerts each webhook exactly once when violated, and not again while it stays violated', async () => {
    const failures = MIN_REQUESTS + 1;
    for (let i = 0; i < failures; i++) await failOnce();

    const json = await hooks.waitFor('/json', 1, 3_000);
    const slack = await hooks.waitFor('/slack', 1, 3_000);
    // Read while the failures are still in the window, once an evaluation has counted them all.
    let view = await objective();
    for (const until = Date.now() + 2 * EVALUATION_MS + 500; view.requests < failures && Date.now() < until; ) {
      await sleep(EVALUATION_MS / 4);
      view = await objective();
    }
    const violated = await metric('switchyard_slo_violated', { slo: SLO, indicator: 'availability' });
    const current = await metric('switchyard_slo_value', { slo: SLO, indicator: 'availability' });

    expect(json).toHaveLength(1);
    expect(slack).toHaveLength(1);
    expect(json[0]!.headers.authorization).toBe('Bearer hook-secret');
    expect(json[0]!.headers['content-type']).toMatch(/^application\/json/);
    const payload = json[0]!.body as Record<string, unknown>;
    expect(payload).toEqual({
      type: 'slo.violation',
      slo: SLO,
      indicator: 'availability',
      unit: 'percent',
      target: { model: 'flaky' },
      objective: AVAILABILITY,
      value: 0,
      window_ms: WINDOW_MS,
      // An evaluation may fall between the last two failures: it alerts as soon as min_requests are in.
      requests: expect.toSatisfy((n: number) => n >= MIN_REQUESTS && n <= failures),
      state: 'violated',
      at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    expect(Math.abs(Date.parse(payload.at as string) - json[0]!.at)).toBeLessThan(2_000);

    const message = slack[0]!.body as { text: string; blocks: { type: string; text?: { text: string } }[] };
    expect(message.text).toContain(SLO);
    expect(message.text).toContain('violated');
    expect(message.text).toContain('availability');
    expect(Array.isArray(message.blocks)).toBe(true);
    expect(message.blocks.length).toBeGreaterThan(0);
    expect(message.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: `SLO ${SLO} violated` } });

    expect(view.state).toBe('violated');
    expect(view.requests).toBe(failures);
    expect(view.indicators[0]).toMatchObject({ indicator: 'availability', value: 0, samples: failures, state: 'violated', objective: AVAILABILITY });
    expect(violated).toBe(1);
    expect(current).toBe(0);

    // Still failing for several more evaluations: nothing more is sent.
    const holdUntil = Date.now() + 5 * EVALUATION_MS;
    while (Date.now() < holdUntil) {
      await failOnce();
      await sleep(50);
    }
    expect((await objective()).state).toBe('violated');
    expect(alertsOf('/json')).toMatchObject({ violations: { length: 1 }, recoveries: { length: 0 } });
    expect(alertsOf('/slack')).toMatchObject({ violations: { length: 1 }, recoveries: { length: 0 } });
    expect(hooks.calls).toHaveLength(2);
    expect(await metric('switchyard_slo_alerts_total', { slo: SLO, indicator: 'availability', kind: 'violation', outcome: 'sent' })).toBe(2);
  });

  it('sends exactly one recovery per webhook once the window holds only successes', async () => {
    upstream.clearFaults();
    // Successful traffic until the failures have left the window and the objective is met again.
    const until = Date.now() + WINDOW_MS + 3_000;
    let view = await objective();
    while (view.state !== 'ok' && Date.now() < until) {
      await Promise.all([succeedOnce(), succeedOnce()]);
      view = await objective();
    }
    expect(view.state).toBe('ok');

    const json = await hooks.waitFor('/json', 2, 3_000);
    const slack = await hooks.waitFor('/slack', 2, 3_000);
    expect(json).toHaveLength(2);
    expect(slack).toHaveLength(2);
    const payload = json[1]!.body as Record<string, unknown>;
    expect(payload).toMatchObject({ type: 'slo.recovery', slo: SLO, indicator: 'availability', unit: 'percent', target: { model: 'flaky' }, objective: AVAILABILITY, window_ms: WINDOW_MS, state: 'ok' });
    expect(payload.value).toBeGreaterThanOrEqual(AVAILABILITY);
    expect(payload.requests).toBeGreaterThanOrEqual(MIN_REQUESTS);
    const message = slack[1]!.body as { text: string; blocks: unknown[] };
    expect(message.text).toContain(SLO);
    expect(message.text).toContain('recovered');
    expect(message.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: `SLO ${SLO} recovered` } });

    // More successful evaluations send nothing more.
    for (let i = 0; i < 5; i++) {
      await succeedOnce();
      await sleep(EVALUATION_MS / 2);
    }
    expect(alertsOf('/json')).toMatchObject({ violations: { length: 1 }, recoveries: { length: 1 } });
    expect(alertsOf('/slack')).toMatchObject({ violations: { length: 1 }, recoveries: { length: 1 } });
    expect(hooks.calls).toHaveLength(4);

    const after = await objective();
    expect(after.state).toBe('ok');
    expect(after.indicators[0]).toMatchObject({ state: 'ok', samples: expect.any(Number) });
    expect(after.indicators[0]!.value).toBeGreaterThanOrEqual(AVAILABILITY);
    expect(await metric('switchyard_slo_violated', { slo: SLO, indicator: 'availability' })).toBe(0);
    expect(await metric('switchyard_slo_value', { slo: SLO, indicator: 'availability' })).toBeGreaterThanOrEqual(AVAILABILITY / 100);
    expect(await metric('switchyard_slo_alerts_total', { slo: SLO, indicator: 'availability', kind: 'recovery', outcome: 'sent' })).toBe(2);
  });
});

describe('answer quality', () => {
  const schemaRequest = (minLength?: number) => ({
    ...ask('structured', 'Which city?'),
    response_format: {
      type: 'json_schema' as const,
      json_schema: {
        name: 'city',
        strict: true,
        schema: { type: 'object', properties: { city: minLength === undefined ? { type: 'string' } : { type: 'string', minLength } }, required: ['city'], additionalProperties: false },
      },
    },
  });

  it('checks json_schema answers against their schema and counts truncated answers', async () => {
    // The fake answers {"city":"fake"}: valid against the first schema, too short for the second.
    const valid = await client.chat.completions.create(schemaRequest());
    expect(JSON.parse(valid.choices[0]!.message.content!)).toEqual({ city: 'fake' });
    const invalid = await client.chat.completions.create(schemaRequest(10));
    expect(JSON.parse(invalid.choices[0]!.message.content!)).toEqual({ city: 'fake' });
    const truncated = await client.chat.completions.create({ ...ask('short', 'tell me a long story about the sea'), max_tokens: 2 });
    expect(truncated.choices[0]!.finish_reason).toBe('length');

    const samples = parseMetrics((await raw(gateway, '/metrics')).text);
    expect(value(samples, 'switchyard_answers_total', { model: 'structured' })).toBe(2);
    expect(value(samples, 'switchyard_answer_quality_total', { model: 'structured', signal: 'schema_valid' })).toBe(1);
    expect(value(samples, 'switchyard_answer_quality_total', { model: 'structured', signal: 'schema_invalid' })).toBe(1);
    expect(value(samples, 'switchyard_answer_quality_total', { model: 'structured', signal: 'truncated' }) ?? 0).toBe(0);
    expect(value(samples, 'switchyard_answers_total', { model: 'short' })).toBe(1);
    expect(value(samples, 'switchyard_answer_quality_total', { model: 'short', signal: 'truncated' })).toBe(1);

    const { quality } = await sla();
    expect(quality.find((q) => q.model === 'structured')).toEqual({
      model: 'structured',
      answers: 2,
      truncated: 0,
      empty: 0,
      schema_valid: 1,
      schema_invalid: 1,
      truncation_rate: 0,
      empty_rate: 0,
      schema_compliance_rate: 0.5,
    });
    expect(quality.find((q) => q.model === 'short')).toMatchObject({ answers: 1, truncated: 1, truncation_rate: 1, schema_valid: 0, schema_invalid: 0, schema_compliance_rate: null });
  });
});

/** Operational endpoints: liveness, readiness, and Prometheus metrics after real traffic. */
import { InternalServerError, NotFoundError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refusedURL } from '../fakes/openai-upstream.js';
import { raw, sdk } from '../helpers/client.js';
import { startGateway, stopAllGateways, type Gateway } from '../helpers/gateway.js';
import { parseMetrics, value } from '../helpers/metrics.js';

let gateway: Gateway;

beforeAll(async () => {
  gateway = await startGateway(`
providers:
  demo: { type: mock }
  dead: { type: openai, base_url: ${await refusedURL()}, api_key: sk-x }
models:
  mock: { targets: [ { provider: demo, model: mock } ] }
  unreachable: { targets: [ { provider: dead, model: gpt-4o-mini } ] }
# One attempt per target: these tests check how a single failure is answered.
routing: { retry: { max_retries: 0 } }
`);
});

afterAll(stopAllGateways);

describe('health', () => {
  it('answers /health/live and /health/ready', async () => {
    const live = await raw(gateway, '/health/live');
    expect(live.status).toBe(200);
    expect(live.json).toEqual({ status: 'ok' });
    const ready = await raw(gateway, '/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.json).toEqual({ status: 'ready' });
  });
});

describe('/metrics', () => {
  it('exposes request counts, durations and gateway overhead with model/provider/status labels', async () => {
    const client = sdk(gateway);
    const ask = { model: 'mock', messages: [{ role: 'user' as const, content: 'metrics' }] };
    await client.chat.completions.create(ask);
    await client.chat.completions.create(ask);
    for await (const _chunk of await client.chat.completions.create({ ...ask, stream: true }));
    await client.embeddings.create({ model: 'mock', input: 'metrics', encoding_format: 'float' });
    await expect(client.chat.completions.create({ ...ask, model: 'no-such-model' })).rejects.toBeInstanceOf(NotFoundError);
    await expect(client.chat.completions.create({ ...ask, model: 'unreachable' })).rejects.toBeInstanceOf(InternalServerError);

    const res = await raw(gateway, '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(res.text).toContain('# TYPE switchyard_requests_total counter');
    expect(res.text).toContain('# TYPE switchyard_request_duration_seconds histogram');
    expect(res.text).toContain('# TYPE switchyard_gateway_overhead_seconds histogram');
    const samples = parseMetrics(res.text);

    const requests = 'switchyard_requests_total';
    expect(value(samples, requests, { route: 'chat', model: 'mock', provider: 'demo', status: '200' })).toBe(3);
    expect(value(samples, requests, { route: 'embeddings', model: 'mock', provider: 'demo', status: '200' })).toBe(1);
    expect(value(samples, requests, { route: 'chat', model: 'unreachable', provider: 'dead', status: '502' })).toBe(1);
    expect(value(samples, requests, { route: 'chat', status: '404' })).toBe(1);

    const durations = { route: 'chat', model: 'mock', provider: 'demo', status: '200' };
    expect(value(samples, 'switchyard_request_duration_seconds_count', durations)).toBe(3);
    expect(value(samples, 'switchyard_request_duration_seconds_bucket', { ...durations, le: '+Inf' })).toBe(3);
    expect(value(samples, 'switchyard_request_duration_seconds_sum', durations)).toBeGreaterThan(0);

    const overhead = { route: 'chat', model: 'mock', provider: 'demo' };
    expect(value(samples, 'switchyard_gateway_overhead_seconds_count', overhead)).toBe(3);
    expect(value(samples, 'switchyard_gateway_overhead_seconds_sum', overhead)).toBeGreaterThan(0);
    expect(value(samples, 'switchyard_time_to_first_token_seconds_count', { model: 'mock', provider: 'demo' })).toBe(1);
    expect(value(samples, 'switchyard_tokens_total', { model: 'mock', provider: 'demo', kind: 'output' })).toBeGreaterThan(0);
    expect(value(samples, 'switchyard_upstream_attempts_total', { provider: 'dead', outcome: 'upstream_error' })).toBe(1);
    expect(samples.some((s) => s.name === 'switchyard_process_cpu_user_seconds_total')).toBe(true);
  });
});

describe('stop', () => {
  it('exits with code 0 on SIGTERM', async () => {
    expect(await gateway.stop()).toBe(0);
    expect(gateway.logs().map((l) => l.msg)).toContain('switchyard stopped');
  });
});

/**
 * Tracing end to end: the built gateway exports OTLP/HTTP JSON to a local collector, and the fake
 * OpenAI upstream records the trace context each attempt carried. A client's traceparent makes
 * the request's SERVER span its child; every upstream attempt is a CLIENT span under it whose id
 * the upstream received; GenAI attributes match what the client got; a failover shows as two
 * attempts, the failed one an ERROR; the request log's trace_id names the trace. Without tracing
 * no trace context goes upstream.
 */
import { randomBytes } from 'node:crypto';
import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeOpenAI, OPENAI_ERRORS, type RecordedRequest } from '../fakes/openai-upstream.js';
import { collect, raw, sdk } from '../helpers/client.js';
import { startGateway, stopAllGateways, type Gateway } from '../helpers/gateway.js';
import { admin } from '../helpers/governance.js';
import { OtlpCollector, SPAN_KIND, STATUS_CODE, type CollectedSpan } from '../helpers/otlp-collector.js';

const MASTER_KEY = 'sk-master-tracing-e2e';
/** W3C trace context: version-traceid-parentid-flags. */
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

let collector: OtlpCollector;
/** Serves `smart` and the first (failing) target of `failover`. */
let upstreamA: FakeOpenAI;
/** The second target of `failover`. */
let upstreamB: FakeOpenAI;

/** A client's own trace context: a fresh trace id and the client's span id, sampled. */
function clientContext(): { traceId: string; spanId: string; traceparent: string } {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

/** The trace id and parent span id of the traceparent an upstream request carried. */
function upstreamContext(request: RecordedRequest): { traceId: string; parentSpanId: string } {
  const header = request.headers.traceparent;
  expect(header, 'the upstream request carried no traceparent').toEqual(expect.any(String));
  const match = TRACEPARENT.exec(header as string);
  expect(match, `malformed traceparent ${String(header)}`).not.toBeNull();
  return { traceId: match![1]!, parentSpanId: match![2]! };
}

/** The upstream requests whose traceparent belongs to `traceId`. */
function upstreamRequestsOf(fake: FakeOpenAI, traceId: string): RecordedRequest[] {
  return fake.requestsTo('/v1/chat/completions').filter((r) => typeof r.headers.traceparent === 'string' && r.headers.traceparent.includes(`-${traceId}-`));
}

/** Waits for the request's SERVER span and `attempts` CLIENT spans of one trace. */
async function spansOf(traceId: string, attempts: number): Promise<{ server: CollectedSpan; clients: CollectedSpan[] }> {
  const spans = await collector.waitFor((all) => {
    const trace = all.filter((s) => s.traceId === traceId);
    const complete = trace.some((s) => s.kind === SPAN_KIND.SERVER) && trace.filter((s) => s.kind === SPAN_KIND.CLIENT).length >= attempts;
    return complete ? trace : [];
  });
  const servers = spans.filter((s) => s.kind === SPAN_KIND.SERVER);
  const clients = spans.filter((s) => s.kind === SPAN_KIND.CLIENT);
  expect(servers, `SERVER spans of trace ${traceId}`).toHaveLength(1);
  expect(clients, `CLIENT spans of trace ${traceId}`).toHaveLength(attempts);
  // Attempt spans in the order they were made.
  clients.sort((a, b) => Number(a.attributes['switchyard.attempt']) - Number(b.attributes['switchyard.attempt']));
  return { server: servers[0]!, clients };
}

afterAll(async () => {
  await stopAllGateways();
  await Promise.all([collector?.close(), upstreamA?.close(), upstreamB?.close()]);
});

beforeAll(async () => {
  [collector, upstreamA, upstreamB] = await Promise.all([OtlpCollector.start(), FakeOpenAI.start(), FakeOpenAI.start()]);
});

describe('with tracing on', () => {
  let gateway: Gateway;
  let client: OpenAI;

  beforeAll(async () => {
    gateway = await startGateway(
      `
auth: { master_key: ${MASTER_KEY} }
governance:
  spend: { flush_interval_ms: 50 }
tracing: { endpoint: "${collector.endpoint}", service_name: switchyard-e2e }
providers:
  up_a: { type: openai, base_url: "${upstreamA.baseURL}", api_key: sk-upstream }
  up_b: { type: openai, base_url: "${upstreamB.baseURL}", api_key: sk-upstream }
models:
  smart:
    targets: [ { provider: up_a, model: gpt-4o-mini } ]
  failover:
    targets: [ { provider: up_a, model: gpt-4o }, { provider: up_b, model: gpt-4o-mini } ]
routing:
  retry: { max_retries: 0 }
  circuit_breaker: { enabled: false }
`,
      // The batch span processor exports every 5 s by default; the SDK reads this variable.
      { env: { OTEL_BSP_SCHEDULE_DELAY: '100' } },
    );
    client = sdk(gateway, MASTER_KEY);
  });

  it('exports spans in batches soon after the request (OTEL_BSP_SCHEDULE_DELAY is honoured)', async () => {
    const { traceId, traceparent } = clientContext();
    const sentAt = Date.now();
    await client.chat.completions.create({ model: 'smart', messages: [{ role: 'user', content: 'warm up' }] }, { headers: { traceparent } });
    const spans = await collector.waitFor((all) => all.filter((s) => s.traceId === traceId && s.kind === SPAN_KIND.SERVER), 4_000);
    expect(spans).toHaveLength(1);
    // Well under the default 5 s schedule.
    expect(Date.now() - sentAt).toBeLessThan(3_000);
    expect(collector.exports.every((e) => e.path === '/v1/traces' && e.contentType?.startsWith('application/json'))).toBe(true);
    expect(spans[0]!.resource['service.name']).toBe('switchyard-e2e');
  });

  it("makes the request a child of the client's span, and each attempt a CLIENT span whose context goes upstream", async () => {
    const { traceId, spanId, traceparent } = clientContext();
    const { data: answer, response } = await client.chat.completions
      .create({ model: 'smart', messages: [{ role: 'user', content: 'trace me' }] }, { headers: { traceparent } })
      .withResponse();
    const requestId = response.headers.get('x-request-id');
    expect(requestId).toEqual(expect.any(String));
    const { server, clients } = await spansOf(traceId, 1);
    const attempt = clients[0]!;

    expect(server.parentSpanId).toBe(spanId);
    expect(server.name).toBe('chat smart');
    expect(attempt.parentSpanId).toBe(server.spanId);
    expect(attempt.name).toBe('chat gpt-4o-mini');
    expect(server.status.code).not.toBe(STATUS_CODE.ERROR);
    expect(attempt.status.code).not.toBe(STATUS_CODE.ERROR);

    expect(server.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'smart',
      'gen_ai.response.model': answer.model,
      'gen_ai.usage.input_tokens': answer.usage!.prompt_tokens,
      'gen_ai.usage.output_tokens': answer.usage!.completion_tokens,
      'gen_ai.response.finish_reasons': [answer.choices[0]!.finish_reason],
      'gen_ai.request.stream': false,
      'http.response.status_code': 200,
      'switchyard.request_id': requestId,
      'switchyard.model_group': 'smart',
      'switchyard.provider_id': 'up_a',
      'switchyard.attempts': 1,
      // The master key is named as the request log and spend name it.
      'switchyard.key_id': 'master',
    });
    expect(answer.usage!.prompt_tokens).toBeGreaterThan(0);
    expect(answer.usage!.completion_tokens).toBeGreaterThan(0);
    expect(attempt.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.response.model': answer.model,
      'gen_ai.usage.input_tokens': answer.usage!.prompt_tokens,
      'gen_ai.usage.output_tokens': answer.usage!.completion_tokens,
      'switchyard.provider_id': 'up_a',
    });

    // The upstream joined the trace under the attempt's span.
    const upstream = upstreamRequestsOf(upstreamA, traceId);
    expect(upstream).toHaveLength(1);
    expect(upstreamContext(upstream[0]!)).toEqual({ traceId, parentSpanId: attempt.spanId });

    // The request log row links to the same trace (rows are written every 50 ms).
    let row: { trace_id: string | null } | undefined;
    for (let i = 0; i < 100 && row === undefined; i++) {
      const res = await admin(gateway, MASTER_KEY, 'GET', `/logs/${requestId}`);
      if (res.status === 200) row = res.json as { trace_id: string | null };
      else await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(row, `no request log row for ${requestId}`).toBeDefined();
    expect(row!.trace_id).toBe(traceId);
    // And so does its line on stdout (lines are flushed at least every 200 ms).
    let line = gateway.logs().find((entry) => entry.request_id === requestId);
    for (let i = 0; i < 40 && line === undefined; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      line = gateway.logs().find((entry) => entry.request_id === requestId);
    }
    expect(line).toMatchObject({ msg: 'request completed', trace_id: traceId });
  });

  it('shows a failover as two attempts, the failed one an ERROR with its error.type', async () => {
    upstreamA.inject({ kind: 'http-error', error: OPENAI_ERRORS.serverError() }, { model: 'gpt-4o', times: 1 });
    const { traceId, spanId, traceparent } = clientContext();
    const { data: answer, response } = await client.chat.completions
      .create({ model: 'failover', messages: [{ role: 'user', content: 'fail over' }] }, { headers: { traceparent } })
      .withResponse();
    expect(response.headers.get('x-switchyard-provider')).toBe('up_b');
    const { server, clients } = await spansOf(traceId, 2);
    const [failed, served] = clients as [CollectedSpan, CollectedSpan];

    expect(server.parentSpanId).toBe(spanId);
    expect(server.attributes).toMatchObject({ 'switchyard.attempts': 2, 'switchyard.provider_id': 'up_b', 'http.response.status_code': 200 });
    expect(server.status.code).not.toBe(STATUS_CODE.ERROR);
    for (const attempt of clients) expect(attempt.parentSpanId).toBe(server.spanId);

    // An upstream 500 is the gateway's upstream_error.
    expect(failed.attributes).toMatchObject({ 'switchyard.provider_id': 'up_a', 'gen_ai.request.model': 'gpt-4o', 'switchyard.attempt': 1, 'error.type': 'upstream_error' });
    expect(failed.status.code).toBe(STATUS_CODE.ERROR);

    expect(served.attributes).toMatchObject({ 'switchyard.provider_id': 'up_b', 'gen_ai.request.model': 'gpt-4o-mini', 'switchyard.attempt': 2, 'gen_ai.usage.output_tokens': answer.usage!.completion_tokens });
    expect(served.attributes['error.type']).toBeUndefined();
    expect(served.status.code).not.toBe(STATUS_CODE.ERROR);

    // Each upstream saw the context of its own attempt.
    const [toA] = upstreamRequestsOf(upstreamA, traceId);
    const [toB] = upstreamRequestsOf(upstreamB, traceId);
    expect(upstreamContext(toA!)).toEqual({ traceId, parentSpanId: failed.spanId });
    expect(upstreamContext(toB!)).toEqual({ traceId, parentSpanId: served.spanId });
  });

  it('traces a streamed answer with the usage the stream reported', async () => {
    const { traceId, spanId, traceparent } = clientContext();
    const stream = await client.chat.completions.create(
      { model: 'smart', messages: [{ role: 'user', content: 'stream it please' }], stream: true, stream_options: { include_usage: true } },
      { headers: { traceparent } },
    );
    const chunks = await collect(stream);
    const usage = chunks.find((c) => c.usage)?.usage;
    const finish = chunks.flatMap((c) => c.choices.map((choice) => choice.finish_reason)).find((reason) => reason);
    expect(usage).toBeDefined();
    expect(finish).toBe('stop');
    const { server, clients } = await spansOf(traceId, 1);

    expect(server.parentSpanId).toBe(spanId);
    expect(clients[0]!.parentSpanId).toBe(server.spanId);
    expect(server.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'smart',
      'gen_ai.response.model': chunks[0]!.model,
      'gen_ai.request.stream': true,
      'gen_ai.usage.input_tokens': usage!.prompt_tokens,
      'gen_ai.usage.output_tokens': usage!.completion_tokens,
      'gen_ai.response.finish_reasons': ['stop'],
    });
    expect(upstreamContext(upstreamRequestsOf(upstreamA, traceId)[0]!)).toEqual({ traceId, parentSpanId: clients[0]!.spanId });
  });

  it('traces requests refused before routing too (a bad key, a bad body), in the client\'s trace', async () => {
    for (const [headers, body, status] of [
      [{ authorization: 'Bearer sk-not-a-key' }, JSON.stringify({ model: 'smart', messages: [{ role: 'user', content: 'x' }] }), 401],
      [{ authorization: `Bearer ${MASTER_KEY}` }, '{"model": "smart",', 400],
      [{ authorization: `Bearer ${MASTER_KEY}` }, JSON.stringify({ model: 'smart', messages: 'not a list' }), 400],
    ] as const) {
      const { traceId, spanId, traceparent } = clientContext();
      const res = await raw(gateway, '/v1/chat/completions', { body, headers: { ...headers, traceparent } });
      expect(res.status).toBe(status);
      const [server] = await collector.waitFor((all) => all.filter((s) => s.traceId === traceId && s.kind === SPAN_KIND.SERVER), 4_000);
      expect(server).toMatchObject({ parentSpanId: spanId });
      expect(server!.attributes['switchyard.request_id']).toBe(res.headers.get('x-request-id'));
    }
  });

  it('starts a new trace for a request without a traceparent and still propagates it upstream', async () => {
    const before = upstreamA.requestsTo('/v1/chat/completions').length;
    const { response } = await client.chat.completions.create({ model: 'smart', messages: [{ role: 'user', content: 'no context' }] }).withResponse();
    const requestId = response.headers.get('x-request-id');
    const sent = upstreamA.requestsTo('/v1/chat/completions').slice(before);
    expect(sent).toHaveLength(1);
    const { traceId, parentSpanId } = upstreamContext(sent[0]!);
    const [server] = await collector.waitFor((all) => all.filter((s) => s.kind === SPAN_KIND.SERVER && s.attributes['switchyard.request_id'] === requestId));
    expect(server).toBeDefined();
    expect(server!.traceId).toBe(traceId);
    expect(server!.parentSpanId).toBeUndefined();
    const { clients } = await spansOf(traceId, 1);
    expect(clients[0]!.spanId).toBe(parentSpanId);
  });
});

describe('with tracing off', () => {
  it('sends no trace context upstream', async () => {
    const upstream = await FakeOpenAI.start();
    try {
      const gateway = await startGateway(`
auth: { master_key: ${MASTER_KEY} }
providers:
  up: { type: openai, base_url: "${upstream.baseURL}", api_key: sk-upstream }
models:
  smart: { targets: [ { provider: up, model: gpt-4o-mini } ] }
`);
      const client = sdk(gateway, MASTER_KEY);
      await client.chat.completions.create({ model: 'smart', messages: [{ role: 'user', content: 'untraced' }] });
      await collect(await client.chat.completions.create({ model: 'smart', messages: [{ role: 'user', content: 'untraced stream' }], stream: true }));
      // A client's own trace context is not passed on either: nothing traces the request.
      await client.chat.completions.create({ model: 'smart', messages: [{ role: 'user', content: 'client traced' }] }, { headers: { traceparent: clientContext().traceparent } });
      const sent = upstream.requestsTo('/v1/chat/completions');
      expect(sent).toHaveLength(3);
      for (const request of sent) {
        expect(request.headers.traceparent).toBeUndefined();
        expect(request.headers.tracestate).toBeUndefined();
      }
    } finally {
      await upstream.close();
    }
  });
});

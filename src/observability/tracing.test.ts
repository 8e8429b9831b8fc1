import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { parseTraceParent } from '@opentelemetry/core';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { tracingSchema, type TracingSettings } from '../config/tracing-schema.js';
import { ConfigError } from '../config/load.js';
import { createTracing, resolveTracing, type Tracing } from './tracing.js';

const settings = (input: Record<string, unknown> = {}): TracingSettings => tracingSchema.parse(input);
const CLIENT_TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN_ID = '00f067aa0ba902b7';

describe('tracing settings', () => {
  it('is off by default and with no OTLP endpoint in the environment', async () => {
    expect(resolveTracing(settings(), {})).toBeUndefined();
    expect(resolveTracing(settings(), { OTEL_EXPORTER_OTLP_ENDPOINT: '' })).toBeUndefined();
    expect(await createTracing(settings(), {})).toBeUndefined();
    expect(await createTracing(settings({ enabled: false }), { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBeUndefined();
  });

  it('turns on with the standard OTLP environment variables, endpoint per the OTLP exporter spec', () => {
    expect(resolveTracing(settings(), { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })?.endpoint).toBe('http://collector:4318/v1/traces');
    expect(resolveTracing(settings(), { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/otlp/' })?.endpoint).toBe('http://collector:4318/otlp/v1/traces');
    // The signal-specific one is used as it is, and wins.
    expect(
      resolveTracing(settings(), { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://b/custom/traces' })?.endpoint,
    ).toBe('https://b/custom/traces');
    expect(resolveTracing(settings(), { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:4318/v1/traces', OTEL_SDK_DISABLED: 'true' })).toBeUndefined();
  });

  it('config wins over the environment', () => {
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://env:4318', OTEL_SERVICE_NAME: 'from-env' };
    expect(resolveTracing(settings({ endpoint: 'http://file:4318/v1/traces', service_name: 'from-file' }), env)).toMatchObject({
      endpoint: 'http://file:4318/v1/traces',
      serviceName: 'from-file',
    });
    expect(resolveTracing(settings(), env)?.serviceName).toBe('from-env');
    // An endpoint in the file turns tracing on by itself; `enabled: true` alone uses the OTLP default.
    expect(resolveTracing(settings({ endpoint: 'http://file:4318/v1/traces' }), {})?.endpoint).toBe('http://file:4318/v1/traces');
    expect(resolveTracing(settings({ enabled: true }), {})).toEqual({
      endpoint: 'http://localhost:4318/v1/traces',
      headers: {},
      serviceName: 'switchyard',
      sampleRatio: 1,
      exportTimeoutMs: 10_000,
    });
    expect(resolveTracing(settings({ enabled: true }), { OTEL_SDK_DISABLED: 'true' })).toBeDefined();
  });

  it('accepts interpolated strings; an empty ${VAR:-} value counts as unset', () => {
    expect(settings({ enabled: 'true', sample_ratio: '0.25', export_timeout_ms: '2500', endpoint: '', service_name: '' })).toEqual({
      enabled: true,
      headers: {},
      sample_ratio: 0.25,
      export_timeout_ms: 2500,
    });
    expect(settings({ enabled: '' }).enabled).toBeUndefined();
  });

  it('rejects bad values with the path and the problem', () => {
    const issues = (input: Record<string, unknown>) => tracingSchema.safeParse(input).error?.issues.map((i) => i.path.join('.'));
    expect(issues({ sample_ratio: 1.5 })).toEqual(['sample_ratio']);
    expect(issues({ endpoint: 'ftp://collector/v1/traces' })).toEqual(['endpoint']);
    expect(issues({ export_timeout_ms: 0 })).toEqual(['export_timeout_ms']);
    expect(issues({ exporter: 'zipkin' })).toEqual(['']);
    expect(() => resolveTracing(settings(), { OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(ConfigError);
    expect(() => resolveTracing(settings(), { OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT: expected an http\(s\) URL/);
  });

  it('tracing.ts and the schema load no OpenTelemetry code: the SDK comes only through the dynamic import', () => {
    for (const file of ['./tracing.ts', '../config/tracing-schema.ts']) {
      const source = readFileSync(new URL(file, import.meta.url), 'utf8');
      const runtimeImports = [...source.matchAll(/^import\s+(?!type\s)[^;]*?from\s+'([^']+)'/gm)].map((m) => m[1]);
      expect(runtimeImports.filter((specifier) => !specifier!.startsWith('.') && specifier !== 'zod')).toEqual([]);
      const dynamicImports = [...source.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)].map((m) => m[1]);
      expect(dynamicImports).toEqual(file === './tracing.ts' ? ['./otel-tracing.js'] : []);
    }
  });
});

describe('spans', () => {
  let tracing: Tracing | undefined;
  let exporter: InMemorySpanExporter;

  const start = async (input: Record<string, unknown> = {}): Promise<Tracing> => {
    exporter = new InMemorySpanExporter();
    tracing = await createTracing(settings({ enabled: true, ...input }), {}, { exporter, simple: true });
    return tracing!;
  };
  const byName = (name: string): ReadableSpan => {
    const span = exporter.getFinishedSpans().find((s) => s.name === name);
    if (!span) throw new Error(`no span ${name} in ${exporter.getFinishedSpans().map((s) => s.name).join(', ')}`);
    return span;
  };

  afterEach(async () => {
    await tracing?.shutdown();
    tracing = undefined;
  });

  it('one SERVER span per request with one CLIENT child per attempt, carrying the GenAI attributes', async () => {
    const t = await start();
    const startTime = Date.now() - 250.5;
    const request = t.startRequest({ route: 'chat', requestId: 'req-1', startTime, httpMethod: 'POST', urlPath: '/v1/chat/completions' });

    const first = request.startAttempt({ providerId: 'openai', providerType: 'openai', model: 'gpt-4o', requestModel: 'smart', serverAddress: 'api.openai.com', serverPort: 443 });
    first.end({ error: { code: 'upstream_unavailable', message: 'upstream answered 503', status: 503 } });
    const second = request.startAttempt({ providerId: 'claude', providerType: 'anthropic', model: 'claude-sonnet-4-5', requestModel: 'smart' });
    second.end({ responseModel: 'claude-sonnet-4-5-20250929', usage: { input_tokens: 12, output_tokens: 34 }, finishReasons: ['stop'] });
    request.end({
      requestModel: 'smart',
      modelGroup: 'smart',
      providerId: 'claude',
      providerType: 'anthropic',
      responseModel: 'claude-sonnet-4-5-20250929',
      status: 200,
      usage: { input_tokens: 12, output_tokens: 34, cached_input_tokens: 8 },
      finishReasons: ['stop'],
      cache: 'MISS',
      stream: false,
      attempts: 2,
      costUsd: 0.0005460000001, // float noise the span leaves out: it says the header's nano-dollars
      keyId: 'key_123',
    });

    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['chat gpt-4o', 'chat claude-sonnet-4-5', 'chat smart']);
    const root = byName('chat smart');
    const failed = byName('chat gpt-4o');
    const served = byName('chat claude-sonnet-4-5');

    expect(root.kind).toBe(SpanKind.SERVER);
    expect(root.parentSpanContext).toBeUndefined();
    expect(request.traceId).toBe(root.spanContext().traceId);
    for (const attempt of [failed, served]) {
      expect(attempt.kind).toBe(SpanKind.CLIENT);
      expect(attempt.spanContext().traceId).toBe(root.spanContext().traceId);
      expect(attempt.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
    }
    // The start time given (epoch ms, fractional) is the span's.
    expect(root.startTime[0] * 1000 + root.startTime[1] / 1e6).toBeCloseTo(startTime, 1);

    expect(root.attributes).toEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.request.model': 'smart',
      'gen_ai.request.stream': false,
      'gen_ai.response.model': 'claude-sonnet-4-5-20250929',
      'gen_ai.usage.input_tokens': 12,
      'gen_ai.usage.output_tokens': 34,
      'gen_ai.usage.cache_read.input_tokens': 8,
      'gen_ai.response.finish_reasons': ['stop'],
      'http.request.method': 'POST',
      'url.path': '/v1/chat/completions',
      'http.response.status_code': 200,
      'switchyard.request_id': 'req-1',
      'switchyard.model_group': 'smart',
      'switchyard.provider_id': 'claude',
      'switchyard.cache': 'MISS',
      'switchyard.attempts': 2,
      'switchyard.cost_usd': 0.000546,
      'switchyard.key_id': 'key_123',
    });
    expect(root.status.code).toBe(SpanStatusCode.UNSET);

    expect(failed.attributes).toEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o',
      'server.address': 'api.openai.com',
      'server.port': 443,
      'switchyard.provider_id': 'openai',
      'switchyard.model_group': 'smart',
      'switchyard.attempt': 1,
      'error.type': 'upstream_unavailable',
      'http.response.status_code': 503,
    });
    expect(failed.status).toEqual({ code: SpanStatusCode.ERROR, message: 'upstream answered 503' });

    expect(served.attributes).toMatchObject({
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.request.model': 'claude-sonnet-4-5',
      'gen_ai.response.model': 'claude-sonnet-4-5-20250929',
      'gen_ai.usage.input_tokens': 12,
      'gen_ai.usage.output_tokens': 34,
      'gen_ai.response.finish_reasons': ['stop'],
      'switchyard.attempt': 2,
    });
    expect(served.attributes['error.type']).toBeUndefined();
    expect(served.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('an abandoned attempt (hedge lost, client gone) is marked cancelled, not failed', async () => {
    const t = await start();
    const request = t.startRequest({ route: 'chat', requestId: 'h', startTime: Date.now() });
    request.startAttempt({ providerId: 'a', providerType: 'openai', model: 'slow' }).end({ cancelled: true, error: { code: 'cancelled', message: 'lost the race' } });
    request.end({ requestModel: 'm', status: 200, stream: false, attempts: 2 });
    const span = byName('chat slow');
    expect(span.attributes['switchyard.cancelled']).toBe(true);
    expect(span.attributes['error.type']).toBeUndefined();
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
  });

  it("continues the client's trace and hands each attempt's own traceparent upstream", async () => {
    const t = await start();
    const request = t.startRequest({ route: 'messages', requestId: 'req-2', startTime: Date.now(), traceparent: `00-${CLIENT_TRACE_ID}-${CLIENT_SPAN_ID}-01`, tracestate: 'vendor=abc' });
    const attempt = request.startAttempt({ providerId: 'claude', providerType: 'anthropic', model: 'claude-haiku-4-5' });
    const propagated = parseTraceParent(attempt.headers.traceparent!);
    attempt.end({});
    request.end({ requestModel: 'claude-haiku', status: 200, stream: true, attempts: 1 });

    const root = byName('chat claude-haiku');
    const span = byName('chat claude-haiku-4-5');
    expect(request.traceId).toBe(CLIENT_TRACE_ID);
    expect(root.spanContext().traceId).toBe(CLIENT_TRACE_ID);
    expect(root.parentSpanContext).toMatchObject({ traceId: CLIENT_TRACE_ID, spanId: CLIENT_SPAN_ID, isRemote: true });
    expect(propagated).toMatchObject({ traceId: CLIENT_TRACE_ID, spanId: span.spanContext().spanId, traceFlags: 1 });
    expect(attempt.headers.tracestate).toBe('vendor=abc');
    expect(Object.keys(attempt.headers).sort()).toEqual(['traceparent', 'tracestate']);
    expect(root.attributes['gen_ai.request.stream']).toBe(true);
  });

  it('a client traceparent with the sampled flag off records nothing but still propagates', async () => {
    const t = await start();
    const request = t.startRequest({ route: 'chat', requestId: 'req-3', startTime: Date.now(), traceparent: `00-${CLIENT_TRACE_ID}-${CLIENT_SPAN_ID}-00` });
    const attempt = request.startAttempt({ providerId: 'openai', providerType: 'openai', model: 'gpt-4o-mini' });
    attempt.end({ usage: { input_tokens: 1, output_tokens: 1 } });
    request.end({ requestModel: 'gpt-4o-mini', status: 200, stream: false, attempts: 1 });

    expect(exporter.getFinishedSpans()).toEqual([]);
    const propagated = parseTraceParent(attempt.headers.traceparent!);
    expect(propagated).toMatchObject({ traceId: CLIENT_TRACE_ID, traceFlags: 0 });
    expect(propagated?.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(propagated?.spanId).not.toBe(CLIENT_SPAN_ID);
    expect(request.traceId).toBe(CLIENT_TRACE_ID);
  });

  it('sample_ratio 0 records no new traces, but honours a sampled client', async () => {
    const t = await start({ sample_ratio: 0 });
    const unsampled = t.startRequest({ route: 'chat', requestId: 'a', startTime: Date.now() });
    unsampled.end({ requestModel: 'm', status: 200, stream: false, attempts: 0 });
    expect(exporter.getFinishedSpans()).toEqual([]);
    const sampled = t.startRequest({ route: 'chat', requestId: 'b', startTime: Date.now(), traceparent: `00-${CLIENT_TRACE_ID}-${CLIENT_SPAN_ID}-01` });
    sampled.end({ requestModel: 'm', status: 200, stream: false, attempts: 0 });
    expect(exporter.getFinishedSpans().map((s) => s.attributes['switchyard.request_id'])).toEqual(['b']);
  });

  it('an invalid traceparent starts a new trace', async () => {
    const t = await start();
    for (const traceparent of ['garbage', `00-${'0'.repeat(32)}-${CLIENT_SPAN_ID}-01`, `ff-${CLIENT_TRACE_ID}-${CLIENT_SPAN_ID}-01`]) {
      const request = t.startRequest({ route: 'embeddings', requestId: traceparent, startTime: Date.now(), traceparent });
      request.end({ requestModel: 'text-embedding-3-small', status: 200, stream: false, attempts: 0 });
    }
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name)).toEqual(Array(3).fill('embeddings text-embedding-3-small'));
    for (const span of spans) {
      expect(span.parentSpanContext).toBeUndefined();
      expect(span.spanContext().traceId).not.toBe(CLIENT_TRACE_ID);
    }
    expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(3);
  });

  it('a failed request: error.type always, ERROR status only for 5xx; ending twice records once', async () => {
    const t = await start();
    const limited = t.startRequest({ route: 'chat', requestId: 'r429', startTime: Date.now() });
    limited.end({ requestModel: 'gpt-4o', status: 429, error: { code: 'rate_limited', message: 'rpm limit' }, stream: false, attempts: 0, costUsd: null });
    limited.end({ requestModel: 'gpt-4o', status: 500, stream: false, attempts: 0 });
    const failed = t.startRequest({ route: 'chat', requestId: 'r502', startTime: Date.now() });
    failed.end({ requestModel: 'gpt-4o', status: 502, error: { code: 'upstream_error', message: 'all targets failed' }, stream: false, attempts: 3 });

    const [first, second] = exporter.getFinishedSpans();
    expect(exporter.getFinishedSpans()).toHaveLength(2);
    expect(first!.attributes).toMatchObject({ 'error.type': 'rate_limited', 'http.response.status_code': 429 });
    expect(first!.attributes['switchyard.cost_usd']).toBeUndefined();
    expect(first!.status.code).toBe(SpanStatusCode.UNSET);
    expect(second!.attributes).toMatchObject({ 'error.type': 'upstream_error', 'http.response.status_code': 502, 'switchyard.attempts': 3 });
    expect(second!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'all targets failed' });
  });

  it('names spans of routes that are no GenAI operation after the route or the HTTP method', async () => {
    const t = await start();
    t.startRequest({ route: 'count_tokens', requestId: 'c', startTime: Date.now() }).end({ requestModel: 'claude-x', status: 200, stream: false, attempts: 1 });
    t.startRequest({ route: 'other', requestId: 'o', startTime: Date.now(), httpMethod: 'GET', urlPath: '/v1/models' }).end({ status: 200, stream: false, attempts: 0 });
    t.startRequest({ route: 'chat', requestId: 'n', startTime: Date.now() }).end({ status: 400, stream: false, attempts: 0, error: { code: 'invalid_request', message: 'bad json' } });
    expect(exporter.getFinishedSpans().map((s) => [s.name, s.attributes['gen_ai.operation.name']])).toEqual([
      ['count_tokens claude-x', undefined],
      ['GET', undefined],
      ['chat', 'chat'],
    ]);
  });

  it('maps provider types to gen_ai.provider.name well-known values', async () => {
    const t = await start();
    const request = t.startRequest({ route: 'chat', requestId: 'p', startTime: Date.now() });
    const types = ['openai', 'openai-compatible', 'azure', 'anthropic', 'gemini', 'vertex', 'bedrock', 'mock'];
    for (const providerType of types) request.startAttempt({ providerId: providerType, providerType, model: providerType }).end({});
    expect(exporter.getFinishedSpans().map((s) => s.attributes['gen_ai.provider.name'])).toEqual([
      'openai',
      'openai',
      'azure.ai.openai',
      'anthropic',
      'gcp.gemini',
      'gcp.vertex_ai',
      'aws.bedrock',
      'mock',
    ]);
    request.end({ status: 200, stream: false, attempts: types.length });
  });
});

describe('OTLP/HTTP export', () => {
  let server: Server | undefined;

  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  /** A collector stand-in: records each request's path, headers and JSON body, answers with `status`. */
  const collector = async (status = 200) => {
    const received: { path: string; headers: Record<string, unknown>; body: unknown }[] = [];
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        received.push({ path: req.url ?? '', headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
        res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return { received, url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}` };
  };

  it('batches spans to the collector as OTLP JSON and flushes them on shutdown', async () => {
    const { received, url } = await collector();
    const tracing = await createTracing(settings({ headers: { authorization: 'Bearer collector-key' } }), { OTEL_EXPORTER_OTLP_ENDPOINT: url, OTEL_SERVICE_NAME: 'gateway-test' });
    expect(tracing).toBeDefined();
    const request = tracing!.startRequest({ route: 'chat', requestId: 'otlp-1', startTime: Date.now() });
    const attempt = request.startAttempt({ providerId: 'openai', providerType: 'openai', model: 'gpt-4o-mini' });
    attempt.end({ responseModel: 'gpt-4o-mini-2024-07-18', usage: { input_tokens: 5, output_tokens: 7 }, finishReasons: ['length'] });
    request.end({ requestModel: 'fast', providerType: 'openai', status: 200, stream: false, attempts: 1, usage: { input_tokens: 5, output_tokens: 7 } });
    // Batched: nothing is sent before the flush (the default delay is 5 s).
    expect(received).toEqual([]);
    await tracing!.shutdown();

    expect(received).toHaveLength(1);
    expect(received[0]!.path).toBe('/v1/traces');
    expect(received[0]!.headers).toMatchObject({ 'content-type': 'application/json', authorization: 'Bearer collector-key' });
    type KeyValue = { key: string; value: { stringValue?: string; intValue?: number | string; arrayValue?: { values: { stringValue: string }[] } } };
    type OtlpBody = { resourceSpans: { resource: { attributes: KeyValue[] }; scopeSpans: { scope: { name: string }; spans: { name: string; kind: number; traceId: string; spanId: string; parentSpanId?: string; attributes: KeyValue[] }[] }[] }[] };
    const body = received[0]!.body as OtlpBody;
    const resource = body.resourceSpans[0]!.resource.attributes;
    expect(resource.find((a) => a.key === 'service.name')?.value.stringValue).toBe('gateway-test');
    const scope = body.resourceSpans[0]!.scopeSpans[0]!;
    expect(scope.scope.name).toBe('switchyard');
    expect(scope.spans.map((s) => s.name).sort()).toEqual(['chat fast', 'chat gpt-4o-mini']);
    const root = scope.spans.find((s) => s.name === 'chat fast')!;
    const child = scope.spans.find((s) => s.name === 'chat gpt-4o-mini')!;
    // OTLP span kinds: 2 SERVER, 3 CLIENT; ids are hex in OTLP JSON.
    expect([root.kind, child.kind]).toEqual([2, 3]);
    expect(child.traceId).toBe(root.traceId);
    expect(child.parentSpanId).toBe(root.spanId);
    expect(root.traceId).toMatch(/^[0-9a-f]{32}$/);
    const attributes = (span: typeof root) => Object.fromEntries(span.attributes.map((a) => [a.key, a.value.stringValue ?? (a.value.intValue !== undefined ? Number(a.value.intValue) : a.value.arrayValue?.values.map((v) => v.stringValue))]));
    expect(attributes(root)).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'fast',
      'gen_ai.usage.input_tokens': 5,
      'gen_ai.usage.output_tokens': 7,
      'http.response.status_code': 200,
      'switchyard.request_id': 'otlp-1',
    });
    expect(attributes(child)).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
      'gen_ai.usage.input_tokens': 5,
      'gen_ai.usage.output_tokens': 7,
      'gen_ai.response.finish_reasons': ['length'],
    });
  });

  it('reports a failed export to onExportError and keeps serving', async () => {
    const { received, url } = await collector(400);
    const errors: Error[] = [];
    const tracing = await createTracing(settings({ endpoint: `${url}/custom/path` }), {}, { onExportError: (error) => errors.push(error) });
    tracing!.startRequest({ route: 'chat', requestId: 'x', startTime: Date.now() }).end({ requestModel: 'm', status: 200, stream: false, attempts: 0 });
    await tracing!.shutdown();
    expect(received.map((r) => r.path)).toEqual(['/custom/path']);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toBe('Bad Request');
  });

  it('shutdown waits for a collector that does not answer only as long as it is told to', async () => {
    let requests = 0;
    server = createServer(() => {
      requests += 1; // never answers
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const errors: Error[] = [];
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
    const tracing = await createTracing(settings({ endpoint }), {}, { onExportError: (error) => errors.push(error) });
    tracing!.startRequest({ route: 'chat', requestId: 'x', startTime: Date.now() }).end({ requestModel: 'm', status: 200, stream: false, attempts: 0 });
    const started = performance.now();
    await tracing!.shutdown(200);
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThanOrEqual(190);
    expect(waited).toBeLessThan(1_000);
    expect(requests).toBe(1);
    expect(errors.map((e) => e.message)).toEqual(['trace export did not finish within 200 ms of shutdown; buffered spans were dropped']);
  });
});

/**
 * Observability end to end: a mixed workload through the official OpenAI SDK (answers, streams,
 * cache hits, embeddings, unknown models, an unreachable upstream, bad keys, a rate-limited
 * virtual key, and a message through the Anthropic SDK), then /metrics must add up to exactly what was sent, and the request log must hold
 * one row per request with the right fields, filters, lookups, export and redacted bodies.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI, { AuthenticationError, InternalServerError, NotFoundError, RateLimitError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeOpenAI, refusedURL } from '../fakes/openai-upstream.js';
import { raw, sdk } from '../helpers/client.js';
import { startGateway, stopAllGateways, type Gateway } from '../helpers/gateway.js';
import { admin as adminOf } from '../helpers/governance.js';
import { parseMetrics, total, value, type Sample } from '../helpers/metrics.js';

const MASTER_KEY = 'sk-master-observability-e2e';
/** USD per 1M tokens: $0.001 a token. */
const PRICE = 1000;
const EMAIL = 'jane.doe@example.com';

interface LogRow {
  id: number;
  request_id: string;
  route: string;
  status: number;
  error_code: string | null;
  model: string | null;
  provider: string | null;
  cache: string | null;
  stream: boolean | null;
  prompt_tokens: number;
  completion_tokens: number;
  cost_usd: number | null;
  ttft_ms: number | null;
  attempts: number;
  tags: string[];
  request_body: string | null;
  response_body: string | null;
  key_id: string | null;
}

let gateway: Gateway;
let samples: Sample[];
/** Requests sent, by status. */
const sent = new Map<number, number>();
/** Tokens of answers made upstream (not cache hits), by model group. */
const tokens = new Map<string, { input: number; output: number }>();

function count(status: number, times = 1): void {
  sent.set(status, (sent.get(status) ?? 0) + times);
}

function addTokens(model: string, usage: OpenAI.CompletionUsage | undefined | null): void {
  const seen = tokens.get(model) ?? { input: 0, output: 0 };
  seen.input += usage?.prompt_tokens ?? 0;
  seen.output += usage?.completion_tokens ?? 0;
  tokens.set(model, seen);
}

function admin(method: string, path: string, body?: unknown) {
  return adminOf(gateway, MASTER_KEY, method, path, body);
}

async function logs(query = ''): Promise<{ data: LogRow[]; next_cursor: string | null }> {
  const res = await admin('GET', `/logs?limit=1000${query}`);
  expect(res.status, res.text).toBe(200);
  return res.json as { data: LogRow[]; next_cursor: string | null };
}

beforeAll(async () => {
  gateway = await startGateway(`
auth: { master_key: ${MASTER_KEY} }
governance:
  spend: { flush_interval_ms: 50 }
request_log: { bodies: true, max_body_bytes: 4096 }
providers:
  demo: { type: mock }
  dead: { type: openai, base_url: ${await refusedURL()}, api_key: sk-x }
models:
  mock:
    targets: [ { provider: demo, model: mock, price: { input: ${PRICE}, output: ${PRICE} } } ]
  cached:
    targets: [ { provider: demo, model: mock, price: { input: ${PRICE}, output: ${PRICE} } } ]
    cache: { exact: true, ttl: 600 }
  unreachable: { targets: [ { provider: dead, model: gpt-4o-mini } ] }
routing: { retry: { max_retries: 0 } }
`);
  const client = sdk(gateway, MASTER_KEY);
  const ask = (content: string) => ({ model: 'mock', messages: [{ role: 'user' as const, content }] });

  for (const n of [1, 2, 3]) {
    const answer = await client.chat.completions.create(ask(`question ${n}`));
    addTokens('mock', answer.usage);
  }
  count(200, 3);
  for (const n of [1, 2]) {
    const stream = await client.chat.completions.create({ ...ask(`stream ${n}`), stream: true, stream_options: { include_usage: true } });
    for await (const chunk of stream) if (chunk.usage) addTokens('mock', chunk.usage);
  }
  count(200, 2);
  for (const n of [1, 2, 3]) {
    const { data, response } = await client.chat.completions.create({ ...ask('the same question'), model: 'cached' }).withResponse();
    expect(response.headers.get('x-switchyard-cache')).toBe(n === 1 ? 'MISS' : 'HIT');
    if (n === 1) addTokens('cached', data.usage);
  }
  count(200, 3);
  const embedded = await client.embeddings.create({ model: 'mock', input: 'embed me', encoding_format: 'float' });
  addTokens('mock', { prompt_tokens: embedded.usage.prompt_tokens, completion_tokens: 0, total_tokens: embedded.usage.total_tokens });
  count(200);
  for (const _ of [1, 2]) await expect(client.chat.completions.create({ ...ask('x'), model: 'no-such-model' })).rejects.toBeInstanceOf(NotFoundError);
  count(404, 2);
  // Not API requests, so not in the request log: an unknown route, and a known path with a method it does not serve.
  expect((await raw(gateway, '/v1/nowhere', { body: '{}' })).status).toBe(404);
  expect((await raw(gateway, '/v1/chat/completions', { method: 'DELETE', headers: { authorization: `Bearer ${MASTER_KEY}` } })).status).toBe(404);
  await expect(client.chat.completions.create({ ...ask('x'), model: 'unreachable' })).rejects.toBeInstanceOf(InternalServerError);
  count(502);
  for (const _ of [1, 2]) await expect(sdk(gateway, 'sk-sy-not-a-key').chat.completions.create(ask('x'))).rejects.toBeInstanceOf(AuthenticationError);
  count(401, 2);

  const created = await admin('POST', '/keys', { name: 'one a minute', limits: { rpm: 1 } });
  expect(created.status, created.text).toBe(201);
  const limited = sdk(gateway, (created.json as { key: string }).key);
  addTokens('mock', (await limited.chat.completions.create(ask('first'))).usage);
  count(200);
  await expect(limited.chat.completions.create(ask('second'))).rejects.toBeInstanceOf(RateLimitError);
  count(429);

  const tagged = await client.chat.completions.create(ask(`write to ${EMAIL}`), { headers: { 'x-switchyard-metadata': '{"feature":"search"}', 'x-request-id': 'req-observed-1' } });
  addTokens('mock', tagged.usage);
  count(200);

  // The Messages API through Anthropic's SDK: the same metrics, log and quality path.
  const anthropic = new Anthropic({ baseURL: gateway.url, apiKey: MASTER_KEY, maxRetries: 0 });
  // Structured output: the mock answers JSON that follows the schema, counted as compliant.
  const message = await anthropic.messages.create({
    model: 'mock',
    max_tokens: 64,
    messages: [{ role: 'user', content: 'hello from the Messages API' }],
    output_config: { format: { type: 'json_schema', schema: { type: 'object', properties: { greeting: { type: 'string' } }, required: ['greeting'], additionalProperties: false } } },
  });
  addTokens('mock', { prompt_tokens: message.usage.input_tokens, completion_tokens: message.usage.output_tokens, total_tokens: message.usage.input_tokens + message.usage.output_tokens });
  count(200);

  samples = parseMetrics((await raw(gateway, '/metrics')).text);
});

afterAll(stopAllGateways);

const requestsSent = (): number => [...sent.values()].reduce((a, b) => a + b, 0);

describe('/metrics after a mixed workload', () => {
  it('counts every request once, by status and cache status', () => {
    expect(requestsSent()).toBe(18);
    // The unknown route and the DELETE count under route="other" (and are not in the request log).
    const others = total(samples, 'switchyard_requests_total', { route: 'other', status: '404' });
    expect(others).toBe(2);
    expect(total(samples, 'switchyard_requests_total')).toBe(requestsSent() + others);
    for (const [status, times] of sent) expect(total(samples, 'switchyard_requests_total', { status: String(status) }), `status ${status}`).toBe(times + (status === 404 ? others : 0));
    expect(total(samples, 'switchyard_requests_total', { cache: 'hit' })).toBe(2);
    expect(total(samples, 'switchyard_requests_total', { cache: 'miss' })).toBe(1);
    expect(total(samples, 'switchyard_requests_total', { model: 'cached', provider: 'cache', upstream_model: 'mock' })).toBe(2);
    expect(total(samples, 'switchyard_requests_total', { route: 'embeddings' })).toBe(1);
    expect(total(samples, 'switchyard_requests_total', { route: 'messages', status: '200' })).toBe(1);
    expect(total(samples, 'switchyard_request_duration_seconds_count')).toBe(requestsSent() + others);
  });

  it('counts the refusals by code', () => {
    expect(total(samples, 'switchyard_refusals_total')).toBe(3);
    expect(total(samples, 'switchyard_refusals_total', { code: 'invalid_api_key' })).toBe(2);
    expect(value(samples, 'switchyard_refusals_total', { code: 'rate_limit_exceeded', model: 'mock' })).toBe(1);
  });

  it('adds up the tokens the answers reported, and their cost at the configured price', () => {
    for (const [model, seen] of tokens) {
      const input = total(samples, 'switchyard_tokens_total', { model, provider: 'demo', kind: 'input' });
      const output = total(samples, 'switchyard_tokens_total', { model, provider: 'demo', kind: 'output' });
      expect([model, input, output]).toEqual([model, seen.input, seen.output]);
      expect(input).toBeGreaterThan(0);
      expect(total(samples, 'switchyard_cost_usd_total', { model, provider: 'demo' })).toBeCloseTo(((input + output) * PRICE) / 1e6, 9);
    }
    // Cache hits cost nothing and report no tokens of their own.
    expect(total(samples, 'switchyard_tokens_total', { provider: 'cache' })).toBe(0);
  });

  it('logs cache hits as the metrics count them: provider cache, no tokens of their own', async () => {
    const hits = () => gateway.logs().filter((line) => line.msg === 'request completed' && line.model === 'cached' && line.cache === 'HIT');
    // Log lines reach stdout in batches, up to 200 ms after the answer.
    await expect.poll(() => hits().length).toBe(2);
    for (const line of hits()) {
      expect(line).toMatchObject({ provider: 'cache', status: 200 });
      expect(line.prompt_tokens).toBeUndefined();
      expect(line.completion_tokens).toBeUndefined();
    }
  });

  it('times the first token of the streams, and shows nothing left in flight', () => {
    expect(total(samples, 'switchyard_time_to_first_token_seconds_count', { model: 'mock' })).toBe(2);
    expect(total(samples, 'switchyard_in_flight_requests')).toBe(0);
    expect(value(samples, 'switchyard_in_flight_streams', {})).toBe(0);
  });

  it('counts the answers made upstream for answer quality', () => {
    // Chat answers from the upstream: 8 for `mock` (3 + 2 streams + the limited key's + the tagged one + the Messages API's), 1 for `cached` (its miss).
    expect(value(samples, 'switchyard_answers_total', { model: 'mock' })).toBe(8);
    expect(value(samples, 'switchyard_answers_total', { model: 'cached' })).toBe(1);
    // The Messages API's structured-output request (the mock follows the schema).
    expect(value(samples, 'switchyard_answer_quality_total', { model: 'mock', signal: 'schema_valid' })).toBe(1);
    expect(total(samples, 'switchyard_answer_quality_total', { signal: 'schema_invalid' })).toBe(0);
  });
});

describe('the request log', () => {
  let rows: LogRow[];

  beforeAll(async () => {
    const deadline = Date.now() + 10_000;
    do {
      rows = (await logs()).data;
      if (rows.length >= requestsSent()) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    } while (Date.now() < deadline);
  });

  it('has one row per request, with its status and error code', () => {
    expect(rows).toHaveLength(requestsSent());
    const byStatus = new Map<number, number>();
    for (const row of rows) byStatus.set(row.status, (byStatus.get(row.status) ?? 0) + 1);
    expect(byStatus).toEqual(sent);
    const codes = (status: number) => rows.filter((row) => row.status === status).map((row) => row.error_code);
    expect(codes(401)).toEqual(['invalid_api_key', 'invalid_api_key']);
    expect(codes(404)).toEqual(['model_not_found', 'model_not_found']);
    expect(codes(502)).toEqual(['upstream_error']);
    expect(codes(429)).toEqual(['rate_limit_exceeded']);
    expect(rows.filter((row) => row.status === 200).every((row) => row.error_code === null)).toBe(true);
  });

  it('records streams with their time to first token, and attempts', () => {
    const streams = rows.filter((row) => row.stream === true);
    expect(streams).toHaveLength(2);
    for (const row of streams) {
      expect(row.ttft_ms).toEqual(expect.any(Number));
      // A stream's logged body is the text it streamed.
      const body = JSON.parse(row.response_body!) as { stream: boolean; text: string };
      expect(body.stream).toBe(true);
      expect(body.text.length).toBeGreaterThan(0);
    }
    expect(rows.find((row) => row.status === 502)).toMatchObject({ attempts: 1, provider: 'dead', model: 'unreachable' });
    expect(rows.find((row) => row.status === 401)).toMatchObject({ attempts: 0, key_id: null, cost_usd: 0 });
    expect(rows.filter((row) => row.route === 'messages')).toEqual([expect.objectContaining({ status: 200, model: 'mock', provider: 'demo', key_id: 'master', attempts: 1 })]);
  });

  it("names the key on the log line as the request log does: the master key's requests as master", async () => {
    // The log goes out in batches, at the latest every 200 ms.
    await expect.poll(() => gateway.logs().find((line) => line.route === 'messages' && line.status === 200)).toMatchObject({ key_id: 'master' });
    const refused = gateway.logs().filter((line) => line.status === 401);
    expect(refused.length).toBeGreaterThan(0);
    for (const line of refused) expect(line.key_id).toBeUndefined();
  });

  it('filters by status class, cache status, provider, model and tag', async () => {
    expect((await logs('&status=4xx')).data).toHaveLength(5);
    expect((await logs('&status=502')).data).toHaveLength(1);
    expect((await logs('&cache=HIT')).data.map((row) => row.provider)).toEqual(['cache', 'cache']);
    expect((await logs('&model=cached')).data).toHaveLength(3);
    expect((await logs('&provider=dead')).data).toHaveLength(1);
    const tagged = (await logs('&tag=feature:search')).data;
    expect(tagged.map((row) => row.request_id)).toEqual(['req-observed-1']);
    const bad = await admin('GET', '/logs?status=abc');
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('status');
    // Times as days too: from its first millisecond, to its last (UTC).
    const today = new Date().toISOString().slice(0, 10);
    const all = (await logs()).data.length;
    expect((await logs(`&from=${today}&to=${today}`)).data).toHaveLength(all);
    expect((await logs('&to=2020-01-01')).data).toHaveLength(0);
    const badDay = await admin('GET', '/logs?from=2026-13-45');
    expect(badDay.status).toBe(400);
    expect(badDay.text).toContain('a day (2026-12-07)');
    // A day the calendar does not have, as a day or in a time, on the logs and on spend.
    for (const path of ['/logs?from=2026-02-30', '/logs?to=2026-02-30T10:00:00Z', '/spend?from=2026-02-30', '/audit?from=2026-04-31']) expect((await admin('GET', path)).status, path).toBe(400);
    expect((await admin('GET', '/spend?from=2028-02-29&to=2028-03-01')).status).toBe(200);
  });

  it('finds a request by its id, with its bodies redacted', async () => {
    const res = await admin('GET', '/logs/req-observed-1');
    expect(res.status, res.text).toBe(200);
    const row = res.json as LogRow;
    expect(row).toMatchObject({ request_id: 'req-observed-1', status: 200, model: 'mock', tags: ['feature:search'] });
    expect(row.request_body).toContain('[EMAIL]');
    expect(row.request_body).not.toContain(EMAIL);
    expect(JSON.parse(row.request_body!)).toMatchObject({ model: 'mock' });
    expect(JSON.parse(row.response_body!)).toMatchObject({ object: 'chat.completion' });
    const missing = await admin('GET', '/logs/never-sent');
    expect(missing.status).toBe(404);
  });

  it('pages with a cursor and exports JSON Lines', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await admin('GET', `/logs?limit=5${cursor ? `&cursor=${cursor}` : ''}`);
      const page = res.json as { data: LogRow[]; next_cursor: string | null };
      seen.push(...page.data.map((row) => `${row.id}`));
      pages++;
      // The last page says so (no cursor), rather than needing one more, empty page.
      if (page.data.length < 5) expect(page.next_cursor).toBeNull();
      cursor = page.next_cursor;
    } while (cursor);
    expect(new Set(seen).size).toBe(requestsSent());
    expect(pages).toBe(Math.ceil(requestsSent() / 5) + (requestsSent() % 5 === 0 ? 1 : 0));

    // JSON Lines carry on from a cursor too.
    const firstPage = (await admin('GET', '/logs?limit=5')).json as { data: LogRow[]; next_cursor: string };
    const rest = await admin('GET', `/logs?format=jsonl&cursor=${firstPage.next_cursor}`);
    expect(rest.status).toBe(200);
    expect(rest.text.trimEnd().split('\n').map((line) => (JSON.parse(line) as LogRow).id)).toEqual(seen.slice(5).map(Number));

    const exported = await admin('GET', '/logs/export?status=2xx');
    expect(exported.status).toBe(200);
    expect(exported.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const lines = exported.text.trimEnd().split('\n').map((line) => JSON.parse(line) as LogRow);
    expect(lines).toHaveLength(sent.get(200)!);
    expect(lines.every((line) => line.status === 200)).toBe(true);

    // The same from /admin/logs, by format or Accept.
    const byFormat = await admin('GET', '/logs?format=jsonl&status=4xx');
    expect(byFormat.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    expect(byFormat.text.trimEnd().split('\n')).toHaveLength(5);
    const byAccept = await raw(gateway, '/admin/logs?status=502', { headers: { authorization: `Bearer ${MASTER_KEY}`, accept: 'application/x-ndjson' } });
    expect(byAccept.text.trimEnd().split('\n').map((line) => (JSON.parse(line) as LogRow).status)).toEqual([502]);
    expect((await admin('GET', '/logs?format=xml')).status).toBe(400);
  });
});

describe('the request log of a streamed cache hit', () => {
  it('keeps the text it replayed as its body, as a streamed answer has it', async () => {
    const cached = await startGateway(`
auth: { master_key: ${MASTER_KEY} }
governance:
  spend: { flush_interval_ms: 50 }
request_log: { bodies: true }
providers:
  demo: { type: mock }
models:
  cached:
    targets: [ { provider: demo, model: mock } ]
    cache: { exact: true, ttl: 600 }
`);
    const client = sdk(cached, MASTER_KEY);
    const texts: string[] = [];
    for (const id of ['req-stream-miss', 'req-stream-hit']) {
      const stream = await client.chat.completions.create({ model: 'cached', messages: [{ role: 'user', content: 'replay me' }], stream: true }, { headers: { 'x-request-id': id } });
      let text = '';
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      texts.push(text);
    }
    expect(texts[1]).toBe(texts[0]);
    const rowOf = async (id: string) => {
      const res = await adminOf(cached, MASTER_KEY, 'GET', `/logs/${id}`);
      return res.status === 200 ? (res.json as LogRow) : undefined;
    };
    await expect.poll(() => rowOf('req-stream-hit')).toMatchObject({ cache: 'HIT' });
    for (const id of ['req-stream-miss', 'req-stream-hit']) expect(JSON.parse((await rowOf(id))!.response_body!)).toEqual({ stream: true, text: texts[0] });
  });
});

describe('an upstream whose usage counts are garbage', () => {
  it("is billed from the gateway's estimate (never free), and the request log goes on being written", async () => {
    const upstream = await FakeOpenAI.start();
    try {
      const broken = await startGateway(`
auth: { master_key: ${MASTER_KEY} }
governance:
  spend: { flush_interval_ms: 50 }
providers:
  up: { type: openai, base_url: ${upstream.baseURL}, api_key: sk-up }
models:
  priced:
    targets: [ { provider: up, model: gpt-4o-mini, price: { input: 1000, output: 1000 } } ]
`);
      const client = sdk(broken, MASTER_KEY);
      upstream.inject({ kind: 'usage', usage: { prompt_tokens: 'x', completion_tokens: -1000, total_tokens: null } });
      const { response } = await client.chat.completions.create({ model: 'priced', messages: [{ role: 'user', content: 'count me' }] }, { headers: { 'x-request-id': 'garbage-usage' } }).withResponse();
      // The prompt's estimate and the answer's text (4 characters a token), at $0.001 a token.
      const cost = Number(response.headers.get('x-switchyard-cost-usd'));
      expect(cost).toBeGreaterThan(0.005);
      await client.chat.completions.create({ model: 'priced', messages: [{ role: 'user', content: 'and me' }] }, { headers: { 'x-request-id': 'after-garbage' } });
      const rowOf = async (id: string) => (await adminOf(broken, MASTER_KEY, 'GET', `/logs/${id}`)).status;
      await expect.poll(() => rowOf('after-garbage')).toBe(200);
      const row = (await adminOf(broken, MASTER_KEY, 'GET', '/logs/garbage-usage')).json as LogRow;
      expect(row).toMatchObject({ prompt_tokens: expect.any(Number), completion_tokens: expect.any(Number), cost_usd: cost });
      expect(row.prompt_tokens > 0 && row.completion_tokens > 0).toBe(true);
      expect(row.prompt_tokens + row.completion_tokens).toBe(Math.round(cost * 1000));
      const metrics = (await raw(broken, '/metrics')).text;
      expect(metrics).not.toMatch(/switchyard_(tokens|cost_usd)_total\{[^}]*\} (NaN|-)/);
    } finally {
      await upstream.close();
    }
  });
});

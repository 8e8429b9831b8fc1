/**
 * A minimal, fast mock of OpenAI's chat completions endpoint for load tests.
 *
 * POST /v1/chat/completions answers from precomputed bytes: a realistic `chat.completion`
 * (with usage), or for `"stream":true` a realistic SSE stream of 20 chunks (role, content
 * pieces, finish reason), a usage trailer when `stream_options.include_usage` is true, and
 * `data: [DONE]`. Chunks are written one `write()` each, with no delay unless
 * `--chunk-delay-ms=N` asks for one. GET /__stats returns how many requests were answered.
 * The same answer in Anthropic's format (POST /v1/messages) and Bedrock's (POST
 * /model/{id}/converse and /converse-stream) comes from bench/lib/native-upstream.mjs.
 *
 * Run: node bench/upstream.mjs [--port=0] [--host=127.0.0.1] [--chunk-delay-ms=0]
 * Prints one JSON line {"event":"listening","port":N} on stdout once it accepts connections.
 */
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { anthropicAnswers, bedrockAnswers } from './lib/native-upstream.mjs';

const CREATED = 1735689600;
const MODEL = 'gpt-4o-mini-2024-07-18';
const ID = 'chatcmpl-AbCdEfGhIjKlMnOpQrStUvWxYz012';
const FINGERPRINT = 'fp_0ba0d124f1';

/** ~110 tokens of ordinary prose. */
export const TEXT =
  'Load balancing spreads incoming requests across several servers so that no single machine ' +
  'becomes a bottleneck. A gateway in front of language-model providers does the same across ' +
  'providers and deployments: it picks a healthy target for each request, retries another one ' +
  'when a call fails, and keeps track of latency, cost and token usage as it goes. Done well, ' +
  'the application never notices which provider answered, and the gateway itself adds only a ' +
  'fraction of a millisecond to every call.';

export const USAGE = {
  prompt_tokens: 42,
  completion_tokens: 98,
  total_tokens: 140,
  prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
};

const COMPLETION = Buffer.from(
  JSON.stringify({
    id: ID,
    object: 'chat.completion',
    created: CREATED,
    model: MODEL,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: TEXT, refusal: null, annotations: [] },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: USAGE,
    service_tier: 'default',
    system_fingerprint: FINGERPRINT,
  }),
);

export const STREAM_CHUNKS = 20;

/** The SSE events of one streamed answer, each a Buffer; `withUsage` adds the usage trailer. */
function streamEvents(withUsage) {
  const words = TEXT.split(/(?<= )/);
  const pieces = STREAM_CHUNKS - 2; // + the role chunk + the finish chunk
  const per = Math.ceil(words.length / pieces);
  const deltas = [{ role: 'assistant', content: '', refusal: null }];
  for (let i = 0; i < pieces; i++) deltas.push({ content: words.slice(i * per, (i + 1) * per).join('') });
  const base = { id: ID, object: 'chat.completion.chunk', created: CREATED, model: MODEL, service_tier: 'default', system_fingerprint: FINGERPRINT };
  const chunk = (delta, finishReason) => ({
    ...base,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...(withUsage ? { usage: null } : {}),
    obfuscation: 'x7Qp',
  });
  const events = deltas.map((delta) => chunk(delta, null));
  events.push(chunk({}, 'stop'));
  if (withUsage) events.push({ ...base, choices: [], usage: USAGE, obfuscation: 'Zk' });
  const encoded = events.map((event) => Buffer.from(`data: ${JSON.stringify(event)}\n\n`));
  encoded.push(Buffer.from('data: [DONE]\n\n'));
  return encoded;
}

const STREAM_PLAIN = streamEvents(false);
const STREAM_USAGE = streamEvents(true);

/** The streamed answer with the usage trailer, one Buffer per event (for bench/lib/translator-costs.mjs). */
export const STREAM_EVENTS_WITH_USAGE = STREAM_USAGE;

/** Text pieces of a streamed answer: 20 OpenAI chunks are the role chunk, these and the finish chunk. */
export const PIECES = STREAM_CHUNKS - 2;

// The same answer in Anthropic's and Bedrock's formats (bench/lib/native-upstream.mjs).
const ANTHROPIC = anthropicAnswers(TEXT, USAGE, PIECES);
const BEDROCK = bedrockAnswers(TEXT, USAGE, PIECES);

const COMMON_HEADERS = {
  'openai-organization': 'bench-org',
  'openai-processing-ms': '212',
  'openai-project': 'proj_bench',
  'openai-version': '2020-10-01',
  'x-ratelimit-limit-requests': '30000',
  'x-ratelimit-limit-tokens': '150000000',
  'x-ratelimit-remaining-requests': '29999',
  'x-ratelimit-remaining-tokens': '149999950',
  'x-ratelimit-reset-requests': '2ms',
  'x-ratelimit-reset-tokens': '0s',
  'x-request-id': 'req_0123456789abcdef0123456789abcdef',
};
const JSON_HEADERS = { ...COMMON_HEADERS, 'content-type': 'application/json', 'content-length': String(COMPLETION.length) };
const SSE_HEADERS = { ...COMMON_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' };
const ANTHROPIC_HEADERS = { 'request-id': 'req_011CSHoEeqs5C35K2UUqR7Fy', 'anthropic-organization-id': 'bench-org' };
const ANTHROPIC_JSON_HEADERS = { ...ANTHROPIC_HEADERS, 'content-type': 'application/json', 'content-length': String(ANTHROPIC.json.length) };
const ANTHROPIC_SSE_HEADERS = { ...ANTHROPIC_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' };
const BEDROCK_HEADERS = { 'x-amzn-requestid': '5fd3e2a1-0b4c-4a57-9a4e-1f0c2d3e4f50' };
const BEDROCK_JSON_HEADERS = { ...BEDROCK_HEADERS, 'content-type': 'application/json', 'content-length': String(BEDROCK.json.length) };
const BEDROCK_STREAM_HEADERS = { ...BEDROCK_HEADERS, 'content-type': 'application/vnd.amazon.eventstream' };

/** Which API a request is for: OpenAI chat, Anthropic Messages, or Bedrock Converse(Stream). */
function apiOf(url) {
  if (url.startsWith('/v1/chat/completions')) return 'openai';
  if (url.startsWith('/v1/messages')) return 'anthropic';
  if (url.startsWith('/model/')) return url.split('?')[0].endsWith('/converse-stream') ? 'bedrock-stream' : url.split('?')[0].endsWith('/converse') ? 'bedrock' : undefined;
  return undefined;
}
const NOT_FOUND = Buffer.from(JSON.stringify({ error: { message: 'Unknown route (bench upstream).', type: 'invalid_request_error', code: 'unknown_url', param: null } }));

/**
 * Starts the mock; resolves with `{ server, port, stats, close() }`.
 * @param {{ port?: number, host?: string, chunkDelayMs?: number }} [options]
 */
export async function startUpstream({ port = 0, host = '127.0.0.1', chunkDelayMs = 0 } = {}) {
  const stats = { requests: 0, streams: 0 };
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/__stats') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(stats));
      return;
    }
    const api = req.method === 'POST' ? apiOf(req.url) : undefined;
    if (!api) {
      req.resume();
      res.writeHead(404, { 'content-type': 'application/json', 'content-length': String(NOT_FOUND.length) }).end(NOT_FOUND);
      return;
    }
    const parts = [];
    req.on('data', (part) => parts.push(part));
    req.on('end', () => {
      stats.requests++;
      // Requests are compact JSON (JSON.stringify): a substring test is enough and much cheaper than parsing.
      const body = parts.length === 1 ? parts[0].toString('latin1') : Buffer.concat(parts).toString('latin1');
      if (api === 'bedrock') {
        res.writeHead(200, BEDROCK_JSON_HEADERS).end(BEDROCK.json);
        return;
      }
      if (api !== 'bedrock-stream' && !body.includes('"stream":true')) {
        if (api === 'anthropic') res.writeHead(200, ANTHROPIC_JSON_HEADERS).end(ANTHROPIC.json);
        else res.writeHead(200, JSON_HEADERS).end(COMPLETION);
        return;
      }
      stats.streams++;
      const events =
        api === 'anthropic' ? ANTHROPIC.events
        : api === 'bedrock-stream' ? BEDROCK.events
        : body.includes('"include_usage":true') ? STREAM_USAGE
        : STREAM_PLAIN;
      res.writeHead(200, api === 'anthropic' ? ANTHROPIC_SSE_HEADERS : api === 'bedrock-stream' ? BEDROCK_STREAM_HEADERS : SSE_HEADERS);
      if (chunkDelayMs > 0) {
        void writeSlowly(res, events, chunkDelayMs);
        return;
      }
      const last = events.length - 1;
      for (let i = 0; i < last; i++) res.write(events[i]);
      res.end(events[last]);
    });
  });
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 0;
  server.requestTimeout = 0;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const address = server.address();
  return {
    server,
    port: typeof address === 'object' && address ? address.port : port,
    stats,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function writeSlowly(res, events, delayMs) {
  let gone = false;
  res.once('close', () => (gone = true));
  for (let i = 0; i < events.length; i++) {
    if (gone) return;
    if (i > 0) await sleep(delayMs);
    if (i === events.length - 1) res.end(events[i]);
    else res.write(events[i]);
  }
}

function flag(argv, name, fallback) {
  const hit = argv.find((arg) => arg.startsWith(`--${name}=`));
  return hit === undefined ? fallback : hit.slice(name.length + 3);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const argv = process.argv.slice(2);
  const upstream = await startUpstream({
    port: Number(flag(argv, 'port', '0')),
    host: flag(argv, 'host', '127.0.0.1'),
    chunkDelayMs: Number(flag(argv, 'chunk-delay-ms', '0')),
  });
  process.stdout.write(`${JSON.stringify({ event: 'listening', port: upstream.port })}\n`);
  const stop = () => void upstream.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

/**
 * The load generator: a closed loop of `concurrency` workers over one undici Pool (keep-alive,
 * one connection per worker), timed with process.hrtime.bigint() so latencies keep microsecond
 * precision. Run by bench/run.mjs as its own process (pinned to a core):
 *
 *   node bench/load.mjs '<json spec>'
 *
 * spec: { origin, path, headers, body, stream, concurrency, warmupMs, durationMs, format? }
 * (`format`: "openai" (default) or "anthropic", the answer shape checked)
 *
 * Prints JSON lines on stdout: {"event":"measuring"} when the warm-up ends, {"event":"window-end"}
 * when the measured window ends, then {"event":"result", ...}. Latency is measured per request
 * from just before `pool.request()` to the end of the body (`total`) and, for streams, to the
 * first body chunk (`firstByte`). Requests that *start* inside the window are sampled;
 * throughput counts requests that *complete* inside it.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { Pool } from 'undici';

const spec = JSON.parse(process.argv[2] ?? '{}');
const { origin, path, headers, body, stream, concurrency, warmupMs, durationMs } = spec;
const anthropic = spec.format === 'anthropic';

const pool = new Pool(origin, {
  connections: concurrency,
  pipelining: 1,
  keepAliveTimeout: 120_000,
  keepAliveMaxTimeout: 600_000,
  headersTimeout: 30_000,
  bodyTimeout: 30_000,
});

const DONE = Buffer.from(anthropic ? 'event: message_stop\ndata: {"type":"message_stop"}\n\n' : 'data: [DONE]\n\n');
const bodyBuffer = Buffer.from(body);
const requestOptions = { path, method: 'POST', headers: { ...headers, 'content-length': String(bodyBuffer.length) }, body: bodyBuffer };

const startAt = process.hrtime.bigint();
const measureFrom = startAt + BigInt(Math.round(warmupMs * 1e6));
const endAt = measureFrom + BigInt(Math.round(durationMs * 1e6));

const totals = []; // µs
const firstBytes = []; // µs (streams)
let completedInWindow = 0;
let started = 0;
let errors = 0;
const statusCounts = {};
const errorSamples = [];
let checked = 0;

function fail(kind, detail) {
  errors++;
  if (errorSamples.length < 5) errorSamples.push({ kind, detail: String(detail).slice(0, 300) });
}

/** Every 200th non-streaming answer (and the first few) is parsed and checked for shape. */
function checkCompletion(buffers) {
  checked++;
  try {
    const parsed = JSON.parse(Buffer.concat(buffers).toString('utf8'));
    const content = anthropic ? parsed?.content?.find((block) => block.type === 'text')?.text : parsed?.choices?.[0]?.message?.content;
    if (typeof content !== 'string' || content.length === 0) return 'no choices[0].message.content';
    if (!parsed.usage) return 'no usage';
    return undefined;
  } catch (err) {
    return `body is not JSON: ${err.message}`;
  }
}

/** One request: resolves with { status, firstByte, end, problem } (hrtime bigints). */
function once() {
  return new Promise((resolve) => {
    pool.request(requestOptions).then(
      (res) => {
        let firstByte = 0n;
        let last;
        const keep = !stream && (checked < 5 || started % 200 === 0) ? [] : undefined;
        let bytes = 0;
        res.body.on('data', (chunk) => {
          if (firstByte === 0n) firstByte = process.hrtime.bigint();
          bytes += chunk.length;
          last = chunk;
          keep?.push(chunk);
        });
        res.body.on('error', (err) => resolve({ status: res.statusCode, problem: `body error: ${err.message}` }));
        res.body.on('end', () => {
          const end = process.hrtime.bigint();
          let problem;
          if (res.statusCode !== 200) problem = `HTTP ${res.statusCode}: ${last ? last.toString('utf8', 0, 200) : ''}`;
          else if (bytes === 0) problem = 'empty body';
          else if (stream && (!last || !endsWithDone(last))) problem = `stream did not end with ${anthropic ? 'message_stop' : 'data: [DONE]'}`;
          else if (keep) problem = checkCompletion(keep);
          resolve({ status: res.statusCode, firstByte, end, problem });
        });
      },
      (err) => resolve({ status: 0, problem: `request error: ${err.code ?? ''} ${err.message}` }),
    );
  });
}

function endsWithDone(chunk) {
  if (chunk.length < DONE.length) return chunk.toString().endsWith(anthropic ? 'message_stop"}\n\n' : '[DONE]\n\n');
  return chunk.subarray(chunk.length - DONE.length).equals(DONE);
}

async function worker() {
  for (;;) {
    const t0 = process.hrtime.bigint();
    if (t0 >= endAt) return;
    started++;
    const { status, firstByte, end, problem } = await once();
    statusCounts[status] = (statusCounts[status] ?? 0) + 1;
    if (problem) {
      fail(status === 0 ? 'transport' : status === 200 ? 'bad body' : 'status', problem);
      if (errors > 1000) return; // something is badly broken; stop hammering
      continue;
    }
    if (t0 >= measureFrom && t0 < endAt) {
      totals.push(Number(end - t0) / 1000);
      if (stream) firstBytes.push(Number(firstByte - t0) / 1000);
    }
    if (end >= measureFrom && end < endAt) completedInWindow++;
  }
}

function summarize(samples) {
  if (samples.length === 0) return null;
  const sorted = Float64Array.from(samples).sort();
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
  let sum = 0;
  for (const v of sorted) sum += v;
  const us = (v) => Math.round(v * 10) / 10;
  return { count: sorted.length, min: us(sorted[0]), p50: us(at(0.5)), p90: us(at(0.9)), p99: us(at(0.99)), p999: us(at(0.999)), max: us(sorted[sorted.length - 1]), mean: us(sum / sorted.length) };
}

function emit(event) {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

const msUntil = (t) => Math.max(0, Number(t - process.hrtime.bigint()) / 1e6);
void delay(msUntil(measureFrom)).then(() => emit({ event: 'measuring' }));
void delay(msUntil(endAt)).then(() => emit({ event: 'window-end' }));

await Promise.all(Array.from({ length: concurrency }, () => worker()));
await pool.close();
emit({
  event: 'result',
  concurrency,
  stream: Boolean(stream),
  windowS: durationMs / 1000,
  started,
  completedInWindow,
  rps: Math.round((completedInWindow / (durationMs / 1000)) * 10) / 10,
  errors,
  statusCounts,
  errorSamples,
  unit: 'us',
  total: summarize(totals),
  firstByte: stream ? summarize(firstBytes) : null,
});

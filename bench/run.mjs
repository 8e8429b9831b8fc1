#!/usr/bin/env node
/**
 * Switchyard load harness (`npm run bench`). See bench/README.md.
 *
 * Starts the mock OpenAI upstream (bench/upstream.mjs) and the gateway — gateway pinned to core 0,
 * mock upstream, load generator and this orchestrator pinned to core 1 — then measures, for the
 * gateway and for the mock upstream directly (the baseline): latency at concurrency 1 and N
 * (non-streaming total, streaming first byte), throughput at saturation, and the gateway's
 * peak RSS. Prints a table against the targets and writes bench/results/<timestamp>.json.
 */
import { closeSync, createReadStream, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { setInterval, clearInterval } from 'node:timers';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { governedKey } from './lib/governed-key.mjs';
import { pairedKeys, ratioText } from './lib/paired-keys.mjs';
import { ensurePortkey, portkeyCommand, portkeyHeaders } from './lib/portkey.mjs';
import { commOf, coreTimes, cpuSecondsOf, freePort, memoryOf, onJsonLines, pinSelf, pinningAvailable, spawnGateway, spawnNode, stopChild, waitForHttp } from './lib/proc.mjs';
import { benchMessages } from './lib/bodies.mjs';
import { buildRows, formatTable } from './lib/report.mjs';
import { selfReportedOverhead } from './lib/self-reported.mjs';
import { summarizeProfile } from './profile-summary.mjs';

const HELP = `Usage: npm run bench [-- OPTIONS]      (or: node bench/run.mjs OPTIONS after npm run build)

Options (each also from the environment variable in brackets):
  --duration=S          measured seconds per latency run            [BENCH_DURATION, 5]
  --warmup=S            warm-up seconds before each latency run      [BENCH_WARMUP, 2]
  --prime=S             seconds of unmeasured load (c=32, each kind) every server gets before
                        the first run, so none is measured cold (JIT)  [BENCH_PRIME, 5]
  --body-kb=N           requests of eight messages adding up to about N KB instead of the
                        core benchmark's two short ones (~350 bytes)   [BENCH_BODY_KB, 0]
  --concurrency=N       the "loaded" latency concurrency             [BENCH_CONCURRENCY, 32]
  --sat-duration=S      measured seconds of the saturation run       [BENCH_SAT_DURATION, 10]
  --sat-warmup=S        warm-up seconds of the saturation run        [BENCH_SAT_WARMUP, 3]
  --sat-concurrency=N   connections of the saturation run            [BENCH_SAT_CONCURRENCY, 64]
  --only=stream|nonstream   run only one kind                        [BENCH_ONLY]
  --repeat=N            run everything N times, report medians       [BENCH_REPEAT, 1]
  --log=file|null       where the gateway's stdout (JSON logs) goes  [BENCH_LOG, file]
                        (LOG_LEVEL is passed to the gateway; default info)
  --chunk-delay-ms=N    mock upstream delay between stream chunks    [BENCH_CHUNK_DELAY_MS, 0]
  --profile             run the gateway under node --cpu-prof (bench/results/profiles/)
                        (BENCH_GATEWAY_NODE_FLAGS="--max-semi-space-size=4 ..." adds node flags to the gateway)
  --busy-poll=US        server.busy_poll_us for every gateway, and the same spin in the bare proxy
                        (0: off, the default; docs/configuration.md)  [BENCH_BUSY_POLL_US, 0]
  --skip-bare           do not measure the bare Node proxy (the floor)  [BENCH_BARE=0]
  --governance          also measure the same gateway with a virtual key in a team in an org, each
                        level with RPM, TPM and a budget (column "governed")  [BENCH_GOVERNANCE=1];
                        then issue 6's ratio paired: the key switching every 1.5 s at the saturation
                        concurrency, 21 slices per kind (bench/lib/paired-keys.mjs)
  --observability       also measure a second gateway with metrics and the request log off
                        (column "unobserved": the baseline of issue 7's 10% target)  [BENCH_OBSERVABILITY=1]
                        (BENCH_UNOBSERVED_CONFIG="<yaml>" replaces what that gateway turns off, for
                        control runs: "" gives two identical gateways)
  --tracing             also measure a gateway with OpenTelemetry tracing on, exporting OTLP/HTTP
                        to a sink on the load core (column "traced")  [BENCH_TRACING=1]
  --portkey             also measure @portkey-ai/gateway (installed under /tmp; skipped if it fails)
  --markdown            also print the table as Markdown
  --strict              exit 2 when a target is missed (exit 1 is reserved for failed requests)
  --keep                keep the temporary directory (config, gateway log)
  --dist=DIR            run the gateway built in DIR instead of dist/ (A/B runs of two builds)  [BENCH_DIST]
  --help`;

const REPO = fileURLToPath(new URL('..', import.meta.url));
const RESULTS_DIR = join(REPO, 'bench', 'results');
const LOAD = fileURLToPath(new URL('./load.mjs', import.meta.url));
const UPSTREAM = fileURLToPath(new URL('./upstream.mjs', import.meta.url));
const BARE_PROXY = fileURLToPath(new URL('./bare-proxy.mjs', import.meta.url));
const PING_PONG = fileURLToPath(new URL('./ping-pong.mjs', import.meta.url));
const OTLP_SINK = fileURLToPath(new URL('./otlp-sink.mjs', import.meta.url));
const MASTER_KEY = 'sk-sy-bench-master-key-0123456789abcdef';
const UPSTREAM_KEY = 'sk-proj-bench-upstream-key-0123456789abcdef';
const MODEL = 'gpt-4o-mini';
/** Other processes using more than this share of a core during a run make its figures suspect. */
const NOISY_PCT = 20;

/** `--governance`: the paired measurement of the two keys (bench/lib/paired-keys.mjs). */
const PAIRED_SLICES = 21;
const PAIRED_SLICE_MS = 1500;
/** Set from --body-kb once the options are read. */
let NONSTREAM_BODY = '';
let STREAM_BODY = '';
function setBodies(bodyKb) {
  const messages = benchMessages(bodyKb);
  NONSTREAM_BODY = JSON.stringify({ model: MODEL, messages, temperature: 0.2, max_tokens: 256 });
  STREAM_BODY = JSON.stringify({ model: MODEL, messages, temperature: 0.2, max_tokens: 256, stream: true, stream_options: { include_usage: true } });
}

class BenchError extends Error {}

// ---------------------------------------------------------------------------------------------
// options

const OPTIONS = {
  duration: { type: 'string' },
  warmup: { type: 'string' },
  concurrency: { type: 'string' },
  'sat-duration': { type: 'string' },
  'sat-warmup': { type: 'string' },
  prime: { type: 'string' },
  'body-kb': { type: 'string' },
  'sat-concurrency': { type: 'string' },
  only: { type: 'string' },
  repeat: { type: 'string' },
  log: { type: 'string' },
  'chunk-delay-ms': { type: 'string' },
  'busy-poll': { type: 'string' },
  profile: { type: 'boolean' },
  portkey: { type: 'boolean' },
  'skip-bare': { type: 'boolean' },
  governance: { type: 'boolean' },
  observability: { type: 'boolean' },
  tracing: { type: 'boolean' },
  markdown: { type: 'boolean' },
  strict: { type: 'boolean' },
  keep: { type: 'boolean' },
  dist: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

function parseOptions() {
  let values;
  try {
    ({ values } = parseArgs({ options: OPTIONS }));
  } catch (err) {
    throw new BenchError(`${err.message}\n\n${HELP}`);
  }
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  const env = process.env;
  const number = (name, flag, envName, fallback, { integer = false, min = 0, max = Infinity } = {}) => {
    const raw = flag ?? env[envName];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) throw new BenchError(`--${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}${max < Infinity ? ` and <= ${max}` : ''} (got ${JSON.stringify(raw)})`);
    return value;
  };
  const only = values.only ?? (env.BENCH_ONLY || undefined);
  if (only !== undefined && only !== 'stream' && only !== 'nonstream') throw new BenchError(`--only must be "stream" or "nonstream" (got ${JSON.stringify(only)})`);
  const log = values.log ?? (env.BENCH_LOG || 'file');
  if (log !== 'file' && log !== 'null') throw new BenchError(`--log must be "file" or "null" (got ${JSON.stringify(log)})`);
  const flagOrEnv = (flag, envName) => Boolean(flag) || env[envName] === '1' || env[envName] === 'true';
  return {
    durationS: number('duration', values.duration, 'BENCH_DURATION', 5, { min: 0.5 }),
    warmupS: number('warmup', values.warmup, 'BENCH_WARMUP', 2),
    primeS: number('prime', values.prime, 'BENCH_PRIME', 5),
    bodyKb: number('body-kb', values['body-kb'], 'BENCH_BODY_KB', 0),
    concurrency: number('concurrency', values.concurrency, 'BENCH_CONCURRENCY', 32, { integer: true, min: 2 }),
    satDurationS: number('sat-duration', values['sat-duration'], 'BENCH_SAT_DURATION', 10, { min: 0.5 }),
    satWarmupS: number('sat-warmup', values['sat-warmup'], 'BENCH_SAT_WARMUP', 3),
    satConcurrency: number('sat-concurrency', values['sat-concurrency'], 'BENCH_SAT_CONCURRENCY', 64, { integer: true, min: 1 }),
    only,
    log,
    logLevel: env.LOG_LEVEL || 'info',
    chunkDelayMs: number('chunk-delay-ms', values['chunk-delay-ms'], 'BENCH_CHUNK_DELAY_MS', 0),
    busyPollUs: number('busy-poll', values['busy-poll'], 'BENCH_BUSY_POLL_US', 0, { integer: true, max: 100_000 }),
    profile: flagOrEnv(values.profile, 'BENCH_PROFILE'),
    portkey: flagOrEnv(values.portkey, 'BENCH_PORTKEY'),
    bare: !values['skip-bare'] && env.BENCH_BARE !== '0',
    governance: flagOrEnv(values.governance, 'BENCH_GOVERNANCE'),
    observability: flagOrEnv(values.observability, 'BENCH_OBSERVABILITY'),
    tracing: flagOrEnv(values.tracing, 'BENCH_TRACING'),
    repeat: number('repeat', values.repeat, 'BENCH_REPEAT', 1, { integer: true, min: 1 }),
    markdown: Boolean(values.markdown),
    strict: flagOrEnv(values.strict, 'BENCH_STRICT'),
    keep: Boolean(values.keep),
    dist: values.dist ?? (env.BENCH_DIST || 'dist'),
  };
}

function scenariosFor(opts) {
  const latency = (id, stream, concurrency) => ({ id, stream, concurrency, warmupMs: opts.warmupS * 1000, durationMs: opts.durationS * 1000 });
  const list = [];
  if (opts.only !== 'stream') list.push(latency('nonstream-c1', false, 1), latency(`nonstream-c${opts.concurrency}`, false, opts.concurrency));
  if (opts.only !== 'nonstream') list.push(latency('stream-c1', true, 1), latency(`stream-c${opts.concurrency}`, true, opts.concurrency));
  if (opts.only !== 'stream') {
    list.push({ id: 'saturation', stream: false, concurrency: opts.satConcurrency, warmupMs: opts.satWarmupS * 1000, durationMs: opts.satDurationS * 1000 });
  }
  return list;
}

// ---------------------------------------------------------------------------------------------
// machine + processes

function machine() {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  return {
    nproc: cpus().length,
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown',
    node: process.version,
    kernel: release(),
    memoryGB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    loadavgAtStart: loadavg().map((v) => Math.round(v * 100) / 100),
  };
}

const log = (message) => process.stderr.write(`bench: ${message}\n`);

/** The temporary directory (config, gateway log); kept when the run fails. */
let workDir;

/** Children this run started (stopped in reverse order on exit, by their own pid only). */
const children = [];

/** Starts one of the bench's own servers (it prints {"event":"listening","port"} on stdout). */
async function startListener(core, script, args, what) {
  const child = spawnNode(core, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const port = await new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new BenchError(`${what} exited with code ${code} before listening`)));
    onJsonLines(child.stdout, (event) => event.event === 'listening' && resolve(event.port));
  });
  return { child, pid: child.pid, origin: `http://127.0.0.1:${port}` };
}

function gatewayConfig(upstreamOrigin, dir, extra, busyPollUs) {
  return `# generated by bench/run.mjs
${extra}
server: { host: 127.0.0.1, port: 8080, shutdown_grace_ms: 3000, busy_poll_us: ${busyPollUs} }
auth: { master_key: ${MASTER_KEY} }
storage: { url: "sqlite://${dir}/switchyard.db" }
logging: { level: info }
providers:
  mock-openai: { type: openai, api_key: ${UPSTREAM_KEY}, base_url: "${upstreamOrigin}/v1" }
models:
  ${MODEL}:
    targets: [ { provider: mock-openai, model: ${MODEL} } ]
`;
}


/** One-byte loopback round trips between a server on `serverCore` and a client on `clientCore`: { p50, p99 } µs. */
async function roundTrip(serverCore, clientCore) {
  const server = await startListener(serverCore, PING_PONG, ['server'], 'the ping-pong server');
  try {
    const client = spawnNode(clientCore, [PING_PONG, 'client', new URL(server.origin).port, '5000'], { stdio: ['ignore', 'pipe', 'inherit'] });
    return await new Promise((resolve, reject) => {
      client.once('exit', (code) => reject(new BenchError(`the ping-pong client exited with code ${code} without a result`)));
      onJsonLines(client.stdout, (event) => event.event === 'result' && resolve({ p50: event.p50, p99: event.p99 }));
    });
  } finally {
    await stopChild(server.child, 2000);
  }
}

async function startGateway({ core, upstreamOrigin, dir, opts, extraConfig = '' }) {
  const main = join(REPO, opts.dist, 'main.js');
  if (!existsSync(main)) throw new BenchError(`${main} is missing: build first (npm run build), or use npm run bench`);
  mkdirSync(dir, { recursive: true });
  const configPath = join(dir, 'switchyard.yaml');
  writeFileSync(configPath, gatewayConfig(upstreamOrigin, dir, extraConfig, opts.busyPollUs));
  const port = await freePort();
  const logPath = opts.log === 'file' ? join(dir, 'gateway.log') : '/dev/null';
  const stdout = openSync(logPath, 'w');
  const stderrPath = join(dir, 'gateway.stderr');
  const stderr = openSync(stderrPath, 'w');
  const profileDir = join(RESULTS_DIR, 'profiles');
  const extraFlags = (process.env.BENCH_GATEWAY_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
  const nodeFlags = [...extraFlags, ...(opts.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])];
  if (opts.profile) mkdirSync(profileDir, { recursive: true });
  const child = spawnGateway(core, main, ['start', '--config', configPath], {
    cwd: dir,
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: opts.logLevel },
    stdio: ['ignore', stdout, stderr],
  }, nodeFlags);
  closeSync(stdout);
  closeSync(stderr);
  children.push(child);
  const origin = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${origin}/health/ready`, { child });
  } catch (err) {
    const tail = readFileSync(stderrPath, 'utf8').trim().split('\n').slice(-15).join('\n');
    const out = opts.log === 'file' ? readFileSync(logPath, 'utf8').trim().split('\n').slice(-5).join('\n') : '';
    throw new BenchError(`the gateway did not start: ${err.message}\n--- gateway stderr ---\n${tail}\n--- gateway stdout ---\n${out}`);
  }
  const comm = commOf(child.pid);
  if (comm !== 'node' && comm !== 'MainThread') log(`warning: pid ${child.pid} is "${comm}", not node: RSS/CPU readings may be wrong`);
  return { child, pid: child.pid, origin, configPath, logPath, profileDir, startedAtMs: Date.now() };
}

async function startPortkey({ core, upstreamOrigin, dir }) {
  const entry = ensurePortkey(log);
  const port = await freePort();
  const { args, env } = portkeyCommand(entry, port);
  const logPath = join(dir, 'portkey.log');
  const out = openSync(logPath, 'w');
  const child = spawnNode(core, args, { cwd: dir, env, stdio: ['ignore', out, out] });
  closeSync(out);
  children.push(child);
  const origin = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${origin}/`, { child, statuses: [200, 404] });
  } catch (err) {
    const tail = existsSync(logPath) ? readFileSync(logPath, 'utf8').trim().split('\n').slice(-10).join('\n') : '';
    await stopChild(child, 2000);
    throw new Error(`${err.message}\n${tail}`);
  }
  const headers = portkeyHeaders(upstreamOrigin, UPSTREAM_KEY);
  return { child, pid: child.pid, origin, headers, logPath };
}

// ---------------------------------------------------------------------------------------------
// measuring

/** One request of each kind, checked: { nonstream, stream } each a problem description or undefined. */
async function smoke(target) {
  const problems = {};
  for (const stream of [false, true]) {
    problems[stream ? 'stream' : 'nonstream'] = await smokeOne(target, stream);
  }
  return problems;
}

async function smokeOne(target, stream) {
  const kind = stream ? 'streaming' : 'non-streaming';
  try {
    const res = await request(`${target.origin}/v1/chat/completions`, { method: 'POST', headers: target.headers, body: stream ? STREAM_BODY : NONSTREAM_BODY, headersTimeout: 10_000, bodyTimeout: 10_000 });
    const text = await res.body.text();
    if (res.statusCode !== 200) return `${kind} request answered HTTP ${res.statusCode}: ${text.slice(0, 400)}`;
    if (stream) {
      if (!text.trimEnd().endsWith('data: [DONE]')) return `stream did not end with data: [DONE]: ...${text.slice(-200)}`;
      if (!/"usage":\{"prompt_tokens"/.test(text)) return 'stream has no usage trailer although stream_options.include_usage was true';
    } else {
      const parsed = JSON.parse(text);
      if (typeof parsed?.choices?.[0]?.message?.content !== 'string' || !parsed.usage) return `unexpected completion: ${text.slice(0, 400)}`;
    }
  } catch (err) {
    return `${kind} request failed: ${err.code ?? ''} ${err.message}`;
  }
  return undefined;
}

/**
 * Unmeasured load before the first run: a server that has just started is still compiling its hot
 * paths (V8's compiler threads share its pinned core), and the first latency run would measure that.
 */
async function prime({ targets, scenarios, opts, upstream, gatewayRequests, cores }) {
  if (opts.primeS <= 0) return;
  const kinds = [...new Set(scenarios.map((scenario) => scenario.stream))];
  for (const target of targets) {
    for (const stream of kinds) {
      if (stream && target.skipStream) continue;
      const scenario = { id: 'prime', stream, concurrency: 32, warmupMs: opts.primeS * 1000, durationMs: 100 };
      const result = await runLoad({ core: cores.load, gatewayCore: cores.gateway, target, scenario, upstreamPid: upstream.pid });
      if (target.name === 'gateway') gatewayRequests.count += result.started;
      const problem = checkErrors(target.label, scenario, result);
      if (problem && target.name !== 'portkey') throw new BenchError(`requests failed while priming: ${problem}`);
    }
  }
  log(`primed every server with ${opts.primeS} s of unmeasured load (c=32) per kind`);
}

function runLoad({ core, gatewayCore, target, scenario, upstreamPid }) {
  const loadCoreId = core;
  const spec = {
    origin: target.origin,
    path: '/v1/chat/completions',
    headers: target.headers,
    body: scenario.stream ? STREAM_BODY : NONSTREAM_BODY,
    stream: scenario.stream,
    concurrency: scenario.concurrency,
    warmupMs: scenario.warmupMs,
    durationMs: scenario.durationMs,
  };
  return new Promise((resolve, reject) => {
    const child = spawnNode(core, [LOAD, JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    const pids = { server: target.pid, loader: child.pid, upstream: upstreamPid };
    const snapshot = () => ({
      at: process.hrtime.bigint(),
      cores: coreTimes(),
      self: process.cpuUsage(),
      ...Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSecondsOf(pid)])),
    });
    let start;
    let end;
    let result;
    const window = {};
    onJsonLines(child.stdout, (event) => {
      if (event.event === 'measuring') {
        start = snapshot();
        window.fromMs = Date.now();
      } else if (event.event === 'window-end') {
        end = snapshot();
        window.toMs = Date.now();
      }
      else if (event.event === 'result') result = event;
      else if (event.event === 'text') log(`load: ${event.line}`);
    });
    child.once('exit', (code, signal) => {
      children.splice(children.indexOf(child), 1);
      if (code !== 0 || !result) {
        reject(new BenchError(`the load generator failed (exit ${code ?? signal}) for ${target.name} ${scenario.id}`));
        return;
      }
      let cpu;
      if (start && end) {
        const seconds = Number(end.at - start.at) / 1e9;
        const pct = (k) => Math.round(((end[k] - start[k]) / seconds) * 1000) / 10;
        const round = (v) => Math.round(v * 10) / 10;
        const cores = {};
        let busyAll = 0;
        let stealAll = 0;
        for (const [name, t] of Object.entries(end.cores)) {
          const before = start.cores[name];
          if (!before) continue;
          const span = t.total - before.total || seconds;
          cores[name] = { busy: round(((t.busy - before.busy) / span) * 100), steal: round(((t.steal - before.steal) / span) * 100) };
          busyAll += cores[name].busy;
          stealAll += cores[name].steal;
        }
        const selfPct = ((end.self.user - start.self.user + end.self.system - start.self.system) / 1e6 / seconds) * 100;
        const isDirect = target.pid === upstreamPid;
        // Other processes' CPU on each core we pinned to: the core's busy time minus our processes on it.
        // The direct run leaves core 0 idle, so only core 1 counts for it.
        const othersOn = (core, ours) => (cores[`cpu${core}`] ? Math.max(0, cores[`cpu${core}`].busy - ours) : NaN);
        const others0 = othersOn(gatewayCore ?? 0, isDirect ? 0 : pct('server'));
        const others1 = othersOn(loadCoreId ?? 1, pct('loader') + pct('upstream') + selfPct);
        const pinned = gatewayCore !== null;
        cpu = {
          server: pct('server'),
          loader: pct('loader'),
          upstream: pct('upstream'),
          loadCore: round(pct('loader') + pct('upstream')),
          cores,
          steal: round(stealAll),
          othersByCore: pinned ? { [`cpu${gatewayCore}`]: round(others0), [`cpu${loadCoreId}`]: round(others1) } : undefined,
          others: pinned ? round(isDirect ? others1 : others0 + others1) : round(Math.max(0, busyAll - (isDirect ? 0 : pct('server')) - pct('loader') - pct('upstream') - selfPct)),
        };
      }
      resolve({ ...result, cpu, window });
    });
  });
}

const fmtMs = (us) => (us === undefined || us === null ? '-' : (us / 1000).toFixed(3));

function describe(result) {
  const parts = [];
  if (result.firstByte) parts.push(`first byte p50 ${fmtMs(result.firstByte.p50)} p99 ${fmtMs(result.firstByte.p99)} ms`);
  if (result.total) parts.push(`total p50 ${fmtMs(result.total.p50)} p99 ${fmtMs(result.total.p99)} ms`);
  parts.push(`${Math.round(result.rps).toLocaleString('en-US')} req/s`);
  if (result.cpu) parts.push(`CPU: server ${Math.round(result.cpu.server)}%, load core ${Math.round(result.cpu.loadCore)}%, others ${Math.round(result.cpu.others)}%${result.cpu.steal >= 1 ? `, steal ${Math.round(result.cpu.steal)}%` : ''}`);
  return parts.join(', ');
}

/** Fails the run loudly when any request failed or answered non-200. */
function checkErrors(targetName, scenario, result) {
  if (result.errors === 0) return undefined;
  return `${targetName} ${scenario.id}: ${result.errors} failed request(s) of ${result.started} (status counts ${JSON.stringify(result.statusCounts)}); first: ${result.errorSamples.map((s) => `[${s.kind}] ${s.detail}`).join(' | ')}`;
}

/** Field-wise median of several results (numbers at any depth; other values from the first). */
function medianOf(list) {
  if (list.length === 1) return list[0];
  const merge = (values) => {
    const first = values[0];
    if (typeof first === 'number') {
      const sorted = values.filter((v) => typeof v === 'number').sort((a, b) => a - b);
      const mid = sorted.length >> 1;
      return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
    if (first && typeof first === 'object' && !Array.isArray(first)) {
      return Object.fromEntries(Object.keys(first).map((key) => [key, merge(values.map((v) => v?.[key]))]));
    }
    return first;
  };
  return { ...merge(list), rounds: list.length };
}

async function countLines(path) {
  let lines = 0;
  for await (const chunk of createReadStream(path)) {
    for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------
// main

async function main() {
  const opts = parseOptions();
  setBodies(opts.bodyKb);
  const startedAt = new Date();
  const pinning = pinningAvailable();
  const GATEWAY_CORE = pinning.ok ? 0 : null;
  const LOAD_CORE = pinning.ok ? 1 : null;
  if (pinning.ok) pinSelf(1);
  else log(`WARNING: not pinning processes to cores (${pinning.why}); figures are not comparable with pinned runs`);
  const info = machine();
  const scenarios = scenariosFor(opts);
  const estimate = scenarios.reduce((s, sc) => s + sc.warmupMs + sc.durationMs, 0) / 1000;
  log(`${info.nproc} CPUs (${info.cpuModel}), node ${info.node}, load average ${info.loadavgAtStart.join(' ')}`);

  // The layout's floor: a proxied request crosses between the cores twice per round trip where a
  // direct one (load generator and mock on one core) never does.
  const roundTrips = pinning.ok ? { crossCore: await roundTrip(GATEWAY_CORE, LOAD_CORE), sameCore: await roundTrip(LOAD_CORE, LOAD_CORE) } : undefined;
  if (roundTrips) log(`loopback TCP round trip: p50 ${roundTrips.crossCore.p50} µs between cores ${GATEWAY_CORE} and ${LOAD_CORE}, ${roundTrips.sameCore.p50} µs within core ${LOAD_CORE}`);

  const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-'));
  workDir = dir;
  const upstream = await startListener(LOAD_CORE, UPSTREAM, ['--port=0', `--chunk-delay-ms=${opts.chunkDelayMs}`], 'the mock upstream');
  log(`mock upstream on ${upstream.origin} (core ${LOAD_CORE ?? 'any'}, pid ${upstream.pid})`);
  const gateway = await startGateway({ core: GATEWAY_CORE, upstreamOrigin: upstream.origin, dir, opts });
  log(`switchyard on ${gateway.origin} (core ${GATEWAY_CORE ?? 'any'}, pid ${gateway.pid}, LOG_LEVEL=${opts.logLevel}, stdout -> ${opts.log === 'file' ? gateway.logPath : '/dev/null'}${opts.profile ? ', --cpu-prof' : ''})`);

  const targets = [
    { name: 'gateway', label: 'switchyard', origin: gateway.origin, pid: gateway.pid, headers: { 'content-type': 'application/json', authorization: `Bearer ${MASTER_KEY}` } },
    { name: 'direct', label: 'direct (mock upstream)', origin: upstream.origin, pid: upstream.pid, headers: { 'content-type': 'application/json', authorization: `Bearer ${UPSTREAM_KEY}` } },
  ];
  let virtualKey;
  if (opts.governance) {
    virtualKey = await governedKey(gateway.origin, MASTER_KEY, MODEL);
    targets.push({ name: 'governed', label: 'switchyard, governed key', origin: gateway.origin, pid: gateway.pid, headers: { 'content-type': 'application/json', authorization: `Bearer ${virtualKey}` } });
    log('governed: a virtual key in a team in an org, each with RPM, TPM and a budget (never reached)');
  }
  // Variants of the gateway in processes of their own (same core; only one is under load at a time).
  const variants = [];
  if (opts.observability) {
    const variant = await startGateway({ core: GATEWAY_CORE, upstreamOrigin: upstream.origin, dir: join(dir, 'unobserved'), opts, extraConfig: process.env.BENCH_UNOBSERVED_CONFIG ?? 'metrics: { enabled: false }\nrequest_log: { enabled: false }\n' });
    variants.push(variant);
    targets.push({ name: 'unobserved', label: 'switchyard, no metrics/log', origin: variant.origin, pid: variant.pid, headers: targets[0].headers });
    log(`unobserved: the same gateway with metrics and the request log off, on ${variant.origin} (pid ${variant.pid})`);
  }
  let sink;
  if (opts.tracing) {
    sink = await startListener(LOAD_CORE, OTLP_SINK, ['--port=0'], 'the OTLP sink');
    const variant = await startGateway({ core: GATEWAY_CORE, upstreamOrigin: upstream.origin, dir: join(dir, 'traced'), opts, extraConfig: `tracing: { endpoint: "${sink.origin}/v1/traces" }\n` });
    variants.push(variant);
    targets.push({ name: 'traced', label: 'switchyard, tracing on', origin: variant.origin, pid: variant.pid, headers: targets[0].headers });
    log(`traced: the same gateway with tracing on (OTLP/HTTP to a sink on the load core), on ${variant.origin} (pid ${variant.pid})`);
  }
  let bare;
  if (opts.bare) {
    bare = await startListener(GATEWAY_CORE, BARE_PROXY, [`--upstream=${upstream.origin}`, '--port=0', `--busy-poll-us=${opts.busyPollUs}`], 'the bare proxy');
    targets.push({ name: 'bare', label: 'bare node proxy', origin: bare.origin, pid: bare.pid, headers: { 'content-type': 'application/json', authorization: `Bearer ${UPSTREAM_KEY}` } });
    log(`bare node proxy on ${bare.origin} (core ${GATEWAY_CORE ?? 'any'}, pid ${bare.pid})`);
  }
  let portkey;
  let portkeySkipped;
  const portkeyNotes = [];
  if (opts.portkey) {
    try {
      portkey = await startPortkey({ core: GATEWAY_CORE, upstreamOrigin: upstream.origin, dir });
      const problems = await smoke(portkey);
      if (problems.nonstream) {
        await stopChild(portkey.child, 3000);
        throw new Error(`it started, but a request through it failed: ${problems.nonstream}`);
      }
      const entry = { name: 'portkey', label: 'portkey', origin: portkey.origin, pid: portkey.pid, headers: portkey.headers };
      if (problems.stream && opts.only !== 'nonstream') {
        entry.skipStream = problems.stream;
        const cause = /[A-Za-z]*Error: [^\n]*/.exec(readFileSync(portkey.logPath, 'utf8'))?.[0];
        portkeyNotes.push(`streaming not measured: ${problems.stream}${cause ? `; its log says: ${cause.slice(0, 200)}` : ''}`);
        log(`portkey: streaming does not work, measuring it non-streaming only: ${problems.stream}`);
      }
      targets.push(entry);
      log(`portkey on ${portkey.origin} (core ${GATEWAY_CORE ?? 'any'}, pid ${portkey.pid}, stdout+stderr -> ${portkey.logPath})`);
    } catch (err) {
      portkeySkipped = err.message;
      portkey = undefined;
      log(`SKIPPING portkey: ${err.message}`);
    }
  }

  for (const target of targets) {
    if (target.name === 'portkey') continue;
    const problems = await smoke(target);
    const problem = problems.nonstream ?? problems.stream;
    if (problem) throw new BenchError(`smoke test against ${target.label} failed: ${problem}`);
  }
  const idleRss = memoryOf(gateway.pid);
  log(`smoke tests passed; gateway RSS at idle ${((idleRss?.rssKB ?? NaN) / 1024).toFixed(1)} MB; about ${Math.round(estimate * targets.length * opts.repeat)} s of load follows`);

  // Memory of the servers, sampled through the whole run.
  const memory = {};
  const sampleMemory = () => {
    for (const target of targets) {
      if (target.name === 'direct') continue;
      const m = memoryOf(target.pid);
      if (!m) continue;
      const seen = (memory[target.name] ??= { peakRssKB: 0, hwmKB: 0 });
      seen.peakRssKB = Math.max(seen.peakRssKB, m.rssKB);
      seen.hwmKB = Math.max(seen.hwmKB, m.hwmKB);
    }
  };
  const sampler = setInterval(sampleMemory, 100);

  const repeats = {}; // repeats[scenario][target] = [result, ...]
  const failures = [];
  const gatewayRequests = { count: 2 }; // the smoke tests (readiness probes are not logged)
  try {
    await prime({ targets, scenarios, opts, upstream, gatewayRequests, cores: { load: LOAD_CORE, gateway: GATEWAY_CORE } });
    for (let round = 1; round <= opts.repeat; round++) {
      if (opts.repeat > 1) log(`round ${round} of ${opts.repeat}`);
      for (const scenario of scenarios) {
        for (const target of [...targets]) {
          if (scenario.stream && target.skipStream) continue;
          const result = await runLoad({ core: LOAD_CORE, gatewayCore: GATEWAY_CORE, target, scenario, upstreamPid: upstream.pid });
          if (target.name === 'gateway' && opts.log === 'file' && opts.logLevel === 'info') {
            await new Promise((resolve) => setTimeout(resolve, 400)); // the gateway flushes its log at least every 200 ms
            result.selfReported = selfReportedOverhead(gateway.logPath, result.window.fromMs, result.window.toMs);
          }
          ((repeats[scenario.id] ??= {})[target.name] ??= []).push(result);
          log(`${scenario.id.padEnd(16)} ${target.label.padEnd(23)} ${describe(result)}`);
          if (target.name === 'gateway') gatewayRequests.count += result.started;
          const problem = checkErrors(target.label, scenario, result);
          if (!problem) continue;
          failures.push(problem);
          if (target.name !== 'portkey') throw new BenchError(`requests failed: ${problem}`);
          log(`FAILED requests through portkey; dropping it from the rest of the run: ${problem}`);
          targets.splice(targets.indexOf(target), 1);
        }
      }
    }
  } finally {
    sampleMemory();
    clearInterval(sampler);
  }

  // Issue 6's ratio as the same gateway serves both keys in alternating slices (bench/paired.mjs):
  // separate runs, as above, are minutes apart, and this machine moves by more than the ratio in that time.
  let paired;
  if (virtualKey !== undefined && !opts.profile) {
    const kinds = opts.only === 'stream' ? ['stream'] : opts.only === 'nonstream' ? ['nonstream'] : ['nonstream', 'stream'];
    paired = {};
    for (const kind of kinds) {
      const body = kind === 'stream' ? STREAM_BODY : NONSTREAM_BODY;
      paired[kind] = await pairedKeys({ origin: gateway.origin, pid: gateway.pid, body, first: MASTER_KEY, second: virtualKey, concurrency: opts.satConcurrency, slices: PAIRED_SLICES, sliceMs: PAIRED_SLICE_MS });
      log(`paired ${kind.padEnd(9)} governed / master key, c=${opts.satConcurrency}: req/s ${ratioText(paired[kind].ratio.rps)}, CPU per request ${ratioText(paired[kind].ratio.cpu)}`);
    }
  }

  // Stop the servers (the gateway writes its CPU profile on a clean exit).
  const gatewayExit = await stopChild(gateway.child);
  if (gatewayExit.code !== 0) log(`warning: the gateway exited with ${gatewayExit.code ?? gatewayExit.signal} on SIGTERM (expected 0)`);
  if (portkey) await stopChild(portkey.child, 3000);
  if (bare) await stopChild(bare.child, 3000);
  for (const variant of variants) await stopChild(variant.child, 3000);
  if (sink) await stopChild(sink.child, 3000);
  await stopChild(upstream.child, 3000);

  let logInfo = { destination: '/dev/null', level: opts.logLevel };
  if (opts.log === 'file') {
    const lines = await countLines(gateway.logPath);
    logInfo = { destination: opts.keep ? gateway.logPath : 'a temporary file (deleted)', level: opts.logLevel, lines, bytes: statSync(gateway.logPath).size, requests: gatewayRequests.count };
  }

  let profile;
  if (opts.profile) {
    const files = readdirSync(gateway.profileDir)
      .filter((f) => f.endsWith('.cpuprofile') && f.includes(`.${gateway.pid}.`))
      .map((f) => join(gateway.profileDir, f));
    if (files.length === 0) log(`warning: no CPU profile for pid ${gateway.pid} in ${gateway.profileDir}`);
    else profile = { file: files[files.length - 1], summary: summarizeProfile(files[files.length - 1], { top: 30 }) };
  }

  // With --repeat, each figure is the median over the rounds.
  const runs = Object.fromEntries(Object.entries(repeats).map(([id, byTarget]) => [id, Object.fromEntries(Object.entries(byTarget).map(([t, list]) => [t, medianOf(list)]))]));
  const targetNames = targets.map((t) => t.name);
  const rows = buildRows(runs, memory, { concurrency: opts.concurrency, satConcurrency: opts.satConcurrency, targets: targetNames });
  const table = formatTable(rows, targetNames);

  const out = [];
  out.push('', `Switchyard benchmark — ${startedAt.toISOString()}`);
  out.push(`machine: ${info.nproc} CPUs, ${info.cpuModel}, node ${info.node}, Linux ${info.kernel}; load average at start ${info.loadavgAtStart.join(' ')}, at end ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);
  out.push(`layout: gateway on core ${GATEWAY_CORE ?? 'any'}; load generator + mock upstream on core ${LOAD_CORE ?? 'any'}`);
  if (roundTrips) {
    out.push(
      `floor: a one-byte loopback TCP round trip takes p50 ${roundTrips.crossCore.p50} µs (p99 ${roundTrips.crossCore.p99}) between cores ${GATEWAY_CORE} and ${LOAD_CORE}, ` +
        `${roundTrips.sameCore.p50} µs (p99 ${roundTrips.sameCore.p99}) within core ${LOAD_CORE};\n       a proxied request makes two round trips between the cores (client-proxy, proxy-mock), a direct one none`,
    );
  }
  out.push(
    `gateway: auth on (master key), metrics on, LOG_LEVEL=${opts.logLevel}, stdout -> ${opts.log === 'file' ? 'file' : '/dev/null'}` +
      (logInfo.lines !== undefined ? ` (${logInfo.lines.toLocaleString('en-US')} lines, ${(logInfo.bytes / 1024 ** 2).toFixed(1)} MB for ~${logInfo.requests.toLocaleString('en-US')} requests)` : '') +
      (opts.profile ? '; under --cpu-prof: latencies are inflated' : ''),
  );
  out.push(`runs: ${opts.repeat > 1 ? `${opts.repeat} rounds, figures are medians over rounds; ` : ''}latency ${opts.warmupS}+${opts.durationS} s each (warm-up+measured) at c=1 and c=${opts.concurrency}; saturation ${opts.satWarmupS}+${opts.satDurationS} s at c=${opts.satConcurrency}; streams of 20 chunks${opts.chunkDelayMs ? ` ${opts.chunkDelayMs} ms apart` : ' with no delay'}; request bodies of ${Buffer.byteLength(NONSTREAM_BODY).toLocaleString('en-US')} bytes${opts.bodyKb ? ` (--body-kb=${opts.bodyKb})` : ''}${opts.busyPollUs ? `; busy polling ${opts.busyPollUs} µs in the gateway and the bare proxy` : ''}`);
  if (portkeySkipped) out.push(`portkey: skipped (${portkeySkipped.split('\n')[0]})`);
  for (const note of portkeyNotes) out.push(`portkey: ${note}`);
  out.push('', table, '');
  for (const [kind, result] of Object.entries(paired ?? {})) {
    out.push(`governed vs master key, paired in one gateway (${kind === 'stream' ? 'streaming' : 'non-streaming'}, c=${opts.satConcurrency}, ${result.pairs} pairs of ${PAIRED_SLICE_MS / 1000} s slices; median [quartiles]): req/s ${ratioText(result.ratio.rps)}, CPU per request ${ratioText(result.ratio.cpu)}`);
  }
  if (paired) out.push('');
  out.push('"added" = server minus direct; "direct" hits the mock upstream, which shares core 1 with the load generator,');
  out.push('so its saturation figure is not a one-core figure. Latency targets apply to the added time at c=1.');
  if (opts.bare) out.push('"bare" is a pass-through node:http + undici proxy on the gateway\'s core: the floor for any Node proxy in this layout;\nswitchyard minus bare is the gateway\'s own cost.');
  if (runs.saturation?.gateway?.cpu && runs.saturation.gateway.cpu.server < 90) {
    out.push(`NOTE: the gateway used only ${Math.round(runs.saturation.gateway.cpu.server)}% of its core during saturation: the load side (${Math.round(runs.saturation.gateway.cpu.loadCore)}% of core 1) or noise limited it; the throughput is a lower bound.`);
  }
  const noisy = [];
  for (const [scenario, byTarget] of Object.entries(runs)) {
    for (const [name, result] of Object.entries(byTarget)) {
      if (result.cpu && result.cpu.others > NOISY_PCT) noisy.push(`${scenario}/${name} ${Math.round(result.cpu.others)}%`);
    }
  }
  if (noisy.length > 0) {
    out.push(`WARNING: other processes used more than ${NOISY_PCT}% of a core during ${noisy.length} run(s): ${noisy.join(', ')}.`);
    out.push('         Those figures are disturbed; re-run on a quieter machine before drawing conclusions.');
  }
  if (opts.markdown) out.push('', formatTable(rows, targetNames, { markdown: true }));
  if (profile) out.push('', `CPU profile: ${profile.file}`, profile.summary);

  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const resultsFile = join(RESULTS_DIR, `${stamp}.json`);
  const record = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: `node bench/run.mjs ${process.argv.slice(2).join(' ')}`.trim(),
    machine: { ...info, loadavgAtEnd: loadavg().map((v) => Math.round(v * 100) / 100) },
    layout: { gatewayCore: GATEWAY_CORE, loadCore: LOAD_CORE, pinned: pinning.ok, roundTripUs: roundTrips },
    options: opts,
    gateway: { log: logInfo, idleRssKB: idleRss?.rssKB, memory: memory.gateway, exit: gatewayExit },
    portkey: portkeySkipped ? { skipped: portkeySkipped } : portkey ? { memory: memory.portkey, notes: portkeyNotes } : undefined,
    rows,
    runs,
    paired,
    rounds: opts.repeat > 1 ? repeats : undefined,
    failures,
    profile: profile?.file,
  };
  writeFileSync(resultsFile, `${JSON.stringify(record, null, 2)}\n`);
  out.push('', `results: ${resultsFile}`);
  console.log(out.join('\n'));

  if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  else log(`kept ${dir}`);
  if (failures.length > 0) {
    console.error(`\nbench: FAILED: ${failures.length} run(s) had failed requests:\n  ${failures.join('\n  ')}`);
    return 1;
  }
  if (opts.strict && rows.some((row) => row.pass === false)) {
    console.error('\nbench: a target was missed (--strict)');
    return 2;
  }
  return 0;
}

async function cleanup() {
  for (const child of [...children].reverse()) await stopChild(child, 3000).catch(() => {});
}

process.once('SIGINT', () => {
  log('interrupted; stopping the processes it started');
  void cleanup().then(() => process.exit(130));
});

main().then(
  async (code) => {
    await cleanup();
    process.exit(code);
  },
  async (err) => {
    await cleanup();
    console.error(`\nbench: FAILED: ${err instanceof BenchError ? err.message : (err?.stack ?? err)}`);
    if (workDir) console.error(`bench: kept ${workDir} (gateway config, stderr and log) for inspection`);
    process.exit(1);
  },
);

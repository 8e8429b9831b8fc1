/** Process helpers for the harness: CPU pinning, /proc sampling, spawning and stopping children. */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';

/** Whether `taskset` works here and there are at least two cores to split load and gateway. */
export function pinningAvailable() {
  if (availableParallelism() < 2) return { ok: false, why: `only ${availableParallelism()} CPU available` };
  const probe = spawnSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
  if (probe.error || probe.status !== 0) return { ok: false, why: 'taskset is not available (util-linux)' };
  return { ok: true };
}

/** Pins every thread of this process to `core` (children inherit it unless they re-pin). */
export function pinSelf(core) {
  spawnSync('taskset', ['-a', '-p', '-c', String(core), String(process.pid)], { stdio: 'ignore' });
}

/**
 * How the `switchyard` command (bin/switchyard, which `npm start` runs) starts node: { env,
 * flags }, its defaults, read from its `semi_space_mb=` and `arena_max=` lines. As there,
 * MALLOC_ARENA_MAX in this process's environment, and --max-semi-space-size in NODE_OPTIONS, win.
 * A benchmark passes `flags` first, so that flags of its own, given after them, win too.
 */
export function launchCommand() {
  const launcher = readFileSync(new URL('../../bin/switchyard', import.meta.url), 'utf8');
  const setting = (name) => {
    const value = new RegExp(`^${name}=(\\d+)$`, 'm').exec(launcher)?.[1];
    if (value === undefined) throw new Error(`bin/switchyard has no ${name}= line (bench/lib/proc.mjs reads it)`);
    return value;
  };
  return {
    env: { MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? setting('arena_max') },
    flags: /--max[-_]semi[-_]space[-_]size/.test(process.env.NODE_OPTIONS ?? '') ? [] : [`--max-semi-space-size=${setting('semi_space_mb')}`],
  };
}

/**
 * Spawns a built gateway (`main`: its dist/main.js) the way the `switchyard` command starts it
 * (launchCommand), pinned to `core`: `node <its flags> <extraFlags> <main> <args>`, its
 * environment settings over `options.env` (default: this process's environment), `extraEnv` over
 * both.
 */
export function spawnGateway(core, main, args, options = {}, extraFlags = [], extraEnv = {}) {
  const { env, flags } = launchCommand();
  return spawnNode(core, [...flags, ...extraFlags, main, ...args], { ...options, env: { ...(options.env ?? process.env), ...env, ...extraEnv } });
}

/**
 * Spawns `node <args>` pinned to `core` (taskset execs node, so child.pid is node's own pid).
 * With `core` null it is not pinned.
 */
export function spawnNode(core, args, options) {
  if (core === null) return spawn(process.execPath, args, options);
  return spawn('taskset', ['-c', String(core), process.execPath, ...args], options);
}

/** { rssKB, hwmKB } from /proc/<pid>/status, or null once the process is gone. */
export function memoryOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssKB: kb('VmRSS'), hwmKB: kb('VmHWM') };
  } catch {
    return null;
  }
}

/** The command name of a pid (to check that taskset has exec'd node). */
export function commOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return null;
  }
}

let clockTicks;
function ticksPerSecond() {
  if (clockTicks === undefined) {
    const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    clockTicks = Number(out.stdout?.trim()) || 100;
  }
  return clockTicks;
}

/** CPU seconds (user + system) used so far by a pid, or NaN. */
export function cpuSecondsOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond();
  } catch {
    return NaN;
  }
}

/**
 * Per-core CPU time from /proc/stat, in seconds: { cpu0: { busy, steal, total }, ... } where busy
 * is user + nice + system + irq + softirq (guest time is already inside user).
 */
export function coreTimes() {
  const out = {};
  let text = '';
  try {
    text = readFileSync('/proc/stat', 'utf8');
  } catch {
    return out;
  }
  const hz = ticksPerSecond();
  for (const line of text.split('\n')) {
    const match = /^(cpu\d+)\s+(.*)$/.exec(line);
    if (!match) continue;
    const [user, nice, system, idle, iowait, irq, softirq, steal] = match[2].split(/\s+/).map(Number);
    const busy = user + nice + system + irq + softirq;
    out[match[1]] = { busy: busy / hz, steal: (steal || 0) / hz, total: (busy + idle + iowait + (steal || 0)) / hz };
  }
  return out;
}

/** A currently free TCP port on 127.0.0.1. */
export async function freePort() {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

/** Reads JSON lines from a child's stdout, calling `onEvent(object)` for each. */
export function onJsonLines(stream, onEvent) {
  let buffered = '';
  stream.setEncoding('utf8');
  stream.on('data', (text) => {
    buffered += text;
    let newline;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (!line) continue;
      try {
        onEvent(JSON.parse(line));
      } catch {
        onEvent({ event: 'text', line });
      }
    }
  });
}

/** Polls `url` until it answers with one of `statuses` or `child` exits; throws on timeout. */
export async function waitForHttp(url, { child, timeoutMs = 30_000, statuses = [200], headers } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`the process exited with code ${child.exitCode} before it was ready`);
    if (child && child.signalCode !== null) throw new Error(`the process was killed by ${child.signalCode} before it was ready`);
    try {
      const res = await request(url, { headers, headersTimeout: 2000, bodyTimeout: 2000 });
      await res.body.dump();
      if (statuses.includes(res.statusCode)) return;
      last = `HTTP ${res.statusCode}`;
    } catch (err) {
      last = err.code ?? err.message;
    }
    await sleep(50);
  }
  throw new Error(`${url} was not ready within ${timeoutMs} ms (last: ${last})`);
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves with { code, signal }. Only for children we started. */
export async function stopChild(child, graceMs = 15_000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return { code: child?.exitCode ?? null, signal: child?.signalCode ?? null };
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  const [code, signal] = await exited;
  clearTimeout(timer);
  return { code, signal };
}

/**
 * Starts one of the bench's own servers (it prints {"event":"listening","port"} on stdout),
 * pinned to `core`; the child is added to `children` for cleanup.
 */
export async function startListener(children, core, args, what) {
  const child = spawnNode(core, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const port = await new Promise((resolve, reject) => {
    onJsonLines(child.stdout, (event) => event.event === 'listening' && resolve(event.port));
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}) before listening`)));
  });
  return { child, origin: `http://127.0.0.1:${port}` };
}

/** The median of a list of numbers. */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Runs bench/load.mjs with `spec` on `core` and measures the CPU time `pid` (the gateway) spent in
 * the measured window: resolves { rps, cpuUsPerRequest, result }, rejects when the load generator
 * failed or any request did (`what` names the run in the message).
 */
export function loadWithCpu({ core, loadScript, spec, pid, what }) {
  const child = spawnNode(core, [loadScript, JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const marks = {};
    onJsonLines(child.stdout, (event) => {
      if (event.event === 'measuring' || event.event === 'window-end') marks[event.event] = cpuSecondsOf(pid);
      if (event.event === 'result') marks.result = event;
    });
    child.once('exit', (code) => {
      const result = marks.result;
      if (code !== 0 || !result) return reject(new Error(`load generator failed (exit ${code}) for ${what}`));
      if (result.errors > 0) return reject(new Error(`${what}: ${result.errors} failed requests; first: ${JSON.stringify(result.errorSamples[0])}`));
      const cpuSeconds = marks['window-end'] - marks.measuring;
      resolve({ rps: result.rps, cpuUsPerRequest: (cpuSeconds / Math.max(1, result.completedInWindow)) * 1e6, result });
    });
  });
}

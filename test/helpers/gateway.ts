/**
 * Runs the real built gateway (`bin/switchyard start --config <tmpfile>`: the `switchyard`
 * command as users run it, node with its memory settings) as a child process
 * for e2e tests: a YAML config from a string, a free port chosen by the OS (PORT=0), ready once
 * the "switchyard listening" log line appeared. Every child is tracked and killed by
 * `stopAllGateways()` (call it in afterAll) and, as a last resort, when the test process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** The built gateway; SWITCHYARD_TEST_DIST points at another build directory inside the repo. */
export const MAIN = join(REPO_ROOT, process.env.SWITCHYARD_TEST_DIST ?? 'dist', 'main.js');
/**
 * How the gateway is started: the `switchyard` command (bin/switchyard, which runs
 * dist/main.js), or node on MAIN itself when SWITCHYARD_TEST_DIST names another build.
 */
const [COMMAND, ...COMMAND_ARGS]: [string, ...string[]] = process.env.SWITCHYARD_TEST_DIST ? [process.execPath, MAIN] : [join(REPO_ROOT, 'bin', 'switchyard')];

export interface GatewayOptions {
  /** Extra environment for the child (the config may use `${VAR}`). */
  env?: Record<string, string>;
  /** How long to wait for the listening line (default 15 s). */
  startTimeoutMs?: number;
}

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface Gateway {
  readonly process: ChildProcess;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** `http://127.0.0.1:<port>/v1`, the OpenAI SDK's baseURL. */
  readonly baseURL: string;
  readonly configPath: string;
  stdout(): string;
  stderr(): string;
  /** stdout's JSON log lines, parsed. */
  logs(): LogLine[];
  /** Resolves with the exit code once the process exited (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** SIGTERM (or `signal`), wait for the exit (SIGKILL after `timeoutMs`), return the exit code. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
}

/** Children not yet cleaned up, with what stops them (gateways: SIGTERM, then SIGKILL, then files). */
const running = new Map<ChildProcess, () => Promise<unknown>>();

process.once('exit', () => {
  for (const child of running.keys()) child.kill('SIGKILL');
});

/** Keys of the test runner's environment that would change what the gateway does. */
const SCRUBBED_ENV = /^(OPENAI_|ANTHROPIC_|GEMINI_|GOOGLE_|AWS_|AZURE_|SWITCHYARD_|OTEL_|DATABASE_URL$|REDIS_URL$|HOST$|PORT$|LOG_LEVEL$|NODE_OPTIONS$|MALLOC_ARENA_MAX$)/;

/** `configYaml` null: no config file at all, the embedded default (in an empty working directory). */
export async function startGateway(configYaml: string | null, options: GatewayOptions = {}): Promise<Gateway> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} does not exist: run "npm run build" before the e2e tests`);
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-e2e-'));
  const configPath = join(dir, 'switchyard.yaml');
  if (configYaml !== null) await writeFile(configPath, configYaml);

  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!SCRUBBED_ENV.test(key)) env[key] = value;
  Object.assign(env, { HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info' }, options.env);

  const args = configYaml === null ? ['start'] : ['start', '--config', configPath];
  const child = spawn(COMMAND, [...COMMAND_ARGS, ...args], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const exited = new Promise<number | null>((resolveExit) => {
    // 'close' (not 'exit'): the output is complete by then.
    child.once('close', (code) => resolveExit(code));
  });
  const cleanup = (): Promise<void> => rm(dir, { recursive: true, force: true });

  const logs = (): LogLine[] =>
    stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as LogLine];
        } catch {
          return [];
        }
      });

  const output = (): string => `--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`;
  running.set(child, async () => {
    child.kill('SIGKILL');
    await exited;
    await cleanup();
  });
  let url: string;
  try {
    url = await waitForListening(child, logs, exited, options.startTimeoutMs ?? 15_000, output);
  } catch (err) {
    running.delete(child);
    child.kill('SIGKILL');
    await exited;
    await cleanup();
    throw err;
  }

  const stop = async (signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    }
    await cleanup();
    return exited;
  };
  running.set(child, () => stop('SIGTERM', 5000));

  return {
    process: child,
    url,
    baseURL: `${url}/v1`,
    configPath,
    stdout: () => stdout,
    stderr: () => stderr,
    logs,
    exited,
    stop,
  };
}

async function waitForListening(
  child: ChildProcess,
  logs: () => LogLine[],
  exited: Promise<number | null>,
  timeoutMs: number,
  output: () => string,
): Promise<string> {
  return new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`the gateway did not log "switchyard listening" within ${timeoutMs} ms\n${output()}`));
    }, timeoutMs);
    const onData = (): void => {
      const line = logs().find((l) => l.msg === 'switchyard listening');
      if (line && typeof line.url === 'string') {
        finish();
        resolveUrl(line.url);
      }
    };
    const finish = (): void => {
      clearTimeout(timer);
      child.stdout!.off('data', onData);
    };
    child.stdout!.on('data', onData);
    void exited.then((code) => {
      finish();
      reject(new Error(`the gateway exited with code ${code} before listening\n${output()}`));
    });
  });
}

/** Stops every gateway still running (afterAll): SIGTERM, SIGKILL if it hangs; removes its files. */
export async function stopAllGateways(): Promise<void> {
  await Promise.all(
    [...running].map(async ([child, stop]) => {
      await stop();
      running.delete(child);
    }),
  );
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `switchyard <args>` to completion (e.g. `config check FILE`). */
export async function runCli(args: string[], timeoutMs = 15_000, extraEnv: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!SCRUBBED_ENV.test(key)) env[key] = value;
  Object.assign(env, extraEnv);
  const child = spawn(COMMAND, [...COMMAND_ARGS, ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const closed = new Promise<number | null>((r) => child.once('close', (c) => r(c)));
  running.set(child, async () => {
    child.kill('SIGKILL');
    await closed;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await closed;
  clearTimeout(timer);
  running.delete(child);
  return { code, stdout, stderr };
}

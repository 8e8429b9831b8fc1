/**
 * The `switchyard` command: `start [--config FILE]`, `config check FILE`, `--help`, `--version`,
 * and the admin commands `keys ...` and `spend` (a running gateway's admin API).
 */
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { embeddedDefault } from '../config/defaults.js';
import { withEnvOverrides } from '../config/env-overrides.js';
import { ConfigError, loadConfigFile } from '../config/load.js';
import { runKeysCommand } from './keys-command.js';
import { runReloadCommand } from './reload-command.js';
import { runSpendCommand } from './spend-command.js';

const USAGE = `Usage:
  switchyard start [--config FILE]   start the gateway (config also from SWITCHYARD_CONFIG,
                                     else ./switchyard.yaml if present, else the embedded default)
  switchyard config check FILE       validate a config file without starting
  switchyard config reload           make a running gateway read its config file again
                                     (providers, models, routing; as SIGHUP does)
  switchyard keys create|list|revoke|rotate ...
                                     manage virtual keys on a running gateway
                                     (switchyard keys --help for the options)
  switchyard spend [--group-by ...]  spend report from a running gateway
                                     (switchyard spend --help for the options)
  switchyard --version | --help

Environment: HOST, PORT (listen address), LOG_LEVEL, SWITCHYARD_CONFIG, SWITCHYARD_MASTER_KEY,
DATABASE_URL, REDIS_URL; OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY (the embedded default
adds an "openai", "anthropic" or "gemini" provider for each one set); the admin commands read
SWITCHYARD_URL (default http://localhost:8080) and SWITCHYARD_MASTER_KEY.`;

export async function runCli(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  // The admin commands parse their own options.
  if (argv[0] === 'keys') return runKeysCommand(argv.slice(1), env);
  if (argv[0] === 'spend') return runSpendCommand(argv.slice(1), env);
  if (argv[0] === 'config' && argv[1] === 'reload') return runReloadCommand(argv.slice(2), env);
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } },
  });
  if (values.version) {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  const [command, sub, file, ...extra] = positionals;
  if (values.help || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (command === undefined || command === 'start') {
    if (sub !== undefined) throw new UsageError(`start takes no arguments, got: ${positionals.slice(1).join(' ')} (a config file goes after --config)`);
    const path = configPath(values.config, env);
    const loaded = path ? await loadConfigFile(path, env) : embeddedDefault(env);
    // The gateway's modules load only for `start`: the admin commands stay quick to launch.
    const { exitOnSignals, startGateway } = await import('../server.js');
    exitOnSignals(await startGateway(loaded, env, { reloadConfig: path ? () => loadConfigFile(path, env) : undefined }));
    return -1; // keep running
  }
  if (command === 'config' && sub === 'check') {
    if (extra.length > 0 || (file !== undefined && values.config !== undefined)) throw new UsageError('config check takes one FILE');
    const path = file ?? values.config;
    if (!path) throw new UsageError('config check needs a FILE');
    const loaded = await loadConfigFile(path, env);
    // What start checks beyond the file: HOST, PORT, LOG_LEVEL and DATABASE_URL, the OTEL_*
    // endpoints tracing would use, and the providers (keys and a vertex project from the environment too).
    const config = withEnvOverrides(loaded.config, env);
    const { resolveTracing } = await import('../observability/tracing.js');
    resolveTracing(config.tracing, env);
    const { buildProviders } = await import('../providers/registry.js');
    await buildProviders(config, env, path);
    for (const warning of loaded.warnings) process.stderr.write(`warning: ${warning}\n`);
    const { providers, models } = loaded.config;
    process.stdout.write(`${path}: OK (${Object.keys(providers).length} providers, ${Object.keys(models).length} model groups)\n`);
    return 0;
  }
  if (command === 'config') throw new UsageError(sub === undefined ? 'config needs a subcommand: check FILE, or reload' : `unknown config subcommand: ${sub} (expected check FILE, or reload)`);
  throw new UsageError(`unknown command: ${positionals.join(' ')}`);
}

/** The config file `start` reads: --config, else SWITCHYARD_CONFIG, else ./switchyard.yaml if present; none: the embedded default. */
function configPath(flag: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  // An empty --config (a script's unset variable) must not fall through to another file, or to the open default.
  if (flag === '') throw new UsageError('--config needs a FILE, got an empty path');
  return flag ?? (env.SWITCHYARD_CONFIG || undefined) ?? (existsSync('switchyard.yaml') ? 'switchyard.yaml' : undefined);
}

export class UsageError extends Error {}

export function describeCliError(err: unknown, debug = false): string {
  if (err instanceof ConfigError) return err.message;
  if (err instanceof UsageError) return `${err.message}\n\n${USAGE}`;
  if (err instanceof Error && err.name === 'StorageUnavailableError') return err.message;
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code === 'EADDRINUSE') return `cannot listen: the address is already in use (${(err as Error).message}). Set PORT or server.port.`;
  if (code === 'EACCES') return `cannot listen: permission denied (${(err as Error).message}).`;
  if (code === 'EADDRNOTAVAIL') return `cannot listen: no network interface here has that address (${(err as Error).message}). Set HOST or server.host to one of this machine's addresses, or 0.0.0.0.`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `cannot listen: the host name does not resolve (${(err as Error).message}). Set HOST or server.host to an address or a name this machine resolves.`;
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' || code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return `${(err as Error).message}\n\n${USAGE}`;
  // Anything else is unexpected: its message, and the stack only when asked for (it helps a bug report).
  const message = err instanceof Error ? err.message : String(err);
  return debug ? `switchyard failed to start: ${(err as Error)?.stack ?? message}` : `switchyard failed to start: ${message} (LOG_LEVEL=debug shows where)`;
}

/** The version in Switchyard's package.json: the nearest one above this module (src/cli/, build/cli/ or the bundle in dist/). */
function packageVersion(): string {
  for (let dir = new URL('.', import.meta.url); ; dir = new URL('..', dir)) {
    const file = new URL('package.json', dir);
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
    if (dir.pathname === '/') return 'unknown';
  }
}

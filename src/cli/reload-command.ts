/**
 * `switchyard config reload`: asks a running gateway to read its configuration file again
 * (POST /admin/config/reload, what SIGHUP does) and says what it serves now, or why it kept the
 * configuration in force.
 */
import { parseArgs } from 'node:util';
import { AdminUsageError, callAdmin, COMMON_OPTIONS, COMMON_USAGE, processIo, resolveConnection, runAdminCommand, type CliIo } from './admin-client.js';

export const RELOAD_USAGE = `Usage:
  switchyard config reload    make a running gateway read its config file again: providers,
                              models and routing change at once; other sections at the next restart

${COMMON_USAGE}`;

/** POST /admin/config/reload's answer. */
export interface ReloadAnswer {
  reloaded: true;
  models: string[];
  providers: string[];
  restart_required: string[];
}

export function formatReload(answer: ReloadAnswer): string {
  const lines = [`Reloaded. Model groups: ${answer.models.join(', ') || '(none)'}. Providers: ${answer.providers.join(', ') || '(none)'}.`];
  if (answer.restart_required.length > 0) lines.push(`Changed but not applied until the next restart: ${answer.restart_required.join(', ')}.`);
  return `${lines.join('\n')}\n`;
}

export async function runReloadCommand(argv: string[], env: NodeJS.ProcessEnv = process.env, io: CliIo = processIo): Promise<number> {
  return runAdminCommand(RELOAD_USAGE, io, async () => {
    const { values, positionals } = parseArgs({ args: argv, options: COMMON_OPTIONS, allowPositionals: true });
    if (values.help) return io.stdout(`${RELOAD_USAGE}\n`);
    if (positionals.length > 0) throw new AdminUsageError(`config reload takes no arguments besides its options (got "${positionals.join(' ')}"); it reloads the file the gateway was started with`);
    const answer = await callAdmin<ReloadAnswer>(resolveConnection(values, env), { method: 'POST', path: '/config/reload' });
    io.stdout(values.json ? `${JSON.stringify(answer, null, 2)}\n` : formatReload(answer));
  });
}

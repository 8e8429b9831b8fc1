/**
 * Optional comparison target: the open-source Portkey AI Gateway (@portkey-ai/gateway), installed
 * from the npm registry into a directory outside the repository and started the same way as
 * Switchyard. It is reached through its OpenAI-compatible route with the headers
 * `x-portkey-provider: openai` and `x-portkey-custom-host: <mock upstream>/v1`; the
 * `Authorization` header is passed through to the upstream as the provider key.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const PORTKEY_DIR = process.env.BENCH_PORTKEY_DIR || '/tmp/switchyard-bench-portkey';
export const PORTKEY_VERSION = process.env.BENCH_PORTKEY_VERSION || '1.15.2';

/** Returns the path of Portkey's server entry, installing it first if needed; throws with the reason. */
export function ensurePortkey(log) {
  const entry = join(PORTKEY_DIR, 'node_modules', '@portkey-ai', 'gateway', 'build', 'start-server.js');
  if (existsSync(entry)) return entry;
  if (PORTKEY_DIR.startsWith(process.cwd())) throw new Error(`refusing to install into ${PORTKEY_DIR}: it is inside the repository`);
  mkdirSync(PORTKEY_DIR, { recursive: true });
  log(`installing @portkey-ai/gateway@${PORTKEY_VERSION} into ${PORTKEY_DIR} (npm registry) ...`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = spawnSync(npm, ['install', '--prefix', PORTKEY_DIR, '--no-audit', '--no-fund', '--no-save', '--loglevel=error', `@portkey-ai/gateway@${PORTKEY_VERSION}`], {
    encoding: 'utf8',
    timeout: 240_000,
  });
  if (result.error) throw new Error(`npm install failed: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`npm install exited with ${result.status}: ${(result.stderr || result.stdout).trim().split('\n').slice(-5).join(' / ')}`);
  if (!existsSync(entry)) throw new Error(`npm install succeeded but ${entry} is missing (package layout changed?)`);
  return entry;
}

/** argv and env to start Portkey's Node server on `port` (no UI, production mode). */
export function portkeyCommand(entry, port) {
  return { args: [entry, `--port=${port}`, '--headless'], env: { ...process.env, NODE_ENV: 'production', PORT: String(port) } };
}

/** Request headers that route a Portkey request to the mock upstream. */
export function portkeyHeaders(upstreamOrigin, upstreamKey) {
  return {
    'content-type': 'application/json',
    authorization: `Bearer ${upstreamKey}`,
    'x-portkey-provider': 'openai',
    'x-portkey-custom-host': `${upstreamOrigin}/v1`,
  };
}

/**
 * HOST / PORT / LOG_LEVEL in the environment override the configuration (DESIGN.md §4), whether it
 * came from a file or is the embedded default, and DATABASE_URL stands in for an unset
 * `storage.url`; a bad value is an error naming the variable.
 */
import { ConfigError } from './load.js';
import { LOG_LEVELS, STORAGE_URL, type Config } from './schema.js';
import { isListenHost, LISTEN_HOST_EXPECTED } from './values.js';

export function withEnvOverrides(config: Config, env: NodeJS.ProcessEnv): Config {
  const problems: string[] = [];
  let { port } = config.server;
  if (env.PORT) {
    // Decimal digits only: Number() would also take 0x50, 1e3 and 0b101.
    const value = /^\d{1,5}$/.test(env.PORT) ? Number(env.PORT) : NaN;
    if (value >= 0 && value < 65536) port = value;
    else problems.push(`PORT: expected a port number from 0 to 65535, got ${JSON.stringify(env.PORT)}`);
  }
  let { level } = config.logging;
  if (env.LOG_LEVEL) {
    const value = LOG_LEVELS.find((known) => known === env.LOG_LEVEL);
    if (value) level = value;
    else problems.push(`LOG_LEVEL: expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(env.LOG_LEVEL)}`);
  }
  let storage = config.storage;
  if (storage.url === undefined && env.DATABASE_URL) {
    if (STORAGE_URL.pattern.test(env.DATABASE_URL)) storage = { ...storage, url: env.DATABASE_URL };
    else problems.push(`DATABASE_URL (storage.url): ${STORAGE_URL.expected}`);
  }
  if (env.HOST && !isListenHost(env.HOST)) problems.push(`HOST: ${LISTEN_HOST_EXPECTED}, got ${JSON.stringify(env.HOST)}`);
  if (problems.length > 0) throw new ConfigError('environment', problems);
  return { ...config, server: { ...config.server, host: env.HOST || config.server.host, port }, logging: { level }, storage };
}

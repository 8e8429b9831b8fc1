import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeCliError, runCli, UsageError } from './index.js';
import { ConfigError } from '../config/load.js';

describe('runCli arguments', () => {
  it('refuses arguments start does not take, instead of ignoring them', async () => {
    await expect(runCli(['start', 'switchyard.yaml'], {})).rejects.toThrow(UsageError);
    await expect(runCli(['start', 'switchyard.yaml'], {})).rejects.toThrow(/start takes no arguments, got: switchyard.yaml \(a config file goes after --config\)/);
  });

  it('refuses a config check of more than one file', async () => {
    await expect(runCli(['config', 'check', 'a.yaml', 'b.yaml'], {})).rejects.toThrow('config check takes one FILE');
    await expect(runCli(['config', 'check', 'a.yaml', '--config', 'b.yaml'], {})).rejects.toThrow('config check takes one FILE');
    await expect(runCli(['config', 'check'], {})).rejects.toThrow('config check needs a FILE');
  });

  it('refuses an empty --config instead of falling back to another file or the open default', async () => {
    await expect(runCli(['start', '--config', ''], { SWITCHYARD_CONFIG: 'other.yaml' })).rejects.toThrow('--config needs a FILE, got an empty path');
  });

  it('names the config subcommands when none or an unknown one is given', async () => {
    await expect(runCli(['config'], {})).rejects.toThrow('config needs a subcommand: check FILE, or reload');
    await expect(runCli(['config', 'chek', 'a.yaml'], {})).rejects.toThrow('unknown config subcommand: chek (expected check FILE, or reload)');
  });

  it('checks the environment start reads with a file: PORT, HOST, LOG_LEVEL, DATABASE_URL and the OTEL_* endpoints', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sy-cli-'));
    const file = join(dir, 'ok.yaml');
    await writeFile(file, 'server: { port: 18095 }\n');
    try {
      await expect(runCli(['config', 'check', file], { PORT: '0x50' })).rejects.toThrow(/PORT: expected a port number/);
      await expect(runCli(['config', 'check', file], { LOG_LEVEL: 'loud' })).rejects.toThrow(/LOG_LEVEL: expected one of/);
      await expect(runCli(['config', 'check', file], { DATABASE_URL: 'mysql://u:pw@x/db' })).rejects.toThrow(/DATABASE_URL \(storage\.url\): expected sqlite:/);
      await expect(runCli(['config', 'check', file], { HOST: 'bad host!' })).rejects.toThrow(/HOST: expected an IP address/);
      await expect(runCli(['config', 'check', file], { OTEL_EXPORTER_OTLP_ENDPOINT: 'grpc://x:4317' })).rejects.toThrow('OTEL_EXPORTER_OTLP_ENDPOINT: expected an http(s) URL, got "grpc://x:4317"');
      await expect(runCli(['config', 'check', file], { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'notaurl' })).rejects.toThrow(ConfigError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('describeCliError', () => {
  const errno = (code: string, message: string): Error => Object.assign(new Error(message), { code });

  it('says what to change when the listen address is not this machine\'s or does not resolve', () => {
    expect(describeCliError(errno('EADDRNOTAVAIL', 'listen EADDRNOTAVAIL: address not available 10.255.255.1:8080'))).toMatch(/^cannot listen: no network interface here has that address .*Set HOST or server.host/);
    expect(describeCliError(errno('ENOTFOUND', 'getaddrinfo ENOTFOUND bogus.invalid'))).toMatch(/^cannot listen: the host name does not resolve .*bogus.invalid/);
  });

  it('gives an unexpected error\'s message without its stack, unless debugging', () => {
    const error = new Error('something odd');
    const plain = describeCliError(error);
    expect(plain).toBe('switchyard failed to start: something odd (LOG_LEVEL=debug shows where)');
    expect(plain).not.toMatch(/\n\s+at /);
    expect(describeCliError(error, true)).toMatch(/^switchyard failed to start: Error: something odd\n\s+at /);
  });
});

import { describe, expect, it } from 'vitest';
import { describeCliError, runCli, UsageError } from './index.js';

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

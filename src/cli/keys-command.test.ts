import { describe, expect, it } from 'vitest';
import { AdminUsageError } from './admin-client.js';
import { formatCreated, formatKeyList, formatRevoked, formatRotated, parseKeysCommand, policySummary, runKeysCommand, shortTime, type AdminKey } from './keys-command.js';

function requestOf(argv: string[]) {
  const command = parseKeysCommand(argv);
  if (command.action === 'help') throw new Error('expected a request');
  return command.request;
}

describe('parseKeysCommand', () => {
  it('turns keys create with every option into the POST /admin/keys body', () => {
    const argv = ['create', '--name', ' ci ', '--team', 'team_1', '--models', 'gpt-4o, mock,', '--budget', '12.5', '--period', 'monthly', '--rpm', '60', '--tpm', '1000'];
    argv.push('--tpd', '50000', '--max-parallel', '4', '--expires', '2027-01-01T12:00:00+02:00', '--metadata', 'env=prod', '--metadata', 'note=a=b');
    expect(requestOf(argv)).toEqual({
      method: 'POST',
      path: '/keys',
      body: {
        name: 'ci',
        team_id: 'team_1',
        models: ['gpt-4o', 'mock'],
        budget: { usd: 12.5, period: 'monthly' },
        limits: { rpm: 60, tpm: 1000, tpd: 50000, max_parallel: 4 },
        expires_at: '2027-01-01T12:00:00+02:00',
        metadata: { env: 'prod', note: 'a=b' },
      },
    });
  });

  it('sends only what was given, and reads a bare day as midnight UTC', () => {
    expect(requestOf(['create', '--name', 'ci'])).toEqual({ method: 'POST', path: '/keys', body: { name: 'ci' } });
    expect(requestOf(['create', '--name', 'ci', '--tpm', '10', '--expires', '2027-03-04']).body).toEqual({ name: 'ci', limits: { tpm: 10 }, expires_at: '2027-03-04T00:00:00Z' });
  });

  it('carries --json and the connection flags', () => {
    const command = parseKeysCommand(['list', '--json', '--url', 'http://gw', '--master-key', 'sk-m']);
    expect(command).toMatchObject({ action: 'list', json: true, flags: { url: 'http://gw', 'master-key': 'sk-m' } });
  });

  it.each([
    [['create'], /needs --name NAME/],
    [['create', '--name', '  '], /needs --name NAME/],
    [['create', '--name', 'x', '--budget', '5'], /--budget and --period go together/],
    [['create', '--name', 'x', '--period', 'daily'], /--budget and --period go together/],
    [['create', '--name', 'x', '--budget=-5', '--period', 'daily'], /--budget: expected an amount/],
    [['create', '--name', 'x', '--budget', '1e3', '--period', 'daily'], /--budget: expected an amount/],
    [['create', '--name', 'x', '--budget', '5', '--period', 'fortnightly'], /--period: expected one of daily, weekly, monthly, total/],
    [['create', '--name', 'x', '--rpm', '0'], /--rpm: expected a whole number of at least 1/],
    [['create', '--name', 'x', '--max-parallel', '2.5'], /--max-parallel: expected a whole number/],
    [['create', '--name', 'x', '--models', ' , '], /--models: expected model names/],
    [['create', '--name', 'x', '--metadata', 'novalue'], /--metadata: expected KEY=VALUE/],
    [['create', '--name', 'x', 'extra'], /takes no arguments/],
    [['revoke'], /keys revoke needs exactly one KEY_ID/],
    [['rotate', 'a', 'b'], /keys rotate needs exactly one KEY_ID/],
    [['rotate', 'key_1', '--grace', 'soon'], /--grace: expected a whole number/],
    [[], /keys needs a command/],
    [['delete', 'key_1'], /unknown keys command: delete/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseKeysCommand(argv)).toThrow(AdminUsageError);
    expect(() => parseKeysCommand(argv)).toThrow(message);
  });

  it("leaves options a subcommand does not take to node:util's parser", () => {
    expect(() => parseKeysCommand(['list', '--grace', '5'])).toThrow(expect.objectContaining({ code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' }));
  });

  it('lists, optionally one team and revoked keys too', () => {
    expect(requestOf(['list'])).toEqual({ method: 'GET', path: '/keys', query: { team_id: undefined, include_revoked: undefined } });
    expect(requestOf(['list', '--team', 'team_1', '--include-revoked'])).toEqual({ method: 'GET', path: '/keys', query: { team_id: 'team_1', include_revoked: 'true' } });
  });

  it('revokes and rotates the key named (escaped in the path), with a grace period when given', () => {
    expect(requestOf(['revoke', 'key_a/b'])).toEqual({ method: 'DELETE', path: '/keys/key_a%2Fb' });
    expect(requestOf(['rotate', 'key_1'])).toEqual({ method: 'POST', path: '/keys/key_1/rotate', body: {} });
    expect(requestOf(['rotate', 'key_1', '--grace', '0'])).toEqual({ method: 'POST', path: '/keys/key_1/rotate', body: { grace_seconds: 0 } });
  });

  it('asks for help with --help, -h or help, before and after the subcommand', () => {
    for (const argv of [['--help'], ['-h'], ['help'], ['create', '--help'], ['rotate', '-h']]) expect(parseKeysCommand(argv)).toEqual({ action: 'help' });
  });
});

const key = (over: Partial<AdminKey> = {}): AdminKey => ({
  id: 'key_1',
  name: 'ci',
  team_id: null,
  key_hint: 'sk-sy-abcd…wxyz',
  models: null,
  budget: null,
  limits: null,
  regions: null,
  expires_at: null,
  blocked: false,
  revoked_at: null,
  previous_expires_at: null,
  ...over,
});

describe('formatting', () => {
  it('shows a new secret on its own line, once, with the id and the warning', () => {
    expect(formatCreated(key({ team_id: 'team_1', key: 'sk-sy-SECRET' }))).toBe(
      'Created key key_1 "ci" in team team_1.\n\n    sk-sy-SECRET\n\nThis is the only time the secret is shown: store it now (the gateway keeps only its hash).\n',
    );
  });

  it('says how long the old secret works after a rotation', () => {
    expect(formatRotated(key({ key: 'sk-sy-NEW', previous_expires_at: '2026-05-01T10:20:30.000Z' }))).toMatch(
      /^Rotated key key_1 "ci"\. Its new secret:\n\n {4}sk-sy-NEW\n\n.*only time.*\nThe old secret keeps working until 2026-05-01 10:20 UTC\.\n$/,
    );
    expect(formatRotated(key({ key: 'sk-sy-NEW' }))).toContain('The old secret no longer works.');
  });

  it('confirms a revocation', () => {
    expect(formatRevoked({ id: 'key_1' })).toBe('Revoked key key_1: its secret no longer works.\n');
  });

  it('summarizes budget, limits, models, regions and blocking in one cell', () => {
    expect(policySummary(key())).toBe('-');
    expect(
      policySummary(key({ budget: { usd: 7.5, period: 'daily' }, limits: { rpm: 60, tpm: 1000, tpd: 9, max_parallel: 2 }, models: ['a', 'b'], regions: ['eu'], blocked: true })),
    ).toBe('$7.5 daily, 60 rpm, 1000 tpm, 9 tpd, 2 parallel, models a,b, regions eu, blocked');
  });

  it('lists keys as a table', () => {
    const table = formatKeyList([
      key({ budget: { usd: 10, period: 'monthly' }, expires_at: '2027-01-01T00:00:00.000Z' }),
      key({ id: 'key_2', name: 'old', team_id: 'team_1', key_hint: 'sk-sy-efgh…1234', revoked_at: '2026-02-03T04:05:06.789Z' }),
    ]);
    expect(table.split('\n')).toEqual([
      'ID     NAME  TEAM    HINT             LIMITS       EXPIRES (UTC)     REVOKED (UTC)',
      'key_1  ci    -       sk-sy-abcd…wxyz  $10 monthly  2027-01-01 00:00  -',
      'key_2  old   team_1  sk-sy-efgh…1234  -            -                 2026-02-03 04:05',
      '',
    ]);
    expect(formatKeyList([])).toBe('No keys.\n');
  });

  it('shortens ISO times to the minute and leaves anything else alone', () => {
    expect(shortTime('2027-01-01T23:59:59.999Z')).toBe('2027-01-01 23:59');
    expect(shortTime('soon')).toBe('soon');
  });
});

describe('runKeysCommand without a gateway', () => {
  it('refuses, before any request, when there is no master key', async () => {
    let err = '';
    const code = await runKeysCommand(['list'], { SWITCHYARD_URL: 'http://127.0.0.1:9' }, { stdout: () => {}, stderr: (text) => void (err += text) });
    expect(code).toBe(1);
    expect(err).toMatch(/^switchyard: the admin commands need the master key: set SWITCHYARD_MASTER_KEY or pass --master-key\n\nUsage:\n {2}switchyard keys create/);
  });

  it('prints its usage for --help and succeeds', async () => {
    let out = '';
    expect(await runKeysCommand(['--help'], {}, { stdout: (text) => void (out += text), stderr: () => {} })).toBe(0);
    expect(out).toContain('switchyard keys rotate KEY_ID [--grace SECONDS]');
  });
});

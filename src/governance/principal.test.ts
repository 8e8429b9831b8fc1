import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../gateway/errors.js';
import { Directory, type DirectorySource } from './directory.js';
import { hashSecret, newSecret } from './keys.js';
import { ANONYMOUS, Authenticator, MASTER, clientKey } from './principal.js';
import type { KeyRecord, OrgRecord, Policy, TeamRecord } from './types.js';

const MASTER_KEY = 'sk-sy-master-8f2c1e';
const NOW = Date.parse('2026-12-06T12:00:00Z');

const OPEN_POLICY: Policy = { models: null, budget: null, limits: null, regions: null, metadata: null, expires_at: null, blocked: false };

function keyRecord(id: string, secret: string, extra: Partial<KeyRecord> = {}): KeyRecord {
  return { ...OPEN_POLICY, id, name: id, team_id: null, key_hash: hashSecret(secret), key_hint: 'sk-sy-…', previous_hash: null, previous_expires_at: null, revoked_at: null, created_at: 0, updated_at: 0, ...extra };
}

/** A directory over records held in this test (the database-backed source has its own suite). */
async function directoryOf(keys: KeyRecord[], teams: TeamRecord[] = [], orgs: OrgRecord[] = []): Promise<Directory> {
  const source: DirectorySource = {
    listOrgs: async () => orgs,
    listTeams: async () => teams,
    listKeys: async () => keys,
    listUsers: async () => [],
    revision: async () => 1,
    spendTotals: async () => new Map(),
  };
  const directory = new Directory(source, { refreshIntervalMs: 60_000, onError: () => undefined, now: () => NOW });
  await directory.start();
  directory.stop();
  return directory;
}

function rejection(auth: Authenticator, headers: IncomingHttpHeaders): GatewayError {
  try {
    auth.authenticate(headers);
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    return err as GatewayError;
  }
  throw new Error('expected authentication to fail');
}

describe('clientKey', () => {
  it('reads Authorization: Bearer <key>, case-insensitive scheme, trimmed', () => {
    expect(clientKey({ authorization: `Bearer ${MASTER_KEY}` })).toBe(MASTER_KEY);
    expect(clientKey({ authorization: `bearer ${MASTER_KEY}` })).toBe(MASTER_KEY);
    expect(clientKey({ authorization: `BEARER   ${MASTER_KEY}  ` })).toBe(MASTER_KEY);
  });

  it('reads x-api-key (Anthropic SDK style), and prefers a bearer token', () => {
    expect(clientKey({ 'x-api-key': MASTER_KEY })).toBe(MASTER_KEY);
    expect(clientKey({ authorization: 'Bearer from-bearer', 'x-api-key': 'from-x-api-key' })).toBe('from-bearer');
    expect(clientKey({ authorization: 'Basic dXNlcjpwYXNz', 'x-api-key': 'k' })).toBe('k');
  });

  it('finds no key in missing or empty headers', () => {
    expect(clientKey({})).toBeUndefined();
    expect(clientKey({ 'x-api-key': '' })).toBeUndefined();
    expect(clientKey({ authorization: '' })).toBeUndefined();
    expect(clientKey({ authorization: 'Bearer' })).toBeUndefined();
  });
});

describe('Authenticator with the master key only', () => {
  const auth = new Authenticator(MASTER_KEY, undefined);

  it('is open without a master key and without virtual keys', async () => {
    const open = new Authenticator(undefined, await directoryOf([]));
    expect(open.open).toBe(true);
    expect(open.authenticate({})).toBe(ANONYMOUS);
    expect(auth.open).toBe(false);
  });

  it('accepts the master key as a bearer token or as x-api-key', () => {
    expect(auth.authenticate({ authorization: `Bearer ${MASTER_KEY}` })).toBe(MASTER);
    expect(auth.authenticate({ 'x-api-key': MASTER_KEY })).toBe(MASTER);
    expect(auth.isMaster({ 'x-api-key': MASTER_KEY })).toBe(true);
    expect(auth.isMaster({ 'x-api-key': 'sk-sy-other' })).toBe(false);
  });

  it('judges a master key longer than what it memoizes every time alike', () => {
    const long = `sk-${'x'.repeat(400)}`;
    const withLong = new Authenticator(long, undefined);
    for (let i = 0; i < 2; i++) {
      expect(withLong.authenticate({ authorization: `Bearer ${long}` })).toBe(MASTER);
      expect(() => withLong.authenticate({ authorization: `Bearer ${long}y` })).toThrow(GatewayError);
    }
  });

  it('rejects a request without a key: 401 invalid_api_key saying how to send one', () => {
    const error = rejection(auth, {});
    expect(error).toMatchObject({ code: 'invalid_api_key', status: 401, retryable: false });
    expect(error.message).toBe('Missing API key. Send it as "Authorization: Bearer <key>" or "x-api-key: <key>".');
  });

  it.each([
    ['a wrong key', { authorization: 'Bearer sk-sy-wrong' }],
    ['a prefix of the key', { authorization: `Bearer ${MASTER_KEY.slice(0, -1)}` }],
    ['the key with a suffix', { 'x-api-key': `${MASTER_KEY}x` }],
    ['a differently cased key', { 'x-api-key': MASTER_KEY.toUpperCase() }],
  ])('rejects %s: 401 invalid_api_key', (_what, headers) => {
    const error = rejection(auth, headers);
    expect(error).toMatchObject({ code: 'invalid_api_key', status: 401 });
    expect(error.message).toBe('Invalid API key. Check the key you configured in your client.');
    expect(error.message).not.toContain(MASTER_KEY);
  });

  it('judges the bearer token when both headers are sent', () => {
    expect(rejection(auth, { authorization: 'Bearer wrong', 'x-api-key': MASTER_KEY }).status).toBe(401);
    expect(auth.authenticate({ authorization: `Bearer ${MASTER_KEY}`, 'x-api-key': 'wrong' })).toBe(MASTER);
  });
});

describe('Authenticator with virtual keys', () => {
  const live = newSecret();
  const rotated = newSecret();
  const old = newSecret();
  const expired = newSecret();
  const revoked = newSecret();
  const org: OrgRecord = { ...OPEN_POLICY, id: 'org_1', name: 'acme', created_at: 0, updated_at: 0 };
  const team: TeamRecord = { ...OPEN_POLICY, id: 'team_1', name: 'ml', org_id: 'org_1', created_at: 0, updated_at: 0 };

  async function authenticator(masterKey?: string): Promise<Authenticator> {
    const directory = await directoryOf(
      [
        keyRecord('key_live', live.secret, { team_id: 'team_1' }),
        keyRecord('key_rotated', rotated.secret, { previous_hash: old.hash, previous_expires_at: NOW + 1000 }),
        keyRecord('key_grace_over', newSecret().secret, { previous_hash: hashSecret('sk-sy-long-gone'), previous_expires_at: NOW - 1 }),
        keyRecord('key_expired', expired.secret, { expires_at: NOW - 1 }),
        keyRecord('key_revoked', revoked.secret, { revoked_at: NOW - 1 }),
      ],
      [team],
      [org],
    );
    return new Authenticator(masterKey, directory, () => NOW);
  }

  it('is not open once keys exist, even without a master key', async () => {
    const auth = await authenticator();
    expect(auth.open).toBe(false);
    expect(rejection(auth, {}).code).toBe('invalid_api_key');
  });

  it('resolves a key to its team and org', async () => {
    const principal = (await authenticator()).authenticate({ authorization: `Bearer ${live.secret}` });
    expect(principal).toMatchObject({ master: false, key: { id: 'key_live' }, team: { id: 'team_1' }, org: { id: 'org_1' } });
  });

  it('still takes the master key as a client key', async () => {
    expect((await authenticator(MASTER_KEY)).authenticate({ 'x-api-key': MASTER_KEY })).toBe(MASTER);
  });

  it('accepts a rotated key’s old secret only within its grace period', async () => {
    const auth = await authenticator();
    expect(auth.authenticate({ 'x-api-key': rotated.secret }).key?.id).toBe('key_rotated');
    expect(auth.authenticate({ 'x-api-key': old.secret }).key?.id).toBe('key_rotated');
    expect(rejection(auth, { 'x-api-key': 'sk-sy-long-gone' }).code).toBe('invalid_api_key');
  });

  it('refuses expired and revoked keys with 401s that say so', async () => {
    const auth = await authenticator();
    const error = rejection(auth, { 'x-api-key': expired.secret });
    expect(error).toMatchObject({ code: 'invalid_api_key', status: 401 });
    expect(error.message).toMatch(/expired at 2026-12-06T11:59:59.999Z/);
    expect(rejection(auth, { 'x-api-key': revoked.secret }).message).toBe('Invalid API key. Check the key you configured in your client.');
  });
});

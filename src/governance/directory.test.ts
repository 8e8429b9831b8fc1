import { afterEach, describe, expect, it, vi } from 'vitest';
import { Directory, type DirectorySource, type Level } from './directory.js';
import type { KeyRecord, OrgRecord, Policy, TeamRecord, UserRecord } from './types.js';

/** A Sunday: the week began on Monday 2026-11-30, the month on 2026-12-01. */
const NOW = Date.parse('2026-12-06T12:00:00Z');
const HOUR = 3_600_000;

const OPEN: Policy = { models: null, budget: null, limits: null, regions: null, metadata: null, expires_at: null, blocked: false };
const STAMPS = { created_at: 0, updated_at: 0 };

const orgRecord = (id: string, extra: Partial<OrgRecord> = {}): OrgRecord => ({ ...OPEN, ...STAMPS, id, name: id, ...extra });
const teamRecord = (id: string, extra: Partial<TeamRecord> = {}): TeamRecord => ({ ...OPEN, ...STAMPS, id, name: id, org_id: null, ...extra });
const userRecord = (id: string, extra: Partial<UserRecord> = {}): UserRecord => ({ ...OPEN, ...STAMPS, id, name: null, ...extra });
const keyRecord = (id: string, extra: Partial<KeyRecord> = {}): KeyRecord => ({
  ...OPEN,
  ...STAMPS,
  id,
  name: id,
  team_id: null,
  key_hash: `hash-${id}`,
  key_hint: 'sk-sy-…',
  previous_hash: null,
  previous_expires_at: null,
  revoked_at: null,
  ...extra,
});

/**
 * The directory's contract over arrays the test edits. Each list is read as it is when called;
 * `hold()` makes the next reads wait until `release()`, as a slow database would.
 */
class ArraySource implements DirectorySource {
  orgs: OrgRecord[] = [];
  teams: TeamRecord[] = [];
  keys: KeyRecord[] = [];
  users: UserRecord[] = [];
  rev = 1;
  /** `<level>:<sinceDay or total>` → id → USD. */
  spend: Record<string, Record<string, number>> = {};
  /** Fails revision(), as an unreachable database would. */
  failing: Error | undefined;
  /** Fails the lists only (the revision still answers). */
  failingReads: Error | undefined;
  readonly spendQueries: string[] = [];
  loads = 0;
  #gate: Promise<void> | undefined;
  #open: (() => void) | undefined;

  hold(): void {
    this.#gate = new Promise((resolve) => (this.#open = resolve));
  }

  release(): void {
    this.#open?.();
    this.#gate = undefined;
  }

  async #read<T>(value: T[]): Promise<T[]> {
    // What the database holds when asked, even if the answer is slow to come.
    const copy = [...value];
    const failure = this.failing ?? this.failingReads;
    await this.#gate;
    if (failure) throw failure;
    return copy;
  }

  listOrgs(): Promise<OrgRecord[]> {
    this.loads++;
    return this.#read(this.orgs);
  }

  listTeams(): Promise<TeamRecord[]> {
    return this.#read(this.teams);
  }

  listKeys(): Promise<KeyRecord[]> {
    return this.#read(this.keys);
  }

  listUsers(): Promise<UserRecord[]> {
    return this.#read(this.users);
  }

  async revision(): Promise<number> {
    if (this.failing) throw this.failing;
    return this.rev;
  }

  /** Makes the spend reads made until `stop()` wait until `release()` (a slow aggregate); later ones answer at once. */
  holdSpend(): { stop: () => void; release: () => void } {
    let open!: () => void;
    this.#spendGate = new Promise((resolve) => (open = resolve));
    return { stop: () => (this.#spendGate = undefined), release: () => open() };
  }

  #spendGate: Promise<void> | undefined;

  async spendTotals(level: Level, sinceDay: string | null): Promise<Map<string, number>> {
    const what = `${level}:${sinceDay ?? 'total'}`;
    this.spendQueries.push(what);
    const answer = new Map(Object.entries(this.spend[what] ?? {}));
    await this.#spendGate;
    return answer;
  }
}

interface Started {
  directory: Directory;
  errors: unknown[];
  clock: { now: number };
}

async function started(source: ArraySource, refreshIntervalMs = 60_000): Promise<Started> {
  const errors: unknown[] = [];
  const clock = { now: NOW };
  const directory = new Directory(source, { refreshIntervalMs, onError: (err) => errors.push(err), now: () => clock.now });
  await directory.start();
  return { directory, errors, clock };
}

/** Lets every promise chain started so far run out (the source answers without I/O). */
const settled = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

let running: Directory | undefined;
afterEach(() => {
  running?.stop();
  running = undefined;
  vi.useRealTimers();
});

describe('Directory', () => {
  it('loads orgs, teams, keys and end users', async () => {
    const source = new ArraySource();
    source.orgs = [orgRecord('o1')];
    source.teams = [teamRecord('t1', { org_id: 'o1' })];
    source.keys = [keyRecord('k1', { team_id: 't1' })];
    source.users = [userRecord('alice')];
    const { directory } = await started(source);
    running = directory;
    expect(directory.key('k1')).toBe(source.keys[0]);
    expect(directory.team('t1')).toBe(source.teams[0]);
    expect(directory.org('o1')).toBe(source.orgs[0]);
    expect(directory.user('alice')).toBe(source.users[0]);
    expect(directory.team(null)).toBeUndefined();
    expect(directory.org(null)).toBeUndefined();
    expect(directory.key('k2') ?? directory.team('t2') ?? directory.org('o2') ?? directory.user('bob')).toBeUndefined();
  });

  it('propagates a failed first load', async () => {
    const source = new ArraySource();
    source.failing = new Error('database down');
    const directory = new Directory(source, { refreshIntervalMs: 60_000, onError: () => expect.fail('start rejects instead') });
    await expect(directory.start()).rejects.toThrow('database down');
  });

  it('finds a key by its hash, and by its previous hash only within the grace period', async () => {
    const source = new ArraySource();
    source.keys = [keyRecord('k1', { previous_hash: 'old-k1', previous_expires_at: NOW + HOUR })];
    const { directory, clock } = await started(source);
    running = directory;
    expect(directory.keyByHash('hash-k1')).toBe(source.keys[0]);
    expect(directory.keyByHash('old-k1')).toBe(source.keys[0]);
    expect(directory.keyByHash('unknown')).toBeUndefined();
    clock.now = NOW + HOUR - 1;
    expect(directory.keyByHash('old-k1')).toBe(source.keys[0]);
    clock.now = NOW + HOUR;
    expect(directory.keyByHash('old-k1')).toBeUndefined();
    expect(directory.keyByHash('hash-k1')).toBe(source.keys[0]);
  });

  it('finds neither hash of a revoked key, which still counts as a key', async () => {
    const source = new ArraySource();
    source.keys = [keyRecord('k1', { revoked_at: NOW - HOUR, previous_hash: 'old-k1', previous_expires_at: NOW + HOUR })];
    const { directory } = await started(source);
    running = directory;
    expect(directory.keyByHash('hash-k1')).toBeUndefined();
    expect(directory.keyByHash('old-k1')).toBeUndefined();
    expect(directory.hasKeys).toBe(true);
  });

  it('has no keys when none exist', async () => {
    const source = new ArraySource();
    source.orgs = [orgRecord('o1')];
    const { directory } = await started(source);
    running = directory;
    expect(directory.hasKeys).toBe(false);
  });

  it('reloads on refresh only when the revision moved', async () => {
    const source = new ArraySource();
    source.keys = [keyRecord('k1')];
    const { directory } = await started(source);
    running = directory;
    source.keys = [keyRecord('k1'), keyRecord('k2')];
    await directory.refresh();
    expect(source.loads).toBe(1);
    expect(directory.keyByHash('hash-k2')).toBeUndefined();
    source.rev = 2;
    await directory.refresh();
    expect(source.loads).toBe(2);
    expect(directory.keyByHash('hash-k2')).toBe(source.keys[1]);
  });

  it('shares one load among concurrent refreshes', async () => {
    const source = new ArraySource();
    const { directory } = await started(source);
    running = directory;
    source.keys = [keyRecord('k1')];
    source.rev = 2;
    source.hold();
    const refreshes = [directory.refresh(), directory.refresh(), directory.refresh()];
    await vi.waitFor(() => expect(source.loads).toBe(2));
    source.release();
    await Promise.all(refreshes);
    expect(source.loads).toBe(2);
    expect(directory.keyByHash('hash-k1')).toBeDefined();
  });

  it('loads again for a change made while a load was reading older data', async () => {
    const source = new ArraySource();
    const { directory } = await started(source);
    running = directory;
    // A poll sees revision 2 and starts reading...
    source.rev = 2;
    source.hold();
    const poll = directory.refresh();
    await vi.waitFor(() => expect(source.loads).toBe(2));
    // ... then the admin API creates a key (revision 3) and refreshes, expecting to see it.
    source.keys = [keyRecord('k1')];
    source.rev = 3;
    const afterChange = directory.refresh();
    source.release();
    await Promise.all([poll, afterChange]);
    expect(directory.keyByHash('hash-k1')).toBe(source.keys[0]);
  });

  it('still loads the newer revision when the load before it fails', async () => {
    const source = new ArraySource();
    const { directory, errors } = await started(source);
    running = directory;
    const reset = new Error('connection reset');
    source.rev = 2;
    source.failingReads = reset;
    source.hold();
    const poll = directory.refresh();
    await vi.waitFor(() => expect(source.loads).toBe(2));
    source.failingReads = undefined;
    source.keys = [keyRecord('k1')];
    source.rev = 3;
    const afterChange = directory.refresh();
    source.release();
    await Promise.all([poll, afterChange]);
    expect(errors).toEqual([reset]);
    expect(directory.keyByHash('hash-k1')).toBe(source.keys[0]);
  });

  it('keeps the last picture and reports the error when a refresh fails, then recovers', async () => {
    const source = new ArraySource();
    const k1 = keyRecord('k1');
    source.keys = [k1];
    const { directory, errors } = await started(source);
    running = directory;
    const unreachable = new Error('connection refused');
    source.failing = unreachable;
    await expect(directory.refresh()).resolves.toBeUndefined();
    source.failing = undefined;
    const reset = new Error('connection reset');
    source.failingReads = reset;
    source.keys = [];
    source.rev = 2;
    await expect(directory.refresh()).resolves.toBeUndefined();
    expect(errors).toEqual([unreachable, reset]);
    expect(directory.keyByHash('hash-k1')).toBe(k1);
    // The failed load did not count as revision 2: the next refresh loads it.
    source.failingReads = undefined;
    await directory.refresh();
    expect(directory.keyByHash('hash-k1')).toBeUndefined();
    expect(errors).toHaveLength(2);
  });

  it('polls the revision every refresh interval until stopped', async () => {
    vi.useFakeTimers({ now: NOW, toFake: ['setInterval', 'clearInterval'] });
    const source = new ArraySource();
    const { directory } = await started(source, 5_000);
    running = directory;
    source.keys = [keyRecord('k1')];
    source.rev = 2;
    await vi.advanceTimersByTimeAsync(4_999);
    expect(directory.keyByHash('hash-k1')).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    await settled();
    expect(directory.keyByHash('hash-k1')).toBeDefined();
    directory.stop();
    source.keys = [];
    source.rev = 3;
    await vi.advanceTimersByTimeAsync(60_000);
    await settled();
    expect(directory.keyByHash('hash-k1')).toBeDefined();
  });
});

describe('Directory recorded spend', () => {
  function budgeted(): ArraySource {
    const source = new ArraySource();
    source.orgs = [orgRecord('o1', { budget: { usd: 100, period: 'monthly' } })];
    source.teams = [teamRecord('t1', { budget: { usd: 10, period: 'daily' } })];
    source.keys = [keyRecord('k1', { budget: { usd: 5, period: 'total' } }), keyRecord('k2', { budget: { usd: 1, period: 'daily' } }), keyRecord('k3')];
    source.users = [userRecord('alice', { budget: { usd: 2, period: 'weekly' } })];
    source.spend = {
      'org:2026-12-01': { o1: 42.5 },
      'org:2026-12-06': { o1: 1 },
      'team:2026-12-06': { t1: 3.25 },
      'key:total': { k1: 4, k2: 9 },
      'key:2026-12-06': { k1: 0.5, k2: 0.75, k3: 0.1 },
      'user:2026-11-30': { alice: 1.5 },
    };
    return source;
  }

  it('asks once per level and budget period in use, from the period’s first day', async () => {
    const source = budgeted();
    const { directory } = await started(source);
    running = directory;
    expect(source.spendQueries.sort()).toEqual(['key:2026-12-06', 'key:total', 'org:2026-12-01', 'team:2026-12-06', 'user:2026-11-30']);
  });

  it('answers per level, id and period', async () => {
    const { directory } = await started(budgeted());
    running = directory;
    expect(directory.recordedSpend('org', 'o1', 'm2026-12')).toBe(42.5);
    expect(directory.recordedSpend('team', 't1', 'd2026-12-06')).toBe(3.25);
    expect(directory.recordedSpend('key', 'k1', 'total')).toBe(4);
    expect(directory.recordedSpend('key', 'k2', 'd2026-12-06')).toBe(0.75);
    expect(directory.recordedSpend('user', 'alice', 'w2026-11-30')).toBe(1.5);
    // Another level, id, or a period nobody's budget uses.
    expect(directory.recordedSpend('team', 'o1', 'm2026-12')).toBe(0);
    expect(directory.recordedSpend('org', 'o2', 'm2026-12')).toBe(0);
    expect(directory.recordedSpend('org', 'o1', 'd2026-12-06')).toBe(0);
    expect(directory.recordedSpend('org', 'o1', 'm2026-11')).toBe(0);
  });

  it('reloads spend with the picture, for the periods current then', async () => {
    const source = budgeted();
    const { directory, clock } = await started(source);
    running = directory;
    clock.now = Date.parse('2026-12-07T01:00:00Z');
    source.spend['team:2026-12-07'] = { t1: 0.25 };
    source.rev = 2;
    await directory.refresh();
    expect(directory.recordedSpend('team', 't1', 'd2026-12-07')).toBe(0.25);
    expect(directory.recordedSpend('team', 't1', 'd2026-12-06')).toBe(0);
  });

  it('reads the spend again without a reload when asked (spend moves no revision), sharing a read in progress', async () => {
    const source = budgeted();
    const { directory } = await started(source);
    running = directory;
    const generation = directory.spendGeneration;
    const queries = source.spendQueries.length;
    source.spend['key:total'] = { k1: 4.5 };
    await Promise.all([directory.refreshSpend(), directory.refreshSpend()]);
    expect(directory.recordedSpend('key', 'k1', 'total')).toBe(4.5);
    expect(directory.spendGeneration).toBeGreaterThan(generation);
    // The second call, made during the first read, asked for one more read: two in all, not three.
    expect(source.spendQueries.length - queries).toBe(2 * 5);
    // The records stay as loaded.
    expect(directory.key('k1')).toBeDefined();
  });

  it('gathers the calls of refreshSpendSoon within a second into one read', async () => {
    const source = budgeted();
    const { directory } = await started(source);
    running = directory;
    const queries = source.spendQueries.length;
    vi.useFakeTimers();
    try {
      for (let i = 0; i < 5; i++) directory.refreshSpendSoon();
      await vi.advanceTimersByTimeAsync(999);
      expect(source.spendQueries.length).toBe(queries);
      await vi.advanceTimersByTimeAsync(1);
      expect(source.spendQueries.length - queries).toBe(5);
    } finally {
      vi.useRealTimers();
    }
  });

  it('lets a reload that finished during a spend read win: the older read does not replace its spend', async () => {
    const source = budgeted();
    const { directory } = await started(source);
    running = directory;
    const slow = source.holdSpend();
    const refreshing = directory.refreshSpend();
    slow.stop();
    // Meanwhile the team's budget moves to a monthly period, and a reload reads its spend.
    source.teams = [teamRecord('t1', { budget: { usd: 10, period: 'monthly' } })];
    source.spend['team:2026-12-01'] = { t1: 9.5 };
    source.rev = 2;
    await directory.refresh();
    expect(directory.recordedSpend('team', 't1', 'm2026-12')).toBe(9.5);
    // Now the older read lands.
    slow.release();
    await refreshing;
    expect(directory.recordedSpend('team', 't1', 'm2026-12')).toBe(9.5);
  });
});

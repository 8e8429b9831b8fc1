/**
 * The in-memory picture of keys, teams, orgs and end users that requests are checked against, so
 * nothing on the request path waits on the database. It is loaded at start-up and reloaded when
 * the database's revision counter moves (polled every few seconds, so changes made through
 * another instance arrive too; changes made here reload at once). A failed reload keeps the last
 * picture.
 */
import { periodWindow } from './periods.js';
import type { BudgetPeriod, KeyRecord, OrgRecord, TeamRecord, UserRecord } from './types.js';

export type Level = 'key' | 'team' | 'org' | 'user';

/** How long refreshSpendSoon waits, gathering the calls that come meanwhile. */
const SPEND_SOON_MS = 1_000;

/** What the directory reads (GovernanceStore provides it). */
export interface DirectorySource {
  listOrgs(): Promise<OrgRecord[]>;
  listTeams(): Promise<TeamRecord[]>;
  listKeys(): Promise<KeyRecord[]>;
  listUsers(): Promise<UserRecord[]>;
  revision(): Promise<number>;
  spendTotals(level: Level, sinceDay: string | null): Promise<Map<string, number>>;
}

export interface DirectoryOptions {
  refreshIntervalMs: number;
  /**
   * How often the recorded spend (budget counters' floor) is read again though nothing else
   * changed; 0: only with a reload. Spend does not move the revision, and a counter that starts
   * again (Redis restarted empty, the in-memory fallback during a Redis outage) starts from it.
   */
  spendRefreshIntervalMs?: number;
  onError: (err: unknown) => void;
  now?: () => number;
}

interface Snapshot {
  revision: number;
  byHash: Map<string, KeyRecord>;
  /** Rotated keys' old hashes, valid until the key's previous_expires_at. */
  byPreviousHash: Map<string, KeyRecord>;
  keys: Map<string, KeyRecord>;
  teams: Map<string, TeamRecord>;
  orgs: Map<string, OrgRecord>;
  users: Map<string, UserRecord>;
  /** Spend recorded per `<level>:<id>:<period id>` when loaded, to seed budget counters. */
  spend: Map<string, number>;
}

const EMPTY: Snapshot = { revision: -1, byHash: new Map(), byPreviousHash: new Map(), keys: new Map(), teams: new Map(), orgs: new Map(), users: new Map(), spend: new Map() };

export class Directory {
  #snapshot: Snapshot = EMPTY;
  #timer: NodeJS.Timeout | undefined;
  #spendTimer: NodeJS.Timeout | undefined;
  #loading: { revision: number; done: Promise<void> } | undefined;
  #spendGeneration = 0;
  #spendRefresh: Promise<void> | undefined;
  #spendAgain = false;
  #spendSoon: NodeJS.Timeout | undefined;
  readonly #now: () => number;

  constructor(
    private readonly source: DirectorySource,
    private readonly options: DirectoryOptions,
  ) {
    this.#now = options.now ?? Date.now;
  }

  /** Loads the first picture (failures propagate: the gateway cannot check keys without it), then polls. */
  async start(): Promise<void> {
    await this.#load(await this.source.revision());
    this.#timer = setInterval(() => void this.refresh(), this.options.refreshIntervalMs);
    this.#timer.unref();
    const spendMs = this.options.spendRefreshIntervalMs ?? 0;
    if (spendMs > 0) {
      this.#spendTimer = setInterval(() => void this.refreshSpend(), spendMs);
      this.#spendTimer.unref();
    }
  }

  stop(): void {
    clearInterval(this.#timer);
    clearInterval(this.#spendTimer);
    clearTimeout(this.#spendSoon);
    this.#spendSoon = undefined;
  }

  /** Moves whenever the recorded spend was read again: budget counters then take their floor afresh. */
  get spendGeneration(): number {
    return this.#spendGeneration;
  }

  /** Reads the recorded spend again within a second: what comes in bursts (spill batches written back) makes one read. */
  refreshSpendSoon(): void {
    if (this.#spendSoon) return;
    this.#spendSoon = setTimeout(() => {
      this.#spendSoon = undefined;
      void this.refreshSpend();
    }, SPEND_SOON_MS);
    this.#spendSoon.unref();
  }

  /**
   * Reads the recorded spend again, for the records loaded (a reload reads it too). Calls during a
   * read share it, and one more read follows for them; never rejects.
   */
  refreshSpend(): Promise<void> {
    if (this.#spendRefresh) {
      this.#spendAgain = true;
      return this.#spendRefresh;
    }
    const refresh = (async () => {
      try {
        do {
          this.#spendAgain = false;
          const snapshot = this.#snapshot;
          const spend = await this.#budgetSpend([
            ['org', [...snapshot.orgs.values()]],
            ['team', [...snapshot.teams.values()]],
            ['key', [...snapshot.keys.values()]],
            ['user', [...snapshot.users.values()]],
          ]);
          // A reload that finished meanwhile read the spend too, for its newer records (a budget
          // moved to another period, say): this older read must not replace it.
          if (this.#snapshot !== snapshot) continue;
          this.#snapshot = { ...snapshot, spend };
          this.#spendGeneration++;
        } while (this.#spendAgain);
      } catch (err) {
        this.options.onError(err);
      } finally {
        this.#spendRefresh = undefined;
      }
    })();
    this.#spendRefresh = refresh;
    return refresh;
  }

  /** Reloads if the database changed since the last load; never rejects. */
  async refresh(): Promise<void> {
    try {
      const revision = await this.source.revision();
      if (revision !== this.#snapshot.revision) await this.#load(revision);
    } catch (err) {
      this.options.onError(err);
    }
  }

  /** Whether any virtual key exists (revoked ones included): without keys or a master key the gateway is open. */
  get hasKeys(): boolean {
    return this.#snapshot.keys.size > 0;
  }

  /** The key a secret's hash belongs to (by its current hash, or its previous one within the grace period). */
  keyByHash(hash: string): KeyRecord | undefined {
    const snapshot = this.#snapshot;
    const current = snapshot.byHash.get(hash);
    if (current) return current;
    const rotated = snapshot.byPreviousHash.get(hash);
    return rotated && rotated.previous_expires_at !== null && rotated.previous_expires_at > this.#now() ? rotated : undefined;
  }

  key(id: string): KeyRecord | undefined {
    return this.#snapshot.keys.get(id);
  }

  team(id: string | null): TeamRecord | undefined {
    return id === null ? undefined : this.#snapshot.teams.get(id);
  }

  org(id: string | null): OrgRecord | undefined {
    return id === null ? undefined : this.#snapshot.orgs.get(id);
  }

  user(id: string): UserRecord | undefined {
    return this.#snapshot.users.get(id);
  }

  /** Spend recorded for a level in a budget period as of the last read (0 for a period that began since). */
  recordedSpend(level: Level, id: string, periodId: string): number {
    return this.#snapshot.spend.get(`${level}:${id}:${periodId}`) ?? 0;
  }

  async #load(revision: number): Promise<void> {
    // Concurrent reloads of one revision share one. A newer revision (an admin change during a
    // poll's load) waits for the running load, whose reads may predate the change, then loads again.
    const running = this.#loading;
    if (running?.revision === revision) return running.done;
    const after = running ? running.done.catch(() => undefined) : Promise.resolve();
    const loading = {
      revision,
      done: after
        .then(() => this.#read(revision))
        .finally(() => {
          if (this.#loading === loading) this.#loading = undefined;
        }),
    };
    this.#loading = loading;
    return loading.done;
  }

  async #read(revision: number): Promise<void> {
    const [orgs, teams, keys, users] = await Promise.all([this.source.listOrgs(), this.source.listTeams(), this.source.listKeys(), this.source.listUsers()]);
    const byHash = new Map<string, KeyRecord>();
    const byPreviousHash = new Map<string, KeyRecord>();
    for (const key of keys) {
      if (key.revoked_at !== null) continue;
      byHash.set(key.key_hash, key);
      if (key.previous_hash !== null) byPreviousHash.set(key.previous_hash, key);
    }
    const spend = await this.#budgetSpend([
      ['org', orgs],
      ['team', teams],
      ['key', keys],
      ['user', users],
    ]);
    this.#snapshot = {
      revision,
      byHash,
      byPreviousHash,
      keys: new Map(keys.map((k) => [k.id, k])),
      teams: new Map(teams.map((t) => [t.id, t])),
      orgs: new Map(orgs.map((o) => [o.id, o])),
      users: new Map(users.map((u) => [u.id, u])),
      spend,
    };
    this.#spendGeneration++;
  }

  /** Spend so far in the current period of every budget, one query per level and period in use. */
  async #budgetSpend(levels: [Level, { id: string; budget: { period: BudgetPeriod } | null }[]][]): Promise<Map<string, number>> {
    const now = this.#now();
    const spend = new Map<string, number>();
    const queries: Promise<void>[] = [];
    for (const [level, records] of levels) {
      const periods = new Set(records.flatMap((r) => (r.budget ? [r.budget.period] : [])));
      for (const period of periods) {
        const window = periodWindow(period, now);
        queries.push(
          this.source.spendTotals(level, window.startDay).then((totals) => {
            for (const [id, usd] of totals) spend.set(`${level}:${id}:${window.id}`, usd);
          }),
        );
      }
    }
    await Promise.all(queries);
    return spend;
  }
}

/**
 * Everything governance keeps in the database, behind one object: the entities (orgs, teams,
 * virtual keys, end users) with their audit trail and revision counter, and spend (request log
 * plus daily rollups). It is used at start-up, by the background refresher, by the batched spend
 * writer and by the admin API, never on the request path.
 */
import type { KeyRecord, OrgRecord, SpendRow, TeamRecord, UserRecord } from '../governance/types.js';
import { listAudit, readRevision, type AuditQuery, type AuditRecord } from './audit.js';
import type { Database } from './database.js';
import { KEYS, ORGS, TEAMS, USERS } from './entity-codec.js';
import { EntityRepo } from './entity-repo.js';
import { deleteRequestsBefore, listRequests, requestsById, RequestLogInserter, type RequestQuery, type RequestRecord } from './request-log.js';
import { spendReport, spendTotals, writeSpend, type SpendLevel, type SpendQuery, type SpendReportRow } from './spend.js';

export { ConflictError, NotFoundError } from './errors.js';
export type { AuditQuery, AuditRecord, RequestQuery, RequestRecord, SpendLevel, SpendQuery, SpendReportRow };

export class GovernanceStore {
  readonly orgs: EntityRepo<'orgs', OrgRecord>;
  readonly teams: EntityRepo<'teams', TeamRecord>;
  readonly keys: EntityRepo<'keys', KeyRecord>;
  readonly users: EntityRepo<'users', UserRecord>;
  /** Null when request_log.enabled is off: rows then only feed the spend rollups. */
  private readonly requestLog: RequestLogInserter | null;
  private lastPrune = 0;

  constructor(
    private readonly database: Database,
    options: { requestLog?: boolean } = {},
  ) {
    this.orgs = new EntityRepo(database, ORGS);
    this.teams = new EntityRepo(database, TEAMS);
    this.keys = new EntityRepo(database, KEYS);
    this.users = new EntityRepo(database, USERS);
    this.requestLog = options.requestLog === false ? null : new RequestLogInserter(database);
  }

  // The whole-table reads the in-memory directory loads (governance/directory.ts, DirectorySource).
  listOrgs(): Promise<OrgRecord[]> {
    return this.orgs.list();
  }

  listTeams(): Promise<TeamRecord[]> {
    return this.teams.list();
  }

  listKeys(): Promise<KeyRecord[]> {
    return this.keys.list();
  }

  listUsers(): Promise<UserRecord[]> {
    return this.users.list();
  }

  /** The key a secret's hash belongs to: its current hash, or its previous one until previous_expires_at. */
  async findKeyByHash(hash: string): Promise<KeyRecord | undefined> {
    const row = await this.database.db
      .selectFrom('keys')
      .selectAll()
      .where((eb) => eb.or([eb('key_hash', '=', hash), eb.and([eb('previous_hash', '=', hash), eb('previous_expires_at', '>', Date.now())])]))
      .executeTakeFirst();
    return row && KEYS.fromRow(row);
  }

  /** Grows with every change to orgs, teams, keys or users; other instances poll it to know when to reload. */
  revision(): Promise<number> {
    return readRevision(this.database.db);
  }

  /** Admin changes, newest first. */
  listAudit(query: AuditQuery = {}): Promise<AuditRecord[]> {
    return listAudit(this.database.db, query);
  }

  /**
   * Records a batch of requests and adds them to the daily rollups, in one transaction; a batch
   * id written before is skipped (the retry of a write whose commit answer was lost). `behind`:
   * whether the writer is falling behind (on SQLite the request-log insert then stops pacing).
   */
  writeSpend(rows: readonly SpendRow[], batchId: string, behind?: () => boolean): Promise<void> {
    // Old batch ids go at most once a minute, in the batch's own transaction (a few rows each time).
    const now = Date.now();
    const prune = now - this.lastPrune >= 60_000;
    if (prune) this.lastPrune = now;
    return writeSpend(this.database.db, rows, this.requestLog, { id: batchId, prune, behind });
  }

  /** Rolled-up spend per group over whole UTC days; `tag` groups ignore every filter but the dates. */
  spendReport(query: SpendQuery): Promise<SpendReportRow[]> {
    return spendReport(this.database.db, query);
  }

  /** USD per key / team / org / end user since a day (null: all time), to seed budget counters. */
  spendTotals(level: SpendLevel, sinceDay: string | null): Promise<Map<string, number>> {
    return spendTotals(this.database.db, level, sinceDay);
  }

  /** Request rows, newest first (GET /admin/logs). */
  listRequests(query: RequestQuery = {}): Promise<RequestRecord[]> {
    return listRequests(this.database, query);
  }

  /** The rows of one request id (GET /admin/logs/:request_id). */
  requestsById(requestId: string): Promise<RequestRecord[]> {
    return requestsById(this.database.db, requestId);
  }

  /** Retention: deletes request rows older than `before` (epoch ms) in small batches. */
  deleteRequestsBefore(before: number, batch?: number): Promise<number> {
    return deleteRequestsBefore(this.database.db, before, batch);
  }
}

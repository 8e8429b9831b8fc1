/**
 * The shape of every table, as Kysely sees it: the one place the columns are declared in
 * TypeScript (migrations.ts holds the DDL that creates them). The same types serve both backends,
 * so only portable column types are used: timestamps are epoch milliseconds, JSON is text and
 * booleans are integers 0/1.
 */
import type { Generated, Insertable, Selectable } from 'kysely';

/** The policy and timestamp columns every governance entity table has (see Policy in governance/types.ts). */
export interface PolicyColumns {
  /** JSON text of string[], or null. */
  models: string | null;
  /** JSON text of Budget, or null. */
  budget: string | null;
  /** JSON text of Limits, or null. */
  limits: string | null;
  /** JSON text of string[], or null. */
  regions: string | null;
  /** JSON text of Record<string, string>, or null. */
  metadata: string | null;
  expires_at: number | null;
  /** 0 or 1. */
  blocked: number;
  created_at: number;
  updated_at: number;
}

export interface OrgsTable extends PolicyColumns {
  id: string;
  name: string;
}

export interface TeamsTable extends PolicyColumns {
  id: string;
  name: string;
  org_id: string | null;
}

export interface KeysTable extends PolicyColumns {
  id: string;
  name: string;
  team_id: string | null;
  key_hash: string;
  key_hint: string;
  previous_hash: string | null;
  previous_expires_at: number | null;
  revoked_at: number | null;
}

export interface UsersTable extends PolicyColumns {
  id: string;
  name: string | null;
}

/** A single row (id 1) whose value grows with every governance write. */
export interface RevisionTable {
  id: number;
  value: number;
}

export interface AuditLogTable {
  id: Generated<number>;
  at: number;
  actor: string;
  action: string;
  target_type: string;
  target_id: string;
  /** JSON text, or null (a create has no before, a delete no after). */
  before: string | null;
  after: string | null;
}

/** One lean row per request (SpendRow). */
export interface RequestLogTable {
  id: Generated<number>;
  request_id: string;
  at: number;
  key_id: string | null;
  team_id: string | null;
  org_id: string | null;
  end_user: string | null;
  model: string | null;
  provider: string | null;
  upstream_model: string | null;
  prompt_tokens: number;
  completion_tokens: number;
  cost_usd: number | null;
  latency_ms: number;
  status: number;
  cache: string | null;
  /** JSON text of string[]. */
  tags: string;
  /** Added by migration 002. */
  route: string | null;
  /** 0/1 */
  stream: number | null;
  error_code: string | null;
  ttft_ms: number | null;
  cached_tokens: number | null;
  attempts: number | null;
  trace_id: string | null;
  request_body: string | null;
  response_body: string | null;
}

/** The measures both rollup tables keep. */
export interface SpendMeasures {
  requests: number;
  /** Requests answered with status >= 400. */
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  /** Sum of the known costs (USD). */
  cost_usd: number;
  /** Requests answered from the cache (HIT or SEMANTIC_HIT). */
  cache_hits: number;
  /** Requests whose cost was unknown (no price for the model). */
  unpriced: number;
}

/** Daily rollup; every dimension is '' rather than NULL so the composite primary key can take upserts. */
export interface SpendDailyTable extends SpendMeasures {
  /** 'YYYY-MM-DD', UTC. */
  day: string;
  key_id: string;
  team_id: string;
  org_id: string;
  end_user: string;
  model: string;
  provider: string;
}

export interface SpendDailyTagsTable extends SpendMeasures {
  day: string;
  tag: string;
}

/** The spend batches written lately, so a batch retried after a lost commit answer is applied once. */
export interface SpendBatchesTable {
  id: string;
  /** Epoch ms; ids older than a week are pruned. */
  at: number;
}

export interface Schema {
  orgs: OrgsTable;
  teams: TeamsTable;
  keys: KeysTable;
  users: UsersTable;
  revision: RevisionTable;
  audit_log: AuditLogTable;
  request_log: RequestLogTable;
  spend_daily: SpendDailyTable;
  spend_daily_tags: SpendDailyTagsTable;
  spend_batches: SpendBatchesTable;
}

export type EntityTable = 'orgs' | 'teams' | 'keys' | 'users';
export type OrgRow = Selectable<OrgsTable>;
export type TeamRow = Selectable<TeamsTable>;
export type KeyRow = Selectable<KeysTable>;
export type UserRow = Selectable<UsersTable>;
export type NewRequestLogRow = Insertable<RequestLogTable>;

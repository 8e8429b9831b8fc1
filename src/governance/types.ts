/**
 * The governance entities as stored and as held in memory: organizations, teams, virtual keys and
 * end users. Every level carries the same policy fields; a request is admitted only when every
 * level it belongs to admits it.
 */

export const BUDGET_PERIODS = ['daily', 'weekly', 'monthly', 'total'] as const;
export type BudgetPeriod = (typeof BUDGET_PERIODS)[number];

export interface Budget {
  /** USD allowed per period. */
  usd: number;
  period: BudgetPeriod;
}

export interface Limits {
  /** Requests per minute. */
  rpm?: number;
  /** Tokens (prompt + completion) per minute. */
  tpm?: number;
  /** Tokens per day (a rolling 24 hours). */
  tpd?: number;
  /** Requests in flight at once. */
  max_parallel?: number;
}

/** What every level (org, team, key, end user) may carry. Null: no restriction at this level. */
export interface Policy {
  /** Model groups this level may use (null: any). */
  models: string[] | null;
  budget: Budget | null;
  limits: Limits | null;
  /** Regions the level's requests may be served from (null: any). */
  regions: string[] | null;
  /** Tags attached to every request of this level, for attribution. */
  metadata: Record<string, string> | null;
  /** Epoch milliseconds after which the level refuses requests. */
  expires_at: number | null;
  blocked: boolean;
}

export interface Timestamps {
  /** Epoch milliseconds. */
  created_at: number;
  updated_at: number;
}

export interface OrgRecord extends Policy, Timestamps {
  id: string;
  name: string;
}

export interface TeamRecord extends Policy, Timestamps {
  id: string;
  name: string;
  org_id: string | null;
}

export interface KeyRecord extends Policy, Timestamps {
  id: string;
  name: string;
  team_id: string | null;
  /** Hex SHA-256 of the secret; the secret itself is never stored. */
  key_hash: string;
  /** What is shown of the secret: `sk-sy-abcd…wxyz`. */
  key_hint: string;
  /** The hash the key had before its last rotation, valid until previous_expires_at. */
  previous_hash: string | null;
  previous_expires_at: number | null;
  revoked_at: number | null;
}

/** An end user: the request's `user` field (OpenAI) or `metadata.user_id` (Anthropic). */
export interface UserRecord extends Policy, Timestamps {
  /** The user string as clients send it. */
  id: string;
  name: string | null;
}

/** One request, as recorded for spend attribution (lean: no prompts, no answers). */
/** One request-log row: every request (spend rollups count the ones with `spend` not false). */
export interface SpendRow {
  request_id: string;
  /** Epoch milliseconds when the request arrived. */
  at: number;
  key_id: string | null;
  team_id: string | null;
  org_id: string | null;
  end_user: string | null;
  /** The model group (bounded: a configured name or `<provider>/*`). */
  model: string | null;
  provider: string | null;
  upstream_model: string | null;
  prompt_tokens: number;
  completion_tokens: number;
  /** USD; 0 for cache hits; null when the model has no known price. */
  cost_usd: number | null;
  latency_ms: number;
  status: number;
  /** HIT, SEMANTIC_HIT, MISS, ... or null. */
  cache: string | null;
  /** `name:value` tags from every level's metadata and the request's x-switchyard-metadata. */
  tags: string[];
  /** chat, embeddings, messages or count_tokens. Absent in rows spilled by earlier versions. */
  route?: string | null;
  stream?: boolean | null;
  /** The gateway error code of a failed request (rate_limit_exceeded, upstream_timeout, ...). */
  error_code?: string | null;
  /** Streams: arrival to the first chunk sent (ms). */
  ttft_ms?: number | null;
  /** The part of prompt_tokens the provider read from its prompt cache. */
  cached_tokens?: number;
  /** Upstream attempts made. */
  attempts?: number;
  /** The OpenTelemetry trace id, when tracing is on. */
  trace_id?: string | null;
  /** Redacted, capped bodies; only with request_log.bodies on. */
  request_body?: string | null;
  response_body?: string | null;
  /** Whether the row counts in the spend rollups (false: refusals and failures before admission). Absent: true. */
  spend?: boolean;
}

/** An administrative change, for the audit log. */
export interface AuditEntry {
  at: number;
  /** Who: `master` (the master key), for now the only admin credential. */
  actor: string;
  /** e.g. `key.create`, `team.update`, `key.rotate`. */
  action: string;
  target_type: 'org' | 'team' | 'key' | 'user';
  target_id: string;
  before: unknown;
  after: unknown;
}

/** The most characters an end-user id may have: it keys budgets, limits, spend rows and log lines. */
export const MAX_END_USER_LENGTH = 512;

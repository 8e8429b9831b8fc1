/**
 * Governance records ↔ table rows: the policy fields travel as JSON text and `blocked` as 0/1.
 * Each entity is described once (table, audit name, parent/child relations, codec) so the store's
 * CRUD code is written once for all four.
 */
import type { AuditEntry, KeyRecord, OrgRecord, Policy, TeamRecord, UserRecord } from '../governance/types.js';
import type { EntityTable, KeyRow, OrgRow, PolicyColumns, Schema, TeamRow, UserRow } from './schema.js';

export type TargetType = AuditEntry['target_type'];

export interface EntitySpec<T extends EntityTable, R extends { id: string }> {
  table: T;
  /** The name in audit entries and messages: `org`, `team`, `key`, `user`. */
  type: TargetType;
  /** The column referencing the parent entity, and the parent's name (a missing parent is a conflict). */
  parent?: { column: keyof R & string; type: TargetType };
  /** What references this entity, and how to free it of them, for the message when it cannot be deleted. */
  children?: { what: string; remedy: string };
  /** Fields the audit log never keeps. */
  secret?: readonly (keyof R & string)[];
  toRow(record: R): Schema[T];
  fromRow(row: Schema[T]): R;
}

const json = (value: unknown): string | null => (value === null ? null : JSON.stringify(value));
const parse = <V>(text: string | null): V | null => (text === null ? null : (JSON.parse(text) as V));

function policyColumns(record: Policy & { created_at: number; updated_at: number }): PolicyColumns {
  return {
    models: json(record.models),
    budget: json(record.budget),
    limits: json(record.limits),
    regions: json(record.regions),
    metadata: json(record.metadata),
    expires_at: record.expires_at,
    blocked: record.blocked ? 1 : 0,
    created_at: record.created_at,
    updated_at: record.updated_at,
  };
}

function policyFields(row: PolicyColumns): Policy & { created_at: number; updated_at: number } {
  return {
    models: parse(row.models),
    budget: parse(row.budget),
    limits: parse(row.limits),
    regions: parse(row.regions),
    metadata: parse(row.metadata),
    expires_at: row.expires_at,
    blocked: row.blocked === 1,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

export const ORGS: EntitySpec<'orgs', OrgRecord> = {
  table: 'orgs',
  type: 'org',
  children: { what: 'teams', remedy: 'delete them or move them to another org (PATCH /admin/teams/<id> with "org_id") first' },
  toRow: (r) => ({ id: r.id, name: r.name, ...policyColumns(r) }),
  fromRow: (row: OrgRow) => ({ id: row.id, name: row.name, ...policyFields(row) }),
};

export const TEAMS: EntitySpec<'teams', TeamRecord> = {
  table: 'teams',
  type: 'team',
  parent: { column: 'org_id', type: 'org' },
  children: { what: 'keys (revoked ones too: a revoked key keeps its spend history)', remedy: 'move them out (PATCH /admin/keys/<id> with "team_id": null or another team) first' },
  toRow: (r) => ({ id: r.id, name: r.name, org_id: r.org_id, ...policyColumns(r) }),
  fromRow: (row: TeamRow) => ({ id: row.id, name: row.name, org_id: row.org_id, ...policyFields(row) }),
};

export const KEYS: EntitySpec<'keys', KeyRecord> = {
  table: 'keys',
  type: 'key',
  parent: { column: 'team_id', type: 'team' },
  secret: ['key_hash', 'previous_hash'],
  toRow: (r) => ({
    id: r.id,
    name: r.name,
    team_id: r.team_id,
    key_hash: r.key_hash,
    key_hint: r.key_hint,
    previous_hash: r.previous_hash,
    previous_expires_at: r.previous_expires_at,
    revoked_at: r.revoked_at,
    ...policyColumns(r),
  }),
  fromRow: (row: KeyRow) => ({
    id: row.id,
    name: row.name,
    team_id: row.team_id,
    key_hash: row.key_hash,
    key_hint: row.key_hint,
    previous_hash: row.previous_hash,
    previous_expires_at: row.previous_expires_at,
    revoked_at: row.revoked_at,
    ...policyFields(row),
  }),
};

export const USERS: EntitySpec<'users', UserRecord> = {
  table: 'users',
  type: 'user',
  toRow: (r) => ({ id: r.id, name: r.name, ...policyColumns(r) }),
  fromRow: (row: UserRow) => ({ id: row.id, name: row.name, ...policyFields(row) }),
};

/** Governance records for tests: open policies with fixed ids, changed per test with `extra`. */
import type { KeyRecord, OrgRecord, Policy, TeamRecord, UserRecord } from '../types.js';

export const OPEN: Policy = { models: null, budget: null, limits: null, regions: null, metadata: null, expires_at: null, blocked: false };
const STAMPS = { created_at: 0, updated_at: 0 };

export const orgRecord = (extra: Partial<OrgRecord> = {}): OrgRecord => ({ ...OPEN, ...STAMPS, id: 'o1', name: 'acme', ...extra });

export const teamRecord = (extra: Partial<TeamRecord> = {}): TeamRecord => ({ ...OPEN, ...STAMPS, id: 't1', name: 'ml', org_id: 'o1', ...extra });

export const keyRecord = (extra: Partial<KeyRecord> = {}): KeyRecord => ({
  ...OPEN,
  ...STAMPS,
  id: 'k1',
  name: 'ci-bot',
  team_id: 't1',
  key_hash: 'h1',
  key_hint: 'sk-sy-…',
  previous_hash: null,
  previous_expires_at: null,
  revoked_at: null,
  ...extra,
});

export const userRecord = (extra: Partial<UserRecord> = {}): UserRecord => ({ ...OPEN, ...STAMPS, id: 'u1', name: null, ...extra });

/**
 * An end user's counters are kept per tenant (admission.ts: the limiter's tag), so "user-42" of
 * one org and of another are different people; these name that tenant the same way for the spend
 * that seeds the counters at start-up (storage/spend.ts).
 */

/**
 * The tenant an end user's request counts under, as the limiter tags it: the org, else the team,
 * else the key, else (the master key's requests) the user alone.
 */
export function endUserTenant(row: { org_id: string; team_id: string; key_id: string; end_user: string }): string {
  if (row.org_id) return `org:${row.org_id}`;
  if (row.team_id) return `team:${row.team_id}`;
  if (row.key_id && row.key_id !== 'master') return `key:${row.key_id}`;
  return `user:${row.end_user}`;
}

/** The id an end user's spend is kept under for one tenant. */
export function endUserTenantId(user: string, tenant: string): string {
  return `${user}\u0000${tenant}`;
}

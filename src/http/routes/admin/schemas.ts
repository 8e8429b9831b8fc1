/**
 * The admin API's input: zod schemas for the policy fields every level takes (DESIGN.md §4) and
 * for each entity's own fields, plus the conversion to stored records (ISO times → epoch ms) and
 * back (records as the API shows them: ISO times, no key hashes).
 */
import { z } from 'zod';
import { GatewayError } from '../../../gateway/errors.js';
import { formatIssue } from '../../../config/load.js';
import { BUDGET_PERIODS, MAX_END_USER_LENGTH, type KeyRecord, type Policy } from '../../../governance/types.js';

const positiveInt = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
/** An ISO 8601 time (or day), or a Unix time in seconds or milliseconds; kept as epoch ms. */
const isoTime = z.union([
  z.iso.datetime({ offset: true }).transform((text) => Date.parse(text)),
  z.iso.date().transform((text) => Date.parse(`${text}T00:00:00Z`)),
  z.number().int().positive().transform((value) => (value < 1e11 ? value * 1000 : value)),
], { error: 'expected an ISO 8601 time such as "2027-01-01T00:00:00Z", a day such as "2027-01-01", or a Unix time' });
const name = z.string().trim().min(1, 'must not be empty').max(200);

const budget = z.strictObject({
  /** Budget counters are integer micro-dollars: up to a billion USD per period. */
  usd: z.number().nonnegative().max(1e9),
  period: z.enum(BUDGET_PERIODS),
});

const limits = z.strictObject({
  rpm: positiveInt.optional(),
  tpm: positiveInt.optional(),
  tpd: positiveInt.optional(),
  max_parallel: positiveInt.optional(),
});

/** Policy fields; null clears one on update. */
const policyFields = {
  models: z.array(z.string().min(1)).max(1000).nullable().optional(),
  budget: budget.nullable().optional(),
  limits: limits.nullable().optional(),
  regions: z.array(z.string().min(1)).max(100).nullable().optional(),
  /** Tags: strings, or numbers and booleans (kept as their text). */
  metadata: z
    .record(z.string().min(1).max(100), z.union([z.string().max(500), z.number(), z.boolean()]).transform(String))
    .nullable()
    .optional(),
  expires_at: isoTime.nullable().optional(),
  blocked: z.boolean().optional(),
};

export const orgInput = z.strictObject({ name, ...policyFields });
export const teamInput = z.strictObject({ name, org_id: z.string().min(1).nullable().optional(), ...policyFields });
export const keyInput = z.strictObject({ name, team_id: z.string().min(1).nullable().optional(), ...policyFields });
export const userInput = z.strictObject({ id: z.string().min(1).max(MAX_END_USER_LENGTH), name: z.string().max(200).nullable().optional(), ...policyFields });
export const rotateInput = z.strictObject({ grace_seconds: z.number().int().nonnegative().max(30 * 86_400).optional() });

/** Parses `body` (or a query string's parameters) or throws a 400 naming every problem with its path, each once. */
export function parseInput<T extends z.ZodType>(schema: T, body: unknown, what: 'request body' | 'query parameters' = 'request body'): z.output<T> {
  const result = schema.safeParse(body ?? {});
  if (result.success) return result.data;
  const problems = [...new Set(result.error.issues.map(formatIssue))];
  throw new GatewayError('invalid_request', `Invalid ${what}: ${problems.join('; ')}`, { param: result.error.issues[0]?.path.join('.') || null });
}

type PolicyInput = { [K in keyof typeof policyFields]?: z.output<(typeof policyFields)[K]> };

/** The policy of a new entity: what the input says, the rest open. */
export function policyOf(input: PolicyInput): Policy {
  return {
    models: input.models ?? null,
    budget: input.budget ?? null,
    limits: input.limits ? compactLimits(input.limits) : null,
    regions: input.regions ?? null,
    metadata: input.metadata ?? null,
    expires_at: input.expires_at ?? null,
    blocked: input.blocked ?? false,
  };
}

/** An update's policy changes: only the fields given (null clears). */
export function policyPatch(input: PolicyInput): Partial<Policy> {
  const patch: Partial<Policy> = {};
  if (input.models !== undefined) patch.models = input.models;
  if (input.budget !== undefined) patch.budget = input.budget;
  if (input.limits !== undefined) patch.limits = input.limits === null ? null : compactLimits(input.limits);
  if (input.regions !== undefined) patch.regions = input.regions;
  if (input.metadata !== undefined) patch.metadata = input.metadata;
  if (input.expires_at !== undefined) patch.expires_at = input.expires_at;
  if (input.blocked !== undefined) patch.blocked = input.blocked;
  return patch;
}

/** `{}` of limits is no limits. */
function compactLimits(given: z.output<typeof limits>): Policy['limits'] {
  const result = Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined));
  return Object.keys(result).length > 0 ? result : null;
}

const TIME_FIELDS = ['at', 'created_at', 'updated_at', 'expires_at', 'revoked_at', 'previous_expires_at'] as const;

/** A record as the API shows it: times as ISO strings, and never a key's hashes. */
export function present<R extends object>(record: R): Record<string, unknown> {
  const shown = { ...record } as Record<string, unknown>;
  for (const field of TIME_FIELDS) {
    const value = shown[field];
    if (typeof value === 'number') shown[field] = new Date(value).toISOString();
  }
  delete shown.key_hash;
  delete shown.previous_hash;
  return shown;
}

/**
 * An audit entry as the API shows it: like any record, and so are its `before` and `after`
 * snapshots (the records as they were), times as ISO strings at both levels.
 */
export function presentAuditEntry<E extends { before: unknown; after: unknown }>(entry: E): Record<string, unknown> {
  return { ...present(entry), before: presentSnapshot(entry.before), after: presentSnapshot(entry.after) };
}

function presentSnapshot(snapshot: unknown): unknown {
  return typeof snapshot === 'object' && snapshot !== null && !Array.isArray(snapshot) ? present(snapshot) : snapshot;
}

export type ShownKey = Omit<KeyRecord, 'key_hash' | 'previous_hash'>;

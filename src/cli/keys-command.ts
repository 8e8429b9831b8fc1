/**
 * `switchyard keys create|list|revoke|rotate`: virtual keys through a running gateway's admin API.
 * The command line becomes an admin request in one pure step (parseKeysCommand) and the answer
 * becomes text in another (format*), so both are tested without a gateway.
 */
import { parseArgs } from 'node:util';
import {
  AdminUsageError,
  callAdmin,
  COMMON_OPTIONS,
  COMMON_USAGE,
  integerFlag,
  processIo,
  resolveConnection,
  runAdminCommand,
  type AdminRequest,
  type CliIo,
} from './admin-client.js';
import { formatTable } from './table.js';

export const KEYS_USAGE = `Usage:
  switchyard keys create --name NAME [--team TEAM_ID] [--models A,B]
                         [--budget USD --period daily|weekly|monthly|total]
                         [--rpm N] [--tpm N] [--tpd N] [--max-parallel N]
                         [--expires ISO_TIME|YYYY-MM-DD] [--metadata KEY=VALUE ...]
  switchyard keys list [--team TEAM_ID] [--include-revoked]
  switchyard keys revoke KEY_ID
  switchyard keys rotate KEY_ID [--grace SECONDS]

${COMMON_USAGE}`;

const PERIODS = ['daily', 'weekly', 'monthly', 'total'] as const;

const CREATE_OPTIONS = {
  ...COMMON_OPTIONS,
  name: { type: 'string' },
  team: { type: 'string' },
  models: { type: 'string' },
  budget: { type: 'string' },
  period: { type: 'string' },
  rpm: { type: 'string' },
  tpm: { type: 'string' },
  tpd: { type: 'string' },
  'max-parallel': { type: 'string' },
  expires: { type: 'string' },
  metadata: { type: 'string', multiple: true },
} as const;
const LIST_OPTIONS = { ...COMMON_OPTIONS, team: { type: 'string' }, 'include-revoked': { type: 'boolean' } } as const;
const ROTATE_OPTIONS = { ...COMMON_OPTIONS, grace: { type: 'string' } } as const;

export type KeysCommand =
  | { action: 'help' }
  | {
      action: 'create' | 'list' | 'revoke' | 'rotate';
      request: AdminRequest;
      json: boolean;
      /** --url and --master-key, resolved against the environment later. */
      flags: { url?: string | undefined; 'master-key'?: string | undefined };
    };

/** The command line (after `keys`) as the admin request it stands for. */
export function parseKeysCommand(argv: string[]): KeysCommand {
  const [action, ...rest] = argv;
  if (action === 'help' || action === '--help' || action === '-h') return { action: 'help' };
  switch (action) {
    case undefined:
      throw new AdminUsageError('keys needs a command: create, list, revoke or rotate');
    case 'create': {
      const { values, positionals } = parseCreate(rest);
      if (values.help) return { action: 'help' };
      noPositionals('keys create', positionals);
      if (!values.name?.trim()) throw new AdminUsageError('keys create needs --name NAME');
      return { action, json: values.json ?? false, flags: values, request: { method: 'POST', path: '/keys', body: createBody(values) } };
    }
    case 'list': {
      const { values, positionals } = parseArgs({ args: rest, options: LIST_OPTIONS, allowPositionals: true });
      if (values.help) return { action: 'help' };
      noPositionals('keys list', positionals);
      const query = { team_id: values.team, include_revoked: values['include-revoked'] ? 'true' : undefined };
      return { action, json: values.json ?? false, flags: values, request: { method: 'GET', path: '/keys', query } };
    }
    case 'revoke': {
      const { values, positionals } = parseArgs({ args: rest, options: COMMON_OPTIONS, allowPositionals: true });
      if (values.help) return { action: 'help' };
      const id = oneKeyId('keys revoke', positionals);
      return { action, json: values.json ?? false, flags: values, request: { method: 'DELETE', path: `/keys/${encodeURIComponent(id)}` } };
    }
    case 'rotate': {
      const { values, positionals } = parseArgs({ args: rest, options: ROTATE_OPTIONS, allowPositionals: true });
      if (values.help) return { action: 'help' };
      const id = oneKeyId('keys rotate', positionals);
      const grace = integerFlag('grace', values.grace, 0);
      const body = grace === undefined ? {} : { grace_seconds: grace };
      return { action, json: values.json ?? false, flags: values, request: { method: 'POST', path: `/keys/${encodeURIComponent(id)}/rotate`, body } };
    }
    default:
      throw new AdminUsageError(`unknown keys command: ${action}`);
  }
}

const parseCreate = (args: string[]) => parseArgs({ args, options: CREATE_OPTIONS, allowPositionals: true });
type CreateValues = ReturnType<typeof parseCreate>['values'];

/** The POST /admin/keys body: only what was given, so the API's defaults (no limits) apply to the rest. */
function createBody(values: CreateValues): Record<string, unknown> {
  const body: Record<string, unknown> = { name: values.name?.trim() };
  if (values.team !== undefined) body.team_id = values.team;
  if (values.models !== undefined) {
    const models = values.models.split(',').map((model) => model.trim()).filter((model) => model !== '');
    if (models.length === 0) throw new AdminUsageError('--models: expected model names separated by commas');
    body.models = models;
  }
  if ((values.budget === undefined) !== (values.period === undefined)) throw new AdminUsageError('--budget and --period go together, e.g. --budget 50 --period monthly');
  if (values.budget !== undefined && values.period !== undefined) {
    if (!/^\d+(\.\d+)?$/.test(values.budget)) throw new AdminUsageError(`--budget: expected an amount in USD such as 25 or 7.5, got "${values.budget}"`);
    if (!(PERIODS as readonly string[]).includes(values.period)) throw new AdminUsageError(`--period: expected one of ${PERIODS.join(', ')}, got "${values.period}"`);
    body.budget = { usd: Number(values.budget), period: values.period };
  }
  const limits = {
    rpm: integerFlag('rpm', values.rpm, 1),
    tpm: integerFlag('tpm', values.tpm, 1),
    tpd: integerFlag('tpd', values.tpd, 1),
    max_parallel: integerFlag('max-parallel', values['max-parallel'], 1),
  };
  const given = Object.fromEntries(Object.entries(limits).filter(([, value]) => value !== undefined));
  if (Object.keys(given).length > 0) body.limits = given;
  // A bare day is midnight UTC; anything else goes to the API as is (it names what it expects).
  if (values.expires !== undefined) body.expires_at = /^\d{4}-\d{2}-\d{2}$/.test(values.expires) ? `${values.expires}T00:00:00Z` : values.expires;
  if (values.metadata !== undefined) body.metadata = metadataOf(values.metadata);
  return body;
}

function metadataOf(pairs: string[]): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new AdminUsageError(`--metadata: expected KEY=VALUE, got "${pair}"`);
    metadata[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return metadata;
}

function noPositionals(command: string, positionals: string[]): void {
  if (positionals.length > 0) throw new AdminUsageError(`${command} takes no arguments besides its options (got "${positionals.join(' ')}")`);
}

function oneKeyId(command: string, positionals: string[]): string {
  if (positionals.length !== 1 || positionals[0] === '') throw new AdminUsageError(`${command} needs exactly one KEY_ID`);
  return positionals[0]!;
}

/** A key as the admin API shows it (times as ISO strings; `key`, the secret, only at creation and rotation). */
export interface AdminKey {
  id: string;
  name: string;
  team_id: string | null;
  key_hint: string;
  models: string[] | null;
  budget: { usd: number; period: string } | null;
  limits: { rpm?: number; tpm?: number; tpd?: number; max_parallel?: number } | null;
  regions: string[] | null;
  expires_at: string | null;
  blocked: boolean;
  revoked_at: string | null;
  previous_expires_at: string | null;
  key?: string;
}

const SHOWN_ONCE = 'This is the only time the secret is shown: store it now (the gateway keeps only its hash).';

export function formatCreated(key: AdminKey): string {
  const team = key.team_id === null ? '' : ` in team ${key.team_id}`;
  return `Created key ${key.id} "${key.name}"${team}.\n\n    ${key.key ?? ''}\n\n${SHOWN_ONCE}\n`;
}

export function formatRotated(key: AdminKey): string {
  const old = key.previous_expires_at === null ? 'The old secret no longer works.' : `The old secret keeps working until ${shortTime(key.previous_expires_at)} UTC.`;
  return `Rotated key ${key.id} "${key.name}". Its new secret:\n\n    ${key.key ?? ''}\n\n${SHOWN_ONCE}\n${old}\n`;
}

export function formatRevoked(answer: { id: string }): string {
  return `Revoked key ${answer.id}: its secret no longer works.\n`;
}

export function formatKeyList(keys: readonly AdminKey[]): string {
  if (keys.length === 0) return 'No keys.\n';
  const rows = keys.map((key) => [
    key.id,
    key.name,
    key.team_id ?? '-',
    key.key_hint,
    policySummary(key),
    key.expires_at === null ? '-' : shortTime(key.expires_at),
    key.revoked_at === null ? '-' : shortTime(key.revoked_at),
  ]);
  const table = formatTable(
    [{ header: 'ID' }, { header: 'NAME' }, { header: 'TEAM' }, { header: 'HINT' }, { header: 'LIMITS' }, { header: 'EXPIRES (UTC)' }, { header: 'REVOKED (UTC)' }],
    rows,
  );
  return `${table}\n`;
}

/** A key's restrictions in one cell: budget, rates, models, regions, blocked; `-` when it has none. */
export function policySummary(key: Pick<AdminKey, 'budget' | 'limits' | 'models' | 'regions' | 'blocked'>): string {
  const parts: string[] = [];
  if (key.budget) parts.push(`$${key.budget.usd} ${key.budget.period}`);
  const { rpm, tpm, tpd, max_parallel: parallel } = key.limits ?? {};
  if (rpm !== undefined) parts.push(`${rpm} rpm`);
  if (tpm !== undefined) parts.push(`${tpm} tpm`);
  if (tpd !== undefined) parts.push(`${tpd} tpd`);
  if (parallel !== undefined) parts.push(`${parallel} parallel`);
  if (key.models) parts.push(`models ${key.models.join(',')}`);
  if (key.regions) parts.push(`regions ${key.regions.join(',')}`);
  if (key.blocked) parts.push('blocked');
  return parts.length > 0 ? parts.join(', ') : '-';
}

/** `2027-01-01T00:00:00.000Z` → `2027-01-01 00:00` (the API's times are UTC). */
export function shortTime(iso: string): string {
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(iso) ? iso.slice(0, 16).replace('T', ' ') : iso;
}

export async function runKeysCommand(argv: string[], env: NodeJS.ProcessEnv = process.env, io: CliIo = processIo): Promise<number> {
  return runAdminCommand(KEYS_USAGE, io, async () => {
    const command = parseKeysCommand(argv);
    if (command.action === 'help') {
      io.stdout(`${KEYS_USAGE}\n`);
      return;
    }
    const answer = await callAdmin<unknown>(resolveConnection(command.flags, env), command.request);
    if (command.json) {
      io.stdout(`${JSON.stringify(answer, null, 2)}\n`);
      return;
    }
    switch (command.action) {
      case 'create':
        return io.stdout(formatCreated(answer as AdminKey));
      case 'list':
        return io.stdout(formatKeyList((answer as { data: AdminKey[] }).data));
      case 'revoke':
        return io.stdout(formatRevoked(answer as { id: string }));
      case 'rotate':
        return io.stdout(formatRotated(answer as AdminKey));
    }
  });
}

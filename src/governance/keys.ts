/**
 * Virtual key secrets: `sk-sy-` and 43 base62-ish characters (32 random bytes, base64url), shown
 * once at creation. Only the SHA-256 of a secret is stored; a presented key is hashed and looked up
 * by its hash, so the comparison never runs on the secret itself.
 */
import { createHash, randomBytes } from 'node:crypto';

export const KEY_PREFIX = 'sk-sy-';

export interface NewSecret {
  /** The key to hand to the client, once. */
  secret: string;
  /** Hex SHA-256, what is stored. */
  hash: string;
  /** What may be shown later: `sk-sy-abcd…wxyz`. */
  hint: string;
}

export function newSecret(): NewSecret {
  const secret = KEY_PREFIX + randomBytes(32).toString('base64url');
  return { secret, hash: hashSecret(secret), hint: hintOf(secret) };
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

function hintOf(secret: string): string {
  return `${secret.slice(0, KEY_PREFIX.length + 4)}…${secret.slice(-4)}`;
}

/** A random id with a readable prefix (`org_`, `team_`, `key_`). */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('base64url')}`;
}

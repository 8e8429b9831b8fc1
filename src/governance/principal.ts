/**
 * Who a request is: the virtual key it presented with its team and org, the master key, or nobody
 * (an open gateway). Resolved once at the door; admission and spend attribution read it.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { createHash, timingSafeEqual } from 'node:crypto';
import { GatewayError } from '../gateway/errors.js';
import type { Directory } from './directory.js';
import { hashSecret } from './keys.js';
import type { KeyRecord, OrgRecord, TeamRecord } from './types.js';

export interface Principal {
  /** Presented the master key (admin credential, and a client key without limits of its own). */
  readonly master: boolean;
  readonly key: KeyRecord | undefined;
  readonly team: TeamRecord | undefined;
  readonly org: OrgRecord | undefined;
}

export const MASTER: Principal = { master: true, key: undefined, team: undefined, org: undefined };
/** Nobody: an open gateway (no master key, no virtual keys). */
export const ANONYMOUS: Principal = { master: false, key: undefined, team: undefined, org: undefined };

export function clientKey(headers: IncomingHttpHeaders): string | undefined {
  const authorization = headers.authorization;
  if (authorization) {
    const match = /^Bearer\s+(.+)$/i.exec(authorization);
    if (match) return match[1]!.trim();
  }
  const apiKey = headers['x-api-key'];
  return typeof apiKey === 'string' && apiKey !== '' ? apiKey : undefined;
}

/** Presented strings → their SHA-256, for the keys seen lately (hashing is the costliest step). */
const MEMO_LIMIT = 10_000;
/**
 * Only strings up to this length are kept (a virtual key has 49 characters): with the entry limit,
 * the memo stays under ~6 MB whatever strings clients send (10,000 of 15 KB each held 200 MB).
 */
const MEMO_MAX_LENGTH = 256;

interface Presented {
  hash: string;
  master: boolean;
}

export class Authenticator {
  readonly #master: Buffer | undefined;
  readonly #seen = new Map<string, Presented>();
  /** One principal per key record (records are replaced, never changed, when the directory reloads). */
  readonly #principals = new WeakMap<KeyRecord, Principal>();

  constructor(
    masterKey: string | undefined,
    private readonly directory: Directory | undefined,
    private readonly now: () => number = Date.now,
  ) {
    this.#master = masterKey ? createHash('sha256').update(masterKey).digest() : undefined;
  }

  /** Open: no master key and no virtual key, so every request is let in (said loudly at start-up). */
  get open(): boolean {
    return this.#master === undefined && !this.directory?.hasKeys;
  }

  get hasMasterKey(): boolean {
    return this.#master !== undefined;
  }

  /** The request's principal; a 401 / 403 GatewayError names what is wrong with its key. */
  authenticate(headers: IncomingHttpHeaders): Principal {
    if (this.open) return ANONYMOUS;
    const presented = clientKey(headers);
    if (presented === undefined) {
      throw new GatewayError('invalid_api_key', 'Missing API key. Send it as "Authorization: Bearer <key>" or "x-api-key: <key>".');
    }
    const { hash, master } = this.#presented(presented);
    if (master) return MASTER;
    const key = this.directory?.keyByHash(hash);
    if (!key) throw new GatewayError('invalid_api_key', 'Invalid API key. Check the key you configured in your client.');
    return this.#principal(key);
  }

  /** The master key alone (admin API). */
  isMaster(headers: IncomingHttpHeaders): boolean {
    const presented = clientKey(headers);
    return presented !== undefined && this.#presented(presented).master;
  }

  #principal(key: KeyRecord): Principal {
    const now = this.now();
    if (key.expires_at !== null && key.expires_at <= now) {
      throw new GatewayError('invalid_api_key', `This API key ("${key.name}") expired at ${new Date(key.expires_at).toISOString()}. Ask your administrator for a new one.`);
    }
    let principal = this.#principals.get(key);
    if (principal === undefined) {
      const team = this.directory!.team(key.team_id);
      const org = this.directory!.org(team?.org_id ?? null);
      principal = { master: false, key, team, org };
      this.#principals.set(key, principal);
    }
    return principal;
  }

  /** A presented key's digest, and whether it is the master key's (compared in constant time), computed once per string. */
  #presented(presented: string): Presented {
    let seen = this.#seen.get(presented);
    if (seen === undefined) {
      const hash = hashSecret(presented);
      seen = { hash, master: this.#master !== undefined && timingSafeEqual(Buffer.from(hash, 'hex'), this.#master) };
      if (presented.length <= MEMO_MAX_LENGTH) {
        // An attacker's stream of random keys would fill the map: start over when it is full.
        if (this.#seen.size >= MEMO_LIMIT) this.#seen.clear();
        this.#seen.set(presented, seen);
      }
    }
    return seen;
  }
}

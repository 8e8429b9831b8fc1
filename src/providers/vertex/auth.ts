/**
 * OAuth 2.0 access tokens for a Google service account: the JWT bearer grant (RFC 7523, Google's
 * "OAuth 2.0 for Server to Server Applications"). An assertion signed RS256 with the key's private
 * key is exchanged at the token endpoint for a bearer token, cached until shortly before it
 * expires; concurrent requests share one fetch.
 *
 * The key is read on first use, not at start-up: a gateway whose key is missing or broken still
 * starts and answers with a 502 naming what to configure (and tries the key again on the next
 * request). Messages name the key file but never hold key material, an assertion or a token.
 */
import { readFile } from 'node:fs/promises';
import { SignJWT, importPKCS8, type CryptoKey } from 'jose';
import { GatewayError } from '../../gateway/errors.js';
import type { CallSignal } from '../call-signal.js';
import { classifyTransportError, sendForText } from '../transport.js';
import { redactSecrets } from '../../gateway/redact-secrets.js';
import { plainErrorText } from '../upstream-errors.js';

export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
export const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** The longest assertion Google accepts (exp - iat). */
const ASSERTION_LIFETIME_S = 3600;
/** Used when the token endpoint gives no expires_in (Google always does; tokens live an hour). */
const DEFAULT_TOKEN_LIFETIME_S = 3600;
/** A token is replaced this long before it expires (at most half its life): requests in flight keep a valid one. */
const EARLY_REFRESH_MS = 5 * 60_000;
const TOKEN_FETCH_TIMEOUT_MS = 30_000;
/** The config keys a refused or broken key comes from (named in error messages). */
export const CREDENTIAL_KEYS = 'credentials_file / credentials_json';

/** Where the service-account key comes from: a JSON key file, or the same JSON inline. */
export type CredentialsSource = { kind: 'file'; path: string } | { kind: 'json'; text: string };

export interface ServiceAccountTokensOptions {
  /** The provider id, for messages and transport errors. */
  provider: string;
  credentials: CredentialsSource | undefined;
  /** Overrides the key's token_uri (default https://oauth2.googleapis.com/token). */
  tokenUrl?: string;
  /** Milliseconds since the epoch; tests move the clock. */
  now?: () => number;
}

interface SigningKey {
  email: string;
  key: CryptoKey;
  keyId?: string;
  tokenUrl: string;
}

interface CachedToken {
  value: string;
  /** When to fetch a new one (before the token's real expiry). */
  refreshAt: number;
}

export class ServiceAccountTokens {
  readonly #provider: string;
  readonly #credentials: CredentialsSource | undefined;
  readonly #tokenUrl: string | undefined;
  readonly #now: () => number;
  #key: Promise<SigningKey> | undefined;
  #cached: CachedToken | undefined;
  #pending: Promise<string> | undefined;

  constructor(options: ServiceAccountTokensOptions) {
    this.#provider = options.provider;
    this.#credentials = options.credentials;
    this.#tokenUrl = options.tokenUrl;
    this.#now = options.now ?? Date.now;
  }

  /**
   * A valid access token: the cached one, or the one being fetched, or a new fetch. `signal` only
   * stops this caller's wait; a fetch shared with other requests goes on.
   */
  token(signal: CallSignal): Promise<string> {
    const cached = this.#cached;
    if (cached && this.#now() < cached.refreshAt) return Promise.resolve(cached.value);
    if (!this.#pending) {
      const pending = this.#fetch().finally(() => {
        if (this.#pending === pending) this.#pending = undefined;
      });
      // Every waiter may have gone before it settles: its failure must not be an unhandled rejection.
      pending.catch(() => undefined);
      this.#pending = pending;
    }
    return untilAborted(this.#pending, signal, this.#provider);
  }

  /** Vertex refused `token` (401): forget it, so the next request fetches a new one. */
  invalidate(token: string): void {
    if (this.#cached?.value === token) this.#cached = undefined;
  }

  async #fetch(): Promise<string> {
    const key = await this.#signingKey();
    const sentAt = this.#now();
    const assertion = await this.#assertion(key, sentAt);
    const timeout = AbortSignal.timeout(TOKEN_FETCH_TIMEOUT_MS);
    let res;
    try {
      res = await sendForText({
        url: key.tokenUrl,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: JWT_BEARER_GRANT, assertion }).toString(),
        signal: timeout,
        provider: this.#provider,
      });
    } catch (err) {
      throw this.#unreachable(err, timeout);
    }
    if (res.statusCode < 200 || res.statusCode >= 300) throw this.#refused(res.statusCode, res.text);
    const { token, lifetimeMs } = this.#readToken(res.text);
    this.#cached = { value: token, refreshAt: sentAt + lifetimeMs - Math.min(EARLY_REFRESH_MS, lifetimeMs / 2) };
    return token;
  }

  #signingKey(): Promise<SigningKey> {
    if (!this.#key) {
      const loading = loadSigningKey(this.#credentials, this.#provider, this.#tokenUrl);
      // A failure is not kept: the file may be fixed (or mounted) while the gateway runs.
      loading.catch(() => {
        if (this.#key === loading) this.#key = undefined;
      });
      this.#key = loading;
    }
    return this.#key;
  }

  async #assertion(key: SigningKey, now: number): Promise<string> {
    const iat = Math.floor(now / 1000);
    try {
      return await new SignJWT({ scope: CLOUD_PLATFORM_SCOPE })
        .setProtectedHeader({ alg: 'RS256', typ: 'JWT', ...(key.keyId ? { kid: key.keyId } : {}) })
        .setIssuer(key.email)
        .setAudience(key.tokenUrl)
        .setIssuedAt(iat)
        .setExpirationTime(iat + ASSERTION_LIFETIME_S)
        .sign(key.key);
    } catch {
      throw this.#error('could not sign its token request with the service-account key');
    }
  }

  #readToken(text: string): { token: string; lifetimeMs: number } {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw this.#error('got an answer from the OAuth token endpoint that is not JSON');
    }
    const { access_token: token, expires_in: expiresIn } = (body ?? {}) as { access_token?: unknown; expires_in?: unknown };
    if (typeof token !== 'string' || token === '') throw this.#error('got an answer from the OAuth token endpoint without an access_token');
    const seconds = typeof expiresIn === 'string' ? Number(expiresIn) : expiresIn;
    const lifetime = typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0 ? seconds : DEFAULT_TOKEN_LIFETIME_S;
    return { token, lifetimeMs: lifetime * 1000 };
  }

  /** The token endpoint said no: its `error` / `error_description` (RFC 6749 §5.2) tell why. */
  #refused(status: number, text: string): GatewayError {
    let reason: string | undefined;
    try {
      const body = JSON.parse(text) as { error?: unknown; error_description?: unknown } | null;
      const parts = [body?.error, body?.error_description].filter((p): p is string => typeof p === 'string' && p !== '');
      if (parts.length > 0) reason = parts.join(': ');
    } catch {
      reason = plainErrorText(text);
    }
    const shown = reason ? `, ${withoutSecrets(reason)}` : '';
    return this.#error(`could not get an access token for its service account (HTTP ${status}${shown}). Check its service-account key (${CREDENTIAL_KEYS}): the key must be current and the account enabled`);
  }

  #unreachable(err: unknown, timeout: AbortSignal): GatewayError {
    if (timeout.aborted) {
      return new GatewayError('upstream_timeout', `The Vertex provider "${this.#provider}" could not get an access token: the OAuth token endpoint did not answer in time.`, { provider: this.#provider });
    }
    const classified = classifyTransportError(err, this.#provider);
    const what = classified instanceof GatewayError ? classified.message : 'The OAuth token endpoint could not be reached.';
    return this.#error(`could not reach the OAuth token endpoint (${what})`, err);
  }

  #error(what: string, cause?: unknown): GatewayError {
    return new GatewayError('upstream_error', `The Vertex provider "${this.#provider}" ${what}.`, { provider: this.#provider, ...(cause === undefined ? {} : { cause }) });
  }
}

/** Reads and checks the key: a service-account JSON with client_email and an RSA private_key. */
async function loadSigningKey(source: CredentialsSource | undefined, provider: string, tokenUrl: string | undefined): Promise<SigningKey> {
  const fail = (what: string): GatewayError => new GatewayError('upstream_error', `The Vertex provider "${provider}" ${what}.`, { provider });
  if (!source) {
    throw fail('has no service-account credentials: set credentials_file (the path of a service-account JSON key) or credentials_json in its configuration, or the GOOGLE_APPLICATION_CREDENTIALS environment variable');
  }
  const where = source.kind === 'file' ? `service-account key file "${source.path}"` : 'credentials_json';
  let text: string;
  if (source.kind === 'file') {
    try {
      text = await readFile(source.path, 'utf8');
    } catch (err) {
      throw fail(`cannot read its ${where} (${readProblem(err)}): set credentials_file or GOOGLE_APPLICATION_CREDENTIALS to a service-account JSON key`);
    }
  } else {
    text = source.text;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // JSON.parse's own message quotes the text around the fault: it could be key material.
    throw fail(`cannot use its ${where}: it is not valid JSON`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw fail(`cannot use its ${where}: it is not a JSON object`);
  const key = parsed as { type?: unknown; client_email?: unknown; private_key?: unknown; private_key_id?: unknown; token_uri?: unknown };
  if (key.type !== undefined && key.type !== 'service_account') {
    const type = typeof key.type === 'string' ? JSON.stringify(key.type.slice(0, 40)) : 'an unknown';
    throw fail(`cannot use its ${where}: it holds ${type} credential, and the vertex provider needs a service-account key (type "service_account")`);
  }
  if (typeof key.client_email !== 'string' || key.client_email === '') throw fail(`cannot use its ${where}: it has no client_email`);
  if (typeof key.private_key !== 'string' || key.private_key === '') throw fail(`cannot use its ${where}: it has no private_key`);
  let cryptoKey: CryptoKey;
  try {
    cryptoKey = await importPKCS8(key.private_key, 'RS256');
  } catch {
    throw fail(`cannot use its ${where}: its private_key is not an RSA private key in PEM (PKCS#8) form`);
  }
  const url = tokenUrl ?? (typeof key.token_uri === 'string' && key.token_uri !== '' ? key.token_uri : GOOGLE_TOKEN_URL);
  if (!URL.canParse(url)) throw fail(`cannot use its ${where}: its token_uri is not a URL`);
  return { email: key.client_email, key: cryptoKey, tokenUrl: url, ...(typeof key.private_key_id === 'string' && key.private_key_id !== '' ? { keyId: key.private_key_id } : {}) };
}

function readProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOENT') return 'file not found';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return code ? `error ${code}` : 'unreadable';
}

const JWT_LIKE = /\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;
const BEARER_TOKEN_LIKE = /\bya29\.[A-Za-z0-9_.-]+/g;

/** An endpoint's words, minus anything shaped like an assertion, a token or a key. */
function withoutSecrets(text: string): string {
  return redactSecrets(text.replace(JWT_LIKE, '[redacted]').replace(BEARER_TOKEN_LIKE, '[redacted]')).slice(0, 300);
}

/** `promise`, or the signal's abort reason if it aborts first (the promise carries on for others). */
function untilAborted<T>(promise: Promise<T>, signal: CallSignal, provider: string): Promise<T> {
  if (signal.aborted) return Promise.reject(waitingForToken(classifyTransportError(signal.reason, provider, signal), provider));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(waitingForToken(classifyTransportError(signal.reason, provider, signal), provider));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/**
 * An attempt that timed out while it waited for the access token says so: "did not start
 * answering" alone sends the operator to Vertex, when it was the OAuth token endpoint that hung.
 */
function waitingForToken(err: unknown, provider: string): unknown {
  if (!(err instanceof GatewayError) || err.code !== 'upstream_timeout') return err;
  return new GatewayError('upstream_timeout', `${err.message} It was still waiting for an access token: the OAuth token endpoint (the key's token_uri) has not answered.`, { provider, cause: err });
}

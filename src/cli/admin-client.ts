/**
 * The CLI's side of the admin API: where the gateway is and the master key (flags, else the
 * environment), one JSON request helper (global fetch: a CLI is not the hot path), and every
 * failure turned into a message a user can act on: the API's own error message, or an unreachable
 * gateway named with how to point at another one.
 */

export const DEFAULT_URL = 'http://localhost:8080';
/** A CLI call should fail, not hang, when the gateway accepts the connection but never answers. */
const TIMEOUT_MS = 30_000;

/** Options every admin command takes (node:util parseArgs configs). */
export const COMMON_OPTIONS = {
  url: { type: 'string' },
  'master-key': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const COMMON_USAGE = `Common options:
  --url URL            the gateway (default: SWITCHYARD_URL, else ${DEFAULT_URL})
  --master-key KEY     the master key (default: SWITCHYARD_MASTER_KEY)
  --json               print the API's JSON instead of text`;

/** A mistake in the command line: shown with the command's usage. */
export class AdminUsageError extends Error {}

/** A failure the user can act on (the API refused, the gateway is unreachable): shown as is. */
export class AdminError extends Error {}

export interface Connection {
  /** The gateway's base URL, without a trailing slash. */
  url: string;
  masterKey: string;
}

export function resolveConnection(flags: { url?: string | undefined; 'master-key'?: string | undefined }, env: NodeJS.ProcessEnv): Connection {
  const url = flags.url ?? (env.SWITCHYARD_URL || DEFAULT_URL);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new AdminUsageError(`--url: "${url}" is not a URL (expected something like ${DEFAULT_URL})`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new AdminUsageError(`--url: "${url}" is not an http(s) URL`);
  const masterKey = flags['master-key'] ?? (env.SWITCHYARD_MASTER_KEY || undefined);
  if (!masterKey) throw new AdminUsageError('the admin commands need the master key: set SWITCHYARD_MASTER_KEY or pass --master-key');
  return { url: url.replace(/\/+$/, ''), masterKey };
}

export interface AdminRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Under /admin, e.g. `/keys`. */
  path: string;
  /** Undefined values are left out. */
  query?: Record<string, string | undefined>;
  body?: unknown;
}

/** The request's full URL: the base (which may carry a path prefix), /admin, the path, the query. */
export function requestUrl(baseUrl: string, request: AdminRequest): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(request.query ?? {})) if (value !== undefined) params.set(name, value);
  const query = params.size > 0 ? `?${params.toString()}` : '';
  return `${baseUrl}/admin${request.path}${query}`;
}

/** Sends `request` and returns the parsed JSON answer, or throws an AdminError saying what went wrong. */
export async function callAdmin<T>(connection: Connection, request: AdminRequest, fetchImpl: typeof fetch = fetch): Promise<T> {
  let response: Response;
  try {
    response = await fetchImpl(requestUrl(connection.url, request), {
      method: request.method,
      headers: { authorization: `Bearer ${connection.masterKey}`, ...(request.body !== undefined && { 'content-type': 'application/json' }) },
      body: request.body === undefined ? undefined : JSON.stringify(request.body),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    throw new AdminError(unreachableMessage(connection.url, err));
  }
  let text: string;
  try {
    text = await response.text();
  } catch (err) {
    throw new AdminError(unreachableMessage(connection.url, err));
  }
  if (!response.ok) throw new AdminError(apiErrorMessage(response.status, text));
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new AdminError(`the gateway at ${connection.url} answered ${response.status} with something other than JSON: is it a Switchyard gateway?`);
  }
}

/** The API's message from OpenAI's error shape `{"error":{"message"}}`, else the status and the start of the body. */
export function apiErrorMessage(status: number, text: string): string {
  try {
    const message = (JSON.parse(text) as { error?: { message?: unknown } } | null)?.error?.message;
    if (typeof message === 'string' && message !== '') return message;
  } catch {
    // Not JSON (a proxy's page, say): fall through to the raw answer.
  }
  const body = text.trim().slice(0, 200);
  return `the gateway answered HTTP ${status}${body ? `: ${body}` : ''}`;
}

/** Why fetch failed, in the user's terms: a refused connection means the gateway is not running there. */
export function unreachableMessage(url: string, err: unknown): string {
  if ((err as Error | null)?.name === 'TimeoutError') return `the gateway at ${url} did not answer within ${TIMEOUT_MS / 1000} s`;
  const hint = 'is it running? (set --url or SWITCHYARD_URL)';
  const cause = (err as { cause?: { code?: unknown; message?: unknown; errors?: { code?: unknown }[] } } | null)?.cause;
  // "localhost" may resolve to several addresses: each refusal then sits in an AggregateError.
  const codes = [cause?.code, ...(cause?.errors ?? []).map((inner) => inner.code)];
  if (codes.includes('ECONNREFUSED')) return `cannot reach the gateway at ${url}: ${hint}`;
  const detail = typeof cause?.message === 'string' && cause.message !== '' ? cause.message : (err as Error | null)?.message;
  return `cannot reach the gateway at ${url} (${detail ?? String(err)}): ${hint}`;
}

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

export const processIo: CliIo = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
};

/**
 * Runs an admin command and returns its exit code: 0 when it succeeded, 1 after printing why it
 * did not (with the usage for a command-line mistake). Anything else is a bug and propagates.
 */
export async function runAdminCommand(usage: string, io: CliIo, run: () => Promise<void>): Promise<number> {
  try {
    await run();
    return 0;
  } catch (err) {
    if (err instanceof AdminError) {
      io.stderr(`switchyard: ${err.message}\n`);
      return 1;
    }
    const code = (err as NodeJS.ErrnoException | null)?.code;
    if (err instanceof AdminUsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_'))) {
      io.stderr(`switchyard: ${(err as Error).message}\n\n${usage}\n`);
      return 1;
    }
    throw err;
  }
}

/** `--flag` as a whole number at least `min`. */
export function integerFlag(flag: string, text: string | undefined, min: number): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text.trim()) || Number(text) < min) throw new AdminUsageError(`--${flag}: expected a whole number${min > 0 ? ` of at least ${min}` : ''}, got "${text}"`);
  return Number(text);
}

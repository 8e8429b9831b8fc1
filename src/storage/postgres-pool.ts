/**
 * The PostgreSQL connection pool, in a module of its own: `database.ts` loads it (and the pg
 * driver with it) only for a `postgres://` storage URL, so a gateway on SQLite never holds the
 * driver's code.
 */
import pg from 'pg';

/** Connecting (TCP plus the PostgreSQL handshake) gives up after this long. */
const CONNECT_TIMEOUT_MS = 5_000;
/**
 * A query whose answer has not come after this long fails (pg's client-side query_timeout). A
 * server that stops answering without closing its connections (paused, a network partition that
 * drops packets) would otherwise hold admin requests, directory polls and shutdown forever. The
 * gateway's own queries take milliseconds.
 */
const QUERY_TIMEOUT_MS = 15_000;
/**
 * TCP keep-alive probes start after a connection was silent this long (the system's probe
 * interval and count then decide when a dead peer is given up: minutes on Linux's defaults).
 * Idle connections are closed after 10 s anyway (pg-pool's idleTimeoutMillis); a query waiting
 * on a silent server ends at QUERY_TIMEOUT_MS.
 */
const KEEP_ALIVE_DELAY_MS = 10_000;
const POOL_SIZE = 10;
const INT8_OID = 20;
/** pg's error when query_timeout expires (it has no code). */
const READ_TIMEOUT = 'Query read timeout';

export interface PoolOptions {
  /** Default QUERY_TIMEOUT_MS. */
  queryTimeoutMs?: number;
  /** Default POOL_SIZE. */
  max?: number;
}

/**
 * A connection whose query timed out is closed. pg gives up on the query but not on the
 * connection: the query stays on it, so every later query there waited behind it (on a server
 * that never answers, forever, each one timing out in turn), and the pool handed it out again.
 * Ended, the pool drops it at release and opens a fresh one.
 */
class Connection extends pg.Client {}

const query = pg.Client.prototype.query as (this: pg.Client, ...args: unknown[]) => unknown;
Connection.prototype.query = function (this: Connection, ...args: unknown[]): unknown {
  // Kysely's form returns a promise (pool.query, with a callback, releases a failed connection with its error: pg-pool drops it).
  const result = query.apply(this, args);
  if (result instanceof Promise) result.catch((err: unknown) => closeIfTimedOut(this, err));
  return result;
} as typeof pg.Client.prototype.query;

function closeIfTimedOut(connection: Connection, err: unknown): void {
  // end() drops a connection with a query still on it at once (pg destroys the socket). In a
  // transaction, Kysely then throws its rollback's error ("Client was closed and is not
  // queryable"), which storage/errors.ts counts as the database unavailable, as the timeout.
  if (err instanceof Error && err.message === READ_TIMEOUT) connection.end().catch(() => undefined);
}

export function createPool(url: string, schema: string | undefined, onError: ((err: Error) => void) | undefined, options: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    Client: Connection,
    connectionString: url,
    max: options.max ?? POOL_SIZE,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    query_timeout: options.queryTimeoutMs ?? QUERY_TIMEOUT_MS,
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEP_ALIVE_DELAY_MS,
    // bigint columns (epoch ms, counters, ids) arrive as numbers; only this pool parses them so,
    // other pg users in the process keep the default strings. All of them stay below 2^53.
    types: { getTypeParser: (oid, format) => (oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format)) },
    // Set at connection start-up, so every pooled connection sees the schema before its first query.
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  // Without a listener a connection's failure would crash the process: pg-pool listens on idle
  // clients only ('error' on the pool), and nobody on a checked-out one (a reset mid-transaction).
  // The failed query itself still rejects, and its caller retries.
  pool.on('error', (err) => onError?.(err));
  pool.on('connect', (client) => client.on('error', (err) => onError?.(err)));
  return pool;
}

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
 * gateway's own queries take milliseconds; the connection stays, and serves again if the server
 * comes back.
 */
const QUERY_TIMEOUT_MS = 15_000;
const POOL_SIZE = 10;
const INT8_OID = 20;

export function createPool(url: string, schema: string | undefined, onError: ((err: Error) => void) | undefined): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: POOL_SIZE,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    query_timeout: QUERY_TIMEOUT_MS,
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

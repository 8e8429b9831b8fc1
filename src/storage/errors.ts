/**
 * The storage errors callers act on (the admin API maps ConflictError to 409 and NotFoundError to
 * 404), and the recognition of the constraint violations both drivers raise, so neither SQLite's
 * nor PostgreSQL's error codes leak past this folder.
 */

/** A write that contradicts what is stored: a duplicate id or key hash, a missing parent, a parent that still has children. */
export class ConflictError extends Error {
  override readonly name = 'ConflictError';
}

/** The id names no stored entity. */
export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
}

export type ConstraintViolation = 'foreign_key' | 'unique';

/**
 * Which constraint a driver error violated, if any. better-sqlite3 puts SQLite's extended result
 * code in `code`; pg puts the SQLSTATE there (23503 foreign_key_violation, 23505 unique_violation).
 */
export function constraintViolation(err: unknown): ConstraintViolation | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || code === '23503') return 'foreign_key';
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505') return 'unique';
  return undefined;
}

/** The constraint violation's own words (SQLite names the columns, pg the constraint), to tell which unique column clashed. */
export function violationDetail(err: unknown): string {
  const e = err as { message?: unknown; constraint?: unknown };
  return `${String(e.message ?? '')} ${String(e.constraint ?? '')}`;
}

/**
 * Whether a failed write was refused for the values it carried, which no retry can change: a
 * PostgreSQL data exception or integrity violation (SQLSTATE classes 22 and 23: an invalid byte
 * sequence, a number out of range, a NOT NULL column given null), or SQLite's constraint, type and
 * size errors. Nothing else is: a lost connection, a busy or full database, and errors without a
 * driver code (pg throws a TypeError on some broken connections) are retried as they are.
 */
export function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  if (/^2[23][0-9A-Z]{3}$/.test(code)) return true;
  return code.startsWith('SQLITE_CONSTRAINT') || code === 'SQLITE_MISMATCH' || code === 'SQLITE_TOOBIG' || code === 'SQLITE_RANGE';
}

/**
 * Whether a failure says the database cannot be reached or answer now (rather than that the query
 * is wrong): pg's own connection failures (refused, reset, terminated, the pool's connect timeout,
 * the query timeout of a server that stopped answering), PostgreSQL's SQLSTATE classes 08
 * (connection exception) and 57P (operator intervention: shutdown, crash, starting up), and
 * SQLite's busy, locked, I/O, full and cannot-open results. The admin API answers these with a 503.
 */
export function isStorageUnavailable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = e?.code;
  if (typeof code === 'string') {
    if (/^(08[0-9A-Z]{3}|57P0[1-4])$/.test(code)) return true;
    if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'ETIMEDOUT' || code === 'EHOSTUNREACH' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EPIPE') return true;
    if (/^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY)/.test(code)) return true;
  }
  const message = typeof e?.message === 'string' ? e.message : '';
  return /^(Query read timeout|Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed)/.test(message);
}

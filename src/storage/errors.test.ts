import { describe, expect, it } from 'vitest';
import { isStorageUnavailable } from './errors.js';

const withCode = (code: string, message = 'x'): Error => Object.assign(new Error(message), { code });

describe('isStorageUnavailable', () => {
  it.each([
    ['a refused connection', withCode('ECONNREFUSED')],
    ['a reset connection', withCode('ECONNRESET')],
    ['PostgreSQL shutting down (57P01)', withCode('57P01', 'terminating connection due to administrator command')],
    ['PostgreSQL starting up (57P03)', withCode('57P03', 'the database system is starting up')],
    ['a connection exception (08006)', withCode('08006')],
    ["pg's query timeout", new Error('Query read timeout')],
    ["pg's pool connect timeout", new Error('timeout exceeded when trying to connect')],
    ['a connection terminated mid-query', new Error('Connection terminated unexpectedly')],
    ['SQLite busy', withCode('SQLITE_BUSY', 'database is locked')],
    ['SQLite I/O error', withCode('SQLITE_IOERR_WRITE')],
    ['SQLite disk full', withCode('SQLITE_FULL')],
  ])('takes %s as the database being unavailable', (_label, err) => {
    expect(isStorageUnavailable(err)).toBe(true);
  });

  it.each([
    ['a unique violation (23505)', withCode('23505')],
    ['a syntax error (42601)', withCode('42601')],
    ['a SQLite constraint', withCode('SQLITE_CONSTRAINT_UNIQUE')],
    ['a plain bug', new TypeError("Cannot read properties of undefined (reading 'id')")],
    ['no error at all', undefined],
  ])('does not take %s for it', (_label, err) => {
    expect(isStorageUnavailable(err)).toBe(false);
  });
});

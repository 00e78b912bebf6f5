/** SQLite's failures as TenureErrors that say what happened to the file and what to do. */
import { TenureError } from '../../errors.js';
import { isBusy } from './busy.js';

/** The extended result code of a better-sqlite3 error (`SQLITE_FULL`, `SQLITE_CORRUPT_INDEX`...). */
function sqliteCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined;
}

/**
 * Maps a SQLite error to a TenureError: a lock held by another process past busyTimeoutMs and a
 * full disk to TENURE_UNAVAILABLE (retryable), a damaged file to TENURE_CORRUPT, an I/O error or
 * a file that cannot be opened to TENURE_STORE_UNUSABLE (final). TenureErrors and other errors (bugs) pass through.
 */
export function mapSqliteError(err: unknown, path: string): unknown {
  if (err instanceof TenureError) return err;
  const code = sqliteCode(err);
  if (code === undefined) return err;
  const details = { path, sqliteCode: code };
  if (isBusy(err))
    return new TenureError(
      'TENURE_UNAVAILABLE',
      'the SQLite file stayed locked by another process past busyTimeoutMs',
      { cause: err, details },
    );
  if (code === 'SQLITE_FULL')
    return new TenureError(
      'TENURE_UNAVAILABLE',
      `the SQLite store ${path} cannot grow: the disk holding it is full (or the store reached its maxBytes); free space, then retry`,
      { cause: err, details },
    );
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB')
    return new TenureError(
      'TENURE_CORRUPT',
      `the SQLite store ${path} is damaged (${code}): stop its users, move the file away (a new one at the same path starts above every revision handed out before) or restore a backup`,
      { cause: err, details },
    );
  // The file cannot be opened, read or written (gone, no permission, a failing disk): final, a
  // person must look (see errors.ts for the rule).
  if (code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_CANTOPEN'))
    return new TenureError(
      'TENURE_STORE_UNUSABLE',
      `the SQLite store ${path} cannot be read or written (${code}): check the file, its folder and their permissions`,
      { cause: err, details },
    );
  return err;
}

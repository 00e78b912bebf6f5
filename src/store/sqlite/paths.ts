/**
 * Where a SQLite store lives and who may read it: plain paths only, the per-user default, folders
 * that are never created by surprise, and files private to their owner (or shared with a group on
 * request) whatever the process's umask.
 */
import { chmodSync, closeSync, fchmodSync, mkdirSync, openSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { TenureError, invalidArgument } from '../../errors.js';

/**
 * The default store of the CLI: `~/.local/state/tenure/store.db`, where `~` is the home folder of
 * the user the process runs as, read from the user database (getpwuid), not from `$HOME` or
 * `$XDG_STATE_HOME`. Those variables differ between a login shell, cron, systemd units and sudo,
 * and a default that follows them would give two processes of one user two stores: the one
 * mistake a lock cannot survive. Every process of the same user on the same host gets the same
 * file; processes of different users do not share it (a host-wide default would need a folder
 * every user can write, such as /tmp, where any user can plant or replace the file).
 */
export function defaultSqlitePath(): string {
  return join(userInfo().homedir, '.local', 'state', 'tenure', 'store.db');
}

/** The file modes a store may be created with: private (the default) or shared with its group. */
export const SQLITE_FILE_MODES: readonly number[] = Object.freeze([0o600, 0o660]);

/** The folder mode that goes with a file mode: 0700 for private files, 0770 for a group's. */
export function folderModeFor(fileMode: number): number {
  return fileMode === 0o660 ? 0o770 : 0o700;
}

/**
 * Checks that `path` names a plain file: SQLite gives special meaning to an empty name (a private
 * temporary database), `:memory:` and `file:` URIs, and a NUL byte ends the name early (so
 * `x\0.db` opens `x`). Control characters are refused too: they make paths that print as others.
 * @throws TENURE_INVALID_ARGUMENT naming `name`.
 */
export function checkPlainPath(path: unknown, name = 'options.path'): asserts path is string {
  if (typeof path !== 'string' || path.length === 0)
    throw invalidArgument(name, 'must be a non-empty file path');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path))
    throw invalidArgument(name, `must not contain NUL or control characters: ${JSON.stringify(path)}`);
  if (path.startsWith(':') || /^file:/i.test(path))
    throw invalidArgument(
      name,
      `must be a plain file path, not a SQLite special name or URI (${JSON.stringify(path)}): a store in memory excludes nothing across processes`,
    );
  if (path.endsWith('/'))
    throw invalidArgument(name, `must name a file, not a folder: ${JSON.stringify(path)}`);
}

/** @throws TENURE_INVALID_ARGUMENT unless `mode` is one of {@link SQLITE_FILE_MODES}. */
export function checkFileMode(mode: unknown, name = 'options.fileMode'): asserts mode is number {
  if (typeof mode !== 'number' || !SQLITE_FILE_MODES.includes(mode))
    throw invalidArgument(
      name,
      `must be 0o600 (owner only, the default) or 0o660 (shared with the file's group); got ${typeof mode === 'number' && Number.isInteger(mode) && mode >= 0 ? `0o${mode.toString(8)}` : String(mode)}`,
    );
}

/**
 * Makes sure the folder of a store exists. A missing folder is created (with its missing parents,
 * each with `folderMode`, whatever the umask) only when `create` is set: the CLI sets it for its
 * default store alone, so a typo in `--store` is an error rather than a new, empty store.
 * @throws TENURE_INVALID_ARGUMENT when the folder is missing and may not be created (the message
 * names it and the mkdir that creates it);
 * TENURE_STORE_UNUSABLE when creating it fails or a part of the path is not a folder.
 */
export function prepareFolder(dir: string, create: boolean, folderMode: number): void {
  const missing: string[] = [];
  for (let d = resolve(dir); ; d = dirname(d)) {
    const stat = statSync(d, { throwIfNoEntry: false });
    if (stat !== undefined) {
      if (!stat.isDirectory())
        throw new TenureError('TENURE_STORE_UNUSABLE', `cannot open the SQLite store: ${d} is not a folder`, {
          details: { path: d },
        });
      break;
    }
    missing.push(d);
    if (dirname(d) === d) break;
  }
  if (missing.length === 0) {
    if (create) checkFolderIsPrivate(resolve(dir), folderMode);
    return;
  }
  if (!create)
    throw new TenureError(
      'TENURE_INVALID_ARGUMENT',
      `the folder of the SQLite store, ${resolve(dir)}, does not exist: create it first (mkdir -m 0700 -p ${resolve(dir)}); only the default store's folder is created`,
      { details: { argument: 'options.path', path: resolve(dir) } },
    );
  try {
    for (const d of missing.reverse()) {
      mkdirSync(d, { mode: folderMode });
      chmodSync(d, folderMode); // mkdir's mode is filtered by the umask
    }
  } catch (err) {
    throw new TenureError(
      'TENURE_STORE_UNUSABLE',
      `cannot create the folder of the SQLite store ${resolve(dir)}: ${(err as Error).message}`,
      { cause: err, details: { path: resolve(dir) } },
    );
  }
}

/**
 * For a folder tenure would have created itself (the default store's): refuses one that other
 * users can write, or that belongs to another user, since whoever can write the folder can replace
 * the store and hand out any fencing token.
 * @throws TENURE_INVALID_ARGUMENT naming the folder and the chmod that fixes it.
 */
function checkFolderIsPrivate(dir: string, folderMode: number): void {
  const stat = statSync(dir);
  const uid = process.getuid?.();
  const tooOpen = stat.mode & 0o777 & ~folderMode & 0o022;
  if (uid !== undefined && stat.uid !== uid)
    throw invalidArgument('options.path', `is in ${dir}, which belongs to another user (uid ${stat.uid})`, {
      path: dir,
    });
  if (tooOpen !== 0)
    throw invalidArgument(
      'options.path',
      `is in ${dir}, which other users can write (mode 0${(stat.mode & 0o777).toString(8)}): they could replace the store; chmod ${folderMode.toString(8)} ${dir}`,
      { path: dir },
    );
}

/**
 * Creates the database file empty with `fileMode` (whatever the umask) unless it exists. SQLite
 * then gives its -wal and -shm files the same mode as the database file.
 * @returns whether this call created it.
 */
export function createFileIfMissing(path: string, fileMode: number): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', fileMode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new TenureError(
      'TENURE_STORE_UNUSABLE',
      `cannot create the SQLite store ${path}: ${(err as Error).message}`,
      { cause: err, details: { path } },
    );
  }
  try {
    fchmodSync(fd, fileMode);
  } finally {
    closeSync(fd);
  }
  return true;
}

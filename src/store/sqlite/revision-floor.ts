/**
 * A store's revisions never go below a revision handed out before at the same path, even when the
 * database file is deleted, replaced, truncated or restored from an older copy. Fencing tokens are
 * create revisions: a revision handed out twice is a token handed out twice.
 *
 * The floor lives outside the database, in a small file next to it (`<db>-revisions`): the highest
 * revision *reserved* at this path. Before a write hands out a revision above the reservation, it
 * reserves the next {@link REVISION_BLOCK} revisions there (written and fsynced before the
 * transaction commits), so the file costs one small write per block, not per revision. Every
 * revision ever handed out is at most the reservation, which is why:
 *
 * - a connection's first revision is above the reservation (a file restored from an older copy
 *   cannot make it reissue one, and neither can a power loss that took the last commits with it:
 *   the reservation was fsynced before them);
 * - a new file starts a whole block above the reservation (a process still writing to the file
 *   that was deleted can have reserved one more block before it notices), and never below the
 *   wall clock in microseconds, the floor that remains when the reservation file was deleted too
 *   (it holds unless the clock was set back, or the old store handed out more than one revision
 *   per microsecond of its life).
 *
 * Every access to this file happens inside a write transaction of the database, so the database's
 * write lock serializes them.
 */
import {
  closeSync,
  constants,
  fchmodSync,
  fdatasyncSync,
  fsyncSync,
  openSync,
  readFileSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { TenureError } from '../../errors.js';

/** Revisions reserved at a time: one fsynced write of the reservation file per this many writes. */
export const REVISION_BLOCK = 1000;

/** The path of the reservation file of the database at `path`. */
export function reservationPath(path: string): string {
  return `${path}-revisions`;
}

/** The reservation recorded at `file`, or undefined if the file is missing or unreadable. */
export function readReservation(file: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'latin1');
  } catch {
    return undefined;
  }
  const match = /^\s*(\d{1,16})\s*$/.exec(text);
  const n = match ? Number(match[1]) : NaN;
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * Records `revision` as the reservation at `file`, durably (fsync) before returning, unless the
 * file already holds a higher one. The record is one fixed-width line rewritten in place: a
 * single sector, so a crash leaves the old value or the new one.
 */
export function writeReservation(file: string, revision: number, fileMode: number): void {
  // Never lower it: a process still writing to a file that was just replaced (it notices at its
  // next transaction) must not undo the reservation of the file that replaced it.
  const current = readReservation(file);
  if (current !== undefined && current >= revision) return;
  let fd: number | undefined;
  let created = false;
  try {
    try {
      fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, fileMode);
      created = true;
      fchmodSync(fd, fileMode); // the umask filtered the mode given to open
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // An existing file keeps its mode (a group-shared store stays shared); no O_TRUNC: the
      // record is overwritten in place.
      fd = openSync(file, constants.O_WRONLY);
    }
    writeSync(fd, `${String(revision).padStart(16, '0')}\n`, 0, 'latin1');
    fdatasyncSync(fd);
    if (created) syncFolder(dirname(file)); // a power loss must not lose the new name either
  } catch (err) {
    throw new TenureError(
      'TENURE_UNAVAILABLE',
      `cannot record the revision reservation in ${file}: ${(err as Error).message}`,
      { cause: err, details: { path: file } },
    );
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function syncFolder(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The wall clock in microseconds: the floor of a new file when no reservation survives. */
export function wallClockMicros(): number {
  return Date.now() * 1000;
}

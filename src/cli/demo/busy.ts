/**
 * The demo's resources are SQLite files shared by its worker processes. A worker stopped by
 * SIGSTOP inside one of their transactions keeps the file's write lock until SIGCONT, and
 * better-sqlite3 waits for a lock on the main thread: a long wait would freeze the other
 * workers' event loops and expire their sessions. Workers therefore wait only briefly and treat
 * a still-locked resource as busy for now.
 */

import { isBusy } from '../../store/sqlite/busy.js';

/** How long a worker waits for a resource's write lock before calling it busy. */
export const WORKER_BUSY_TIMEOUT_MS = 50;

/** Runs `access`; undefined when the resource stayed locked by another process (see isBusy). */
export function unlessBusy<T>(access: () => T): T | undefined {
  try {
    return access();
  } catch (err) {
    if (isBusy(err)) return undefined;
    throw err;
  }
}

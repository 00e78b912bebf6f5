/** The options of a SQLite store: each with its default and the reason for it, and their validation. */
import { clockOption, systemClock, type Clock } from '../../clock.js';
import { invalidArgument } from '../../errors.js';
import { checkInteger } from '../validate.js';
import { checkFileMode, checkPlainPath } from './paths.js';

/** Options of {@link SqliteStore}. */
export interface SqliteStoreOptions {
  /**
   * Path of the database file: a plain path on a local disk (no NUL or control characters, not
   * `:memory:` or a `file:` URI). Next to it live SQLite's `-wal` and `-shm` files and tenure's
   * `-revisions` file (the revision reservation, see revision-floor.ts): keep them together.
   */
  path: string;
  /**
   * Create the database file if it is missing. Tools that only read a store (status, watch, a
   * dashboard) set false, so that a wrong path is an error naming it, not a new empty store.
   * @default true
   */
  create?: boolean;
  /**
   * Create the file's folder, and its missing parents, if missing (mode 0700, or 0770 with
   * `fileMode: 0o660`, whatever the umask).
   * @default false — a mistyped path is an error naming the folder, not a new store nobody else
   * uses. The CLI sets it for its default store only.
   */
  createFolder?: boolean;
  /**
   * Mode of the files this store creates (database, -wal, -shm, -revisions), whatever the umask:
   * `0o600` (the owner only) or `0o660` (the file's group too, for processes of several users
   * sharing a store: the folder must then be group-writable, so every member of the group can
   * also replace the store). Existing files keep their mode.
   * @default 0o600 — lock names, owners and member data are nobody else's business, and whoever
   * can write the files can hand out any fencing token.
   */
  fileMode?: number;
  /**
   * The largest the database file may grow, in bytes (SQLite's max_page_count). A write that
   * would pass it fails like one on a full disk: TENURE_UNAVAILABLE, saying so.
   * @default unlimited (the disk's free space)
   */
  maxBytes?: number;
  /**
   * Where the kernel cannot report changes to the WAL file: how often an open store with active
   * watches checks the file for other processes' commits while changes are flowing (one was seen
   * in the last second). With change notifications, the check runs every `reapIntervalMs` as a
   * safety net only.
   * @default 10 — delivers a change to another process in ~5 ms on average, ≤ 10 ms plus the read.
   */
  pollIntervalMs?: number;
  /**
   * Where the kernel cannot report changes: the check interval once no change has been seen for
   * a second, the longest a first change after a quiet spell waits to be noticed.
   * @default 25 — keeps an idle watch near 1% of a core (a Node timer alone costs ~0.6% at this
   * rate here) while bounding delivery after a quiet spell to ~25 ms.
   */
  idlePollIntervalMs?: number;
  /**
   * How often every open store looks for expired leases, bounding how late after its ttl a
   * lease's keys are deleted when nobody else touches the store.
   * @default 100 — a tenth of a one-second ttl; the check is one indexed query.
   */
  reapIntervalMs?: number;
  /**
   * How long a write waits for another process's write lock before failing with
   * TENURE_UNAVAILABLE. Writes hold the lock for well under a millisecond, but a process stopped
   * inside a write (SIGSTOP, a debugger) holds it until it resumes: the wait is made in 5 ms
   * steps with the event loop running in between, so timers (a session's expiry) stay on time.
   * @default 5000
   */
  busyTimeoutMs?: number;
  /**
   * Revisions of change history kept for watches to resume from.
   * @default 10000
   */
  retainRevisions?: number;
  /**
   * SQLite's `synchronous` setting. 'normal' survives any process crash (SIGKILL); 'full' also
   * survives power loss and kernel panics, at the cost of an fsync per transaction.
   * @default 'normal'
   */
  synchronous?: 'normal' | 'full';
  /**
   * The clock this process's timers and pauses run on: the reaper and watch ticker
   * (`reapIntervalMs`, `pollIntervalMs`) and the pauses between busy retries (`busyTimeoutMs`).
   * Lease expiry does not run on it: leases are shared by every process of the host, so they run
   * on the host's monotonic clock, which every process reads alike (see host-clock.ts). With a
   * ManualClock, an expired lease is still reaped by the next call of any process that touches
   * the store, but this store's reaper runs only when the clock is advanced.
   * @default systemClock
   */
  clock?: Clock;
}

/** Defaults of {@link SqliteStoreOptions}. */
export const SQLITE_STORE_DEFAULTS = Object.freeze({
  pollIntervalMs: 10,
  idlePollIntervalMs: 25,
  reapIntervalMs: 100,
  busyTimeoutMs: 5000,
  retainRevisions: 10_000,
  synchronous: 'normal' as const,
  create: true,
  createFolder: false,
  fileMode: 0o600,
  clock: systemClock,
});

/** Options with every default filled in. */
export type ResolvedSqliteStoreOptions = Required<Omit<SqliteStoreOptions, 'maxBytes'>> &
  Pick<SqliteStoreOptions, 'maxBytes'>;

/**
 * Fills in the defaults (an option given as undefined takes its default) and validates every
 * option, relations between them included.
 * @throws TENURE_INVALID_ARGUMENT naming the option and the accepted range.
 */
export function resolveSqliteStoreOptions(options: SqliteStoreOptions): ResolvedSqliteStoreOptions {
  if (options === null || typeof options !== 'object') throw invalidArgument('options', 'must be an object');
  checkPlainPath(options.path);
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const o = { ...SQLITE_STORE_DEFAULTS, ...given } as ResolvedSqliteStoreOptions;
  checkInteger(o.pollIntervalMs, 'options.pollIntervalMs', 1, 60_000);
  checkInteger(o.idlePollIntervalMs, 'options.idlePollIntervalMs', o.pollIntervalMs, 60_000);
  checkInteger(o.reapIntervalMs, 'options.reapIntervalMs', 1, 60_000);
  checkInteger(o.busyTimeoutMs, 'options.busyTimeoutMs', 0, 600_000);
  checkInteger(o.retainRevisions, 'options.retainRevisions', 1);
  if (o.synchronous !== 'normal' && o.synchronous !== 'full')
    throw invalidArgument('options.synchronous', "must be 'normal' or 'full'");
  checkFileMode(o.fileMode);
  if (o.maxBytes !== undefined) checkInteger(o.maxBytes, 'options.maxBytes', 64 * 1024);
  clockOption(o.clock);
  for (const name of ['create', 'createFolder'] as const)
    if (typeof o[name] !== 'boolean') throw invalidArgument(`options.${name}`, 'must be a boolean');
  return o;
}

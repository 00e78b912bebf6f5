/**
 * The embedded SQLite backend: one file shared by every process of one host, zero setup.
 *
 * - The file is in WAL mode; every write is an IMMEDIATE transaction, so writers queue on
 *   SQLite's lock (up to `busyTimeoutMs`) and readers never block them. A process killed with
 *   SIGKILL at any point loses no committed transaction and leaves the file usable.
 * - Leases (leases.ts) run on the host's monotonic clock (see host-clock.ts), immune to
 *   wall-clock steps, and die with a reboot. Expired leases are reaped by whichever process
 *   touches the store first and by a reaper timer in every open store. That clock is shared by
 *   every process of the host, so it is read, never injected; every timer and pause of this
 *   process (the reaper and watch ticker, the busy-retry pauses) runs on the injected `clock`
 *   option instead.
 * - Watches read a change-log table from their last revision on. A commit of this process wakes
 *   them at once; a commit of another process is seen through the WAL file and
 *   `PRAGMA data_version` (notify.ts). The change log keeps `retainRevisions` revisions; older
 *   ones are compacted.
 *
 * - A file swapped underneath (deleted, renamed over, truncated, restored from an older copy) is
 *   noticed (file-identity.ts and the checks of #verify): every call then fails with
 *   TENURE_STORE_REPLACED. Revisions never go below one handed out before at the same path
 *   (revision-floor.ts), so a fencing token is never handed out twice.
 *
 * The file must be on a local disk: SQLite's locking is not reliable on network file systems.
 * Alongside this file: options.ts (options, defaults, validation), schema.ts (tables, rows, the
 * creation and upgrade of a file), statements.ts (the SQL), leases.ts (grant, renewal, revocation,
 * expiry), notify.ts (changes of other processes, the store's timer), paths.ts (plain paths, the
 * default path, folders and file modes), sqlite-errors.ts (SQLite's errors as TenureErrors).
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Clock } from '../../clock.js';
import { TenureError, invalidArgument, isTenureError } from '../../errors.js';
import { sleep } from '../../sleep.js';
import { isSelective, selectKvs } from '../base.js';
import { ChangeLogStore } from '../change-log.js';
import { compactedError, leaseNotFound } from '../errors.js';
import { evaluateCompare } from '../keys.js';
import type {
  Lease,
  LeaseId,
  Op,
  OpResult,
  StoreCapabilities,
  TxnRequest,
  TxnResponse,
  WatchEvent,
} from '../types.js';
import { toBytes } from '../validate.js';
import { isBusy } from './busy.js';
import { FileIdentity } from './file-identity.js';
import { SqliteLeases, renewalError } from './leases.js';
import { ChangeNotifier } from './notify.js';
import { resolveSqliteStoreOptions, type SqliteStoreOptions } from './options.js';
import { createFileIfMissing, folderModeFor, prepareFolder } from './paths.js';
import {
  REVISION_BLOCK,
  readReservation,
  reservationPath,
  wallClockMicros,
  writeReservation,
} from './revision-floor.js';
import {
  EMPTY,
  initializeSchema,
  keyBytes,
  prefixEnd,
  toKv,
  type KvRow,
  type LogRow,
  type StateRow,
} from './schema.js';
import { mapSqliteError } from './sqlite-errors.js';
import { LimitedReads, prepareStatements, type Statements } from './statements.js';

export { SQLITE_STORE_DEFAULTS, type SqliteStoreOptions } from './options.js';

/** Most revision numbers one watch read covers from its first event, so a far-behind watcher catches up in steps. */
const READ_REVISIONS = 1000;

/**
 * How long one attempt at a write waits inside SQLite for another process's write lock. SQLite
 * waits on the main thread, so a write retries in steps of this size with the event loop running
 * in between: a process stopped inside a transaction (SIGSTOP, a debugger) holds the lock until it
 * resumes, and must not freeze the timers of every other process (their sessions must still
 * abort on time).
 */
const BUSY_STEP_MS = 5;

/**
 * A Store in a SQLite file, shared by the processes of one host.
 *
 * @example
 * ```ts
 * const store = new SqliteStore({ path: '.tenure/store.db' });
 * const lease = await store.grant(5000);
 * await store.put('service/leader', 'host-a', { lease: lease.id });
 * ```
 */
export class SqliteStore extends ChangeLogStore {
  readonly capabilities: StoreCapabilities;
  /** The database file's path. */
  readonly path: string;
  readonly #db: Database.Database;
  readonly #retain: number;
  /** The clock every timer and pause of this store runs on (not the leases: see host-clock.ts). */
  readonly #clock: Clock;
  readonly #leases: SqliteLeases;
  readonly #notifier: ChangeNotifier;
  readonly #busyTimeoutMs: number;
  /** Set by a revision writer that committed, so #write knows to wake this process's watchers. */
  #wrote = false;
  readonly #stmt: Statements;
  readonly #limited: LimitedReads;
  /** One transaction wrapper, made once: better-sqlite3 builds its BEGIN/COMMIT statements per wrapper. */
  readonly #run: Database.Transaction<(fn: () => unknown) => unknown>;
  readonly #fileMode: number;
  /** The revision reservation file next to the database (see revision-floor.ts). */
  readonly #reservationFile: string;
  /** The store identity written into the file when it was created. */
  #storeId = '';
  /** The highest revision this connection has read: the store's revision may never go below it. */
  #seenRevision = 0;
  /**
   * The highest revision this connection has seen with its events in the history: a file that
   * lost them (an older copy) is not the store this connection saw, even once other processes
   * have written past it.
   */
  #seenLogged = 0;
  /** Whether this connection has handed out a revision yet (its first one jumps the reservation). */
  #handedOut = false;
  /** The state row's revision and reservation in the transaction under way (see #verify). */
  #tx = { revision: 0, reserved: 0 };
  /** The revision the transaction under way commits, if it writes one. */
  #committing = 0;
  /**
   * The keys the current write transaction changed, and the store's revision when it began: after
   * the commit they tell the watchers what changed, with no read of the log (see notify).
   */
  #txKeys: string[] = [];
  #txStart = 0;
  /**
   * The revision at this connection's last committed write transaction, and `data_version` read
   * inside it: while `data_version` still reads the same, no other connection has committed since
   * (this connection's own commits leave it unchanged), so that revision is still the current one.
   */
  #lastWrite: { revision: number; dataVersion: number } | undefined;
  /** The revision from which #trimIfDue looks at the history's length again. */
  #nextTrimCheck = 0;
  /** The database, -wal and -shm files this connection opened. */
  #files!: FileIdentity;
  /** Set once the file was found swapped: every later call fails with it. */
  #replaced: TenureError | undefined;

  constructor(options: SqliteStoreOptions) {
    super();
    const o = resolveSqliteStoreOptions(options);
    this.#clock = o.clock;
    this.path = o.path;
    this.#fileMode = o.fileMode;
    this.#reservationFile = reservationPath(o.path);
    this.#retain = o.retainRevisions;
    this.capabilities = Object.freeze({
      backend: 'sqlite',
      minTtlMs: 500, // a session's heartbeats (every ttl/3) must outlast a GC pause or a busy host
      maxTtlMs: 2 ** 31 - 1,
      ttlGranularityMs: 1,
      expiryBoundMs: o.reapIntervalMs + 50,
      watchLatency: 'poll',
      maxKeyBytes: 4096,
      maxValueBytes: 1024 * 1024,
      maxTxnOps: 128,
    });

    prepareFolder(dirname(o.path), o.createFolder, folderModeFor(o.fileMode));
    if (!existsSync(o.path)) {
      if (!o.create)
        throw new TenureError(
          'TENURE_STORE_UNUSABLE',
          `there is no SQLite store at ${o.path} (nothing has written to it yet, or the path is wrong)`,
          { details: { path: o.path } },
        );
      createFileIfMissing(o.path, o.fileMode);
    }
    let db: Database.Database | undefined;
    try {
      // The file exists now: never let SQLite create one (with the umask's mode) if it vanished.
      db = this.#db = new Database(o.path, { timeout: o.busyTimeoutMs, fileMustExist: true });
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma(`synchronous = ${o.synchronous}`);
      if (o.maxBytes !== undefined) {
        const pageSize = this.#db.pragma('page_size', { simple: true }) as number;
        this.#db.pragma(`max_page_count = ${Math.max(1, Math.floor(o.maxBytes / pageSize))}`);
      }
      this.#db.transaction(() => initializeSchema(db!, o.path, o.fileMode)).immediate();
    } catch (err) {
      db?.close();
      const mapped = mapSqliteError(err, o.path);
      // Busy past busyTimeoutMs or a full disk (TENURE_UNAVAILABLE) may pass: open again later.
      if (mapped instanceof TenureError) throw mapped;
      throw new TenureError(
        'TENURE_STORE_UNUSABLE',
        `cannot open the SQLite store at ${o.path}: ${(err as Error).message}`,
        { cause: err, details: { path: o.path } },
      );
    }
    this.#stmt = prepareStatements(this.#db);
    this.#limited = new LimitedReads(this.#db);
    this.#run = this.#db.transaction((fn: () => unknown) => fn());
    const state = this.#stmt.state.get() as StateRow;
    this.#storeId = state.store_id;
    this.#seenRevision = state.revision;
    // The -wal and -shm files exist from the first transaction on, while any connection is open.
    this.#files = new FileIdentity([o.path, `${o.path}-wal`, `${o.path}-shm`]);
    this.#leases = new SqliteLeases({
      stmt: this.#stmt,
      revisionWriter: () => this.#revisionWriter(),
      writeOnce: (fn) => this.#writeOnce(fn),
      isClosed: () => this.closed,
    });
    this.#writeOnce(() => this.#leases.checkBoot());
    // From here on SQLite waits one step at a time (see BUSY_STEP_MS); #write retries.
    this.#db.pragma(`busy_timeout = ${Math.min(o.busyTimeoutMs, BUSY_STEP_MS)}`);
    this.#busyTimeoutMs = o.busyTimeoutMs;
    this.#notifier = new ChangeNotifier({
      clock: o.clock,
      path: o.path,
      pollIntervalMs: o.pollIntervalMs,
      idlePollIntervalMs: o.idlePollIntervalMs,
      reapIntervalMs: o.reapIntervalMs,
      dataVersion: () => this.#stmt.dataVersion.get() as number,
      watchers: () => this.watchers,
      isClosed: () => this.closed,
      notify: () => this.notify(),
      // Watch-only processes learn of a swapped file here, within reapIntervalMs.
      onTick: () => {
        if (this.#replaced !== undefined) return;
        const changed = this.#files.changed();
        if (changed !== undefined) this.#markReplaced(changed);
      },
      onReapDue: () => this.#leases.reapIfDue(),
    });
  }

  /**
   * Runs `fn` in an IMMEDIATE transaction, retrying while another process holds the write lock
   * (the event loop runs between attempts) until busyTimeoutMs, then TENURE_UNAVAILABLE.
   */
  async #write<T>(fn: () => T): Promise<T> {
    const deadline = this.#clock.now() + this.#busyTimeoutMs;
    for (let pause = 1; ; pause = Math.min(pause * 2, 16)) {
      try {
        return this.#writeOnce(fn);
      } catch (err) {
        if (!isBusy((err as { cause?: unknown }).cause) || this.#clock.now() + pause >= deadline) throw err;
      }
      await sleep(pause, { clock: this.#clock });
    }
  }

  /** Runs `fn` in an IMMEDIATE transaction once, then wakes this process's watchers if it wrote. */
  #writeOnce<T>(fn: () => T): T {
    this.assertOpen();
    this.#throwIfReplaced();
    this.#wrote = false;
    this.#committing = 0;
    this.#txKeys = [];
    const handedOut = this.#handedOut;
    let result: T;
    let dataVersion: number | undefined;
    try {
      result = this.#run.immediate(() => {
        this.#verify();
        this.#txStart = this.#tx.revision;
        const out = fn();
        // Inside the write lock: no other connection can commit until this one has. Needed only
        // when the watchers' position will not follow this commit (see knownRevision).
        if (this.dispatchedUpTo() !== this.#txStart) dataVersion = this.#stmt.dataVersion.get() as number;
        return out;
      }) as T;
    } catch (err) {
      // Rolled back: no revision of this transaction was handed out.
      this.#handedOut = handedOut;
      throw this.#failed(err);
    }
    if (this.#committing !== 0) {
      this.#seenRevision = Math.max(this.#seenRevision, this.#committing);
      this.#seenLogged = Math.max(this.#seenLogged, this.#committing);
    }
    this.#lastWrite = dataVersion === undefined ? undefined : { revision: this.#seenRevision, dataVersion };
    if (this.#wrote) this.notify({ after: this.#txStart, revision: this.#committing, keys: this.#txKeys });
    return result;
  }

  #read<T>(fn: () => T): T {
    this.assertOpen();
    // Reads do not stat the files (3 system calls, ~10 µs): the ticker does, every reapIntervalMs,
    // and every write and keepalive does. Only the in-file checks of #verify run here.
    if (this.#replaced !== undefined) throw this.#replaced;
    try {
      return this.#run.deferred(() => {
        this.#verify();
        return fn();
      }) as T;
    } catch (err) {
      throw this.#failed(err);
    }
  }

  /** The TenureError for a failed transaction; a damaged file may also be a swapped one. */
  #failed(err: unknown): unknown {
    const mapped = mapSqliteError(err, this.path);
    if (isTenureError(mapped, 'TENURE_CORRUPT') && this.#replaced === undefined) {
      const changed = this.#files.changed();
      if (changed !== undefined) return this.#markReplaced(changed, mapped);
    }
    return mapped;
  }

  #throwIfReplaced(): void {
    if (this.#replaced !== undefined) throw this.#replaced;
    const changed = this.#files.changed();
    if (changed !== undefined) throw this.#markReplaced(changed);
  }

  /**
   * Inside a transaction: checks that the file is still the store this connection opened. Another
   * file at the path (deleted, renamed over, new -wal/-shm) is caught by #throwIfReplaced before
   * the transaction; here, a file rewritten in place: another store's identity, a missing state
   * row (truncated), or a history that lost the last revision this connection saw (an older copy
   * restored over it, even once other processes have written to it since).
   */
  #verify(): void {
    const row = this.#stmt.verify.get(this.#seenLogged) as
      | {
          revision: number;
          compact_revision: number;
          store_id: string;
          reserved: number;
          seen: number;
          logged: number;
        }
      | undefined;
    if (row === undefined) throw this.#markReplaced(`${this.path} lost its state (truncated or rewritten)`);
    if (row.store_id !== this.#storeId)
      throw this.#markReplaced(`${this.path} now holds another store (identity ${row.store_id})`);
    if (row.revision < this.#seenRevision)
      throw this.#markReplaced(
        `${this.path} went back in time: its revision is ${row.revision}, this process saw ${this.#seenRevision} (an older copy was restored)`,
      );
    if (row.seen === 0 && row.compact_revision < this.#seenLogged)
      throw this.#markReplaced(
        `${this.path} lost the history of revision ${this.#seenLogged}, which this process saw (an older copy was restored)`,
      );
    this.#seenRevision = row.revision;
    if (row.logged === 1) this.#seenLogged = row.revision;
    this.#tx = { revision: row.revision, reserved: row.reserved };
  }

  /** Records that the file was swapped, wakes the watches (they fail with it), and returns the error. */
  #markReplaced(what: string, cause?: unknown): TenureError {
    this.#replaced ??= new TenureError(
      'TENURE_STORE_REPLACED',
      `the SQLite store was swapped underneath this process: ${what}; every lease and lock held in it is lost; open the store again`,
      { cause, details: { path: this.path } },
    );
    queueMicrotask(() => this.notify());
    return this.#replaced;
  }

  #currentRevisionUnsafe(): number {
    return this.#stmt.revision.get() as number;
  }

  /**
   * Inside a write transaction: the next revision. It is above every revision reserved at this
   * path (revision-floor.ts): a connection's first revision jumps over the reservation, since the
   * file may be an older copy; a revision past the reservation first reserves the next block.
   * @throws TENURE_CORRUPT past Number.MAX_SAFE_INTEGER, before handing out an inexact revision.
   */
  #nextRevision(): number {
    const state = this.#tx; // read by #verify at the start of this transaction, kept up to date since
    let base = Math.max(state.revision, this.#seenRevision);
    if (!this.#handedOut) {
      const reserved = readReservation(this.#reservationFile);
      base = Math.max(base, state.reserved, reserved ?? wallClockMicros());
      // A reservation this file never made: the file is an older copy or a new one, and a process
      // still writing to the file it replaced may reserve one more block before it notices.
      if (reserved !== undefined && reserved > state.reserved)
        base = Math.max(base, reserved + REVISION_BLOCK);
    }
    const rev = base + 1;
    if (!Number.isSafeInteger(rev)) throw this.#exhausted(base);
    if (rev > state.reserved || !this.#handedOut) {
      const reserved = Math.min(rev + REVISION_BLOCK - 1, Number.MAX_SAFE_INTEGER);
      writeReservation(this.#reservationFile, reserved, this.#fileMode);
      this.#stmt.setReserved.run(reserved);
      state.reserved = reserved;
    }
    this.#handedOut = true; // undone by #writeOnce if the transaction rolls back
    return rev;
  }

  #exhausted(revision: number): TenureError {
    return new TenureError(
      'TENURE_CORRUPT',
      `the SQLite store ${this.path} has no revisions left (the next would pass 2^53 - 1, past which fencing tokens are not exact); move the store and its ${this.#reservationFile} away to start a new one`,
      { details: { path: this.path, revision } },
    );
  }

  /** Inside a write transaction: starts a new revision and returns a writer of its events. */
  #revisionWriter() {
    let rev = 0;
    let seq = 0;
    const stmt = this.#stmt;
    const keys = this.#txKeys;
    // The revision is taken on first use, so a writer that writes nothing takes none.
    const take = (): number => (rev === 0 ? (rev = this.#nextRevision()) : rev);
    return {
      /** The revision this writer's events get. */
      get rev(): number {
        return take();
      },
      put(key: Buffer, value: Uint8Array, createRev: number, version: number, lease: number) {
        const r = take();
        stmt.putKv.run(key, value, createRev, r, version, lease);
        stmt.log.run(r, seq++, 0, key, value, createRev, r, version, lease);
        keys.push(key.toString('utf8'));
      },
      /** Deletes `key` if it exists (logging it); returns whether it did. */
      delete(key: Buffer): boolean {
        if (stmt.deleteKv.run(key).changes === 0) return false;
        const r = take();
        stmt.log.run(r, seq++, 1, key, EMPTY, 0, r, 0, 0);
        keys.push(key.toString('utf8'));
        return true;
      },
      /** Records the revision if anything was written; returns whether it was. */
      commit: (): boolean => {
        if (seq === 0) return false;
        stmt.setRevision.run(rev);
        this.#tx.revision = rev;
        this.#committing = rev;
        this.#trimIfDue(rev);
        this.#wrote = true;
        return true;
      },
    };
  }

  /**
   * Keeps the newest `retainRevisions` revisions of history, trimming in steps of a tenth of it.
   * Revisions are counted, not subtracted: a connection's first revision skips numbers (see
   * #nextRevision), and a skip must not compact history a watcher still needs.
   */
  #trimIfDue(rev: number): void {
    if (rev < this.#nextTrimCheck) return;
    const step = Math.ceil(this.#retain / 10);
    this.#nextTrimCheck = rev + step;
    const compact = (this.#stmt.state.get() as { compact_revision: number }).compact_revision;
    if (rev - compact <= this.#retain + step) return; // cannot hold more revisions than that
    const cut = this.#stmt.nthNewestRevision.get(compact, this.#retain) as number | undefined;
    if (cut !== undefined && cut > compact) this.#trimTo(cut);
  }

  #trimTo(revision: number): void {
    this.#stmt.trimLog.run(revision);
    this.#stmt.setCompact.run(revision);
  }

  protected async doTxn(request: TxnRequest): Promise<TxnResponse> {
    await this.yieldToEventLoop();
    const writes = [...(request.success ?? []), ...(request.failure ?? [])].some((op) => op.type !== 'get');
    if (writes) return await this.#write(() => this.#txn(request, true));
    this.#leases.reapIfDue();
    return this.#read(() => this.#txn(request, false));
  }

  #txn(request: TxnRequest, writable: boolean): TxnResponse {
    if (writable) this.#leases.reap();
    const stmt = this.#stmt;
    /** The row the last compare read, while no op has written since: a put of that key reuses it. */
    let known: { key: string; row: KvRow | undefined } | undefined;
    const succeeded = (request.compare ?? []).every((c) => {
      const row = stmt.getKv.get(keyBytes(c.key)) as KvRow | undefined;
      known = { key: c.key, row };
      return evaluateCompare(row && toKv(row), c, c.target === 'value' ? toBytes(c.value) : undefined);
    });
    const ops = (succeeded ? request.success : request.failure) ?? [];
    if (!writable) return { succeeded, revision: this.#tx.revision, results: ops.map((op) => this.#get(op)) };
    const w = this.#revisionWriter();
    const results: OpResult[] = ops.map((op): OpResult => {
      switch (op.type) {
        case 'get':
          return this.#get(op);
        case 'put': {
          const key = keyBytes(op.key);
          const lease = op.lease == null ? 0 : Number(op.lease);
          if (!this.#leases.exists(lease)) throw leaseNotFound(op.lease!);
          const prev = known?.key === op.key ? known.row : (stmt.getKv.get(key) as KvRow | undefined);
          known = undefined;
          w.put(key, toBytes(op.value), prev?.create_rev ?? w.rev, (prev?.version ?? 0) + 1, lease);
          return { type: 'put' };
        }
        case 'delete': {
          const keys = op.prefix ? this.#range(op.key, 0).rows.map((r) => r.key) : [keyBytes(op.key)];
          let deleted = 0;
          for (const key of keys) if (w.delete(key)) deleted++;
          known = undefined;
          return { type: 'delete', deleted };
        }
      }
    });
    w.commit();
    // #verify read the revision at the start, and the commit keeps it up to date.
    return { succeeded, revision: this.#tx.revision, results };
  }

  /** Reads by create revision are answered from the kv_by_create index (see #get). */
  protected override get selectsByCreateRevision(): boolean {
    return true;
  }

  #get(op: Op): OpResult {
    if (op.type !== 'get') throw new Error('unreachable: a write op in a read-only transaction');
    if (isSelective(op)) {
      const from = keyBytes(op.key);
      const end = prefixEnd(from);
      if (!op.prefix || end === undefined || (op.order ?? 'key') === 'key') {
        const row = op.prefix ? undefined : (this.#stmt.getKv.get(from) as KvRow | undefined);
        const rows = op.prefix ? this.#range(op.key, 0).rows : row ? [row] : [];
        return { type: 'get', ...selectKvs(rows.map(toKv), op) };
      }
      const limit = op.limit ?? 0;
      const read = op.order === 'createRevisionDescending' ? 'newestKv' : 'oldestKv';
      const max = op.maxCreateRevision ?? Number.MAX_SAFE_INTEGER;
      const rows = this.#limited.all(read, limit > 0 ? limit + 1 : -1, max, from, end) as KvRow[];
      const more = limit > 0 && rows.length > limit;
      if (more) rows.pop();
      return { type: 'get', kvs: rows.map(toKv), more };
    }
    if (!op.prefix) {
      const row = this.#stmt.getKv.get(keyBytes(op.key)) as KvRow | undefined;
      return { type: 'get', kvs: row ? [toKv(row)] : [], more: false };
    }
    const { rows, more } = this.#range(op.key, op.limit ?? 0);
    return { type: 'get', kvs: rows.map(toKv), more };
  }

  #range(prefix: string, limit: number): { rows: KvRow[]; more: boolean } {
    const from = keyBytes(prefix);
    const end = prefixEnd(from);
    const max = limit > 0 ? limit + 1 : -1;
    const rows = (
      end ? this.#limited.all('rangeKv', max, from, end) : this.#limited.all('rangeKvOpen', max, from)
    ) as KvRow[];
    const more = limit > 0 && rows.length > limit;
    if (more) rows.pop();
    return { rows, more };
  }

  protected async doGrant(ttlMs: number): Promise<Lease> {
    const id = await this.#write(() => this.#leases.grant(ttlMs));
    return { id: String(id), ttlMs };
  }

  protected async doKeepAlive(id: LeaseId): Promise<number> {
    try {
      return await this.#write(() =>
        this.#leases.renew(id, () => {
          // A store that cannot hand out a revision cannot release a lock or reap a lease: its
          // holders must stop rather than hold on forever.
          if (this.#tx.revision >= Number.MAX_SAFE_INTEGER) throw this.#exhausted(this.#tx.revision);
        }),
      );
    } catch (err) {
      throw renewalError(id, err);
    }
  }

  protected async doRevoke(id: LeaseId): Promise<void> {
    await this.#write(() => this.#leases.revoke(id));
  }

  protected async doTimeToLive(id: LeaseId): Promise<number | undefined> {
    this.#leases.reapIfDue();
    return this.#read(() => this.#leases.timeToLive(id));
  }

  protected async doRevision(): Promise<number> {
    this.#leases.reapIfDue();
    return this.#read(() => this.#currentRevisionUnsafe());
  }

  protected async doCompact(revision: number): Promise<void> {
    await this.#write(() => {
      const current = this.#currentRevisionUnsafe();
      if (revision > current)
        throw invalidArgument('revision', `must be at most the current revision ${current}`);
      const compact = (this.#stmt.state.get() as { compact_revision: number }).compact_revision;
      if (revision > compact) this.#trimTo(revision);
    });
  }

  /** @internal ChangeLog */
  currentRevision(): number {
    return this.#read(() => this.#currentRevisionUnsafe());
  }

  /** @internal ChangeLog */
  readChanges(
    after: number,
    key: string,
    prefix: boolean,
  ): { events: WatchEvent[]; upTo: number; more: boolean } {
    return this.#read(() => {
      const state = this.#stmt.state.get() as { revision: number; compact_revision: number };
      if (after < state.compact_revision) throw compactedError(after + 1, state.compact_revision);
      // The window starts at the next revision that has events, not at the next number:
      // revisions skip (a new process's first write, a restored file), and a watcher far behind
      // must not step through empty numbers a thousand at a time. One index seek.
      const next = this.#stmt.nextLogRevision.get(after) as number | null;
      const upTo = next === null ? state.revision : Math.min(state.revision, next - 1 + READ_REVISIONS);
      let rows: LogRow[];
      if (!prefix) rows = this.#stmt.readLogKey.all(after, upTo, keyBytes(key)) as LogRow[];
      else {
        const from = keyBytes(key);
        const end = prefixEnd(from);
        rows = (
          end
            ? this.#stmt.readLogRange.all(after, upTo, from, end)
            : this.#stmt.readLogOpen.all(after, upTo, from)
        ) as LogRow[];
      }
      const events = rows.map((row): WatchEvent => ({ type: row.deleted ? 'delete' : 'put', kv: toKv(row) }));
      return { events, upTo: Math.max(after, upTo), more: upTo < state.revision };
    });
  }

  protected override knownRevision(): number | undefined {
    const last = this.#lastWrite;
    if (last === undefined || this.#replaced !== undefined || this.closed) return undefined;
    try {
      return (this.#stmt.dataVersion.get() as number) === last.dataVersion ? last.revision : undefined;
    } catch {
      return undefined;
    }
  }

  protected override onFirstWatcher(): void {
    this.#notifier.watchStarted();
  }

  protected async doClose(): Promise<void> {
    this.#notifier.close();
    this.notify();
    this.#db.close();
  }
}

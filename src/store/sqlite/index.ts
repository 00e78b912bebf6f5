/**
 * The embedded SQLite backend: one file shared by every process of one host, zero setup.
 *
 * - The file is in WAL mode; every write is an IMMEDIATE transaction, so writers queue on
 *   SQLite's lock (up to `busyTimeoutMs`) and readers never block them. A process killed with
 *   SIGKILL at any point loses no committed transaction and leaves the file usable.
 * - Leases run on the host's monotonic clock (see host-clock.ts), immune to wall-clock steps,
 *   and die with a reboot. Expired leases are reaped by whichever process touches the store
 *   first and by a reaper timer in every open store.
 * - Watches wake when the kernel reports a change to the WAL file (inotify: every commit of
 *   another process writes to it), confirm it with `PRAGMA data_version` (a counter SQLite bumps
 *   when another connection commits), then read a change-log table from their last revision on.
 *   Where change notifications are unavailable they poll `data_version` instead. The change log
 *   keeps `retainRevisions` revisions; older ones are compacted.
 *
 * The file must be on a local disk: SQLite's locking is not reliable on network file systems.
 */
import Database from 'better-sqlite3';
import { isBusy } from './busy.js';
import { existsSync, mkdirSync, watch, type FSWatcher } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { TenureError, invalidArgument } from '../../errors.js';
import { ChangeLogStore } from '../change-log.js';
import { compactedError, leaseNotFound } from '../errors.js';
import { evaluateCompare } from '../keys.js';
import type {
  KeyValue,
  Lease,
  LeaseId,
  Op,
  OpResult,
  StoreCapabilities,
  TxnRequest,
  TxnResponse,
  WatchEvent,
} from '../types.js';
import { checkInteger, toBytes } from '../validate.js';
import { bootId, hostNow } from './host-clock.js';

/** Options of {@link SqliteStore}. */
export interface SqliteStoreOptions {
  /** Path of the database file; created (with its folder) if missing. Must be on a local disk. */
  path: string;
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
}

/** Defaults of {@link SqliteStoreOptions}. */
export const SQLITE_STORE_DEFAULTS = Object.freeze({
  pollIntervalMs: 10,
  idlePollIntervalMs: 25,
  reapIntervalMs: 100,
  busyTimeoutMs: 5000,
  retainRevisions: 10_000,
  synchronous: 'normal' as const,
});

const SCHEMA_VERSION = 1;
/** Most revisions one watch read returns, so a far-behind watcher catches up in steps. */
const READ_REVISIONS = 1000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS state (
  id INTEGER PRIMARY KEY CHECK (id = 0),
  schema_version INTEGER NOT NULL,
  revision INTEGER NOT NULL,
  compact_revision INTEGER NOT NULL,
  boot_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS kv (
  key BLOB PRIMARY KEY,
  value BLOB NOT NULL,
  create_rev INTEGER NOT NULL,
  mod_rev INTEGER NOT NULL,
  version INTEGER NOT NULL,
  lease INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kv_by_lease ON kv (lease) WHERE lease != 0;
CREATE TABLE IF NOT EXISTS lease (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ttl_ms REAL NOT NULL,
  expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS lease_by_expiry ON lease (expires_at);
CREATE TABLE IF NOT EXISTS changelog (
  rev INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  key BLOB NOT NULL,
  value BLOB NOT NULL,
  create_rev INTEGER NOT NULL,
  mod_rev INTEGER NOT NULL,
  version INTEGER NOT NULL,
  lease INTEGER NOT NULL,
  PRIMARY KEY (rev, seq)
) WITHOUT ROWID;
`;

interface KvRow {
  key: Buffer;
  value: Buffer;
  create_rev: number;
  mod_rev: number;
  version: number;
  lease: number;
}

interface LogRow extends KvRow {
  rev: number;
  deleted: number;
}

const EMPTY = Buffer.alloc(0);

function toKv(row: KvRow): KeyValue {
  return {
    key: row.key.toString('utf8'),
    value: row.value,
    createRevision: row.create_rev,
    modRevision: row.mod_rev,
    version: row.version,
    lease: row.lease === 0 ? null : String(row.lease),
  };
}

/** The first key after every key starting with `prefix` (etcd's range_end), or undefined for none. */
function prefixEnd(prefix: Buffer): Buffer | undefined {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return undefined;
}

/**
 * Creates a folder and its missing parents, one level at a time. (Node 20's recursive mkdirSync
 * never returns for a path under /proc: it retries forever on the ENOENT that procfs answers.)
 */
function ensureDir(dir: string): void {
  const missing: string[] = [];
  for (let d = resolve(dir); !existsSync(d); d = dirname(d)) {
    missing.push(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing.reverse()) mkdirSync(d);
}

function keyBytes(key: string): Buffer {
  return Buffer.from(key, 'utf8');
}

/**
 * How long one attempt at a write waits inside SQLite for another process's write lock. SQLite
 * waits on the main thread, so a write retries in steps of this size with the event loop running
 * in between: a process stopped inside a transaction (SIGSTOP, a debugger) holds the lock until it
 * resumes, and must not freeze the timers of every other process (their sessions must still
 * abort on time).
 */
const BUSY_STEP_MS = 5;

/** Maps SQLite's lock errors to a retryable TENURE_UNAVAILABLE; other errors pass through. */
function mapSqliteError(err: unknown): unknown {
  if (isBusy(err))
    return new TenureError(
      'TENURE_UNAVAILABLE',
      'the SQLite file stayed locked by another process past busyTimeoutMs',
      {
        cause: err,
      },
    );
  return err;
}

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
  readonly #pollIntervalMs: number;
  readonly #idlePollIntervalMs: number;
  #lastChangeAt = 0;
  /** One timer for both jobs: watch polling (while watches exist) and the lease reaper. */
  #ticker: ReturnType<typeof setTimeout> | undefined;
  /** The kernel's change notifications for the WAL file, while watches are open. */
  #walWatcher: FSWatcher | undefined;
  readonly #reapIntervalMs: number;
  #lastReapAt = 0;
  #dataVersion = 0;
  readonly #busyTimeoutMs: number;
  /** Set by a revision writer that committed, so #write knows to wake this process's watchers. */
  #wrote = false;
  readonly #stmt: ReturnType<SqliteStore['prepare']>;
  /** One transaction wrapper, made once: better-sqlite3 builds its BEGIN/COMMIT statements per wrapper. */
  readonly #run: Database.Transaction<(fn: () => unknown) => unknown>;

  constructor(options: SqliteStoreOptions) {
    super();
    if (options === null || typeof options !== 'object')
      throw invalidArgument('options', 'must be an object');
    if (typeof options.path !== 'string' || options.path.length === 0)
      throw invalidArgument('options.path', 'must be a non-empty file path');
    // An option given as undefined takes its default.
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    const o = { ...SQLITE_STORE_DEFAULTS, ...given } as Required<SqliteStoreOptions>;
    checkInteger(o.pollIntervalMs, 'options.pollIntervalMs', 1, 60_000);
    checkInteger(o.idlePollIntervalMs, 'options.idlePollIntervalMs', o.pollIntervalMs, 60_000);
    checkInteger(o.reapIntervalMs, 'options.reapIntervalMs', 1, 60_000);
    checkInteger(o.busyTimeoutMs, 'options.busyTimeoutMs', 0, 600_000);
    checkInteger(o.retainRevisions, 'options.retainRevisions', 1);
    if (o.synchronous !== 'normal' && o.synchronous !== 'full')
      throw invalidArgument('options.synchronous', "must be 'normal' or 'full'");
    this.path = o.path;
    this.#retain = o.retainRevisions;
    this.#pollIntervalMs = o.pollIntervalMs;
    this.#idlePollIntervalMs = o.idlePollIntervalMs;
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

    try {
      if (o.path !== ':memory:') ensureDir(dirname(o.path));
      this.#db = new Database(o.path, { timeout: o.busyTimeoutMs });
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma(`synchronous = ${o.synchronous}`);
      this.#db
        .transaction(() => {
          this.#db.exec(SCHEMA);
          this.#db
            .prepare(
              'INSERT OR IGNORE INTO state (id, schema_version, revision, compact_revision, boot_id) VALUES (0, ?, 0, 0, ?)',
            )
            .run(SCHEMA_VERSION, bootId());
        })
        .immediate();
    } catch (err) {
      throw new TenureError(
        'TENURE_UNAVAILABLE',
        `cannot open the SQLite store at ${o.path}: ${(err as Error).message}`,
        {
          cause: err,
          retryable: false,
        },
      );
    }
    this.#stmt = this.prepare();
    this.#run = this.#db.transaction((fn: () => unknown) => fn());
    const state = this.#stmt.state.get() as { schema_version: number };
    if (state.schema_version !== SCHEMA_VERSION) {
      this.#db.close();
      throw new TenureError(
        'TENURE_CORRUPT',
        `${o.path} has schema version ${state.schema_version}; this tenure reads ${SCHEMA_VERSION}`,
      );
    }
    this.#writeOnce(() => this.#checkBoot());
    // From here on SQLite waits one step at a time (see BUSY_STEP_MS); #write retries.
    this.#db.pragma(`busy_timeout = ${Math.min(o.busyTimeoutMs, BUSY_STEP_MS)}`);
    this.#busyTimeoutMs = o.busyTimeoutMs;
    this.#dataVersion = this.#stmt.dataVersion.get() as number;
    this.#reapIntervalMs = o.reapIntervalMs;
    this.#schedule();
  }

  private prepare() {
    const db = this.#db;
    return {
      state: db.prepare('SELECT schema_version, revision, compact_revision, boot_id FROM state WHERE id = 0'),
      revision: db.prepare('SELECT revision FROM state WHERE id = 0').pluck(),
      setRevision: db.prepare('UPDATE state SET revision = ? WHERE id = 0'),
      setCompact: db.prepare('UPDATE state SET compact_revision = ? WHERE id = 0'),
      setBoot: db.prepare('UPDATE state SET boot_id = ? WHERE id = 0'),
      dataVersion: db.prepare('PRAGMA data_version').pluck(),
      getKv: db.prepare('SELECT key, value, create_rev, mod_rev, version, lease FROM kv WHERE key = ?'),
      rangeKv: db.prepare(
        'SELECT key, value, create_rev, mod_rev, version, lease FROM kv WHERE key >= ? AND key < ? ORDER BY key LIMIT ?',
      ),
      rangeKvOpen: db.prepare(
        'SELECT key, value, create_rev, mod_rev, version, lease FROM kv WHERE key >= ? ORDER BY key LIMIT ?',
      ),
      putKv: db.prepare(
        'INSERT OR REPLACE INTO kv (key, value, create_rev, mod_rev, version, lease) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      deleteKv: db.prepare('DELETE FROM kv WHERE key = ?'),
      keysOfLease: db.prepare('SELECT key FROM kv WHERE lease = ? ORDER BY key').pluck(),
      leasedKeys: db.prepare('SELECT key FROM kv WHERE lease != 0 ORDER BY key').pluck(),
      log: db.prepare(
        'INSERT INTO changelog (rev, seq, deleted, key, value, create_rev, mod_rev, version, lease) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      readLogKey: db.prepare(
        'SELECT rev, deleted, key, value, create_rev, mod_rev, version, lease FROM changelog WHERE rev > ? AND rev <= ? AND key = ? ORDER BY rev, seq',
      ),
      readLogRange: db.prepare(
        'SELECT rev, deleted, key, value, create_rev, mod_rev, version, lease FROM changelog WHERE rev > ? AND rev <= ? AND key >= ? AND key < ? ORDER BY rev, seq',
      ),
      readLogOpen: db.prepare(
        'SELECT rev, deleted, key, value, create_rev, mod_rev, version, lease FROM changelog WHERE rev > ? AND rev <= ? AND key >= ? ORDER BY rev, seq',
      ),
      trimLog: db.prepare('DELETE FROM changelog WHERE rev <= ?'),
      grant: db.prepare('INSERT INTO lease (ttl_ms, expires_at) VALUES (?, ?)'),
      getLease: db.prepare('SELECT ttl_ms, expires_at FROM lease WHERE id = ?'),
      renew: db.prepare('UPDATE lease SET expires_at = ? WHERE id = ?'),
      deleteLease: db.prepare('DELETE FROM lease WHERE id = ?'),
      deleteAllLeases: db.prepare('DELETE FROM lease'),
      expired: db.prepare('SELECT id FROM lease WHERE expires_at <= ? ORDER BY id').pluck(),
      anyExpired: db.prepare('SELECT 1 FROM lease WHERE expires_at <= ? LIMIT 1').pluck(),
    };
  }

  /**
   * Runs `fn` in an IMMEDIATE transaction, retrying while another process holds the write lock
   * (the event loop runs between attempts) until busyTimeoutMs, then TENURE_UNAVAILABLE.
   */
  async #write<T>(fn: () => T): Promise<T> {
    const deadline = performance.now() + this.#busyTimeoutMs;
    for (let pause = 1; ; pause = Math.min(pause * 2, 16)) {
      try {
        return this.#writeOnce(fn);
      } catch (err) {
        if (!isBusy((err as { cause?: unknown }).cause) || performance.now() + pause >= deadline) throw err;
      }
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }

  /** Runs `fn` in an IMMEDIATE transaction once, then wakes this process's watchers if it wrote. */
  #writeOnce<T>(fn: () => T): T {
    this.assertOpen();
    this.#wrote = false;
    let result: T;
    try {
      result = this.#run.immediate(fn) as T;
    } catch (err) {
      throw mapSqliteError(err);
    }
    if (this.#wrote) this.notify();
    return result;
  }

  #read<T>(fn: () => T): T {
    this.assertOpen();
    try {
      return this.#run.deferred(fn) as T;
    } catch (err) {
      throw mapSqliteError(err);
    }
  }

  #currentRevisionUnsafe(): number {
    return this.#stmt.revision.get() as number;
  }

  /** Inside a write transaction: starts a new revision and returns a writer of its events. */
  #revisionWriter() {
    const rev = this.#currentRevisionUnsafe() + 1;
    let seq = 0;
    const stmt = this.#stmt;
    return {
      rev,
      put(key: Buffer, value: Uint8Array, createRev: number, version: number, lease: number) {
        stmt.putKv.run(key, value, createRev, rev, version, lease);
        stmt.log.run(rev, seq++, 0, key, value, createRev, rev, version, lease);
      },
      delete(key: Buffer) {
        stmt.deleteKv.run(key);
        stmt.log.run(rev, seq++, 1, key, EMPTY, 0, rev, 0, 0);
      },
      /** Records the revision if anything was written; returns whether it was. */
      commit: (): boolean => {
        if (seq === 0) return false;
        stmt.setRevision.run(rev);
        this.#trimIfDue(rev);
        this.#wrote = true;
        return true;
      },
    };
  }

  #trimIfDue(rev: number): void {
    const compact = (this.#stmt.state.get() as { compact_revision: number }).compact_revision;
    // Trim in steps of a tenth of the retention, not on every commit.
    if (rev - compact > this.#retain + Math.ceil(this.#retain / 10)) this.#trimTo(rev - this.#retain);
  }

  #trimTo(revision: number): void {
    this.#stmt.trimLog.run(revision);
    this.#stmt.setCompact.run(revision);
  }

  /** Inside a write transaction: a reboot since the last open kills every lease. */
  #checkBoot(): void {
    const state = this.#stmt.state.get() as { boot_id: string };
    if (state.boot_id === bootId()) return;
    const w = this.#revisionWriter();
    for (const key of this.#stmt.leasedKeys.all() as Buffer[]) w.delete(key);
    this.#stmt.deleteAllLeases.run();
    w.commit();
    this.#stmt.setBoot.run(bootId());
  }

  /** Inside a write transaction: deletes every expired lease and its keys, in one revision. */
  #reap(): void {
    const expired = this.#stmt.expired.all(hostNow()) as number[];
    if (expired.length === 0) return;
    const w = this.#revisionWriter();
    for (const id of expired) {
      for (const key of this.#stmt.keysOfLease.all(id) as Buffer[]) w.delete(key);
      this.#stmt.deleteLease.run(id);
    }
    w.commit();
  }

  #reapIfDue(): void {
    if (this.closed) return;
    try {
      if (this.#stmt.anyExpired.get(hostNow()) !== undefined) this.#writeOnce(() => this.#reap());
    } catch {
      // A busy file: the next tick, or the next process to touch the store, reaps.
    }
  }

  protected async doTxn(request: TxnRequest): Promise<TxnResponse> {
    await this.yieldToEventLoop();
    const writes = [...(request.success ?? []), ...(request.failure ?? [])].some((op) => op.type !== 'get');
    if (writes) return await this.#write(() => this.#txn(request, true));
    this.#reapIfDue();
    return this.#read(() => this.#txn(request, false));
  }

  #txn(request: TxnRequest, writable: boolean): TxnResponse {
    if (writable) this.#reap();
    const stmt = this.#stmt;
    const succeeded = (request.compare ?? []).every((c) => {
      const row = stmt.getKv.get(keyBytes(c.key)) as KvRow | undefined;
      return evaluateCompare(row && toKv(row), c, c.target === 'value' ? toBytes(c.value) : undefined);
    });
    const ops = (succeeded ? request.success : request.failure) ?? [];
    if (!writable)
      return { succeeded, revision: this.#currentRevisionUnsafe(), results: ops.map((op) => this.#get(op)) };
    const w = this.#revisionWriter();
    const results: OpResult[] = ops.map((op): OpResult => {
      switch (op.type) {
        case 'get':
          return this.#get(op);
        case 'put': {
          const key = keyBytes(op.key);
          const lease = op.lease == null ? 0 : Number(op.lease);
          if (lease !== 0 && stmt.getLease.get(lease) === undefined) throw leaseNotFound(op.lease!);
          const prev = stmt.getKv.get(key) as KvRow | undefined;
          w.put(key, toBytes(op.value), prev?.create_rev ?? w.rev, (prev?.version ?? 0) + 1, lease);
          return { type: 'put' };
        }
        case 'delete': {
          const keys = op.prefix ? this.#range(op.key, 0).rows.map((r) => r.key) : [keyBytes(op.key)];
          let deleted = 0;
          for (const key of keys) {
            if (op.prefix || stmt.getKv.get(key) !== undefined) {
              w.delete(key);
              deleted++;
            }
          }
          return { type: 'delete', deleted };
        }
      }
    });
    w.commit();
    return { succeeded, revision: this.#currentRevisionUnsafe(), results };
  }

  #get(op: Op): OpResult {
    if (op.type !== 'get') throw new Error('unreachable: a write op in a read-only transaction');
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
      end ? this.#stmt.rangeKv.all(from, end, max) : this.#stmt.rangeKvOpen.all(from, max)
    ) as KvRow[];
    const more = limit > 0 && rows.length > limit;
    if (more) rows.pop();
    return { rows, more };
  }

  protected async doGrant(ttlMs: number): Promise<Lease> {
    const id = await this.#write(() => {
      this.#reap();
      return this.#stmt.grant.run(ttlMs, hostNow() + ttlMs).lastInsertRowid;
    });
    return { id: String(id), ttlMs };
  }

  protected async doKeepAlive(id: LeaseId): Promise<number> {
    return await this.#write(() => {
      // Reap first: a lease past its expiry must not be brought back to life.
      this.#reap();
      const row = this.#stmt.getLease.get(Number(id)) as { ttl_ms: number } | undefined;
      if (row === undefined) throw leaseNotFound(id);
      this.#stmt.renew.run(hostNow() + row.ttl_ms, Number(id));
      return row.ttl_ms;
    });
  }

  protected async doRevoke(id: LeaseId): Promise<void> {
    await this.#write(() => {
      this.#reap();
      if (this.#stmt.getLease.get(Number(id)) === undefined) return;
      const w = this.#revisionWriter();
      for (const key of this.#stmt.keysOfLease.all(Number(id)) as Buffer[]) w.delete(key);
      this.#stmt.deleteLease.run(Number(id));
      w.commit();
    });
  }

  protected async doTimeToLive(id: LeaseId): Promise<number | undefined> {
    this.#reapIfDue();
    const row = this.#read(() => this.#stmt.getLease.get(Number(id))) as { expires_at: number } | undefined;
    return row === undefined ? undefined : Math.max(0, row.expires_at - hostNow());
  }

  protected async doRevision(): Promise<number> {
    this.#reapIfDue();
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
      const upTo = Math.min(state.revision, after + READ_REVISIONS);
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

  protected override onFirstWatcher(): void {
    this.#watchWal();
    this.#schedule(); // from the reaper's cadence to the watch cadence
  }

  /**
   * Asks the kernel (inotify) to say when the WAL file changes: every commit of another process
   * writes to it. Watches then wake within about a millisecond and polling becomes a safety net.
   * Where notifications are unavailable, polling alone carries the watches.
   */
  #watchWal(): void {
    if (this.#walWatcher !== undefined || this.path === ':memory:') return;
    try {
      const watcher = watch(`${this.path}-wal`, { persistent: false }, () => this.#poll());
      watcher.on('error', () => {
        watcher.close();
        if (this.#walWatcher === watcher) this.#walWatcher = undefined;
      });
      this.#walWatcher = watcher;
    } catch {
      this.#walWatcher = undefined;
    }
  }

  /**
   * Schedules the next tick. With watches open and no change notifications it polls every `pollIntervalMs` while changes flow
   * and every `idlePollIntervalMs` after a quiet second, and keeps the process alive (a watch is
   * awaited work); without watches it only reaps, every `reapIntervalMs`, and does not.
   */
  #schedule(): void {
    if (this.#ticker !== undefined) clearTimeout(this.#ticker);
    if (this.closed) return;
    const watching = this.watchers > 0;
    const delay =
      !watching || this.#walWatcher !== undefined
        ? this.#reapIntervalMs
        : performance.now() - this.#lastChangeAt < 1000
          ? this.#pollIntervalMs
          : this.#idlePollIntervalMs;
    this.#ticker = setTimeout(() => this.#tick(), delay);
    if (!watching) this.#ticker.unref();
  }

  #tick(): void {
    if (this.closed) return;
    if (this.watchers > 0) this.#poll();
    const now = performance.now();
    if (now - this.#lastReapAt >= this.#reapIntervalMs) {
      this.#lastReapAt = now;
      this.#reapIfDue();
    }
    this.#schedule();
  }

  #poll(): void {
    try {
      const version = this.#stmt.dataVersion.get() as number;
      if (version !== this.#dataVersion) {
        this.#dataVersion = version;
        this.#lastChangeAt = performance.now();
        this.notify();
      }
    } catch {
      // A busy or closing file: check again next tick.
    }
  }

  protected async doClose(): Promise<void> {
    if (this.#ticker !== undefined) clearTimeout(this.#ticker);
    this.#ticker = undefined;
    this.#walWatcher?.close();
    this.#walWatcher = undefined;
    this.notify();
    this.#db.close();
  }
}

/** Every SQL statement of a SQLite store, prepared once per connection. */
import type Database from 'better-sqlite3';

/** The statements' SQL, by name. */
const SQL = {
  state:
    'SELECT schema_version, revision, compact_revision, boot_id, store_id, reserved FROM state WHERE id = 0',
  /**
   * The state row; whether a revision this connection saw with events is still in the history,
   * and whether the current revision has events there.
   */
  verify:
    'SELECT revision, compact_revision, store_id, reserved, EXISTS (SELECT 1 FROM changelog WHERE rev = ?) AS seen, EXISTS (SELECT 1 FROM changelog WHERE rev = state.revision) AS logged FROM state WHERE id = 0',
  setReserved: 'UPDATE state SET reserved = ? WHERE id = 0',
  revision: 'SELECT revision FROM state WHERE id = 0',
  setRevision: 'UPDATE state SET revision = ? WHERE id = 0',
  setCompact: 'UPDATE state SET compact_revision = ? WHERE id = 0',
  setBoot: 'UPDATE state SET boot_id = ? WHERE id = 0',
  dataVersion: 'PRAGMA data_version',
  getKv: 'SELECT key, value, create_rev, mod_rev, version, lease FROM kv WHERE key = ?',
  putKv:
    'INSERT OR REPLACE INTO kv (key, value, create_rev, mod_rev, version, lease) VALUES (?, ?, ?, ?, ?, ?)',
  deleteKv: 'DELETE FROM kv WHERE key = ?',
  keysOfLease: 'SELECT key FROM kv WHERE lease = ? ORDER BY key',
  leasedKeys: 'SELECT key FROM kv WHERE lease != 0 ORDER BY key',
  log: 'INSERT INTO changelog (rev, seq, deleted, key, value, create_rev, mod_rev, version, lease) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
  readLogKey:
    'SELECT rev, deleted, key, value, create_rev, mod_rev, version, lease FROM changelog WHERE rev > ? AND rev <= ? AND key = ? ORDER BY rev, seq',
  readLogRange:
    'SELECT rev, deleted, key, value, create_rev, mod_rev, version, lease FROM changelog WHERE rev > ? AND rev <= ? AND key >= ? AND key < ? ORDER BY rev, seq',
  readLogOpen:
    'SELECT rev, deleted, key, value, create_rev, mod_rev, version, lease FROM changelog WHERE rev > ? AND rev <= ? AND key >= ? ORDER BY rev, seq',
  trimLog: 'DELETE FROM changelog WHERE rev <= ?',
  /** The first revision with events after a revision: where a watch read's window starts. */
  nextLogRevision: 'SELECT MIN(rev) FROM changelog WHERE rev > ?',
  /** The revision before the newest N with history, after a compaction point: where to trim to. */
  nthNewestRevision: 'SELECT DISTINCT rev FROM changelog WHERE rev > ? ORDER BY rev DESC LIMIT 1 OFFSET ?',
  grant: 'INSERT OR IGNORE INTO lease (id, ttl_ms, expires_at) VALUES (?, ?, ?)',
  getLease: 'SELECT ttl_ms, expires_at FROM lease WHERE id = ?',
  renew: 'UPDATE lease SET expires_at = ? WHERE id = ?',
  deleteLease: 'DELETE FROM lease WHERE id = ?',
  deleteAllLeases: 'DELETE FROM lease',
  expired: 'SELECT id FROM lease WHERE expires_at <= ? ORDER BY id',
  anyExpired: 'SELECT 1 FROM lease WHERE expires_at <= ? LIMIT 1',
} as const;

/**
 * Reads with a LIMIT. A LIMIT given as a bound parameter makes SQLite prepare the statement again
 * on every run (about 10 µs, more than the read itself), so the limit is written into the SQL
 * instead: one statement per limit in use (see {@link LimitedReads}).
 */
const LIMITED = {
  rangeKv:
    'SELECT key, value, create_rev, mod_rev, version, lease FROM kv WHERE key >= ? AND key < ? ORDER BY key',
  rangeKvOpen: 'SELECT key, value, create_rev, mod_rev, version, lease FROM kv WHERE key >= ? ORDER BY key',
  /** Newest first, by create revision (a queue read ahead of a waiter). */
  newestKv:
    'SELECT key, value, create_rev, mod_rev, version, lease FROM kv INDEXED BY kv_by_create WHERE create_rev <= ? AND key >= ? AND key < ? ORDER BY create_rev DESC, key DESC',
  oldestKv:
    'SELECT key, value, create_rev, mod_rev, version, lease FROM kv INDEXED BY kv_by_create WHERE create_rev <= ? AND key >= ? AND key < ? ORDER BY create_rev, key',
} as const;

/** The name of a read with a limit. */
export type LimitedRead = keyof typeof LIMITED;

/** Distinct limits kept prepared per read; a read with another limit binds it (and is re-prepared). */
const CACHED_LIMITS = 16;

/**
 * The reads of {@link LIMITED} on one connection, each prepared once per limit it is run with
 * (the limits tenure uses are a few small numbers; a caller's own limits beyond
 * {@link CACHED_LIMITS} of them fall back to a bound LIMIT).
 */
export class LimitedReads {
  readonly #db: Database.Database;
  readonly #prepared = new Map<LimitedRead, Map<number, Database.Statement>>();
  readonly #bound = new Map<LimitedRead, Database.Statement>();

  constructor(db: Database.Database) {
    this.#db = db;
  }

  /** The rows of `name` with `params`, at most `limit` of them (a negative limit: all). */
  all(name: LimitedRead, limit: number, ...params: unknown[]): unknown[] {
    let byLimit = this.#prepared.get(name);
    if (byLimit === undefined) this.#prepared.set(name, (byLimit = new Map()));
    let stmt = byLimit.get(limit);
    if (stmt === undefined) {
      if (byLimit.size >= CACHED_LIMITS || !Number.isSafeInteger(limit)) {
        let bound = this.#bound.get(name);
        if (bound === undefined)
          this.#bound.set(name, (bound = this.#db.prepare(`${LIMITED[name]} LIMIT ?`)));
        return bound.all(...params, limit);
      }
      stmt = this.#db.prepare(limit < 0 ? LIMITED[name] : `${LIMITED[name]} LIMIT ${limit}`);
      byLimit.set(limit, stmt);
    }
    return stmt.all(...params);
  }
}

/** The statements that return their first column's value rather than a row. */
const PLUCKED: ReadonlySet<keyof typeof SQL> = new Set([
  'revision',
  'dataVersion',
  'keysOfLease',
  'leasedKeys',
  'nthNewestRevision',
  'nextLogRevision',
  'expired',
  'anyExpired',
] as const);

/** The prepared statements of one connection. */
export type Statements = { readonly [K in keyof typeof SQL]: Database.Statement };

/** Prepares every statement of a store once, on its connection. */
export function prepareStatements(db: Database.Database): Statements {
  const statements = {} as Record<keyof typeof SQL, Database.Statement>;
  for (const name of Object.keys(SQL) as (keyof typeof SQL)[]) {
    const statement = db.prepare(SQL[name]);
    statements[name] = PLUCKED.has(name) ? statement.pluck() : statement;
  }
  return statements;
}

/**
 * The tables of a SQLite store, their rows, and the creation and upgrade of a file's schema.
 *
 * `state` holds one row: the store's revision, compaction point, boot id, identity (a random id
 * written at creation, so a file rewritten with another store is told apart) and the top of the
 * revisions reserved in the `-revisions` file (revision-floor.ts). `kv` holds the keys, `lease`
 * the leases (on the host's monotonic clock), `changelog` the history watches read.
 */
import type Database from 'better-sqlite3';
import { randomInt, randomUUID } from 'node:crypto';
import { TenureError } from '../../errors.js';
import type { KeyValue } from '../types.js';
import { bootId } from './host-clock.js';
import {
  REVISION_BLOCK,
  readReservation,
  reservationPath,
  wallClockMicros,
  writeReservation,
} from './revision-floor.js';

export const SCHEMA_VERSION = 2;

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS state (
  id INTEGER PRIMARY KEY CHECK (id = 0),
  schema_version INTEGER NOT NULL,
  revision INTEGER NOT NULL,
  compact_revision INTEGER NOT NULL,
  boot_id TEXT NOT NULL,
  store_id TEXT NOT NULL DEFAULT '',
  reserved INTEGER NOT NULL DEFAULT 0
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
-- Queue reads by create revision (the entries just ahead of a waiter): O(log n), not a prefix scan.
CREATE INDEX IF NOT EXISTS kv_by_create ON kv (create_rev);
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
-- A one-key watch reads only its key's history.
CREATE INDEX IF NOT EXISTS changelog_by_key ON changelog (key, rev);
`;

export interface KvRow {
  key: Buffer;
  value: Buffer;
  create_rev: number;
  mod_rev: number;
  version: number;
  lease: number;
}

export interface LogRow extends KvRow {
  rev: number;
  deleted: number;
}

export const EMPTY = Buffer.alloc(0);

export function toKv(row: KvRow): KeyValue {
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
export function prefixEnd(prefix: Buffer): Buffer | undefined {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return undefined;
}

export function keyBytes(key: string): Buffer {
  return Buffer.from(key, 'utf8');
}

/** A lease id: random, so a lease granted on a restored or recreated file never reuses one. */
export function newLeaseId(): number {
  return randomInt(0, 2 ** 21) * 2 ** 32 + randomInt(1, 2 ** 32);
}

export interface StateRow {
  schema_version: number;
  revision: number;
  compact_revision: number;
  boot_id: string;
  store_id: string;
  reserved: number;
}

/**
 * Inside the opening transaction: creates the schema and the state row of a new file, starting
 * its revisions above every revision handed out at this path before (see revision-floor.ts), and
 * upgrades a file of schema version 1.
 * @throws TENURE_CORRUPT for a schema version this tenure does not read.
 */
export function initializeSchema(db: Database.Database, path: string, fileMode: number): void {
  const reservationFile = reservationPath(path);
  db.exec(SCHEMA);
  const row = db.prepare('SELECT schema_version FROM state WHERE id = 0').get() as
    { schema_version: number } | undefined;
  if (row === undefined) {
    const reserved = readReservation(reservationFile);
    const start = Math.max(reserved === undefined ? 0 : reserved + REVISION_BLOCK, wallClockMicros());
    writeReservation(reservationFile, start, fileMode);
    db.prepare(
      'INSERT INTO state (id, schema_version, revision, compact_revision, boot_id, store_id, reserved) VALUES (0, ?, ?, ?, ?, ?, ?)',
    ).run(SCHEMA_VERSION, start, start, bootId(), randomUUID(), start);
    return;
  }
  if (row.schema_version === 1) {
    const columns = (db.prepare('PRAGMA table_info(state)').all() as { name: string }[]).map((c) => c.name);
    if (!columns.includes('store_id'))
      db.exec("ALTER TABLE state ADD COLUMN store_id TEXT NOT NULL DEFAULT ''");
    if (!columns.includes('reserved'))
      db.exec('ALTER TABLE state ADD COLUMN reserved INTEGER NOT NULL DEFAULT 0');
    db.prepare('UPDATE state SET store_id = ?, schema_version = ? WHERE id = 0').run(
      randomUUID(),
      SCHEMA_VERSION,
    );
    return;
  }
  if (row.schema_version !== SCHEMA_VERSION)
    throw new TenureError(
      'TENURE_CORRUPT',
      `${path} has schema version ${row.schema_version}; this tenure reads ${SCHEMA_VERSION}`,
    );
}

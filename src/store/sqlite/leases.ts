/**
 * Leases of a SQLite store: grant, renewal, revocation and expiry.
 *
 * A lease is a row of the `lease` table with its ttl and its expiry on the host's monotonic clock
 * (host-clock.ts): immune to wall-clock steps, shared by every process of the host, and reset by
 * a reboot, which therefore kills every lease (checkBoot). Nothing removes an expired lease at
 * the instant it expires: whichever process touches the store first deletes it and its keys in one
 * revision (every write transaction reaps first, every read reaps if something is due), and the
 * ticker of every open store reaps every `reapIntervalMs` (notify.ts), which bounds how long an
 * expired lease's keys stay visible.
 *
 * Everything here runs inside a transaction opened by the store (index.ts), which owns the
 * connection, the revisions and the checks that the file is still the store it opened.
 */
import { TenureError, isTenureError } from '../../errors.js';
import { leaseNotFound } from '../errors.js';
import type { LeaseId } from '../types.js';
import { bootId, hostNow } from './host-clock.js';
import { newLeaseId } from './schema.js';
import type { Statements } from './statements.js';

/** What lease code needs of a revision: deleting keys in it, then committing it. */
export interface LeaseRevisionWriter {
  /** Deletes `key` in this revision if it exists; returns whether it did. */
  delete(key: Buffer): boolean;
  /** Records the revision if anything was written; returns whether it was. */
  commit(): boolean;
}

/** What the leases need of their store. */
export interface SqliteLeasesContext {
  /** The connection's prepared statements. */
  readonly stmt: Statements;
  /** Inside a write transaction: starts a new revision (taken only if something is written). */
  revisionWriter(): LeaseRevisionWriter;
  /** Runs `fn` in one IMMEDIATE transaction, without waiting for another process's lock. */
  writeOnce(fn: () => void): void;
  /** Whether the store was closed. */
  isClosed(): boolean;
}

/** The leases of one SQLite store. */
export class SqliteLeases {
  readonly #ctx: SqliteLeasesContext;

  constructor(context: SqliteLeasesContext) {
    this.#ctx = context;
  }

  /** Inside a write transaction: a reboot since the last open kills every lease. */
  checkBoot(): void {
    const stmt = this.#ctx.stmt;
    const state = stmt.state.get() as { boot_id: string };
    if (state.boot_id === bootId()) return;
    const w = this.#ctx.revisionWriter();
    for (const key of stmt.leasedKeys.all() as Buffer[]) w.delete(key);
    stmt.deleteAllLeases.run();
    w.commit();
    stmt.setBoot.run(bootId());
  }

  /** Inside a write transaction: deletes every expired lease and its keys, in one revision. */
  reap(): void {
    const stmt = this.#ctx.stmt;
    const expired = stmt.expired.all(hostNow()) as number[];
    if (expired.length === 0) return;
    const w = this.#ctx.revisionWriter();
    for (const id of expired) {
      for (const key of stmt.keysOfLease.all(id) as Buffer[]) w.delete(key);
      stmt.deleteLease.run(id);
    }
    w.commit();
  }

  /**
   * Outside a transaction: reaps in a write transaction of its own if a lease has expired. A
   * busy file is left alone: the next tick, or the next process to touch the store, reaps.
   */
  reapIfDue(): void {
    if (this.#ctx.isClosed()) return;
    try {
      if (this.#ctx.stmt.anyExpired.get(hostNow()) !== undefined) this.#ctx.writeOnce(() => this.reap());
    } catch {
      // A busy file: the next tick, or the next process to touch the store, reaps.
    }
  }

  /** Inside a transaction: whether lease `id` exists (0 is no lease and always does). */
  exists(id: number): boolean {
    return id === 0 || this.#ctx.stmt.getLease.get(id) !== undefined;
  }

  /** Inside a write transaction: grants a lease of `ttlMs` and returns its id. */
  grant(ttlMs: number): number {
    this.reap();
    for (;;) {
      const id = newLeaseId();
      if (this.#ctx.stmt.grant.run(id, ttlMs, hostNow() + ttlMs).changes === 1) return id;
    }
  }

  /**
   * Inside a write transaction: renews lease `id` for its ttl and returns the ttl. `mayRenew` runs
   * once the lease is known to exist and throws if the store must not renew it.
   * @throws TENURE_LEASE_NOT_FOUND if it expired or was revoked.
   */
  renew(id: LeaseId, mayRenew: () => void): number {
    // Reap first: a lease past its expiry must not be brought back to life.
    this.reap();
    const stmt = this.#ctx.stmt;
    const row = stmt.getLease.get(Number(id)) as { ttl_ms: number } | undefined;
    if (row === undefined) throw leaseNotFound(id);
    mayRenew();
    stmt.renew.run(hostNow() + row.ttl_ms, Number(id));
    return row.ttl_ms;
  }

  /** Inside a write transaction: deletes lease `id` and its keys in one revision, if it exists. */
  revoke(id: LeaseId): void {
    this.reap();
    const stmt = this.#ctx.stmt;
    if (stmt.getLease.get(Number(id)) === undefined) return;
    const w = this.#ctx.revisionWriter();
    for (const key of stmt.keysOfLease.all(Number(id)) as Buffer[]) w.delete(key);
    stmt.deleteLease.run(Number(id));
    w.commit();
  }

  /** Inside a transaction: the time lease `id` has left, or undefined if it does not exist. */
  timeToLive(id: LeaseId): number | undefined {
    const row = this.#ctx.stmt.getLease.get(Number(id)) as { expires_at: number } | undefined;
    return row === undefined ? undefined : Math.max(0, row.expires_at - hostNow());
  }
}

/**
 * The error a failed renewal of lease `id` ends with. A lease in a swapped, damaged or exhausted
 * file is gone for good: it says so in the code sessions end on (TENURE_LEASE_NOT_FOUND), with
 * the reason as its cause. Any other error is returned as it is.
 */
export function renewalError(id: LeaseId, err: unknown): unknown {
  if (isTenureError(err, 'TENURE_STORE_REPLACED') || isTenureError(err, 'TENURE_CORRUPT'))
    return new TenureError('TENURE_LEASE_NOT_FOUND', `lease ${id} is lost: ${err.message}`, {
      cause: err,
      details: { lease: id },
    });
  return err;
}

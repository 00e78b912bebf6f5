/**
 * The PostgreSQL backend: the Store contract on the database most teams already run.
 *
 * - Every call is one round trip to a PL/pgSQL function of the store's schema (schema.ts): a
 *   transaction that writes locks the one `state` row, the store's serialization point, and
 *   takes the next revision; a transaction of gets reads one snapshot without a lock. A client
 *   therefore never holds a lock between two messages, and a frozen client cannot freeze the
 *   others; every connection also carries `statement_timeout`, `lock_timeout` and
 *   `idle_in_transaction_session_timeout`, so nothing done over it can hold the store for longer.
 * - Keepalives have a connection of their own: a burst of this process's own calls, queued for
 *   the pool, never holds its sessions' heartbeats back (a queue of slow reads longer than a ttl
 *   would otherwise end a session on a healthy server).
 * - Leases expire on the database's clock (`clock_timestamp()`), and are reaped in one revision
 *   by the first write after their expiry (whoever makes it) and by a reaper timer in every open
 *   store.
 * - Watches (watch.ts): LISTEN/NOTIFY wakes them, the `changelog` table delivers their events.
 * - A write on another server than the last one (a promoted replica, a restored backup) makes
 *   the revision jump past every revision the old primary could have handed out, so fencing
 *   tokens never repeat or go backward (docs/postgres.md says which replication settings lose
 *   which acknowledged writes).
 *
 * Alongside this file: options.ts (options, defaults, validation), schema.ts (tables, functions,
 * creation), codec.ts (the JSON of a call), watch.ts, pg-errors.ts (errors as TenureErrors).
 */
import { randomInt } from 'node:crypto';
import pg from 'pg';
import type { Clock, Timer } from '../../clock.js';
import { TenureError, invalidArgument, isTenureError } from '../../errors.js';
import { StoreBase } from '../base.js';
import { closedError, compactedError, leaseNotFound } from '../errors.js';
import type {
  Key,
  Lease,
  LeaseId,
  StoreCapabilities,
  TxnRequest,
  TxnResponse,
  WatchBatch,
  WatchEvent,
} from '../types.js';
import {
  decodeResults,
  encodeRequest,
  leaseNumber,
  prefixEndHex,
  toEvent,
  type EventJson,
  type TxnJson,
} from './codec.js';
import {
  resolvePostgresStoreOptions,
  type PostgresStoreOptions,
  type ResolvedPostgresStoreOptions,
} from './options.js';
import { breaksConnection, mapPgError } from './pg-errors.js';
import { speaksPostgres } from './probe.js';
import { SCHEMA_VERSION, channelOf, ensureSchema, quoteIdent } from './schema.js';
import { Listener, watchChanges } from './watch.js';

export { POSTGRES_STORE_DEFAULTS, type PostgresStoreOptions, type PostgresTlsOptions } from './options.js';

/**
 * How much longer than its ttl the server keeps a lease after a keepalive. The server starts the
 * ttl when the keepalive arrives, and a read sent before the ttl ran out (on the client's clock)
 * may reach the server after it ran out there if the read's trip took longer than the
 * keepalive's: the grace covers that difference in one-way delay, so that a lease never looks
 * expired to a client before ttl after it sent the keepalive.
 */
const EXPIRY_GRACE_MS = 50;

/** The node-postgres connection settings of a store's connections. */
function clientConfig(o: ResolvedPostgresStoreOptions): pg.ClientConfig {
  let ssl: pg.ClientConfig['ssl'] = false;
  if (o.tls !== false) {
    const mode = o.tls.mode ?? 'verify-full';
    ssl = {
      rejectUnauthorized: mode !== 'require',
      ...(o.tls.ca !== undefined ? { ca: Buffer.from(o.tls.ca).toString() } : {}),
      ...(o.tls.cert !== undefined ? { cert: Buffer.from(o.tls.cert).toString() } : {}),
      ...(o.tls.key !== undefined ? { key: Buffer.from(o.tls.key).toString() } : {}),
      ...(mode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}),
    };
  }
  return {
    host: o.host,
    port: o.port,
    user: o.user,
    password: o.password ?? '',
    database: o.database,
    ssl,
    application_name: 'tenure',
    connectionTimeoutMillis: o.connectTimeoutMs,
    keepAlive: true,
    statement_timeout: o.requestTimeoutMs,
    lock_timeout: o.requestTimeoutMs,
    ...(o.idleInTransactionTimeoutMs > 0
      ? { idle_in_transaction_session_timeout: o.idleInTransactionTimeoutMs }
      : {}),
    // The client's own deadline: a server that stopped answering (a partition) fails the call.
    query_timeout: o.requestTimeoutMs + 500,
  };
}

/**
 * A Store in a PostgreSQL schema, shared by every process that opens it.
 *
 * @example
 * ```ts
 * const store = await PostgresStore.open({ host: 'db', user: 'app', password, database: 'app' });
 * const lease = await store.grant(5000);
 * await store.put('service/leader', 'host-a', { lease: lease.id });
 * ```
 */
export class PostgresStore extends StoreBase {
  readonly capabilities: StoreCapabilities;
  /** The schema holding this store. */
  readonly schema: string;
  readonly #o: ResolvedPostgresStoreOptions;
  readonly #pool: pg.Pool;
  /** Keepalives only: never queued behind the calls waiting for {@link PostgresStore.#pool}. */
  readonly #beats: pg.Pool;
  readonly #where: string;
  readonly #sql: {
    txn: string;
    read: string;
    reap: string;
    reapDue: string;
    grant: string;
    keepAlive: string;
    timeToLive: string;
    revoke: string;
    compact: string;
    changes: string;
  };
  readonly #listener: Listener;
  #reaper: Timer | undefined;
  /** Rejects with TENURE_CLOSED when the store starts closing. */
  readonly #closing: Promise<never>;
  #rejectClosing!: (err: unknown) => void;
  /** Settles when doClose has ended the listener and the pool. */
  readonly #closeDone: Promise<void>;
  #endClose!: () => void;
  readonly #names = new Map<string, string>();
  /** Pooled connections that have their 'error' listener. */
  readonly #guarded = new WeakSet<pg.PoolClient>();
  /** The highest revision this client has seen: the store's may never go below it. */
  #seen = 0;

  private constructor(o: ResolvedPostgresStoreOptions) {
    super();
    this.#o = o;
    this.schema = o.schema;
    this.#where = `${o.user}@${o.host}:${o.port}/${o.database} (schema ${o.schema})`;
    const S = quoteIdent(o.schema);
    this.#sql = {
      txn: `SELECT ${S}.txn($1::jsonb) AS r`,
      read: `SELECT ${S}.read($1::jsonb) AS r`,
      reap: `SELECT ${S}.reap($1) AS r`,
      reapDue: `SELECT EXISTS (SELECT 1 FROM ${S}.lease WHERE expires_at <= clock_timestamp()) AS r`,
      grant: `INSERT INTO ${S}.lease (id, ttl_ms, expires_at) VALUES ($1::bigint, $2::int, clock_timestamp() + ($2::int + ${EXPIRY_GRACE_MS}) * interval '1 millisecond') ON CONFLICT (id) DO NOTHING RETURNING id AS r`,
      keepAlive: `UPDATE ${S}.lease SET expires_at = clock_timestamp() + (ttl_ms + ${EXPIRY_GRACE_MS}) * interval '1 millisecond' WHERE id = $1 AND expires_at > clock_timestamp() RETURNING ttl_ms AS r`,
      timeToLive: `SELECT least(ttl_ms, greatest(0, extract(epoch FROM expires_at - clock_timestamp()) * 1000 - ${EXPIRY_GRACE_MS}))::float8 AS r FROM ${S}.lease WHERE id = $1 AND expires_at > clock_timestamp()`,
      revoke: `SELECT ${S}.revoke($1, $2) AS r`,
      compact: `SELECT ${S}.compact($1, $2) AS r`,
      changes: `SELECT ${S}.changes($1, $2, $3, $4) AS r`,
    };
    this.capabilities = Object.freeze({
      backend: 'postgres',
      minTtlMs: 500, // a session's heartbeats (every ttl/3) must outlast a GC pause or a busy host
      maxTtlMs: 2 ** 31 - 1,
      ttlGranularityMs: 1,
      // The reaper's interval and the grace, plus its round trips and a busy server's delay.
      expiryBoundMs: o.reapIntervalMs + EXPIRY_GRACE_MS + 100,
      watchLatency: 'push',
      // PostgreSQL's B-tree entries hold at most ~2,700 bytes; keys are indexed twice.
      maxKeyBytes: 2048,
      maxValueBytes: 1024 * 1024,
      maxTxnOps: 128,
    });
    const config = clientConfig(o);
    // A call waiting for a free connection of the pool waits up to its deadline (the pool's
    // `connectionTimeoutMillis` bounds that wait), not connectTimeoutMs: a burst of this
    // process's own calls is a queue, not an unavailable server. Making a connection stays
    // bounded by connectTimeoutMs (the client's own setting).
    const connectTimeoutMs = o.connectTimeoutMs;
    class Client extends pg.Client {
      constructor(c?: string | pg.ClientConfig) {
        // The pool keeps `password` out of its options' enumerable properties: carried over by name.
        super(
          typeof c === 'object'
            ? { ...c, password: c.password, connectionTimeoutMillis: connectTimeoutMs }
            : c,
        );
      }
    }
    const pool = (max: number, idleTimeoutMillis: number) => {
      const made = new pg.Pool({
        ...config,
        Client,
        connectionTimeoutMillis: o.requestTimeoutMs,
        max,
        idleTimeoutMillis,
        allowExitOnIdle: true,
      });
      made.on('error', () => undefined); // an idle connection lost: the pool replaces it
      return made;
    };
    this.#pool = pool(o.poolSize, 30_000);
    // Kept while the store is open: keepalives of a long ttl come less often than 30 s.
    this.#beats = pool(1, 0);
    this.#closeDone = new Promise<void>((resolve) => (this.#endClose = resolve));
    this.#closing = new Promise<never>((_, reject) => (this.#rejectClosing = reject));
    this.#closing.catch(() => undefined);
    this.#listener = new Listener({
      config,
      channel: channelOf(o.schema),
      clock: o.clock,
      probeIntervalMs: o.watchProbeIntervalMs,
      requestTimeoutMs: o.requestTimeoutMs,
      revisionSql: `SELECT revision AS r FROM ${S}.state WHERE id = 0`,
    });
  }

  /**
   * Connects, creates the store's schema if missing (unless `create: false`), and returns the
   * store. Nothing is created when it fails.
   * @throws TENURE_STORE_UNUSABLE for wrong credentials, a missing database, missing privileges,
   * a missing store with `create: false`, or a server that is not PostgreSQL;
   * TENURE_UNAVAILABLE when the server cannot be reached within `connectTimeoutMs`;
   * TENURE_INVALID_ARGUMENT for a bad option (naming it).
   */
  static async open(options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const store = new PostgresStore(resolvePostgresStoreOptions(options));
    try {
      await store.#prepare();
    } catch (err) {
      await store.close();
      throw err;
    }
    store.#scheduleReaper();
    return store;
  }

  async #prepare(): Promise<void> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (err) {
      const mapped = mapPgError(err, this.#where);
      // Broken off before authentication: is it PostgreSQL at all?
      if (
        isTenureError(mapped, 'TENURE_UNAVAILABLE') &&
        /terminated unexpectedly/.test((err as Error).message)
      ) {
        const answer = await speaksPostgres(
          this.#o.host,
          this.#o.port,
          this.#o.connectTimeoutMs,
          this.#o.clock,
        );
        if (answer === false)
          throw new TenureError(
            'TENURE_STORE_UNUSABLE',
            `${this.#o.host}:${this.#o.port} is not a PostgreSQL server (it does not answer the protocol's SSLRequest as PostgreSQL does); check the host and port of the URL`,
            { cause: err, details: { store: this.#where } },
          );
      }
      throw mapped;
    }
    try {
      if (this.#o.create) await ensureSchema(client, this.#o.schema);
      else {
        const S = quoteIdent(this.#o.schema);
        const found = await client.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [`${S}.state`]);
        if (found.rows[0]?.t == null)
          throw new TenureError(
            'TENURE_STORE_UNUSABLE',
            `there is no tenure store in schema ${this.#o.schema} of ${this.#where} (nothing has written to it yet, or the database or schema is wrong)`,
            { details: { store: this.#where } },
          );
        const version = await client.query<{ v: number }>(
          `SELECT schema_version AS v FROM ${S}.state WHERE id = 0`,
        );
        if (version.rows[0]?.v !== SCHEMA_VERSION)
          throw new TenureError(
            'TENURE_CORRUPT',
            `the tenure store in schema ${this.#o.schema} has schema version ${version.rows[0]?.v}; this tenure reads ${SCHEMA_VERSION}`,
          );
      }
      client.release();
    } catch (err) {
      client.release(true);
      throw mapPgError(err, this.#where);
    }
  }

  /**
   * The name of `text` as a prepared statement: each connection parses and plans it once, not
   * at every call (a third of a put's time otherwise).
   */
  #statementName(text: string): string {
    let name = this.#names.get(text);
    if (name === undefined) this.#names.set(text, (name = `tenure_${this.#names.size}`));
    return name;
  }

  /**
   * A connection of `pool`. One still being set up when the pool ends is not ended with it: close
   * fails the wait at once, and the connection, once it comes, is dropped (a pool waits for its
   * checked-out connections before it ends).
   * @throws TENURE_CLOSED once the store closes; the mapped error when no connection is made.
   */
  async #checkout(pool: pg.Pool): Promise<pg.PoolClient> {
    const connecting = pool.connect();
    try {
      return await Promise.race([connecting, this.#closing]);
    } catch (err) {
      if (this.closed) {
        connecting.then(
          (c) => c.release(true),
          () => undefined,
        );
        throw closedError();
      }
      throw mapPgError(err, this.#where);
    }
  }

  /** Runs one statement on a pooled connection; a connection that broke is dropped. */
  async #query<T>(text: string, values: unknown[], pool = this.#pool): Promise<T> {
    this.assertOpen();
    const client = await this.#checkout(pool);
    if (!this.#guarded.has(client)) {
      // A connection the server ends between two queries of a checked-out client (a crash, a
      // terminated backend) reports it as an 'error' event: the next query fails and drops it.
      this.#guarded.add(client);
      client.on('error', () => undefined);
    }
    try {
      const res = await client.query({ name: this.#statementName(text), text, values });
      client.release();
      return (res.rows[0] as { r: T } | undefined)?.r as T;
    } catch (err) {
      client.release(breaksConnection(err) ? (err as Error) : undefined);
      if (this.closed) throw closedError();
      if ((err as { code?: unknown }).code === 'TN001') {
        const id = /lease (\d+)/.exec((err as Error).message)?.[1] ?? '?';
        throw leaseNotFound(id);
      }
      throw mapPgError(err, this.#where);
    }
  }

  /**
   * Records a revision read or written by a call that started when this process had seen
   * `floor`: a revision below that means the store went back (concurrent calls may answer in any
   * order, so only what was seen before a call started counts).
   */
  #see(revision: number, floor: number): boolean {
    if (revision < floor) return false;
    if (revision > this.#seen) this.#seen = revision;
    return true;
  }

  #wentBack(revision: number, floor: number): TenureError {
    return new TenureError(
      'TENURE_STORE_REPLACED',
      `the PostgreSQL store ${this.#where} went back in time: its revision is ${revision}, this process saw ${floor} (restored from an older copy without a new timeline?); every lease and lock held in it is lost; open the store again`,
      { details: { store: this.#where, revision, seen: floor } },
    );
  }

  protected override get selectsByCreateRevision(): boolean {
    return true;
  }

  protected async doTxn(request: TxnRequest): Promise<TxnResponse> {
    const writes = [...(request.success ?? []), ...(request.failure ?? [])].some((op) => op.type !== 'get');
    const body = encodeRequest(request, this.#o.retainRevisions);
    const floor = this.#seen;
    if (writes) {
      const res = await this.#query<TxnJson>(this.#sql.txn, [body]);
      if (!this.#see(res.rev, floor)) throw this.#wentBack(res.rev, floor);
      return { succeeded: res.ok, revision: res.rev, results: decodeResults(res) };
    }
    for (let attempt = 0; ; attempt++) {
      const res = await this.#query<TxnJson>(this.#sql.read, [body]);
      // An expired lease waits to be reaped (a read cannot write): reap, then read again.
      if (res.reap === true && attempt < 3) {
        await this.#reap();
        continue;
      }
      if (res.reap !== true && !this.#see(res.rev, floor)) {
        // Behind what this process saw: a promoted replica that has not written yet. The identity
        // check of a write makes its revision jump; read again after it.
        if (attempt < 3) {
          await this.#reap();
          continue;
        }
        throw this.#wentBack(res.rev, floor);
      }
      if (res.reap === true)
        throw new TenureError(
          'TENURE_UNAVAILABLE',
          `PostgreSQL store ${this.#where}: leases keep expiring faster than they are reaped`,
        );
      return { succeeded: res.ok, revision: res.rev, results: decodeResults(res) };
    }
  }

  /** Takes the serialization point once: checks the server's identity and reaps expired leases. */
  async #reap(): Promise<number> {
    const floor = this.#seen;
    const rev = Number(await this.#query<string>(this.#sql.reap, [this.#o.retainRevisions]));
    this.#see(rev, floor);
    return rev;
  }

  protected async doGrant(ttlMs: number): Promise<Lease> {
    const [lease] = await Promise.all([this.#grant(ttlMs), this.#readyBeats()]);
    return lease;
  }

  async #grant(ttlMs: number): Promise<Lease> {
    for (let attempt = 0; ; attempt++) {
      // Random ids: a lease granted on a restored database never reuses a live one's id.
      const id = randomInt(0, 2 ** 21) * 2 ** 32 + randomInt(1, 2 ** 32);
      const got = await this.#query<string | undefined>(this.#sql.grant, [id, ttlMs]);
      if (got !== undefined) return { id: String(id), ttlMs };
      if (attempt >= 10)
        throw new TenureError(
          'TENURE_CORRUPT',
          `PostgreSQL store ${this.#where}: no free lease id after 10 random picks`,
        );
    }
  }

  /**
   * Makes the keepalives' connection along with the first lease: making one takes
   * several round trips (authentication), each waiting its turn in an event loop that may be
   * busy with a burst of big replies (seen: over a second), while a keepalive on a made
   * connection is one round trip. Not made, it is left to the first keepalive.
   */
  async #readyBeats(): Promise<void> {
    if (this.#beats.totalCount > 0) return;
    try {
      (await this.#checkout(this.#beats)).release();
    } catch {
      // The grant says what is wrong with the server, if anything.
    }
  }

  protected async doKeepAlive(id: LeaseId): Promise<number> {
    const n = leaseNumber(id);
    if (n < 0) throw leaseNotFound(id);
    const ttl = await this.#query<number | undefined>(this.#sql.keepAlive, [n], this.#beats);
    if (ttl === undefined) throw leaseNotFound(id);
    return ttl;
  }

  protected async doRevoke(id: LeaseId): Promise<void> {
    const n = leaseNumber(id);
    if (n < 0) return;
    const floor = this.#seen;
    const rev = Number(await this.#query<string>(this.#sql.revoke, [n, this.#o.retainRevisions]));
    if (!this.#see(rev, floor)) throw this.#wentBack(rev, floor);
  }

  protected async doTimeToLive(id: LeaseId): Promise<number | undefined> {
    const n = leaseNumber(id);
    if (n < 0) return undefined;
    const ms = await this.#query<number | undefined>(this.#sql.timeToLive, [n]);
    return ms === undefined ? undefined : Math.round(ms);
  }

  protected async doRevision(): Promise<number> {
    return (await this.doTxn({})).revision;
  }

  protected async doCompact(revision: number): Promise<void> {
    const current = Number(await this.#query<string>(this.#sql.compact, [revision, this.#o.retainRevisions]));
    if (current >= 0) throw invalidArgument('revision', `must be at most the current revision ${current}`);
  }

  /** The events after `after` for a key or prefix (see the `changes` function). */
  async #readChanges(
    after: number,
    key: string,
    prefix: boolean,
  ): Promise<{ events: WatchEvent[]; upTo: number; more: boolean }> {
    const end = prefix ? prefixEndHex(key) : null;
    const res = await this.#query<{ ev?: EventJson[]; up?: number; more?: boolean; compacted?: number }>(
      this.#sql.changes,
      [after, Buffer.from(key, 'utf8'), end === null ? null : Buffer.from(end, 'hex'), prefix],
    );
    if (res.compacted !== undefined) throw compactedError(after + 1, res.compacted);
    return { events: res.ev!.map(toEvent), upTo: res.up!, more: res.more! };
  }

  protected doWatch(
    key: Key,
    prefix: boolean,
    fromRevision: number | undefined,
    signal: AbortSignal | undefined,
  ): AsyncIterable<WatchBatch> {
    // The start is fixed now, not when iteration begins.
    const start = fromRevision === undefined ? this.doRevision() : Promise.resolve(fromRevision - 1);
    start.catch(() => undefined);
    const source = {
      listener: this.#listener,
      clock: this.#o.clock,
      requestTimeoutMs: this.#o.requestTimeoutMs,
      isClosed: () => this.closed,
      revision: () => this.doRevision(),
      closeDone: () => this.#closeDone,
      readChanges: (after: number, k: string, p: boolean) => this.#readChanges(after, k, p),
    };
    return { [Symbol.asyncIterator]: () => watchChanges(source, key, prefix, start, signal) };
  }

  #scheduleReaper(): void {
    if (this.closed) return;
    const clock: Clock = this.#o.clock;
    this.#reaper = clock.setTimeout(() => void this.#reapTick(), this.#o.reapIntervalMs);
    this.#reaper.unref();
  }

  async #reapTick(): Promise<void> {
    try {
      if (await this.#query<boolean>(this.#sql.reapDue, [])) await this.#reap();
    } catch {
      // Unreachable or closing: the next tick, or the next write of any client, reaps.
    }
    this.#scheduleReaper();
  }

  protected async doClose(): Promise<void> {
    this.#rejectClosing(closedError());
    if (this.#reaper !== undefined) this.#o.clock.clearTimeout(this.#reaper);
    this.#reaper = undefined;
    try {
      await this.#listener.close();
      await Promise.all([this.#pool.end(), this.#beats.end()]).catch(() => undefined);
    } finally {
      this.#endClose();
    }
  }
}

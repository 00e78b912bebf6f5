/**
 * The Redis backend: the Store contract on one Redis server (7.0 or later), with the same meaning
 * as on etcd.
 *
 * - Every call is one EVALSHA of one script (script.lua.ts), sent again as EVAL (which loads it)
 *   when the server answers NOSCRIPT (after a restart or SCRIPT FLUSH). Compares and writes
 *   of a transaction are therefore atomic, and the store-wide revision rises by one per
 *   transaction that writes.
 * - All of a store's Redis keys share one hash tag (`{tenure}:...`, see `keyPrefix`), so a Redis
 *   Cluster keeps them on one shard.
 * - Leases expire on the server's clock (`TIME` inside the script). The script reaps expired
 *   leases, each in one revision, at every call made once the earliest expiry has passed, and
 *   every open store calls it at least every `reapIntervalMs` (sooner when the server says a lease
 *   is due).
 * - Watches read a Redis Stream with one entry per revision (watch.ts): blocking `XREAD` on a
 *   connection of its own, exactly once, resumed after a reconnect, trimmed to `retainRevisions`
 *   with TENURE_COMPACTED beyond.
 * - Keepalives have a connection of their own too: Redis answers a connection's commands in the
 *   order sent, so on the shared one a burst of this process's slow calls (big ranges) would
 *   hold its sessions' heartbeats back past their ttl, on a healthy server.
 * - A restart that lost writes (AOF `everysec`, no persistence, a promoted replica) is detected
 *   by the Redis run id recorded with the data; the revision then moves past every revision
 *   handed out before, so a fencing token is never handed out twice (see script.lua.ts and
 *   docs/redis.md).
 *
 * Driver: ioredis (see docs/redis.md for the measurements behind the choice).
 *
 * @example
 * ```ts
 * await using store = new RedisStore({ host: '127.0.0.1', port: 6379 });
 * const lease = await store.grant(5000);
 * await store.put('service/leader', 'host-a', { lease: lease.id });
 * ```
 */
import { createHash } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import type { Timer } from '../../clock.js';
import { invalidArgument } from '../../errors.js';
import { sleep } from '../../sleep.js';
import { StoreBase } from '../base.js';
import { closedError, leaseNotFound } from '../errors.js';
import type { Lease, LeaseId, StoreCapabilities, TxnRequest, TxnResponse, WatchBatch } from '../types.js';
import { decodeResult, txnArgs } from './codec.js';
import {
  resolveRedisOptions,
  type RedisStoreOptions,
  type RedisTlsOptions,
  type ResolvedRedisOptions,
} from './options.js';
import { isFatalConnectError, mapRedisError } from './redis-errors.js';
import { ConnectionRunId } from './run-id.js';
import { STORE_SCRIPT } from './script.lua.js';
import { ChangeTail, redisWatch, type LogSource } from './watch.js';

export {
  REDIS_STORE_DEFAULTS,
  type RedisSentinelAddress,
  type RedisStoreOptions,
  type RedisTlsOptions,
} from './options.js';

/**
 * What the Redis backend can do. `minTtlMs` 500 as memory and SQLite (the shortest ttl a
 * session's heartbeats hold through a GC pause). `expiryBoundMs`: a store looks for expired
 * leases at most `reapIntervalMs` (≤ 250) after the server said one is due, plus a round trip.
 */
export const REDIS_CAPABILITIES: StoreCapabilities = Object.freeze({
  backend: 'redis',
  minTtlMs: 500,
  maxTtlMs: 2 ** 31 - 1,
  ttlGranularityMs: 1,
  expiryBoundMs: 300,
  watchLatency: 'push',
  maxKeyBytes: 4096,
  maxValueBytes: 1024 * 1024,
  maxTxnOps: 128,
});

const pem = (v: string | Uint8Array | undefined) =>
  v === undefined || typeof v === 'string' ? v : Buffer.from(v);

function tlsOptions(tls: RedisTlsOptions, host: string): RedisOptions['tls'] {
  return { ca: pem(tls.ca), cert: pem(tls.cert), key: pem(tls.key), servername: host };
}

/** The store script's SHA-1, the name EVALSHA calls it by. */
const SCRIPT_SHA = createHash('sha1').update(STORE_SCRIPT).digest('hex');

/**
 * A Store on a Redis server.
 *
 * @example
 * ```ts
 * const store = new RedisStore({ host: 'redis.internal', password: process.env.REDIS_PASSWORD });
 * const { revision } = await store.txn({
 *   compare: [{ key: 'lock', target: 'version', op: '=', value: 0 }],
 *   success: [{ type: 'put', key: 'lock', value: 'me', lease: lease.id }],
 * });
 * ```
 */
export class RedisStore extends StoreBase {
  readonly capabilities = REDIS_CAPABILITIES;
  /**
   * `host:port` of the server (no credentials), as shown in errors; with Sentinels, the master
   * name and the Sentinels' addresses.
   */
  readonly server: string;
  readonly #options: ResolvedRedisOptions;
  /**
   * Every call but keepalives: the connection, and the run id of the process behind its socket
   * for the script's epoch check.
   */
  readonly #main: Lane;
  /** Keepalives only (connected with the first lease), with the run id of its own socket. */
  readonly #beats: Lane;
  readonly #keys: string[];
  readonly #tail: ChangeTail;
  readonly #closing: Promise<never>;
  #rejectClosing!: (err: unknown) => void;
  /** The last error a connection attempt ended with that a retry cannot fix. */
  #fatal: Error | undefined;
  #reaper: Timer | undefined;
  /** The highest revision a reply of the server has carried (see LogSource.seenRevision). */
  #seenRevision = 0;
  /** The change log's retention, as the script's second argument. */
  readonly #retain: string;

  /** @throws TENURE_INVALID_ARGUMENT naming the bad option. */
  constructor(options: RedisStoreOptions = {}) {
    super();
    this.#options = resolveRedisOptions(options);
    const o = this.#options;
    const address = (host: string, port: number) =>
      `${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`;
    this.server =
      o.sentinels === undefined
        ? address(o.host, o.port)
        : `master ${o.sentinelMasterName} of Sentinel ${o.sentinels.map((a) => address(a.host, a.port)).join(',')}`;
    const tag = `{${o.keyPrefix}}:`;
    this.#keys = ['meta', 'kv', 'idx', 'leases', 'lttl', 'lkeys', 'log'].map((k) => tag + k);
    this.#retain = String(o.retainRevisions);
    const where: RedisOptions =
      o.sentinels === undefined
        ? { host: o.host, port: o.port }
        : {
            sentinels: o.sentinels.map((a) => ({ host: a.host, port: a.port })),
            name: o.sentinelMasterName,
            role: 'master',
            sentinelCommandTimeout: o.connectTimeoutMs,
            sentinelRetryStrategy: (times) => Math.min(50 * times, 500),
            // A master demoted under the connection refuses writes: the connection is made again
            // through the Sentinels. The call that got READONLY fails (TENURE_UNAVAILABLE, not
            // resent). ioredis's failoverDetector (+switch-master) is not used: its disconnect,
            // landing while a reconnect asks a Sentinel, ended the connection for good ("Connection
            // is closed." on every later call; seen once in about fifteen runs of the failover test).
            reconnectOnError: (err) => (/\bREADONLY\b/.test(err.message) ? 1 : false),
          };
    const connection: RedisOptions = {
      ...where,
      username: o.username,
      password: o.password,
      db: o.db,
      tls: o.tls === false ? undefined : tlsOptions(o.tls, o.host),
      connectTimeout: o.connectTimeoutMs,
      commandTimeout: o.requestTimeoutMs,
      // A command whose reply was lost is not sent again by the driver: a transaction applied
      // twice would take two revisions. The caller sees TENURE_UNAVAILABLE and decides.
      autoResendUnfulfilledCommands: false,
      // ... and a call in flight when the connection closes fails at once (TENURE_UNAVAILABLE),
      // not at its deadline: the driver would otherwise keep it, unanswered, until then.
      maxRetriesPerRequest: 0,
      retryStrategy: (times) => Math.min(50 * times, 500),
      lazyConnect: false,
    };
    const lane = (redis: Redis): Lane => {
      const runId = new ConnectionRunId(redis);
      redis.on('error', (err: Error) => this.#onConnectionError(err));
      redis.on('ready', () => {
        // A connection that became ready again says the configuration works (the password was fixed).
        this.#fatal = undefined;
        runId.learn();
      });
      return { redis, runId };
    };
    this.#main = lane(new Redis(connection));
    const demoted = connection.reconnectOnError;
    this.#beats = lane(
      new Redis({
        ...connection,
        lazyConnect: true,
        // With Sentinel, a keepalive (a write, every third of a ttl) is what meets a demoted
        // master's READONLY first: the other connection then follows it to the new master too,
        // so that its reads are not stale for longer than they were before keepalives moved.
        ...(demoted && {
          reconnectOnError: (err: Error) => {
            const again = demoted(err);
            if (again !== false) this.#main.redis.disconnect(true);
            return again;
          },
        }),
      }),
    );
    const tailConnection = new Redis({
      ...connection,
      // XREAD blocks up to a second; the deadline covers that plus a normal call.
      commandTimeout: o.requestTimeoutMs + 1000,
    });
    tailConnection.on('error', (err: Error) => this.#onConnectionError(err));
    this.#tail = new ChangeTail(tailConnection, this.#keys[6]!, () => this.#source);
    this.#source = {
      readLog: (after, count) => this.#readLog(after, count),
      revision: () => this.doRevision(),
      seenRevision: () => this.#seenRevision,
      tail: this.#tail,
      clock: o.clock,
      requestTimeoutMs: o.requestTimeoutMs,
      isClosed: () => this.closed,
    };
    this.#closing = new Promise<never>((_, reject) => (this.#rejectClosing = reject));
    this.#closing.catch(() => undefined);
    this.#scheduleReap(0);
  }

  #onConnectionError(err: Error): void {
    if (isFatalConnectError(err)) this.#fatal = err;
  }

  /** What the watches read through. */
  #source!: LogSource;

  async #readLog(after: number, count: number): ReturnType<LogSource['readLog']> {
    const reply = (await this.#script('watch', 'log', String(after), String(count))) as [
      number,
      number,
      unknown,
    ];
    if (reply[0] === -1)
      return { compacted: reply[1], revision: this.#seen(reply[2] as number), entries: [] };
    return { compacted: undefined, revision: this.#seen(reply[1]), entries: reply[2] as unknown[] };
  }

  /**
   * Resolves once the connection is known to use the database asked for. The driver goes on in
   * database 0 when its SELECT fails (an index past the server's `databases`): the first call
   * checks with CLIENT INFO instead of writing to the wrong database.
   */
  #dbChecked: Promise<void> | undefined;

  #checkDb(): Promise<void> {
    return (this.#dbChecked ??= (async () => {
      const info = String(await this.#main.redis.call('CLIENT', 'INFO'));
      const db = /\bdb=(\d+)/.exec(info)?.[1];
      if (db !== String(this.#options.db))
        throw new Error(
          `ERR DB index is out of range: asked for ${this.#options.db}, the connection uses ${db}`,
        );
    })().catch((err: unknown) => {
      this.#dbChecked = undefined;
      throw err;
    }));
  }

  /**
   * Sends one call of the script: EVALSHA, or EVAL (which loads it) after NOSCRIPT. The run id
   * argument is computed right before the driver writes the command, in the same synchronous
   * step, so it belongs to the connection the command goes out on.
   */
  #send(lane: Lane, verb: 'EVALSHA' | 'EVAL', command: string, args: (string | Buffer)[]): Promise<unknown> {
    return lane.redis.callBuffer(verb, [
      verb === 'EVALSHA' ? SCRIPT_SHA : STORE_SCRIPT,
      this.#keys.length,
      ...this.#keys,
      command,
      this.#retain,
      lane.runId.argument(),
      ...args,
    ]);
  }

  /** One call of the store's script: `command`, then its arguments. */
  #script(what: string, command: string, ...args: (string | Buffer)[]): Promise<unknown> {
    return this.#scriptOn(this.#main, what, command, args);
  }

  async #scriptOn(lane: Lane, what: string, command: string, args: (string | Buffer)[]): Promise<unknown> {
    if (this.closed) throw closedError();
    if (this.#options.db !== 0)
      try {
        await Promise.race([this.#checkDb(), this.#closing]);
      } catch (err) {
        if (this.closed) throw closedError();
        throw mapRedisError(this.#fatal ?? err, what, this.server, this.#options.keyPrefix);
      }
    try {
      try {
        return await Promise.race([this.#send(lane, 'EVALSHA', command, args), this.#closing]);
      } catch (err) {
        // Not run: the server does not have the script (a restart, SCRIPT FLUSH). Sent again
        // here rather than by the driver, so that the run id argument is that of the connection
        // the second attempt goes out on.
        if (this.closed || !/NOSCRIPT/.test(String(err))) throw err;
        return await Promise.race([this.#send(lane, 'EVAL', command, args), this.#closing]);
      }
    } catch (err) {
      if (this.closed) throw closedError();
      // A connection that cannot be made as configured fails the queued calls with a timeout or
      // "connection closed": the reason worth showing is the connection's own error.
      const shown =
        this.#fatal !== undefined && !/ERR|WRONGTYPE|TENURE_/.test(String(err)) ? this.#fatal : err;
      throw mapRedisError(shown, what, this.server, this.#options.keyPrefix);
    }
  }

  protected async doTxn(request: TxnRequest): Promise<TxnResponse> {
    const reply = (await this.#script('txn', 'txn', ...txnArgs(request))) as [number, unknown, unknown[]];
    if (reply[0] === -1) throw leaseNotFound((reply[1] as Buffer).toString('latin1'));
    this.#seen(reply[1] as number);
    const succeeded = reply[0] === 1;
    const ops = (succeeded ? request.success : request.failure) ?? [];
    return {
      succeeded,
      revision: reply[1] as number,
      results: ops.map((op, i) => decodeResult(op, reply[2][i])),
    };
  }

  protected async doRevision(): Promise<number> {
    return this.#seen((await this.#script('revision', 'revision')) as number);
  }

  #seen(revision: number): number {
    if (revision > this.#seenRevision) this.#seenRevision = revision;
    return revision;
  }

  protected async doGrant(ttlMs: number): Promise<Lease> {
    const [reply] = await Promise.all([this.#script('grant', 'grant', String(ttlMs)), this.#readyBeats()]);
    return { id: (reply as Buffer).toString('latin1'), ttlMs };
  }

  /**
   * Makes the keepalives' connection along with the first lease: making it takes several round
   * trips (AUTH, SELECT, the run id), each waiting its turn in an event loop that may be busy with
   * a burst of big replies, while a keepalive on a made connection is one round trip. Not made,
   * it is left to the first keepalive.
   */
  async #readyBeats(): Promise<void> {
    if (this.#beats.redis.status !== 'wait') return;
    const done = new AbortController();
    const { requestTimeoutMs, clock } = this.#options;
    await Promise.race([
      this.#beats.redis.connect(),
      this.#closing,
      sleep(requestTimeoutMs, { signal: done.signal, clock }),
    ]).catch(() => undefined);
    done.abort();
  }

  protected async doKeepAlive(id: LeaseId): Promise<number> {
    const ttl = (await this.#scriptOn(this.#beats, 'keepAlive', 'keepalive', [id])) as number;
    if (ttl < 0) throw leaseNotFound(id);
    return ttl;
  }

  protected async doRevoke(id: LeaseId): Promise<void> {
    await this.#script('revoke', 'revoke', id);
  }

  protected async doTimeToLive(id: LeaseId): Promise<number | undefined> {
    const ttl = (await this.#script('timeToLive', 'ttl', id)) as number;
    return ttl < 0 ? undefined : ttl;
  }

  protected async doCompact(revision: number): Promise<void> {
    const reply = (await this.#script('compact', 'compact', String(revision))) as [number, number];
    if (reply[0] === -1)
      throw invalidArgument('revision', `must be at most the current revision (${reply[1]})`);
  }

  protected doWatch(
    key: string,
    prefix: boolean,
    fromRevision: number | undefined,
    signal: AbortSignal | undefined,
  ): AsyncIterable<WatchBatch> {
    // Sent now, on the store's one connection, so a write made through this store after this
    // call is ordered after this read. A write made through another connection is not: the read
    // runs when the server gets it, later than this call if the connection is (re)connecting, so
    // such a write may land before the watch's start. A caller that must see it passes
    // fromRevision (a revision read before the write). If the connection fails with the read in
    // flight, the watch reads the revision again (watch.ts) instead of failing.
    const start = fromRevision !== undefined ? Promise.resolve(fromRevision - 1) : this.doRevision();
    start.catch(() => undefined);
    return redisWatch(this.#source, key, prefix, start, signal);
  }

  /**
   * Looks for expired leases, then waits until the next is due (at most `reapIntervalMs`).
   * Failures only delay the next look: the calls of the store report them.
   */
  #scheduleReap(ms: number): void {
    if (this.closed) return;
    this.#reaper = this.#options.clock.setTimeout(() => {
      this.#script('reap', 'reap').then(
        (reply) => {
          this.#seen((reply as [number, number])[0]);
          const wait = (reply as [number, number])[1];
          const next =
            wait < 0 ? this.#options.reapIntervalMs : Math.min(wait + 1, this.#options.reapIntervalMs);
          this.#scheduleReap(next);
        },
        () => this.#scheduleReap(this.#options.reapIntervalMs),
      );
    }, ms);
    this.#reaper.unref();
  }

  protected async doClose(): Promise<void> {
    this.#rejectClosing(closedError());
    if (this.#reaper !== undefined) this.#options.clock.clearTimeout(this.#reaper);
    this.#tail.close();
    this.#main.redis.disconnect();
    this.#beats.redis.disconnect();
  }
}

/** A connection the store's script is called on, and the run id of its current socket. */
interface Lane {
  readonly redis: Redis;
  readonly runId: ConnectionRunId;
}

/**
 * Options of the Redis backend: one interface, one frozen defaults object, one validation that
 * names the bad option and the accepted range.
 */
import { clockOption, systemClock, type Clock } from '../../clock.js';
import { invalidArgument } from '../../errors.js';
import { checkInteger, checkTimeouts, resolveTls } from '../validate.js';

/** TLS material for `rediss://` servers. PEM contents (not paths). */
export interface RedisTlsOptions {
  /** CA certificate(s) that signed the server's certificate. @default Node's root CAs */
  ca?: string | Uint8Array;
  /** Client certificate, for servers started with `tls-auth-clients yes`. @default none */
  cert?: string | Uint8Array;
  /** Private key of `cert`. Required together with `cert`. @default none */
  key?: string | Uint8Array;
}

/** A Sentinel's address (see {@link RedisStoreOptions.sentinels}). */
export interface RedisSentinelAddress {
  /** The Sentinel's host name or address. */
  host: string;
  /** The Sentinel's port (usually 26379). */
  port: number;
}

/** Options of {@link RedisStore}. */
export interface RedisStoreOptions {
  /** The server's host name or address. Not with `sentinels`. @default '127.0.0.1' */
  host?: string;
  /** The server's port. Not with `sentinels`. @default 6379 */
  port?: number;
  /**
   * Redis Sentinels to ask where the master of {@link RedisStoreOptions.sentinelMasterName} is,
   * instead of one fixed `host:port`. The store connects to the master the Sentinels name, and
   * again to the new one after a failover (ioredis's Sentinel support; a connection that answers
   * READONLY, a master demoted under it, is dropped and made again). A promoted replica has another run id, so the store starts a new
   * epoch there: fencing tokens continue above every token handed out before, even those the
   * replica never received (docs/redis.md). The password and user are the data nodes'; the
   * Sentinels themselves are asked without authentication. Not with `tls`.
   * @default none (connect to host:port)
   */
  sentinels?: readonly RedisSentinelAddress[];
  /**
   * The master group name the Sentinels monitor (`sentinel monitor <name> ...`). Required with
   * `sentinels`. Letters, digits and `._-`.
   * @default none
   */
  sentinelMasterName?: string;
  /** ACL user name (Redis 6+). Needs `password`. @default none (the `default` user) */
  username?: string;
  /** The password (`requirepass`, or the ACL user's). @default none */
  password?: string;
  /** The database index (`SELECT`). @default 0 */
  db?: number;
  /** TLS: `true` for TLS with Node's root CAs, or the CA and client certificate. @default false */
  tls?: boolean | RedisTlsOptions;
  /**
   * The name inside the hash tag of every Redis key of this store: `{tenure}:kv`,
   * `{tenure}:log`, ... Every key shares the tag, so a Redis Cluster keeps the whole store on one
   * shard (each call is one script over those keys). Two stores on one server need two names.
   * Letters, digits and `._-:/` only.
   * @default 'tenure'
   */
  keyPrefix?: string;
  /**
   * The deadline of every call. A call without an answer in time fails with TENURE_UNAVAILABLE
   * (retryable); it may still have been applied, as with any network store.
   * @default 5000 — a healthy Redis answers in well under a millisecond; five seconds covers a
   * restart's AOF load on a small store while a 10 s session could still act.
   */
  requestTimeoutMs?: number;
  /**
   * How long a connection attempt may take before it is abandoned and retried.
   * @default 1000 — a loopback or LAN connect takes milliseconds.
   */
  connectTimeoutMs?: number;
  /**
   * How many revisions of change history the Redis Stream keeps; watches from older revisions
   * fail with TENURE_COMPACTED.
   * @default 10000 — enough for a watcher to fall a few seconds behind a busy fleet; a few MB.
   */
  retainRevisions?: number;
  /**
   * The longest pause between two looks for expired leases by this store (each look is one
   * script call; the server says when the next lease expires, so the store looks sooner when one
   * is due). It bounds how late a lease granted by another process, since crashed, is reaped.
   * @default 100 — well below the smallest ttl (500 ms); ten small calls a second per store.
   */
  reapIntervalMs?: number;
  /**
   * The clock of this client's timers: the reaper and the pauses of a watch between two
   * reconnect attempts. Leases expire on the Redis server's clock (`TIME`), which no client option
   * changes. @default systemClock
   */
  clock?: Clock;
}

/** Defaults of {@link RedisStoreOptions}. */
export const REDIS_STORE_DEFAULTS = Object.freeze({
  host: '127.0.0.1',
  port: 6379,
  db: 0,
  tls: false as boolean | RedisTlsOptions,
  keyPrefix: 'tenure',
  requestTimeoutMs: 5000,
  connectTimeoutMs: 1000,
  retainRevisions: 10_000,
  reapIntervalMs: 100,
  clock: systemClock as Clock,
});

/** Options after defaults and validation. */
export interface ResolvedRedisOptions {
  host: string;
  port: number;
  /** With `sentinelMasterName`: connect through these Sentinels instead of host:port. */
  sentinels: readonly RedisSentinelAddress[] | undefined;
  sentinelMasterName: string | undefined;
  username: string | undefined;
  password: string | undefined;
  db: number;
  tls: false | RedisTlsOptions;
  keyPrefix: string;
  requestTimeoutMs: number;
  connectTimeoutMs: number;
  retainRevisions: number;
  reapIntervalMs: number;
  clock: Clock;
}

/** Applies defaults and checks every option and the relations between them. */
export function resolveRedisOptions(options: RedisStoreOptions = {}): ResolvedRedisOptions {
  if (options === null || typeof options !== 'object') throw invalidArgument('options', 'must be an object');
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const o = { ...REDIS_STORE_DEFAULTS, ...given } as RedisStoreOptions & typeof REDIS_STORE_DEFAULTS;
  checkHost(o.host, 'options.host');
  checkInteger(o.port, 'options.port', 1, 65535);
  const sentinels = resolveSentinels(given, o);
  checkInteger(o.db, 'options.db', 0, 1_000_000);
  const tls: false | RedisTlsOptions = resolveTls(o.tls);
  if (o.username !== undefined && (typeof o.username !== 'string' || o.username === ''))
    throw invalidArgument('options.username', 'must be a non-empty string');
  if (o.password !== undefined && typeof o.password !== 'string')
    throw invalidArgument('options.password', 'must be a string');
  if (o.username !== undefined && o.password === undefined)
    throw invalidArgument('options.username', 'needs options.password');
  if (typeof o.keyPrefix !== 'string' || !/^[A-Za-z0-9._:/-]{1,64}$/.test(o.keyPrefix))
    throw invalidArgument(
      'options.keyPrefix',
      `must be 1 to 64 of A-Z a-z 0-9 . _ : / -, got ${JSON.stringify(o.keyPrefix)}`,
    );
  checkTimeouts(o);
  checkInteger(o.retainRevisions, 'options.retainRevisions', 1, 100_000_000);
  checkInteger(o.reapIntervalMs, 'options.reapIntervalMs', 10, 250);
  clockOption(o.clock);
  return {
    host: o.host,
    port: o.port,
    sentinels,
    sentinelMasterName: sentinels === undefined ? undefined : o.sentinelMasterName,
    username: o.username,
    password: o.password,
    db: o.db,
    tls,
    keyPrefix: o.keyPrefix,
    requestTimeoutMs: o.requestTimeoutMs,
    connectTimeoutMs: o.connectTimeoutMs,
    retainRevisions: o.retainRevisions,
    reapIntervalMs: o.reapIntervalMs,
    clock: o.clock,
  };
}

function checkHost(host: unknown, name: string): void {
  if (typeof host !== 'string' || !/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+|[0-9a-fA-F:.]+)$/.test(host))
    throw invalidArgument(name, `must be a host name or IP address, got ${String(host)}`);
}

/** The Sentinel options, checked together: both or neither, and no fixed address or TLS beside them. */
function resolveSentinels(
  given: Partial<RedisStoreOptions>,
  o: RedisStoreOptions,
): readonly RedisSentinelAddress[] | undefined {
  if (given.sentinels === undefined) {
    if (given.sentinelMasterName !== undefined)
      throw invalidArgument('options.sentinelMasterName', 'needs options.sentinels');
    return undefined;
  }
  const list: unknown = given.sentinels;
  if (!Array.isArray(list) || list.length === 0 || list.length > 64)
    throw invalidArgument('options.sentinels', 'must be a list of 1 to 64 { host, port } addresses');
  const sentinels = list.map((a: unknown, i) => {
    if (a === null || typeof a !== 'object')
      throw invalidArgument(`options.sentinels[${i}]`, 'must be a { host, port } address');
    const { host, port } = a as RedisSentinelAddress;
    checkHost(host, `options.sentinels[${i}].host`);
    checkInteger(port, `options.sentinels[${i}].port`, 1, 65535);
    return Object.freeze({ host, port });
  });
  if (typeof o.sentinelMasterName !== 'string' || !/^[A-Za-z0-9._-]{1,128}$/.test(o.sentinelMasterName))
    throw invalidArgument(
      'options.sentinelMasterName',
      `is required with options.sentinels: the name the Sentinels monitor, 1 to 128 of A-Z a-z 0-9 . _ -, got ${JSON.stringify(o.sentinelMasterName)}`,
    );
  if (given.host !== undefined || given.port !== undefined)
    throw invalidArgument(
      given.host !== undefined ? 'options.host' : 'options.port',
      'cannot be given with options.sentinels: the Sentinels say where the master is',
    );
  if (given.tls !== undefined && given.tls !== false)
    throw invalidArgument('options.tls', 'is not supported with options.sentinels');
  return Object.freeze(sentinels);
}

/** The options of a PostgreSQL store: each with its default and the reason for it, and their validation. */
import { clockOption, systemClock, type Clock } from '../../clock.js';
import { invalidArgument } from '../../errors.js';
import { checkInteger, checkPem } from '../validate.js';

/**
 * TLS to the server, as libpq's `sslmode`: PEM contents (openStore reads them from the files
 * named by `sslrootcert`, `sslcert`, `sslkey`).
 */
export interface PostgresTlsOptions {
  /**
   * How much of the server's certificate is checked: `'verify-full'` (signed by `ca` and naming
   * the host), `'verify-ca'` (signed by `ca`, any name), `'require'` (encrypted, not checked:
   * no protection against a machine in the middle).
   * @default 'verify-full'
   */
  mode?: 'require' | 'verify-ca' | 'verify-full';
  /** CA certificate(s) that signed the server's certificate. @default Node's root CAs */
  ca?: string | Uint8Array;
  /** Client certificate, for servers that authenticate clients by certificate. @default none */
  cert?: string | Uint8Array;
  /** Private key of `cert`. Required together with `cert`. @default none */
  key?: string | Uint8Array;
}

/** Options of {@link PostgresStore.open}. */
export interface PostgresStoreOptions {
  /** The server's host name or address (or a Unix socket folder). @default '127.0.0.1' */
  host?: string;
  /** The server's port. @default 5432 */
  port?: number;
  /** The role to connect as. @default 'postgres' */
  user?: string;
  /** Its password. @default none (trust, peer or certificate authentication) */
  password?: string;
  /** The database; it must exist (tenure never creates a database). @default `user` */
  database?: string;
  /**
   * The schema holding this store's tables and functions, created on first open (see `create`).
   * Several stores can live in one database under several schemas.
   * @default 'tenure'
   */
  schema?: string;
  /**
   * Create the schema, its tables and functions when missing. Tools that only read a store
   * (status, watch, a dashboard) set false, so that a wrong schema or database is an error
   * naming it, not a new empty store.
   * @default true
   */
  create?: boolean;
  /** TLS, or false for none. @default false */
  tls?: false | PostgresTlsOptions;
  /**
   * Connections kept for transactions and reads (the watch listener takes one more, and the
   * sessions' keepalives one more). Every call is one round trip, so a few connections carry
   * thousands of sessions.
   * @default 4 — calls are short; more connections only add server processes.
   */
  poolSize?: number;
  /**
   * The deadline of every call: the server cancels a statement running longer
   * (`statement_timeout`) or waiting longer for a lock (`lock_timeout`), and the client gives up
   * on a reply that does not come (an unreachable server) and drops that connection. The call
   * fails with TENURE_UNAVAILABLE (retryable). Also how long a watch keeps trying to reconnect,
   * and how long a call waits for a free connection of the pool (behind this process's other
   * calls) before it is sent.
   * @default 5000 — far above a call's normal duration (well under a millisecond on a LAN), low
   * enough that a caller learns of an outage while a 10 s session could still act.
   */
  requestTimeoutMs?: number;
  /**
   * How long connecting to the server may take.
   * @default 2000 — a LAN connect with authentication takes milliseconds.
   */
  connectTimeoutMs?: number;
  /**
   * `idle_in_transaction_session_timeout` of every connection: the server ends a session that
   * stays inside a transaction without sending anything for this long, releasing its row locks.
   * tenure's own calls never leave a transaction open between messages, but a process stopped in
   * the middle of one (SIGSTOP, a VM pause) over a connection opened with these settings cannot
   * hold the store for longer. 0 turns the timeout off (not recommended).
   * @default 5000
   */
  idleInTransactionTimeoutMs?: number;
  /**
   * How often this store looks for expired leases (one indexed read; a write only when one
   * expired), bounding how late after its ttl a lease's keys are deleted when nobody else writes.
   * @default 100 — a tenth of a one-second ttl.
   */
  reapIntervalMs?: number;
  /**
   * Revisions of change history kept for watches to resume from.
   * @default 10000
   */
  retainRevisions?: number;
  /**
   * While watches are open: how often the listening connection is probed. A connection cut
   * without a reset (a partition) is found by a probe that gets no answer within
   * `requestTimeoutMs`; the watches then resume on a new connection from their last revision.
   * @default 2000
   */
  watchProbeIntervalMs?: number;
  /**
   * The clock of this client's timers and pauses: the reaper, the watch probe, reconnect pauses.
   * Leases do not run on it: they expire on the database's clock.
   * @default systemClock
   */
  clock?: Clock;
}

/** Defaults of {@link PostgresStoreOptions}. */
export const POSTGRES_STORE_DEFAULTS = Object.freeze({
  host: '127.0.0.1',
  port: 5432,
  user: 'postgres',
  schema: 'tenure',
  create: true,
  tls: false as const,
  poolSize: 4,
  requestTimeoutMs: 5000,
  connectTimeoutMs: 2000,
  idleInTransactionTimeoutMs: 5000,
  reapIntervalMs: 100,
  retainRevisions: 10_000,
  watchProbeIntervalMs: 2000,
  clock: systemClock,
});

/** Options with every default filled in. */
export type ResolvedPostgresStoreOptions = Required<Omit<PostgresStoreOptions, 'password' | 'database'>> &
  Pick<PostgresStoreOptions, 'password'> & { database: string };

/**
 * Fills in the defaults (an option given as undefined takes its default) and validates every
 * option, relations between them included.
 * @throws TENURE_INVALID_ARGUMENT naming the option and the accepted range.
 */
export function resolvePostgresStoreOptions(
  options: PostgresStoreOptions = {},
): ResolvedPostgresStoreOptions {
  if (options === null || typeof options !== 'object') throw invalidArgument('options', 'must be an object');
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const o = { ...POSTGRES_STORE_DEFAULTS, ...given } as ResolvedPostgresStoreOptions;
  o.database ??= o.user;
  for (const name of ['host', 'user', 'database', 'schema'] as const)
    if (typeof o[name] !== 'string' || o[name] === '' || /[\0]/.test(o[name]))
      throw invalidArgument(`options.${name}`, 'must be a non-empty string without NUL');
  if (o.schema.length > 40)
    throw invalidArgument(
      'options.schema',
      'must be at most 40 characters (its NOTIFY channel is named after it)',
    );
  if (o.password !== undefined && typeof o.password !== 'string')
    throw invalidArgument('options.password', 'must be a string');
  checkInteger(o.port, 'options.port', 1, 65_535);
  checkInteger(o.poolSize, 'options.poolSize', 1, 100);
  checkInteger(o.requestTimeoutMs, 'options.requestTimeoutMs', 100, 600_000);
  checkInteger(o.connectTimeoutMs, 'options.connectTimeoutMs', 10, o.requestTimeoutMs);
  checkInteger(o.idleInTransactionTimeoutMs, 'options.idleInTransactionTimeoutMs', 0, 3_600_000);
  checkInteger(o.reapIntervalMs, 'options.reapIntervalMs', 1, 60_000);
  checkInteger(o.retainRevisions, 'options.retainRevisions', 1);
  checkInteger(o.watchProbeIntervalMs, 'options.watchProbeIntervalMs', 10, 600_000);
  if (typeof o.create !== 'boolean') throw invalidArgument('options.create', 'must be a boolean');
  if (o.tls !== false) {
    if (o.tls === null || typeof o.tls !== 'object')
      throw invalidArgument('options.tls', 'must be false or an object { mode, ca, cert, key }');
    const mode = o.tls.mode ?? 'verify-full';
    if (!['require', 'verify-ca', 'verify-full'].includes(mode))
      throw invalidArgument('options.tls.mode', "must be 'require', 'verify-ca' or 'verify-full'");
    checkPem(o.tls.ca, 'options.tls.ca');
    checkPem(o.tls.cert, 'options.tls.cert');
    checkPem(o.tls.key, 'options.tls.key');
    if ((o.tls.cert === undefined) !== (o.tls.key === undefined))
      throw invalidArgument('options.tls.cert', 'and options.tls.key must be given together');
  }
  clockOption(o.clock);
  return o;
}

/**
 * Options of the etcd backend: one interface, one frozen defaults object, one validation that
 * names the bad option and the accepted range.
 */
import { clockOption, systemClock, type Clock } from '../../clock.js';
import { invalidArgument } from '../../errors.js';
import { checkInteger, checkTimeouts, resolveTls } from '../validate.js';

/** TLS material for `etcds://` clusters. PEM contents (not paths); see openStore for paths. */
export interface EtcdTlsOptions {
  /** CA certificate(s) that signed the members' server certificates. @default Node's root CAs */
  ca?: string | Uint8Array;
  /** Client certificate, for clusters started with `--client-cert-auth`. @default none */
  cert?: string | Uint8Array;
  /** Private key of `cert`. Required together with `cert`. @default none */
  key?: string | Uint8Array;
}

/** Options of {@link EtcdStore}. */
export interface EtcdStoreOptions {
  /**
   * The members' client addresses, `host:port` (no scheme). Every member of the cluster should be
   * listed: a call moves to the next one when the member it talks to is unreachable or has lost
   * its leader.
   */
  endpoints: readonly string[];
  /**
   * TLS: `true` for TLS with Node's root CAs, or the CA and client certificate to use.
   * @default false (plaintext)
   */
  tls?: boolean | EtcdTlsOptions;
  /** User name, for clusters with authentication enabled. Requires `password`. @default none */
  username?: string;
  /** Password of `username`. @default none */
  password?: string;
  /**
   * The deadline of every call, failover to other members included. A call that does not
   * complete in time fails with TENURE_UNAVAILABLE (retryable). It is also how long a watch keeps
   * trying to reconnect before it fails.
   * @default 5000 — above etcd's own worst commit delay on a healthy cluster (a leader election
   * takes about one election timeout, 1 s by default), low enough that a caller without quorum
   * learns it while a 10 s session could still act.
   */
  requestTimeoutMs?: number;
  /**
   * How long a call waits for a connection to one member before trying the next.
   * @default 1000 — a loopback or LAN connect takes milliseconds; a member that has not
   * answered in a second is as good as down for a coordination call.
   */
  connectTimeoutMs?: number;
  /**
   * How long a watch stream may stay silent before the watch asks the member for a progress
   * report; if the member does not answer within `requestTimeoutMs` more, the stream is declared
   * dead and the watch resumes on another member from the last revision it delivered. This is
   * what detects a member that stopped answering without closing the connection (a partition).
   * @default 2000 — one small message every 2 s per idle watch.
   */
  watchProbeIntervalMs?: number;
  /**
   * The clock every deadline, timer and pause of this client runs on: call and connect deadlines
   * (`requestTimeoutMs`, `connectTimeoutMs`, handed to gRPC as the time left on it), the pauses
   * between retries, keepalive answer timeouts and the watches' progress probes. Leases expire
   * on the etcd server's clock, which no client option changes.
   * @default systemClock
   */
  clock?: Clock;
}

/** Defaults of {@link EtcdStoreOptions}. */
export const ETCD_STORE_DEFAULTS = Object.freeze({
  tls: false as boolean | EtcdTlsOptions,
  requestTimeoutMs: 5000,
  connectTimeoutMs: 1000,
  watchProbeIntervalMs: 2000,
  clock: systemClock as Clock,
});

/** Options after defaults and validation. */
export interface ResolvedEtcdOptions {
  endpoints: readonly string[];
  tls: false | EtcdTlsOptions;
  username: string | undefined;
  password: string | undefined;
  requestTimeoutMs: number;
  connectTimeoutMs: number;
  watchProbeIntervalMs: number;
  clock: Clock;
}

const ENDPOINT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/;

/** Applies defaults and checks every option and the relations between them. */
export function resolveEtcdOptions(options: EtcdStoreOptions): ResolvedEtcdOptions {
  if (options === null || typeof options !== 'object') throw invalidArgument('options', 'must be an object');
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const o = { ...ETCD_STORE_DEFAULTS, ...given } as EtcdStoreOptions & typeof ETCD_STORE_DEFAULTS;
  if (!Array.isArray(o.endpoints) || o.endpoints.length === 0)
    throw invalidArgument('options.endpoints', 'must be a non-empty array of "host:port" strings');
  o.endpoints.forEach((e: unknown, i) => {
    const m = typeof e === 'string' ? ENDPOINT.exec(e) : null;
    if (m === null || Number(m[2]) < 1 || Number(m[2]) > 65535)
      throw invalidArgument(
        `options.endpoints[${i}]`,
        `must be "host:port" with a port in [1, 65535], got ${String(e)}`,
      );
  });
  if (new Set(o.endpoints).size !== o.endpoints.length)
    throw invalidArgument('options.endpoints', 'must not list a member twice');
  const tls: false | EtcdTlsOptions = resolveTls(o.tls);
  if (o.username !== undefined && (typeof o.username !== 'string' || o.username === ''))
    throw invalidArgument('options.username', 'must be a non-empty string');
  if (o.password !== undefined && typeof o.password !== 'string')
    throw invalidArgument('options.password', 'must be a string');
  if ((o.username === undefined) !== (o.password === undefined))
    throw invalidArgument('options.username', 'and options.password must be given together');
  checkTimeouts(o);
  checkInteger(o.watchProbeIntervalMs, 'options.watchProbeIntervalMs', 100, 600_000);
  clockOption(o.clock);
  return {
    endpoints: [...o.endpoints],
    tls,
    username: o.username,
    password: o.password,
    requestTimeoutMs: o.requestTimeoutMs,
    connectTimeoutMs: o.connectTimeoutMs,
    watchProbeIntervalMs: o.watchProbeIntervalMs,
    clock: o.clock,
  };
}

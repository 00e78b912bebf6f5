/**
 * The gRPC connections to the members of one etcd cluster: one channel per member, a current
 * member that calls go to, failover to the next member, per-call deadlines, and the auth token.
 *
 * A call is retried on another member only when that cannot apply it twice:
 * - the member was not connected (the request was never sent), or
 * - the member refused it because it has no leader (etcd checks this before proposing: every
 *   call carries the `hasleader` metadata, which also makes leaderless members end watch streams
 *   at once instead of leaving them silent), or
 * - the call only reads or is idempotent (ranges, lease keepalive, revoke, time-to-live).
 * A write that was sent and then lost its answer fails with TENURE_UNAVAILABLE saying that it
 * may have been applied: retrying it blindly could apply it twice.
 */
import { isIP } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { TenureError } from '../../errors.js';
import { closedError } from '../errors.js';
import type { EtcdTlsOptions, ResolvedEtcdOptions } from './options.js';
import { etcdMethod } from './proto.js';
import { sleep } from '../../sleep.js';

/** The etcd services and methods this backend calls. */
export type EtcdMethod =
  | 'KV.Range'
  | 'KV.Put'
  | 'KV.DeleteRange'
  | 'KV.Txn'
  | 'KV.Compact'
  | 'Lease.LeaseGrant'
  | 'Lease.LeaseRevoke'
  | 'Lease.LeaseTimeToLive'
  | 'Auth.Authenticate';
export type EtcdStreamMethod = 'Watch.Watch' | 'Lease.LeaseKeepAlive';

/** Whether a call may be retried on another member after it was sent. */
export type CallKind = 'read' | 'write';

/** A gRPC error as grpc-js reports it. */
export interface GrpcError extends Error {
  code: grpc.status;
  details: string;
}

export function isGrpcError(err: unknown): err is GrpcError {
  return err instanceof Error && typeof (err as Partial<GrpcError>).code === 'number' && 'details' in err;
}

/** etcd's error text (e.g. "etcdserver: requested lease not found"), or '' for other errors. */
export function etcdDetails(err: unknown): string {
  return isGrpcError(err) ? err.details : '';
}

/** Server errors that etcd returns before proposing anything: safe to retry anywhere. */
function refusedBeforeApply(err: GrpcError): boolean {
  return /etcdserver: (no leader|not capable|too many requests|server stopped)/.test(err.details);
}

function transportFailure(err: GrpcError): boolean {
  return (
    err.code === grpc.status.UNAVAILABLE ||
    err.code === grpc.status.DEADLINE_EXCEEDED ||
    (err.code === grpc.status.CANCELLED && !/cancelled on client/i.test(err.details))
  );
}

function authExpired(err: GrpcError): boolean {
  return /etcdserver: (invalid auth token|user name is empty)/.test(err.details);
}

/** grpc-js's connection error, without its boilerplate and timestamps. */
function tidy(details: string): string {
  return details
    .replace(/^No connection established\. Last error: /, '')
    .replace(/\s*\(\d{4}-\d\d-\d\dT[^)]*\)/g, '')
    .replace(/\.?\s*Resolution note:.*$/s, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * What a TLS connection error means for the user, from the error text Node's TLS layer gives
 * grpc-js (the channel's last connection error), with the option to change. `permanent`: the
 * same configuration will fail the same way (a certificate problem), so waiting out the request
 * timeout would only hide the cause.
 */
export function tlsProblem(
  error: string,
  tls: false | EtcdTlsOptions,
): { hint: string; permanent: boolean } | undefined {
  if (tls === false) return undefined;
  if (/altnames|does not match certificate|ERR_TLS_CERT_ALTNAME/i.test(error))
    return {
      hint: "the member's certificate is not issued for the address used (host name mismatch): list the members by a name or IP address in their certificates' subjectAltName",
      permanent: true,
    };
  if (/certificate has expired|not yet valid/i.test(error))
    return {
      hint: "the member's certificate has expired or is not valid yet: renew it (or check this host's clock)",
      permanent: true,
    };
  if (
    /unable to verify|self[- ]signed|unable to get (local )?issuer|certificate signature failure/i.test(error)
  )
    return {
      hint:
        tls.ca === undefined
          ? "the members' certificates are not signed by a CA this client trusts (options.tls.ca is not set, so only Node's root CAs are): set options.tls.ca to the CA that signed them (etcds://...?ca=/path/ca.pem)"
          : "the members' certificates are not signed by options.tls.ca: set it to the CA that signed them (etcds://...?ca=/path/ca.pem)",
      permanent: true,
    };
  if (
    /alert (bad certificate|certificate required|unknown ca|handshake failure)|SSL alert number (40|42|48|116)\b/i.test(
      error,
    )
  )
    return {
      hint:
        tls.cert === undefined
          ? 'the members refused the TLS handshake: they require a client certificate, so set options.tls.cert and options.tls.key (etcds://...?cert=/path&key=/path)'
          : "the members refused the client certificate (options.tls.cert): it must be signed by the CA they trust (etcd's --trusted-ca-file)",
      permanent: true,
    };
  if (/wrong version number|packet length too long|http request/i.test(error))
    return {
      hint: 'the member does not speak TLS on this port: use etcd:// for a plaintext member, or check the port',
      permanent: true,
    };
  if (/certificate|handshake|SSL|TLS/i.test(error))
    return {
      hint: 'the TLS handshake failed: check options.tls (the CA that signed the members, and the client certificate and key)',
      permanent: false,
    };
  return undefined;
}

/**
 * grpc-js sets the TLS server name (SNI) to the target's host even when that is an IP address,
 * which RFC 6066 forbids and Node warns about (DEP0123), and no public option unsets it. For an
 * IP target this drops the server name from the connection options grpc-js builds: Node then
 * verifies the certificate against the host itself (its IP subjectAltNames), as before, and
 * sends no SNI. A host name keeps its server name. If a later grpc-js builds connectors
 * differently, nothing changes but the warning.
 */
function withoutIpServerName(credentials: grpc.ChannelCredentials): grpc.ChannelCredentials {
  const internal = credentials as unknown as { _createSecureConnector?: (...args: unknown[]) => unknown };
  const create = internal._createSecureConnector;
  if (typeof create !== 'function') return credentials;
  internal._createSecureConnector = function (this: unknown, ...args: unknown[]) {
    const connector = create.apply(this, args) as { connectionOptions?: { servername?: unknown } };
    const options = connector?.connectionOptions;
    if (options && typeof options.servername === 'string' && isIP(options.servername) !== 0)
      delete options.servername;
    return connector;
  };
  return credentials;
}

/** One member: its address and channel. */
export class EtcdMember {
  readonly address: string;
  readonly client: grpc.Client;
  /** The last connection error seen, for messages. */
  lastError = '';

  constructor(address: string, credentials: grpc.ChannelCredentials) {
    this.address = address;
    this.client = new grpc.Client(address, credentials, {
      // grpc-js backs off up to 2 minutes between reconnects by default; a restarted member
      // must be usable again within a second.
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1000,
      'grpc.max_receive_message_length': -1,
    });
  }
}

/** Connections to the members of one cluster. */
export class EtcdConnection {
  readonly members: readonly EtcdMember[];
  readonly #options: ResolvedEtcdOptions;
  #current = 0;
  #closed = false;
  #token: string | undefined;
  #authenticating: Promise<string> | undefined;

  constructor(options: ResolvedEtcdOptions) {
    this.#options = options;
    const tls = options.tls;
    const buf = (v: string | Uint8Array | undefined) => (v === undefined ? null : Buffer.from(v));
    const credentials =
      tls === false
        ? grpc.credentials.createInsecure()
        : withoutIpServerName(grpc.credentials.createSsl(buf(tls.ca), buf(tls.key), buf(tls.cert)));
    this.members = options.endpoints.map((address) => new EtcdMember(address, credentials));
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Moves calls off `member` (if it is the current one) to the next member. */
  rotate(member: EtcdMember): void {
    const i = this.members.indexOf(member);
    if (i === this.#current) this.#current = (i + 1) % this.members.length;
  }

  /** Milliseconds from now until `deadline` (a time on the clock option), as a gRPC deadline. */
  #grpcDeadline(deadline: number): Date {
    return new Date(Date.now() + Math.max(1, deadline - this.#options.clock.now()));
  }

  /**
   * A member whose channel is connected, trying each in turn from the current one until
   * `deadline` (a time on the clock option).
   * @throws TENURE_UNAVAILABLE naming every member and why it could not be used.
   */
  async readyMember(deadline: number): Promise<EtcdMember> {
    for (;;) {
      const n = this.members.length;
      // Whether every member failed this round on a certificate problem: then waiting for the
      // deadline cannot help, and would report a timeout instead of the cause.
      let certificateProblems = 0;
      for (let i = 0; i < n; i++) {
        if (this.#closed) throw closedError();
        const index = (this.#current + i) % n;
        const member = this.members[index]!;
        const until = Math.min(deadline, this.#options.clock.now() + this.#options.connectTimeoutMs);
        if (await this.#waitReady(member, until)) {
          this.#current = index;
          return member;
        }
        if (tlsProblem(member.lastError, this.#options.tls)?.permanent) certificateProblems++;
        if (this.#options.clock.now() >= deadline) break;
      }
      if (certificateProblems === n) throw this.#unreachable();
      const left = deadline - this.#options.clock.now();
      if (left <= 0) throw this.#unreachable();
      await sleep(Math.min(100, left), { clock: this.#options.clock });
    }
  }

  async #waitReady(member: EtcdMember, until: number): Promise<boolean> {
    const channel = member.client.getChannel();
    for (;;) {
      const state = channel.getConnectivityState(true);
      if (state === grpc.connectivityState.READY) return true;
      if (state === grpc.connectivityState.TRANSIENT_FAILURE) {
        member.lastError = await this.#connectError(member);
        return false;
      }
      if (state === grpc.connectivityState.SHUTDOWN) return false;
      if (this.#options.clock.now() >= until) {
        member.lastError = `no connection within ${this.#options.connectTimeoutMs} ms (options.connectTimeoutMs)`;
        return false;
      }
      await new Promise<void>((resolve) =>
        channel.watchConnectivityState(state, this.#grpcDeadline(until), () => resolve()),
      );
    }
  }

  /**
   * Why a member in TRANSIENT_FAILURE cannot be reached. A call on such a channel fails at once,
   * without being sent, with the channel's last connection error in its details.
   */
  #connectError(member: EtcdMember): Promise<string> {
    const m = etcdMethod('KV.Range');
    return new Promise((resolve) => {
      member.client.makeUnaryRequest(
        m.path,
        m.requestSerialize,
        m.responseDeserialize,
        { key: Buffer.from([0]) },
        new grpc.Metadata(),
        { deadline: this.#grpcDeadline(this.#options.clock.now() + 200) },
        (err) => resolve(err ? tidy(err.details) : 'connection failed'),
      );
    });
  }

  #unreachable(): TenureError {
    const why = this.members.map((m) => `${m.address}: ${m.lastError || 'not connected'}`).join('; ');
    const problems = this.members.map((m) => tlsProblem(m.lastError, this.#options.tls));
    const problem = problems.find((p) => p?.permanent) ?? problems.find((p) => p !== undefined);
    const tlsRefused = problem !== undefined;
    const hint =
      problem?.hint ?? 'check that the members run, that options.endpoints lists them, and the TLS options';
    return new TenureError(
      'TENURE_UNAVAILABLE',
      problem?.permanent && problems.every((p) => p?.permanent)
        ? `no etcd member accepted the TLS connection: ${hint} (${why})`
        : `no etcd member could be reached within options.requestTimeoutMs (${this.#options.requestTimeoutMs} ms): ${hint} (${why})`,
      { details: { endpoints: this.#options.endpoints, tlsRefused } },
    );
  }

  #metadata(deadline: number): grpc.Metadata | Promise<grpc.Metadata> {
    const md = new grpc.Metadata();
    md.set('hasleader', 'true');
    if (this.#options.username === undefined) return md;
    return this.#authenticate(deadline).then((token) => {
      md.set('token', token);
      return md;
    });
  }

  #authenticate(deadline: number): Promise<string> {
    if (this.#token !== undefined) return Promise.resolve(this.#token);
    this.#authenticating ??= (async () => {
      try {
        const md = new grpc.Metadata();
        const res = await this.#retrying<{ token: string }>(
          'Auth.Authenticate',
          { name: this.#options.username, password: this.#options.password },
          'read',
          deadline,
          () => Promise.resolve(md),
        );
        this.#token = res.token;
        return res.token;
      } finally {
        this.#authenticating = undefined;
      }
    })();
    return this.#authenticating;
  }

  /** A unary call with failover and a deadline of `requestTimeoutMs`. */
  unary<T>(name: EtcdMethod, request: unknown, kind: CallKind): Promise<T> {
    if (this.#closed) return Promise.reject(closedError());
    const deadline = this.#options.clock.now() + this.#options.requestTimeoutMs;
    return this.#retrying<T>(name, request, kind, deadline, () => this.#metadata(deadline));
  }

  async #retrying<T>(
    name: EtcdMethod,
    request: unknown,
    kind: CallKind,
    deadline: number,
    metadata: () => grpc.Metadata | Promise<grpc.Metadata>,
  ): Promise<T> {
    let reauthenticated = false;
    for (;;) {
      // Fast path: the current member is connected (the usual case) and there is no token to fetch.
      const current = this.members[this.#current]!;
      const member =
        current.client.getChannel().getConnectivityState(false) === grpc.connectivityState.READY
          ? current
          : await this.readyMember(deadline);
      try {
        const md = metadata();
        return await this.#call<T>(member, name, request, md instanceof Promise ? await md : md, deadline);
      } catch (err) {
        if (this.#closed) throw closedError();
        if (!isGrpcError(err)) throw err;
        if (authExpired(err) && this.#options.username !== undefined && !reauthenticated) {
          reauthenticated = true;
          this.#token = undefined;
          continue;
        }
        const retryable = refusedBeforeApply(err) || (kind === 'read' && transportFailure(err));
        if (refusedBeforeApply(err) || transportFailure(err)) {
          member.lastError = err.details;
          this.rotate(member);
        }
        if (retryable && this.#options.clock.now() < deadline - 10) {
          await sleep(Math.min(50, Math.max(0, deadline - this.#options.clock.now())), {
            clock: this.#options.clock,
          });
          continue;
        }
        if (transportFailure(err) || refusedBeforeApply(err))
          throw new TenureError(
            'TENURE_UNAVAILABLE',
            `etcd ${name} failed on ${member.address}: ${err.details}` +
              (kind === 'write' && !refusedBeforeApply(err)
                ? '; the write may or may not have been applied: read before retrying it'
                : `; no member answered within options.requestTimeoutMs (${this.#options.requestTimeoutMs} ms)`),
            { cause: err, details: { member: member.address, grpcCode: err.code } },
          );
        throw err;
      }
    }
  }

  #call<T>(
    member: EtcdMember,
    name: EtcdMethod,
    request: unknown,
    md: grpc.Metadata,
    deadline: number,
  ): Promise<T> {
    const m = etcdMethod(name);
    return new Promise<T>((resolve, reject) => {
      member.client.makeUnaryRequest(
        m.path,
        m.requestSerialize,
        m.responseDeserialize,
        request,
        md,
        { deadline: this.#grpcDeadline(deadline) },
        (err, res) => (err ? reject(err) : resolve(res as T)),
      );
    });
  }

  /**
   * Opens a bidirectional stream on a connected member.
   * @throws TENURE_UNAVAILABLE when no member can be reached by `deadline`.
   */
  async stream<Req, Res>(
    name: EtcdStreamMethod,
    deadline: number,
  ): Promise<{ call: grpc.ClientDuplexStream<Req, Res>; member: EtcdMember }> {
    const member = await this.readyMember(deadline);
    const md = await this.#metadata(deadline);
    if (this.#closed) throw closedError();
    const m = etcdMethod(name);
    const call = member.client.makeBidiStreamRequest(
      m.path,
      m.requestSerialize,
      m.responseDeserialize,
      md,
    ) as grpc.ClientDuplexStream<Req, Res>;
    return { call, member };
  }

  /** Drops the cached token, so the next call authenticates again. */
  invalidateToken(): void {
    this.#token = undefined;
  }

  /** Closes every channel; calls in flight fail (their callers map that to TENURE_CLOSED). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const m of this.members) m.client.close();
  }
}

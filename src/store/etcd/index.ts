/**
 * The etcd v3 backend: the Store contract mapped onto etcd's own transactions, leases and
 * watches, for fleets that span hosts.
 *
 * - Revisions are etcd's revisions; createRevision, modRevision, version and lease come from
 *   etcd's KeyValue. Lease ids are etcd's int64 ids as decimal strings.
 * - A transaction is one etcd Txn (one Range, Put or DeleteRange when it is a single op without
 *   compares); compares keep etcd's missing-key semantics, which are the contract's (a value
 *   compare on a missing key is false). etcd refuses a transaction that writes one key twice
 *   (TENURE_INVALID_ARGUMENT here), which the in-process backends allow.
 * - Leases are etcd leases: ttls are whole seconds, and etcd raises a ttl below its minimum
 *   (1.5 × the election timeout, rounded up to a second: 2 s on default settings) to it.
 *   Renewals share one LeaseKeepAlive stream.
 * - Watches are etcd watches that resume on another member from the last revision delivered.
 * - Every call has a deadline (`requestTimeoutMs`): without quorum or without a reachable member
 *   calls fail with TENURE_UNAVAILABLE (retryable) instead of hanging.
 *
 * **Transport: `@grpc/grpc-js` with our own description of the etcd API (etcd.proto), not the
 * `etcd3` package.** Why:
 * - The contract's guarantees live exactly in the layer etcd3 owns: which member a call goes to,
 *   when a failed call may be retried (etcd3's default policy retries any call that failed as
 *   "recoverable", up to three times, writes included, so a write whose answer was lost can be
 *   applied twice), how a watch resumes, and when a keepalive is declared failed. Building on its
 *   raw clients would mean working around its connection pool, circuit breaker and error
 *   wrapping rather than using them.
 * - It pulls in a retry library and its own copy of the protobuf stack, for features (locks,
 *   elections, STM) that tenure's recipes replace; its lease is declared lost only after 2 × ttl.
 * - grpc-js is what etcd3 itself runs on, so the wire behaviour is the same; the part of etcd's
 *   API we call is small (KV, Watch, Lease, Authenticate): etcd.proto describes it in about 200
 *   lines, and its static protobufjs codecs (codecs.ts, generated and checked in) ship in the
 *   package, so no .proto file is shipped, located or compiled at run time.
 *
 * @example
 * ```ts
 * const store = new EtcdStore({ endpoints: ['10.0.0.1:2379', '10.0.0.2:2379', '10.0.0.3:2379'] });
 * const lease = await store.grant(5000);
 * await store.put('service/leader', 'host-a', { lease: lease.id });
 * ```
 */
import { TenureError, invalidArgument } from '../../errors.js';
import { StoreBase } from '../base.js';
import { closedError, leaseNotFound } from '../errors.js';
import type {
  Lease,
  LeaseId,
  Op,
  OpResult,
  StoreCapabilities,
  TxnRequest,
  TxnResponse,
  WatchBatch,
} from '../types.js';
import { EtcdConnection, etcdDetails, isGrpcError, type CallKind, type EtcdMethod } from './connection.js';
import {
  boundaryTie,
  exact,
  isPossibleLease,
  nativeGets,
  tieRequest,
  toCompare,
  toRequestOp,
  toResult,
} from './convert.js';
import { LeaseKeepAlive } from './keepalive.js';
import { resolveEtcdOptions, type EtcdStoreOptions, type ResolvedEtcdOptions } from './options.js';
import type { WireHeader, WireLeaseResponse, WireRangeResponse, WireTxnResponse } from './proto.js';
import { etcdWatch } from './watch.js';

export { ETCD_STORE_DEFAULTS, type EtcdStoreOptions, type EtcdTlsOptions } from './options.js';

/**
 * What the etcd backend can do. `minTtlMs` is etcd's minimum on default settings (election
 * timeout 1000 ms: 1.5 × 1 s rounded up to whole seconds); a cluster with a longer election
 * timeout raises it further and `grant` reports the ttl etcd actually granted.
 * `expiryBoundMs`: etcd's leader looks for expired leases every 500 ms and revokes them through
 * Raft; 1000 ms covers both. (A leader change extends every lease by an election timeout.)
 * `maxValueBytes` stays under etcd's default request limit of 1.5 MiB.
 */
export const ETCD_CAPABILITIES: StoreCapabilities = Object.freeze({
  backend: 'etcd',
  minTtlMs: 2000,
  // etcd's MaxLeaseTTL is 9,000,000,000 s.
  maxTtlMs: 9_000_000_000_000,
  ttlGranularityMs: 1000,
  expiryBoundMs: 1000,
  watchLatency: 'push',
  maxKeyBytes: 4096,
  maxValueBytes: 1024 * 1024,
  maxTxnOps: 128,
});

/**
 * A Store on an etcd v3 cluster (3.4 or later).
 *
 * @example
 * ```ts
 * await using store = new EtcdStore({ endpoints: ['127.0.0.1:2379'], requestTimeoutMs: 2000 });
 * const { revision } = await store.txn({
 *   compare: [{ key: 'lock', target: 'version', op: '=', value: 0 }],
 *   success: [{ type: 'put', key: 'lock', value: 'me', lease: lease.id }],
 * });
 * ```
 */
export class EtcdStore extends StoreBase {
  readonly capabilities = ETCD_CAPABILITIES;
  /** The members this store talks to. */
  readonly endpoints: readonly string[];
  readonly #options: ResolvedEtcdOptions;
  readonly #conn: EtcdConnection;
  readonly #keepAlive: LeaseKeepAlive;
  readonly #onClose = new Set<() => void>();
  readonly #closing: Promise<never>;
  #rejectClosing!: (err: unknown) => void;

  /** @throws TENURE_INVALID_ARGUMENT naming the bad option. */
  constructor(options: EtcdStoreOptions) {
    super();
    this.#options = resolveEtcdOptions(options);
    this.endpoints = this.#options.endpoints;
    this.#conn = new EtcdConnection(this.#options);
    this.#keepAlive = new LeaseKeepAlive(this.#conn, this.#options.requestTimeoutMs, this.#options.clock);
    this.#closing = new Promise<never>((_, reject) => (this.#rejectClosing = reject));
    this.#closing.catch(() => undefined);
  }

  /** Runs `call`, failing at once with TENURE_CLOSED if the store closes meanwhile. */
  #run<T>(call: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(closedError());
    return Promise.race([call(), this.#closing]);
  }

  #unary<T>(name: EtcdMethod, request: unknown, kind: CallKind): Promise<T> {
    return this.#run(() => this.#conn.unary<T>(name, request, kind)).catch((err: unknown) => {
      throw this.#mapError(err, name);
    });
  }

  #mapError(err: unknown, name: string): unknown {
    if (this.closed) return closedError();
    if (!isGrpcError(err)) return err;
    const details = err.details;
    // Mapped by the caller, which knows the lease id or the revision.
    if (/requested lease not found|required revision has been compacted|future revision/.test(details))
      return err;
    if (
      /duplicate key given in txn request|too many operations in txn request|request is too large/.test(
        details,
      )
    )
      return invalidArgument('request', `was refused by etcd: ${details}`);
    if (
      /authentication failed|permission denied|user name not found|authentication is not enabled/.test(
        details,
      )
    )
      return new TenureError(
        'TENURE_STORE_UNUSABLE',
        `etcd refused ${name}: ${details}; check options.username and options.password`,
        { cause: err },
      );
    // Like SQLite's full disk: the same call succeeds once an operator has made room.
    if (/database space exceeded/.test(details))
      return new TenureError(
        'TENURE_UNAVAILABLE',
        `etcd ${name} failed: ${details}; the cluster is out of space (compact, defragment, disarm the NOSPACE alarm), then retry`,
        { cause: err },
      );
    // Transport failures and refusals made before applying were retried or mapped to
    // TENURE_UNAVAILABLE by the connection: what reaches here fails again if sent again.
    return new TenureError('TENURE_STORE_UNUSABLE', `etcd ${name} failed: ${details || err.message}`, {
      cause: err,
    });
  }

  /**
   * etcd answers a get's `maxCreateRevision`, `order` and `limit` itself (RangeRequest's
   * `max_create_revision`, `sort_target` CREATE, `sort_order`): a lock waiter's read of the entry
   * ahead brings back that one key, not the whole queue. etcd has no create-revision index, so
   * its own work is still a scan of the range; what this saves is the transfer and the decoding
   * here, O(limit) instead of O(keys under the prefix). See convert.ts for ties.
   */
  protected override get selectsByCreateRevision(): boolean {
    return true;
  }

  /**
   * An op's result, completed when etcd's limit cut through keys created in one revision: those
   * are then all read at the revision the request was answered at (see `boundaryTie`).
   */
  async #result(
    op: Op,
    wire: WireTxnResponse['responses'][number] | undefined,
    native: boolean,
    revision: number,
  ): Promise<OpResult> {
    const tie = native ? boundaryTie(op, wire?.response_range) : undefined;
    if (tie === undefined || op.type !== 'get') return toResult(op, wire, native);
    const ties = await this.#unary<WireRangeResponse>(
      'KV.Range',
      tieRequest(op, tie, revision),
      'read',
    ).catch((err: unknown) => {
      if (!/required revision has been compacted/.test(etcdDetails(err))) throw err;
      throw new TenureError(
        'TENURE_UNAVAILABLE',
        `etcd compacted revision ${revision} while tenure completed a read made at it; read again`,
        { cause: err, retryable: true },
      );
    });
    return toResult(op, wire, native, ties.kvs);
  }

  protected async doTxn(request: TxnRequest): Promise<TxnResponse> {
    const compare = request.compare ?? [];
    const success = request.success ?? [];
    const failure = request.failure ?? [];
    if (compare.length === 0 && success.length === 1) return this.#single(success[0]!);
    const writes = [...success, ...failure].some((op) => op.type !== 'get');
    const nativeSuccess = nativeGets(success);
    const nativeFailure = nativeGets(failure);
    let res: WireTxnResponse;
    try {
      res = await this.#unary<WireTxnResponse>(
        'KV.Txn',
        {
          compare: compare.map(toCompare),
          success: success.map((op, i) => toRequestOp(op, nativeSuccess[i])),
          failure: failure.map((op, i) => toRequestOp(op, nativeFailure[i])),
        },
        writes ? 'write' : 'read',
      );
    } catch (err) {
      if (/requested lease not found/.test(etcdDetails(err))) {
        const leased = [...success, ...failure].find((op) => op.type === 'put' && op.lease != null);
        throw leaseNotFound(leased?.type === 'put' ? (leased.lease ?? '') : '');
      }
      throw err;
    }
    const ops = res.succeeded ? success : failure;
    const native = res.succeeded ? nativeSuccess : nativeFailure;
    const revision = exact(res.header.revision, 'revision');
    return {
      succeeded: res.succeeded,
      revision,
      results: await Promise.all(
        ops.map((op, i) => this.#result(op, res.responses[i], native[i]!, revision)),
      ),
    };
  }

  /**
   * A transaction of one op and no compare (every get, put, delete and range of StoreBase) as
   * etcd's own Range, Put or DeleteRange call: the same semantics, without the Txn envelope,
   * which etcd applies with more work per request.
   */
  async #single(op: Op): Promise<TxnResponse> {
    const request = toRequestOp(op);
    switch (op.type) {
      case 'get': {
        const res = await this.#unary<WireRangeResponse>('KV.Range', request.request_range, 'read');
        const revision = exact(res.header.revision, 'revision');
        return {
          succeeded: true,
          revision,
          results: [await this.#result(op, { response_range: res }, true, revision)],
        };
      }
      case 'put': {
        let res: { header: WireHeader };
        try {
          res = await this.#unary<{ header: WireHeader }>('KV.Put', request.request_put, 'write');
        } catch (err) {
          if (/requested lease not found/.test(etcdDetails(err))) throw leaseNotFound(op.lease ?? '');
          throw err;
        }
        return {
          succeeded: true,
          revision: exact(res.header.revision, 'revision'),
          results: [{ type: 'put' }],
        };
      }
      case 'delete': {
        const res = await this.#unary<{ header: WireHeader; deleted: string }>(
          'KV.DeleteRange',
          request.request_delete_range,
          'write',
        );
        return {
          succeeded: true,
          revision: exact(res.header.revision, 'revision'),
          results: [toResult(op, { response_delete_range: res })],
        };
      }
    }
  }

  protected async doRevision(): Promise<number> {
    // A linearizable read of one (absent) key: its header carries the current revision.
    const res = await this.#unary<WireRangeResponse>(
      'KV.Range',
      { key: Buffer.from([0]), count_only: true },
      'read',
    );
    return exact(res.header.revision, 'revision');
  }

  protected async doGrant(ttlMs: number): Promise<Lease> {
    // A grant sent twice leaves one extra lease that expires unused: safe to retry.
    const res = await this.#unary<WireLeaseResponse>(
      'Lease.LeaseGrant',
      { TTL: String(Math.ceil(ttlMs / 1000)) },
      'read',
    );
    if (res.error)
      // Retryable, as the comment above says.
      throw new TenureError('TENURE_UNAVAILABLE', `etcd refused the lease grant: ${res.error}`);
    return { id: res.ID, ttlMs: exact(res.TTL, 'ttl') * 1000 };
  }

  protected async doKeepAlive(id: LeaseId): Promise<number> {
    if (!isPossibleLease(id)) throw leaseNotFound(id);
    const ttl = await this.#run(() => this.#keepAlive.keepAlive(id)).catch((err: unknown) => {
      throw this.closed ? closedError() : err;
    });
    if (ttl <= 0) throw leaseNotFound(id);
    return ttl * 1000;
  }

  protected async doRevoke(id: LeaseId): Promise<void> {
    if (!isPossibleLease(id)) return;
    try {
      await this.#unary('Lease.LeaseRevoke', { ID: id }, 'read');
    } catch (err) {
      if (/requested lease not found/.test(etcdDetails(err))) return;
      throw err;
    }
  }

  protected async doTimeToLive(id: LeaseId): Promise<number | undefined> {
    if (!isPossibleLease(id)) return undefined;
    try {
      const res = await this.#unary<WireLeaseResponse>('Lease.LeaseTimeToLive', { ID: id }, 'read');
      const ttl = Number(res.TTL);
      return ttl < 0 ? undefined : ttl * 1000;
    } catch (err) {
      if (/requested lease not found/.test(etcdDetails(err))) return undefined;
      throw err;
    }
  }

  protected async doCompact(revision: number): Promise<void> {
    try {
      await this.#unary('KV.Compact', { revision: String(revision) }, 'read');
    } catch (err) {
      const details = etcdDetails(err);
      if (/required revision has been compacted/.test(details)) return; // already at or past it
      if (/future revision/.test(details))
        throw invalidArgument('revision', `must be at most the current revision (etcd: ${details})`);
      throw err;
    }
  }

  protected doWatch(
    key: string,
    prefix: boolean,
    fromRevision: number | undefined,
    signal: AbortSignal | undefined,
  ): AsyncIterable<WatchBatch> {
    // Without fromRevision, "now" is fixed when watch() is called, not when iteration starts.
    const start =
      fromRevision !== undefined ? Promise.resolve(fromRevision) : this.doRevision().then((r) => r + 1);
    start.catch(() => undefined);
    return etcdWatch(
      {
        conn: this.#conn,
        clock: this.#options.clock,
        requestTimeoutMs: this.#options.requestTimeoutMs,
        probeIntervalMs: this.#options.watchProbeIntervalMs,
        onClose: (fn) => {
          this.#onClose.add(fn);
          return () => this.#onClose.delete(fn);
        },
        isClosed: () => this.closed,
        compacted: (revision) => this.#compacted(revision),
      },
      key,
      prefix,
      start,
      signal,
    );
  }

  /** Whether `revision` is at or below etcd's compaction revision: a read at revision − 1 fails. */
  async #compacted(revision: number): Promise<boolean> {
    try {
      await this.#unary(
        'KV.Range',
        { key: Buffer.from([0]), revision: String(revision - 1), count_only: true },
        'read',
      );
      return false;
    } catch (err) {
      const details = etcdDetails(err);
      if (/required revision has been compacted/.test(details)) return true;
      if (/future revision/.test(details)) return false;
      throw err;
    }
  }

  protected async doClose(): Promise<void> {
    this.#rejectClosing(closedError());
    for (const fn of [...this.#onClose]) fn();
    this.#onClose.clear();
    this.#keepAlive.close();
    this.#conn.close();
  }
}

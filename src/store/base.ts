/**
 * The part of every backend that is the same everywhere: argument validation, the closed check,
 * and the single-key conveniences (get, put, delete, range) written as transactions, so that a
 * backend implements only txn, leases, watch and compaction.
 */
import { invalidArgument } from '../errors.js';
import { closedError } from './errors.js';
import type {
  Key,
  KeyValue,
  Lease,
  LeaseId,
  RangeOptions,
  RangeResult,
  Store,
  StoreCapabilities,
  TxnRequest,
  TxnResponse,
  Value,
  WatchBatch,
  WatchOptions,
} from './types.js';
import { checkInteger, checkKey, checkLeaseId, checkSignal, checkTtl, checkTxn } from './validate.js';

/** Base class of the backends: validates, then calls the backend's `do*` methods. */
export abstract class StoreBase implements Store {
  abstract readonly capabilities: StoreCapabilities;
  readonly namespace: string = '';
  #closed = false;

  get closed(): boolean {
    return this.#closed;
  }

  protected abstract doTxn(request: TxnRequest): Promise<TxnResponse>;
  protected abstract doGrant(ttlMs: number): Promise<Lease>;
  protected abstract doKeepAlive(id: LeaseId): Promise<number>;
  protected abstract doRevoke(id: LeaseId): Promise<void>;
  protected abstract doTimeToLive(id: LeaseId): Promise<number | undefined>;
  protected abstract doRevision(): Promise<number>;
  protected abstract doWatch(
    key: Key,
    prefix: boolean,
    fromRevision: number | undefined,
    signal: AbortSignal | undefined,
  ): AsyncIterable<WatchBatch>;
  protected abstract doCompact(revision: number): Promise<void>;
  protected abstract doClose(): Promise<void>;

  /** Throws TENURE_CLOSED if closed (synchronously, for use at the top of each call). */
  protected assertOpen(): void {
    if (this.#closed) throw closedError();
  }

  async txn(request: TxnRequest): Promise<TxnResponse> {
    this.assertOpen();
    checkTxn(request, this.capabilities);
    return this.doTxn(request);
  }

  async get(key: Key): Promise<KeyValue | undefined> {
    this.assertOpen();
    checkKey(key, this.capabilities);
    const res = await this.doTxn({ success: [{ type: 'get', key }] });
    const first = res.results[0];
    return first?.type === 'get' ? first.kvs[0] : undefined;
  }

  async range(prefix: Key, options: RangeOptions = {}): Promise<RangeResult> {
    this.assertOpen();
    checkKey(prefix, this.capabilities, 'prefix', true);
    const limit = options.limit ?? 0;
    checkInteger(limit, 'options.limit', 0);
    const serializable = options.serializable ?? false;
    if (typeof serializable !== 'boolean') throw invalidArgument('options.serializable', 'must be a boolean');
    const res = await this.doTxn({
      success: [{ type: 'get', key: prefix, prefix: true, limit, serializable }],
    });
    const first = res.results[0];
    if (first?.type !== 'get') throw new Error('unreachable: a get op returned no get result');
    return { kvs: first.kvs, more: first.more, revision: res.revision };
  }

  async put(key: Key, value: Value, options: { lease?: LeaseId | null } = {}): Promise<number> {
    this.assertOpen();
    const request: TxnRequest = { success: [{ type: 'put', key, value, lease: options.lease ?? null }] };
    checkTxn(request, this.capabilities);
    return (await this.doTxn(request)).revision;
  }

  async delete(key: Key, options: { prefix?: boolean } = {}): Promise<number> {
    this.assertOpen();
    checkKey(key, this.capabilities, 'key', options.prefix === true);
    const res = await this.doTxn({ success: [{ type: 'delete', key, prefix: options.prefix === true }] });
    const first = res.results[0];
    return first?.type === 'delete' ? first.deleted : 0;
  }

  async revision(): Promise<number> {
    this.assertOpen();
    return this.doRevision();
  }

  async grant(ttlMs: number): Promise<Lease> {
    this.assertOpen();
    return this.doGrant(checkTtl(ttlMs, this.capabilities));
  }

  async keepAlive(id: LeaseId): Promise<number> {
    this.assertOpen();
    checkLeaseId(id, 'id');
    return this.doKeepAlive(id);
  }

  async revoke(id: LeaseId): Promise<void> {
    this.assertOpen();
    checkLeaseId(id, 'id');
    return this.doRevoke(id);
  }

  async timeToLive(id: LeaseId): Promise<number | undefined> {
    this.assertOpen();
    checkLeaseId(id, 'id');
    return this.doTimeToLive(id);
  }

  watch(key: Key, options: WatchOptions = {}): AsyncIterable<WatchBatch> {
    this.assertOpen();
    if (options === null || typeof options !== 'object')
      throw invalidArgument('options', 'must be an object');
    checkKey(key, this.capabilities, 'key', options.prefix === true);
    if (options.fromRevision !== undefined) checkInteger(options.fromRevision, 'options.fromRevision', 1);
    checkSignal(options.signal, 'options.signal');
    return this.doWatch(key, options.prefix === true, options.fromRevision, options.signal);
  }

  async compact(revision: number): Promise<void> {
    this.assertOpen();
    checkInteger(revision, 'revision', 1);
    return this.doCompact(revision);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.doClose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

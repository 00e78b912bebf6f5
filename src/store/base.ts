/**
 * The part of every backend that is the same everywhere: argument validation, the closed check,
 * and the single-key conveniences (get, put, delete, range) written as transactions, so that a
 * backend implements only txn, leases, watch and compaction.
 */
import { invalidArgument } from '../errors.js';
import { closedError } from './errors.js';
import { followWatch } from './follow.js';
import { compareKeys } from './keys.js';
import type {
  FollowOptions,
  GetOp,
  GetResult,
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
  WatchListener,
  WatchOptions,
  Op,
} from './types.js';
import {
  checkGetSelection,
  checkInteger,
  checkKey,
  checkLeaseId,
  checkListener,
  checkSignal,
  checkTtl,
  checkTxn,
} from './validate.js';

/** Whether a get asks for more than keys in key order: a create-revision bound or another order. */
export function isSelective(op: GetOp): boolean {
  return op.maxCreateRevision !== undefined || (op.order !== undefined && op.order !== 'key');
}

function byCreate(a: KeyValue, b: KeyValue): number {
  return a.createRevision - b.createRevision || compareKeys(a.key, b.key);
}

/**
 * Applies a get's `maxCreateRevision`, `order` and `limit` to every key it selects, read in key
 * order: what a backend without a create-revision index answers (O(keys under the prefix)).
 */
export function selectKvs(kvs: readonly KeyValue[], op: GetOp): Omit<GetResult, 'type'> {
  const max = op.maxCreateRevision ?? Number.MAX_SAFE_INTEGER;
  const limit = op.limit ?? 0;
  const order = op.order ?? 'key';
  const cmp = order === 'createRevisionDescending' ? (a: KeyValue, b: KeyValue) => byCreate(b, a) : byCreate;
  if (order !== 'key' && limit > 0 && limit <= 16) {
    // The few first in order, in one pass and O(limit) memory: no copy or sort of the prefix.
    const picked: KeyValue[] = [];
    let matching = 0;
    for (const kv of kvs) {
      if (kv.createRevision > max) continue;
      matching++;
      if (picked.length === limit && cmp(kv, picked[limit - 1]!) >= 0) continue;
      let i = Math.min(picked.length, limit - 1);
      if (picked.length < limit) picked.push(kv);
      while (i > 0 && cmp(kv, picked[i - 1]!) < 0) picked[i] = picked[--i]!;
      picked[i] = kv;
    }
    return { kvs: picked, more: matching > limit };
  }
  let out = kvs.filter((kv) => kv.createRevision <= max);
  if (order !== 'key') out.sort(cmp);
  const more = limit > 0 && out.length > limit;
  if (more) out = out.slice(0, limit);
  return { kvs: out, more };
}

function plainGets(ops: readonly Op[] | undefined): Op[] | undefined {
  return ops?.map((op) =>
    op.type === 'get' && isSelective(op)
      ? { type: 'get', key: op.key, prefix: op.prefix, serializable: op.serializable }
      : op,
  );
}

const hasSelective = (ops: readonly Op[] | undefined) =>
  ops?.some((op) => op.type === 'get' && isSelective(op)) === true;

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

  /**
   * Whether `doTxn` itself honours a get's `maxCreateRevision` and `order`. A backend that does
   * not is sent a plain read of the whole prefix, and this class selects from it (correct, but
   * O(keys under the prefix) per read instead of O(log n)).
   */
  protected get selectsByCreateRevision(): boolean {
    return false;
  }

  /** `doTxn`, with gets by create revision answered here when the backend does not. */
  async #txn(request: TxnRequest): Promise<TxnResponse> {
    if (this.selectsByCreateRevision || !(hasSelective(request.success) || hasSelective(request.failure)))
      return this.doTxn(request);
    const res = await this.doTxn({
      ...request,
      success: plainGets(request.success),
      failure: plainGets(request.failure),
    });
    const ran = (res.succeeded ? request.success : request.failure) ?? [];
    return {
      ...res,
      results: res.results.map((r, i) => {
        const op = ran[i];
        return op?.type === 'get' && r.type === 'get' && isSelective(op)
          ? { type: 'get', ...selectKvs(r.kvs, op) }
          : r;
      }),
    };
  }

  /** Throws TENURE_CLOSED if closed (synchronously, for use at the top of each call). */
  protected assertOpen(): void {
    if (this.#closed) throw closedError();
  }

  async txn(request: TxnRequest): Promise<TxnResponse> {
    this.assertOpen();
    checkTxn(request, this.capabilities);
    return this.#txn(request);
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
    checkGetSelection(options, 'options');
    const { maxCreateRevision, order } = options;
    const res = await this.#txn({
      success: [{ type: 'get', key: prefix, prefix: true, limit, serializable, maxCreateRevision, order }],
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
    this.#checkWatch(key, options);
    checkSignal(options.signal, 'options.signal');
    return this.doWatch(key, options.prefix === true, options.fromRevision, options.signal);
  }

  follow(key: Key, options: FollowOptions, listener: WatchListener): () => void {
    this.#checkWatch(key, options);
    checkListener(listener);
    return this.doFollow(key, options.prefix === true, options.fromRevision, listener);
  }

  #checkWatch(key: Key, options: FollowOptions): void {
    this.assertOpen();
    if (options === null || typeof options !== 'object')
      throw invalidArgument('options', 'must be an object');
    checkKey(key, this.capabilities, 'key', options.prefix === true);
    if (options.fromRevision !== undefined) checkInteger(options.fromRevision, 'options.fromRevision', 1);
  }

  /** {@link Store.follow}, arguments checked: by default the backend's watch, iterated. */
  protected doFollow(
    key: string,
    prefix: boolean,
    fromRevision: number | undefined,
    listener: WatchListener,
  ): () => void {
    return followWatch((signal) => this.doWatch(key, prefix, fromRevision, signal), listener);
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

  /**
   * Closes the store, as `close()` does, when an `await using` declaration leaves its scope.
   * Idempotent.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Namespaces: a key prefix fixed when a store is opened, so that applications sharing one store
 * never see each other's keys. Written once over the Store contract, for every backend (the
 * same idea as etcd's client-side `namespace` package).
 */
import { invalidArgument } from '../errors.js';
import type {
  Compare,
  FollowOptions,
  Key,
  KeyValue,
  Lease,
  LeaseId,
  Op,
  OpResult,
  RangeOptions,
  RangeResult,
  Store,
  TxnRequest,
  TxnResponse,
  Value,
  WatchBatch,
  WatchListener,
  WatchOptions,
} from './types.js';
import { followOn } from './follow.js';
import { checkKey, checkListener } from './validate.js';

/**
 * Returns a view of `store` in which every key is silently prefixed with `namespace`. Keys
 * returned (gets, ranges, watch events) have the prefix removed. Leases are shared: revoking a
 * lease deletes its keys whatever their namespace.
 *
 * @throws TENURE_INVALID_ARGUMENT when the namespace is empty or not a valid key.
 * @example
 * ```ts
 * const billing = withNamespace(store, 'billing/');
 * await billing.put('leader', 'a'); // stored as 'billing/leader'
 * ```
 */
export function withNamespace(store: Store, namespace: string): Store {
  checkKey(namespace, store.capabilities, 'namespace');
  return new NamespacedStore(store, namespace);
}

class NamespacedStore implements Store {
  readonly #inner: Store;
  readonly #ns: string;

  constructor(inner: Store, ns: string) {
    this.#inner = inner;
    this.#ns = inner.namespace + ns;
  }

  get capabilities() {
    return this.#inner.capabilities;
  }
  get namespace(): string {
    return this.#ns;
  }
  get closed(): boolean {
    return this.#inner.closed;
  }

  #in(key: unknown, name: string): string {
    // Validate before prefixing so the error names the caller's argument, not the inner key.
    if (typeof key !== 'string') throw invalidArgument(name, `must be a string, got ${typeof key}`);
    return this.#ns + key;
  }

  #out = (kv: KeyValue): KeyValue => ({ ...kv, key: kv.key.slice(this.#ns.length) });
  /** A watch's batch, its keys without the namespace. */
  #outBatch = (batch: WatchBatch): WatchBatch => ({
    ...batch,
    events: batch.events.map((e) => ({ type: e.type, kv: this.#out(e.kv) })),
  });

  #compare(c: Compare, i: number): Compare {
    return { ...c, key: this.#in(c.key, `request.compare[${i}].key`) } as Compare;
  }

  #op(op: Op, at: string): Op {
    if (op === null || typeof op !== 'object') throw invalidArgument(at, 'must be an object');
    if (op.type !== 'get' && op.type !== 'put' && op.type !== 'delete') return op;
    // An empty key is only meaningful as a prefix: 'everything in the namespace'.
    if (op.type === 'put' || op.prefix !== true) checkKey(op.key, this.capabilities, `${at}.key`);
    return { ...op, key: this.#in(op.key, `${at}.key`) };
  }

  #result = (r: OpResult): OpResult => (r.type === 'get' ? { ...r, kvs: r.kvs.map(this.#out) } : r);

  async txn(request: TxnRequest): Promise<TxnResponse> {
    if (request === null || typeof request !== 'object')
      throw invalidArgument('request', 'must be an object');
    const res = await this.#inner.txn({
      compare: request.compare?.map((c, i) => this.#compare(c, i)),
      success: request.success?.map((op, i) => this.#op(op, `request.success[${i}]`)),
      failure: request.failure?.map((op, i) => this.#op(op, `request.failure[${i}]`)),
    });
    return { ...res, results: res.results.map(this.#result) };
  }

  async get(key: Key): Promise<KeyValue | undefined> {
    checkKey(key, this.capabilities);
    const kv = await this.#inner.get(this.#in(key, 'key'));
    return kv && this.#out(kv);
  }

  async range(prefix: Key, options?: RangeOptions): Promise<RangeResult> {
    const res = await this.#inner.range(this.#in(prefix, 'prefix'), options);
    return { ...res, kvs: res.kvs.map(this.#out) };
  }

  put(key: Key, value: Value, options?: { lease?: LeaseId | null }): Promise<number> {
    checkKey(key, this.capabilities);
    return this.#inner.put(this.#in(key, 'key'), value, options);
  }

  delete(key: Key, options?: { prefix?: boolean }): Promise<number> {
    if (!options?.prefix) checkKey(key, this.capabilities);
    return this.#inner.delete(this.#in(key, 'key'), options);
  }

  revision(): Promise<number> {
    return this.#inner.revision();
  }
  grant(ttlMs: number): Promise<Lease> {
    return this.#inner.grant(ttlMs);
  }
  keepAlive(id: LeaseId): Promise<number> {
    return this.#inner.keepAlive(id);
  }
  revoke(id: LeaseId): Promise<void> {
    return this.#inner.revoke(id);
  }
  timeToLive(id: LeaseId): Promise<number | undefined> {
    return this.#inner.timeToLive(id);
  }

  watch(key: Key, options?: WatchOptions): AsyncIterable<WatchBatch> {
    if (!options?.prefix) checkKey(key, this.capabilities);
    const inner = this.#inner.watch(this.#in(key, 'key'), options);
    const outBatch = this.#outBatch;
    return {
      async *[Symbol.asyncIterator]() {
        for await (const batch of inner) yield outBatch(batch);
      },
    };
  }

  follow(key: Key, options: FollowOptions, listener: WatchListener): () => void {
    if (!options?.prefix) checkKey(key, this.capabilities);
    checkListener(listener);
    return followOn(this.#inner, this.#in(key, 'key'), options, {
      batch: (batch) => listener.batch(this.#outBatch(batch)),
      error: (err) => listener.error(err),
    });
  }

  compact(revision: number): Promise<void> {
    return this.#inner.compact(revision);
  }
  close(): Promise<void> {
    return this.#inner.close();
  }
  [Symbol.asyncDispose](): Promise<void> {
    return this.#inner.close();
  }
}

/**
 * The Store contract: the small key-value interface, modelled on etcd v3, over which every
 * tenure recipe is written once. Backends (memory, SQLite, etcd, ...) implement it; recipes
 * never know which one they run on.
 *
 * Semantics, as in etcd v3:
 * - One store-wide **revision**, increased by exactly one per committed transaction that changes
 *   something. Revisions are exact integers (JavaScript numbers below 2^53; a backend that would
 *   exceed that fails with TENURE_CORRUPT rather than round).
 * - Each key carries `createRevision` (revision of the put that created it), `modRevision`
 *   (revision of its last change), `version` (number of puts since creation) and its `lease`.
 *   A missing key compares as version 0, createRevision 0, modRevision 0 and lease null.
 * - Keys are ordered by their UTF-8 bytes.
 * - A **lease** is granted with a ttl; keys put with it are deleted, in one revision and with
 *   delete events, when it is revoked or expires. Expiry happens no earlier than `ttlMs` after the
 *   last successful keepalive was *sent*, and no later than `capabilities.expiryBoundMs` after
 *   that moment plus the ttl.
 * - A **watch** delivers every change exactly once, in revision order, from any revision the store
 *   still retains; older revisions fail with TENURE_COMPACTED.
 */

/** A key: a non-empty UTF-8 string (its byte length is limited by `capabilities.maxKeyBytes`). */
export type Key = string;

/** A value: bytes, or a string stored as its UTF-8 bytes. */
export type Value = Uint8Array | string;

/**
 * A lease id. A string because etcd's lease ids are 64-bit integers that do not fit a double.
 */
export type LeaseId = string;

/** A stored key and its metadata. */
export interface KeyValue {
  readonly key: Key;
  readonly value: Uint8Array;
  /** Revision of the put that created this key (its lock-queue position and fencing token). */
  readonly createRevision: number;
  /** Revision of the last put to this key. */
  readonly modRevision: number;
  /** Number of puts since the key was created; 1 after the first. */
  readonly version: number;
  /** The lease the key is attached to, or null. */
  readonly lease: LeaseId | null;
}

/** Comparison operators of a {@link Compare}. */
export type CompareOp = '=' | '!=' | '<' | '>';

/**
 * A condition of a transaction, evaluated atomically against the current state of one key.
 * A missing key has version, createRevision and modRevision 0 and lease null; a value compare
 * on a missing key is false.
 */
export type Compare =
  | { readonly key: Key; readonly target: 'value'; readonly op: CompareOp; readonly value: Value }
  | {
      readonly key: Key;
      readonly target: 'version' | 'createRevision' | 'modRevision';
      readonly op: CompareOp;
      readonly value: number;
    }
  | { readonly key: Key; readonly target: 'lease'; readonly op: '=' | '!='; readonly value: LeaseId | null };

/** Puts `value` at `key`, attached to `lease` (or to no lease when omitted). */
export interface PutOp {
  readonly type: 'put';
  readonly key: Key;
  readonly value: Value;
  readonly lease?: LeaseId | null;
}

/** Deletes `key`, or every key starting with `key` when `prefix` is true. */
export interface DeleteOp {
  readonly type: 'delete';
  readonly key: Key;
  readonly prefix?: boolean;
}

/**
 * Reads `key`, or the keys starting with `key` when `prefix` is true, in key order, at most
 * `limit` of them (0 or omitted: no limit).
 */
export interface GetOp {
  readonly type: 'get';
  readonly key: Key;
  readonly prefix?: boolean;
  readonly limit?: number;
  /**
   * Allow a read from one member's local state without confirming it is current (etcd's
   * serializable read): faster on a cluster, possibly a little behind; the response's revision
   * says how current it is. Only honoured for a transaction of this single get; single-host
   * backends always answer current. @default false
   */
  readonly serializable?: boolean;
  /**
   * Only keys whose createRevision is at most this (etcd's `max_create_revision`). @default no bound
   */
  readonly maxCreateRevision?: number;
  /**
   * The order of the keys returned, and so which ones `limit` keeps: by key, or by create
   * revision (ties by key), oldest or newest first (etcd's `sort_target` CREATE). With
   * `maxCreateRevision` and a limit of 1, `'createRevisionDescending'` reads the one key created
   * just before a revision: the entry ahead of a lock waiter (etcd's `WithLastCreate` and
   * `WithMaxCreateRev`, as in its concurrency.waitDeletes). Memory and SQLite index keys by create
   * revision, so the read is O(log n) however long the queue; etcd has no such index and scans the
   * range on the server, but sends back only the selected keys. @default 'key'
   */
  readonly order?: GetOrder;
}

/** See {@link GetOp.order}. */
export type GetOrder = 'key' | 'createRevision' | 'createRevisionDescending';

/** An operation of a transaction branch. */
export type Op = PutOp | DeleteOp | GetOp;

/** Result of a {@link PutOp}. */
export interface PutResult {
  readonly type: 'put';
}
/** Result of a {@link DeleteOp}: how many keys were deleted. */
export interface DeleteResult {
  readonly type: 'delete';
  readonly deleted: number;
}
/** Result of a {@link GetOp}: the keys found, and whether the limit cut the list short. */
export interface GetResult {
  readonly type: 'get';
  readonly kvs: readonly KeyValue[];
  readonly more: boolean;
}
/** The result of one {@link Op}, at the same index as the op. */
export type OpResult = PutResult | DeleteResult | GetResult;

/** An atomic transaction: if every compare holds, run `success`, else run `failure`. */
export interface TxnRequest {
  readonly compare?: readonly Compare[];
  readonly success?: readonly Op[];
  readonly failure?: readonly Op[];
}

/** What a transaction did. */
export interface TxnResponse {
  /** Whether every compare held (so `success` ran). */
  readonly succeeded: boolean;
  /** The store revision after the transaction (its own revision if it wrote). */
  readonly revision: number;
  /** One result per op of the branch that ran. */
  readonly results: readonly OpResult[];
}

/** A granted lease. */
export interface Lease {
  readonly id: LeaseId;
  /** The ttl the store granted: the asked ttl rounded up to the store's granularity and minimum. */
  readonly ttlMs: number;
}

/** A change seen by a watch. */
export interface WatchEvent {
  readonly type: 'put' | 'delete';
  /**
   * For a put, the key as written. For a delete, the key with an empty value, version 0,
   * createRevision 0, lease null and `modRevision` set to the revision of the delete.
   */
  readonly kv: KeyValue;
}

/** Events of one or more whole revisions, in revision order. */
export interface WatchBatch {
  readonly events: readonly WatchEvent[];
  /** The store revision the batch was read at (≥ the revision of its last event). */
  readonly revision: number;
}

/** Options of {@link Store.watch}. */
export interface WatchOptions {
  /** Watch every key starting with `key`. @default false */
  readonly prefix?: boolean;
  /**
   * Deliver events from this revision on (inclusive). Omitted: changes committed after the
   * watch starts, which on a store reached over the network is when the store's read of its
   * current revision reaches the server: after the call, so a write made meanwhile through
   * another client may precede it. To see such writes, pass a revision read before them. A
   * revision at or below the store's compaction point fails with TENURE_COMPACTED.
   */
  readonly fromRevision?: number;
  /** Ends the watch: the iterator rejects with TENURE_ABORTED (cause: `signal.reason`). */
  readonly signal?: AbortSignal;
}

/** Options of {@link Store.follow}: those of a watch, without the signal (the returned function ends it). */
export type FollowOptions = Omit<WatchOptions, 'signal'>;

/**
 * What {@link Store.follow} calls. The store calls it outside its own call stack (never from
 * inside `follow` or the call that wrote), one call at a time; it must not throw.
 */
export interface WatchListener {
  /** The next batch: the batches a watch of the same key and options would yield, in order. */
  batch(batch: WatchBatch): void;
  /**
   * The follow ended with `err`: what the watch's iterator would reject with (TENURE_COMPACTED,
   * TENURE_CLOSED, TENURE_UNAVAILABLE, ...). Nothing is called after it.
   */
  error(err: unknown): void;
}

/** Options of {@link Store.range}. */
export interface RangeOptions {
  /** At most this many keys; 0 means no limit. @default 0 */
  readonly limit?: number;
  /** See {@link GetOp.serializable}. @default false */
  readonly serializable?: boolean;
  /** See {@link GetOp.maxCreateRevision}. @default no bound */
  readonly maxCreateRevision?: number;
  /** See {@link GetOp.order}. @default 'key' */
  readonly order?: GetOrder;
}

/** The result of {@link Store.range}. */
export interface RangeResult {
  readonly kvs: readonly KeyValue[];
  /** True when `limit` cut the list short. */
  readonly more: boolean;
  /** The store revision the range was read at. */
  readonly revision: number;
}

/** How a backend delivers watch events. */
export type WatchLatencyClass =
  /** In-process delivery (memory). */
  | 'immediate'
  /** Pushed by the server (etcd). */
  | 'push'
  /** Found by polling a change signal (SQLite): up to the poll interval late. */
  | 'poll';

/** What a backend can do, for recipes that must adapt (a session's ttl, say). */
export interface StoreCapabilities {
  /** The backend's name: 'memory', 'sqlite', 'etcd', ... */
  readonly backend: string;
  /**
   * The smallest ttl a lease can have; a `grant` below it is raised to it, and `Session.create`
   * refuses a smaller `ttlMs` (TENURE_INVALID_ARGUMENT, `details.minimum`). Memory and SQLite:
   * 500 (the shortest ttl a session's heartbeats, every ttl/3, hold through a GC pause or a busy
   * host); etcd: 2000 (what its server grants on default settings).
   */
  readonly minTtlMs: number;
  /** The largest ttl a lease can have. */
  readonly maxTtlMs: number;
  /** Ttls are rounded up to a multiple of this (etcd: 1000). */
  readonly ttlGranularityMs: number;
  /** A lease expires at most this long after its ttl ran out. */
  readonly expiryBoundMs: number;
  /** How watch events arrive. */
  readonly watchLatency: WatchLatencyClass;
  /** Largest key, in UTF-8 bytes (namespace prefix included). */
  readonly maxKeyBytes: number;
  /** Largest value, in bytes. */
  readonly maxValueBytes: number;
  /** Most ops in one transaction, compares and both branches counted separately. */
  readonly maxTxnOps: number;
}

/**
 * The Store contract. Every method validates its arguments (TENURE_INVALID_ARGUMENT naming the
 * argument) and fails at once with TENURE_CLOSED after {@link Store.close}. Network backends fail
 * with TENURE_UNAVAILABLE (retryable) within their request timeout, never hang.
 */
export interface Store {
  /** What this backend can do. */
  readonly capabilities: StoreCapabilities;
  /** The key prefix this store was opened with ('' for none); keys seen through it exclude it. */
  readonly namespace: string;
  /** True once {@link Store.close} was called. */
  readonly closed: boolean;

  /** Runs an atomic transaction. @throws TENURE_LEASE_NOT_FOUND if a put names a dead lease. */
  txn(request: TxnRequest): Promise<TxnResponse>;
  /** Reads one key. */
  get(key: Key): Promise<KeyValue | undefined>;
  /** Reads the keys starting with `prefix`, in key order (or as `options.order` says). */
  range(prefix: Key, options?: RangeOptions): Promise<RangeResult>;
  /** Puts one key; returns the new revision. */
  put(key: Key, value: Value, options?: { lease?: LeaseId | null }): Promise<number>;
  /** Deletes one key (or a prefix); returns how many keys were deleted. */
  delete(key: Key, options?: { prefix?: boolean }): Promise<number>;
  /** The current revision. */
  revision(): Promise<number>;

  /** Grants a lease of (at least) `ttlMs`. */
  grant(ttlMs: number): Promise<Lease>;
  /**
   * Renews a lease for its full ttl; returns that ttl.
   * @throws TENURE_LEASE_NOT_FOUND when the lease expired or was revoked.
   */
  keepAlive(id: LeaseId): Promise<number>;
  /** Revokes a lease, deleting its keys in one revision. Revoking a dead lease is a no-op. */
  revoke(id: LeaseId): Promise<void>;
  /** Remaining ttl of a lease, or undefined if it is dead. */
  timeToLive(id: LeaseId): Promise<number | undefined>;

  /** Watches a key or prefix. Iterate with `for await`; end with the signal or by breaking. */
  watch(key: Key, options?: WatchOptions): AsyncIterable<WatchBatch>;
  /**
   * Watches a key or prefix through callbacks: the events of {@link Store.watch} with the same
   * options, in the same batches and order, and its errors as `listener.error` (which ends it).
   * The returned function ends it at once and is idempotent; nothing is delivered after it.
   *
   * Optional: recipes fall back to `watch()` where a store lacks it. It is for the watches that
   * almost never see an event, such as a lock holder's watch of its own key: on an embedded store,
   * an iterator with its signal and promises costs more than the write that took the lock.
   * @throws TENURE_INVALID_ARGUMENT for a bad key or option, TENURE_CLOSED on a closed store.
   */
  follow?(key: Key, options: FollowOptions, listener: WatchListener): () => void;
  /** Discards change history at and below `revision`; watches from there fail with TENURE_COMPACTED. */
  compact(revision: number): Promise<void>;

  /** Closes the store: idempotent; later calls and open watches fail with TENURE_CLOSED. */
  close(): Promise<void>;
  /**
   * Closes the store, as `close()` does, when an `await using` declaration leaves its scope.
   * Idempotent.
   */
  [Symbol.asyncDispose](): Promise<void>;
}

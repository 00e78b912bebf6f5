/**
 * The in-memory backend: the whole Store contract inside one process, with an injectable clock.
 *
 * For tests, examples and deterministic simulation only: **not for production**. Nothing is
 * shared between processes and everything is lost when the process exits.
 */
import { systemClock, type Clock, type Timer } from '../../clock.js';
import { invalidArgument } from '../../errors.js';
import { isSelective, selectKvs } from '../base.js';
import { ChangeLogStore } from '../change-log.js';
import { compactedError, leaseNotFound } from '../errors.js';
import { compareKeys, deletedKv, evaluateCompare, keyMatches } from '../keys.js';
import type {
  DeleteOp,
  GetOp,
  GetResult,
  KeyValue,
  Lease,
  LeaseId,
  Op,
  OpResult,
  PutOp,
  StoreCapabilities,
  TxnRequest,
  TxnResponse,
  WatchEvent,
} from '../types.js';
import { checkInteger, toBytes } from '../validate.js';

/** A store operation name, as passed to a {@link MemoryStoreOptions.fault} hook. */
export type MemoryStoreOperation =
  'txn' | 'grant' | 'keepAlive' | 'revoke' | 'timeToLive' | 'revision' | 'compact';

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * The clock that drives lease expiry. Pass a ManualClock to control time in tests.
   * @default systemClock (performance.now and Node timers)
   */
  clock?: Clock;
  /**
   * How many revisions of change history watches can resume from; older ones are compacted.
   * @default 10000 — enough for a watcher to fall a few seconds behind a busy fleet, small
   * enough to stay a few megabytes.
   */
  retainRevisions?: number;
  /**
   * Called before every operation; an Error it returns is thrown instead of running the
   * operation, to simulate a failing store. Can be replaced at any time via `store.fault`.
   * @default undefined (no faults)
   */
  fault?: (operation: MemoryStoreOperation) => Error | undefined;
}

/** Defaults of {@link MemoryStoreOptions}. */
export const MEMORY_STORE_DEFAULTS = Object.freeze({ retainRevisions: 10_000 });

/**
 * `minTtlMs` 500: the lease itself could be shorter in memory, but the session that keeps it
 * alive cannot. A session beats every ttl/3 and must survive one lost beat plus an event-loop
 * stall (a major GC, a busy 2-core host: easily 100–300 ms) before its own deadline; at 500 ms it
 * has about 330 ms of slack. With a driven clock (tests, simulation) it costs nothing.
 */
const CAPABILITIES: StoreCapabilities = Object.freeze({
  backend: 'memory',
  minTtlMs: 500,
  maxTtlMs: 2 ** 31 - 1,
  ttlGranularityMs: 1,
  expiryBoundMs: 50,
  watchLatency: 'immediate',
  maxKeyBytes: 4096,
  maxValueBytes: 1024 * 1024,
  maxTxnOps: 128,
});

/**
 * The keys under one directory prefix (a prefix ending in `/`, at any depth below it) in create
 * revision order, so that a read of "the newest keys under `mutex/x/` created at or before r"
 * costs O(log n) plus the entries it returns, however long the queue. Deleted keys are dropped
 * lazily: an entry is live while the store still has its key at its create revision. Deletions
 * at the head (a lock queue drains from there) are skipped once; deletions elsewhere are counted
 * and the list is rebuilt when they outnumber the live entries, so its size stays O(live keys).
 */
class CreateOrder {
  keys: string[] = [];
  revs: number[] = [];
  head = 0;
  holes = 0;

  add(key: string, rev: number): void {
    this.keys.push(key);
    this.revs.push(rev);
  }

  /** Drops dead entries at the head and rebuilds when holes dominate; false once it is empty. */
  tidy(live: (key: string, rev: number) => boolean): boolean {
    while (this.head < this.keys.length && !live(this.keys[this.head]!, this.revs[this.head]!)) {
      this.head++;
      this.holes = Math.max(0, this.holes - 1);
    }
    const size = this.keys.length - this.head;
    if (this.holes > 64 && this.holes > size / 2) {
      const keys: string[] = [];
      const revs: number[] = [];
      for (let i = this.head; i < this.keys.length; i++)
        if (live(this.keys[i]!, this.revs[i]!)) {
          keys.push(this.keys[i]!);
          revs.push(this.revs[i]!);
        }
      this.keys = keys;
      this.revs = revs;
      this.head = 0;
      this.holes = 0;
    } else if (this.head > 1024 && this.head > size) {
      this.keys = this.keys.slice(this.head);
      this.revs = this.revs.slice(this.head);
      this.head = 0;
    }
    return this.keys.length > this.head;
  }

  /** Index of the first entry with rev > `rev` (revs never decrease). */
  after(rev: number): number {
    let lo = this.head;
    let hi = this.revs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.revs[mid]! <= rev) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** The directory prefixes of a key (`a/b/c` → `a/`, `a/b/`; `a/` → `a/`): the lists it is indexed in. */
function directories(key: string): string[] {
  const out: string[] = [];
  for (let i = key.indexOf('/'); i >= 0; i = key.indexOf('/', i + 1)) out.push(key.slice(0, i + 1));
  return out;
}

/** Index of the first event with a revision above `revision` (events are in revision order). */
function firstAfter(events: readonly WatchEvent[], revision: number): number {
  let lo = 0;
  let hi = events.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (events[mid]!.kv.modRevision <= revision) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

interface LeaseState {
  readonly ttlMs: number;
  expiresAt: number;
  readonly keys: Set<string>;
  timer: Timer | undefined;
}

/**
 * An in-process Store. Not for production: see the module comment.
 *
 * @example
 * ```ts
 * const clock = new ManualClock();
 * const store = new MemoryStore({ clock });
 * const lease = await store.grant(1000);
 * await store.put('a', 'x', { lease: lease.id });
 * await clock.advance(1000); // the lease expires, 'a' is deleted
 * ```
 */
export class MemoryStore extends ChangeLogStore {
  readonly capabilities = CAPABILITIES;
  protected override get selectsByCreateRevision(): boolean {
    return true;
  }
  /** Replaceable fault hook, see {@link MemoryStoreOptions.fault}. */
  fault: ((operation: MemoryStoreOperation) => Error | undefined) | undefined;
  readonly #clock: Clock;
  readonly #retain: number;
  readonly #kvs = new Map<string, KeyValue>();
  #sorted: string[] = [];
  readonly #leases = new Map<string, LeaseState>();
  #nextLease = 1;
  #revision = 0;
  #compactRevision = 0;
  #log: WatchEvent[] = [];
  /** Create-revision order of the keys under each directory prefix (see {@link CreateOrder}). */
  readonly #byCreate = new Map<string, CreateOrder>();
  /** Each key's retained change events, so a watch of one key reads only its own history. */
  readonly #keyLog = new Map<string, WatchEvent[]>();

  constructor(options: MemoryStoreOptions = {}) {
    super();
    const retain = options.retainRevisions ?? MEMORY_STORE_DEFAULTS.retainRevisions;
    checkInteger(retain, 'options.retainRevisions', 1);
    if (options.fault !== undefined && typeof options.fault !== 'function')
      throw invalidArgument('options.fault', 'must be a function');
    this.#clock = options.clock ?? systemClock;
    this.#retain = retain;
    this.fault = options.fault;
  }

  #check(operation: MemoryStoreOperation): void {
    this.assertOpen();
    const err = this.fault?.(operation);
    if (err !== undefined) throw err;
  }

  protected async doTxn(request: TxnRequest): Promise<TxnResponse> {
    await this.yieldToEventLoop();
    this.#check('txn');
    const succeeded = (request.compare ?? []).every((c) =>
      evaluateCompare(this.#kvs.get(c.key), c, c.target === 'value' ? toBytes(c.value) : undefined),
    );
    const ops = (succeeded ? request.success : request.failure) ?? [];
    for (const op of ops) {
      if (op.type === 'put' && op.lease != null && !this.#leases.has(op.lease)) throw leaseNotFound(op.lease);
    }
    const rev = this.#revision + 1;
    const events: WatchEvent[] = [];
    const results: OpResult[] = ops.map((op: Op) => {
      switch (op.type) {
        case 'put':
          return this.#put(op, rev, events);
        case 'delete':
          return this.#delete(op, rev, events);
        case 'get':
          return this.#get(op);
      }
    });
    if (events.length > 0) this.#commit(events);
    return { succeeded, revision: this.#revision, results };
  }

  #put(op: PutOp, rev: number, events: WatchEvent[]): OpResult {
    const prev = this.#kvs.get(op.key);
    const lease = op.lease ?? null;
    const kv: KeyValue = {
      key: op.key,
      // Copy caller-owned bytes so later changes to their array cannot alter the store.
      value: typeof op.value === 'string' ? toBytes(op.value) : Uint8Array.from(op.value),
      createRevision: prev?.createRevision ?? rev,
      modRevision: rev,
      version: (prev?.version ?? 0) + 1,
      lease,
    };
    if (prev === undefined) {
      this.#insertSorted(op.key);
      for (const dir of directories(op.key)) {
        let order = this.#byCreate.get(dir);
        if (order === undefined) this.#byCreate.set(dir, (order = new CreateOrder()));
        order.add(op.key, rev);
      }
    } else if (prev.lease !== null) this.#leases.get(prev.lease)?.keys.delete(op.key);
    if (lease !== null) this.#leases.get(lease)!.keys.add(op.key);
    this.#kvs.set(op.key, kv);
    events.push({ type: 'put', kv });
    return { type: 'put' };
  }

  #delete(op: DeleteOp, rev: number, events: WatchEvent[]): OpResult {
    const keys = op.prefix ? this.#keysWithPrefix(op.key, 0).keys : this.#kvs.has(op.key) ? [op.key] : [];
    for (const key of keys) this.#remove(key, rev, events);
    return { type: 'delete', deleted: keys.length };
  }

  #remove(key: string, rev: number, events: WatchEvent[]): void {
    const prev = this.#kvs.get(key)!;
    if (prev.lease !== null) this.#leases.get(prev.lease)?.keys.delete(key);
    this.#kvs.delete(key);
    for (const dir of directories(key)) {
      const order = this.#byCreate.get(dir);
      if (order === undefined) continue;
      order.holes++;
      if (!order.tidy(this.#live)) this.#byCreate.delete(dir);
    }
    const i = this.#indexOf(key);
    this.#sorted.splice(i, 1);
    events.push({ type: 'delete', kv: deletedKv(key, rev) });
  }

  #live = (key: string, rev: number): boolean => this.#kvs.get(key)?.createRevision === rev;

  #get(op: GetOp): OpResult {
    if (isSelective(op)) return { type: 'get', ...this.#select(op) };
    if (!op.prefix) {
      const kv = this.#kvs.get(op.key);
      return { type: 'get', kvs: kv === undefined ? [] : [kv], more: false };
    }
    const { keys, more } = this.#keysWithPrefix(op.key, op.limit ?? 0);
    return { type: 'get', kvs: keys.map((k) => this.#kvs.get(k)!), more };
  }

  /**
   * A get with a create-revision bound or order. Under a directory prefix (the queues of every
   * recipe) it walks that directory's create-order list from the bound: O(log n + returned). Any
   * other selection reads the prefix in key order and selects from it.
   */
  #select(op: GetOp): Omit<GetResult, 'type'> {
    const indexed = op.prefix === true && op.key.endsWith('/') && (op.order ?? 'key') !== 'key';
    if (!indexed) {
      const kvs = op.prefix
        ? this.#keysWithPrefix(op.key, 0).keys.map((k) => this.#kvs.get(k)!)
        : [this.#kvs.get(op.key)].filter((kv) => kv !== undefined);
      return selectKvs(kvs, op);
    }
    const order = this.#byCreate.get(op.key);
    if (order === undefined || !order.tidy(this.#live)) return { kvs: [], more: false };
    const limit = op.limit ?? 0;
    const max = op.maxCreateRevision ?? Number.MAX_SAFE_INTEGER;
    const end = order.after(max); // entries [head, end) qualify
    const picked: KeyValue[] = [];
    let more = false;
    const descending = op.order === 'createRevisionDescending';
    for (
      let i = descending ? end - 1 : order.head;
      descending ? i >= order.head : i < end;
      i += descending ? -1 : 1
    ) {
      const kv = this.#kvs.get(order.keys[i]!);
      if (kv === undefined || kv.createRevision !== order.revs[i]) continue;
      // Past the limit, keep going only through ties (ordered by key below), then note one more.
      if (
        limit > 0 &&
        picked.length >= limit &&
        kv.createRevision !== picked[picked.length - 1]!.createRevision
      ) {
        more = true;
        break;
      }
      picked.push(kv);
    }
    const selected = selectKvs(picked, op);
    return { kvs: selected.kvs, more: more || selected.more };
  }

  /** Index of the first sorted key ≥ `key`. */
  #indexOf(key: string): number {
    let lo = 0;
    let hi = this.#sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareKeys(this.#sorted[mid]!, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #insertSorted(key: string): void {
    this.#sorted.splice(this.#indexOf(key), 0, key);
  }

  #keysWithPrefix(prefix: string, limit: number): { keys: string[]; more: boolean } {
    const keys: string[] = [];
    for (let i = this.#indexOf(prefix); i < this.#sorted.length; i++) {
      const key = this.#sorted[i]!;
      if (!key.startsWith(prefix)) break;
      if (limit > 0 && keys.length === limit) return { keys, more: true };
      keys.push(key);
    }
    return { keys, more: false };
  }

  #commit(events: WatchEvent[]): void {
    this.#revision += 1;
    const keys: string[] = [];
    for (const e of events) {
      keys.push(e.kv.key);
      this.#log.push(e);
      let own = this.#keyLog.get(e.kv.key);
      if (own === undefined) this.#keyLog.set(e.kv.key, (own = []));
      own.push(e);
    }
    const floor = this.#revision - this.#retain;
    if (floor > this.#compactRevision) this.#compactTo(floor);
    this.notify({ after: this.#revision - 1, revision: this.#revision, keys });
  }

  #compactTo(revision: number): void {
    this.#compactRevision = Math.max(this.#compactRevision, revision);
    const cut = this.#firstLogIndexAfter(this.#compactRevision);
    // Drop history in chunks: splicing on every commit would make each commit O(retained).
    if (cut > 1024 || cut === this.#log.length) {
      const dropped = new Map<string, number>();
      for (let i = 0; i < cut; i++) {
        const key = this.#log[i]!.kv.key;
        dropped.set(key, (dropped.get(key) ?? 0) + 1);
      }
      for (const [key, n] of dropped) {
        const own = this.#keyLog.get(key)!;
        if (own.length <= n) this.#keyLog.delete(key);
        else own.splice(0, n); // a key's events are in revision order: the oldest go first
      }
      this.#log = this.#log.slice(cut);
    }
  }

  #firstLogIndexAfter(revision: number): number {
    return firstAfter(this.#log, revision);
  }

  protected async doGrant(ttlMs: number): Promise<Lease> {
    this.#check('grant');
    const id = String(this.#nextLease++);
    const state: LeaseState = {
      ttlMs,
      expiresAt: this.#clock.now() + ttlMs,
      keys: new Set(),
      timer: undefined,
    };
    this.#leases.set(id, state);
    this.#schedule(id, state);
    return { id, ttlMs };
  }

  #schedule(id: string, state: LeaseState): void {
    state.timer = this.#clock
      .setTimeout(() => {
        if (this.#leases.get(id) !== state) return;
        const remaining = state.expiresAt - this.#clock.now();
        if (remaining > 0) this.#schedule(id, state);
        else this.#expire(id);
      }, state.expiresAt - this.#clock.now())
      .unref();
  }

  #expire(id: string): void {
    const state = this.#leases.get(id);
    if (state === undefined) return;
    this.#leases.delete(id);
    if (state.timer !== undefined) this.#clock.clearTimeout(state.timer);
    if (state.keys.size === 0) return;
    const rev = this.#revision + 1;
    const events: WatchEvent[] = [];
    for (const key of [...state.keys].sort(compareKeys)) this.#remove(key, rev, events);
    this.#commit(events);
  }

  protected async doKeepAlive(id: LeaseId): Promise<number> {
    this.#check('keepAlive');
    const state = this.#leases.get(id);
    if (state === undefined) throw leaseNotFound(id);
    state.expiresAt = this.#clock.now() + state.ttlMs;
    return state.ttlMs;
  }

  protected async doRevoke(id: LeaseId): Promise<void> {
    this.#check('revoke');
    this.#expire(id);
  }

  protected async doTimeToLive(id: LeaseId): Promise<number | undefined> {
    this.#check('timeToLive');
    const state = this.#leases.get(id);
    return state === undefined ? undefined : Math.max(0, state.expiresAt - this.#clock.now());
  }

  protected async doRevision(): Promise<number> {
    this.#check('revision');
    return this.#revision;
  }

  protected async doCompact(revision: number): Promise<void> {
    this.#check('compact');
    if (revision > this.#revision)
      throw invalidArgument('revision', `must be at most the current revision ${this.#revision}`);
    this.#compactTo(revision);
  }

  /** @internal ChangeLog */
  currentRevision(): number {
    return this.#revision;
  }

  /** @internal ChangeLog */
  readChanges(
    after: number,
    key: string,
    prefix: boolean,
  ): { events: WatchEvent[]; upTo: number; more: boolean } {
    if (after < this.#compactRevision) throw compactedError(after + 1, this.#compactRevision);
    if (!prefix) {
      // One key: its own history, however busy the rest of the store is.
      const own = this.#keyLog.get(key);
      const events = own === undefined ? [] : own.slice(firstAfter(own, after));
      return { events, upTo: this.#revision, more: false };
    }
    const events: WatchEvent[] = [];
    for (let i = this.#firstLogIndexAfter(after); i < this.#log.length; i++) {
      const e = this.#log[i]!;
      if (keyMatches(e.kv.key, key, prefix)) events.push(e);
    }
    return { events, upTo: this.#revision, more: false };
  }

  protected async doClose(): Promise<void> {
    for (const state of this.#leases.values())
      if (state.timer !== undefined) this.#clock.clearTimeout(state.timer);
    this.#leases.clear();
    this.notify();
  }
}

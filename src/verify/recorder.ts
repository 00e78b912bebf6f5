/**
 * Recording a history of the calls made through a Store, and reading the key-value part of it
 * for the linearizability checker.
 *
 * {@link RecordingStore} wraps any Store (it changes nothing of the calls) and adds an invoke and
 * a completion to a {@link History} around each call. A call that fails in a way that may still
 * have been applied (the store unreachable, a timeout, the store closed under it) is an `info`
 * write; a refusal (bad argument, dead lease) is a `fail`; a read that fails is a `fail`.
 *
 * Watches pass through unrecorded. Values are recorded as UTF-8 text.
 */
import { isTenureError, type TenureErrorCode } from '../errors.js';
import type {
  Compare,
  KeyValue,
  Lease,
  LeaseId,
  Op,
  RangeOptions,
  RangeResult,
  Store,
  StoreCapabilities,
  TxnRequest,
  TxnResponse,
  Value,
  WatchBatch,
  WatchOptions,
} from '../store/types.js';
import { History, monotonicNow, type HistoryEvent, type Operation, type ProcessId } from './history.js';
import { KV_OPERATIONS } from './kv-model.js';

/** Options of {@link RecordingStore}. */
export interface RecordingStoreOptions {
  /** The history to append to (several recorders may share one). @default a new History */
  history?: History;
  /**
   * The process id of this client. Calls made while another is in flight are recorded as
   * `<process>:1`, `<process>:2`, ... (a history allows one operation per process at a time).
   * @default 0
   */
  process?: ProcessId;
  /**
   * The clock of the event times; it must be shared by every process of the history.
   * @default the host's CLOCK_MONOTONIC ({@link monotonicNow}), shared by all processes of a host
   */
  clock?: {
    /** The current time in milliseconds, on the clock the whole history shares. */
    now(): number;
  };
  /**
   * Called with each event once it is in the history: to stream it out (a process that may be
   * killed writes each line as it happens).
   * @default none
   */
  onEvent?: (event: HistoryEvent) => void;
}

const text = new TextDecoder();
const asText = (v: Value | Uint8Array): string => (typeof v === 'string' ? v : text.decode(v));

/** Refusals: the store did not apply the call. Everything else leaves a write's outcome unknown. */
const REFUSED: ReadonlySet<TenureErrorCode> = new Set([
  'TENURE_INVALID_ARGUMENT',
  'TENURE_LEASE_NOT_FOUND',
  'TENURE_COMPACTED',
  'TENURE_STORE_UNUSABLE',
]);

function errorResult(err: unknown): { error: string; message: string } {
  return {
    error: isTenureError(err) ? err.code : err instanceof Error ? err.name : 'unknown',
    message: err instanceof Error ? err.message : String(err),
  };
}

/** A single-key compare the checker's `cas` can express: the key holds this value, or is absent. */
function casExpectation(c: Compare): { expect: string | null } | undefined {
  if (c.target === 'value' && c.op === '=') return { expect: asText(c.value) };
  if (
    (c.target === 'version' || c.target === 'createRevision' || c.target === 'modRevision') &&
    c.op === '=' &&
    c.value === 0
  )
    return { expect: null };
  return undefined;
}

/** The checker's view of a txn: `cas`, `get` or `put` when it is one of those, else undefined. */
function txnAsKv(req: TxnRequest): { op: string; args: Record<string, unknown> } | undefined {
  const compare = req.compare ?? [];
  const success = req.success ?? [];
  const failure = req.failure ?? [];
  if (compare.length === 0 && failure.length === 0 && success.length === 1) {
    const only = success[0]!;
    if (only.type === 'get' && !only.prefix) return { op: 'get', args: { key: only.key } };
    if (only.type === 'put' && (only.lease ?? null) === null)
      return { op: 'put', args: { key: only.key, value: asText(only.value) } };
    return undefined;
  }
  if (compare.length !== 1 || success.length !== 1) return undefined;
  const c = compare[0]!;
  const expectation = casExpectation(c);
  const write = success[0]!;
  if (expectation === undefined || write.key !== c.key) return undefined;
  // A failure branch may only read the same key (its result is not checked).
  if (failure.some((f: Op) => f.type !== 'get' || f.key !== c.key || f.prefix)) return undefined;
  if (write.type === 'put' && (write.lease ?? null) === null)
    return { op: 'cas', args: { key: c.key, expect: expectation.expect, value: asText(write.value) } };
  if (write.type === 'delete' && !write.prefix)
    return { op: 'cas', args: { key: c.key, expect: expectation.expect, value: null } };
  return undefined;
}

/** The keys a txn writes, and whether any write is by prefix (as `prefix/*`). */
function txnWrites(req: TxnRequest): { keys: string[]; prefixes: string[] } {
  const keys: string[] = [];
  const prefixes: string[] = [];
  for (const o of [...(req.success ?? []), ...(req.failure ?? [])]) {
    if (o.type === 'put') keys.push(o.key);
    if (o.type === 'delete') (o.prefix ? prefixes : keys).push(o.key);
  }
  return { keys, prefixes };
}

/**
 * A Store that records every call made through it into a {@link History}, then makes the call
 * on the store it wraps. `close()` closes the wrapped store.
 *
 * @example
 * ```ts
 * const history = new History();
 * const clients = [1, 2, 3].map((p) => new RecordingStore(store, { history, process: p }));
 * // ... run a workload through the clients ...
 * const { operations } = keyValueOperations(history);
 * checkLinearizability(operations);
 * ```
 */
export class RecordingStore implements Store {
  /** The history the calls are recorded into. */
  readonly history: History;
  readonly #inner: Store;
  readonly #process: ProcessId;
  readonly #clock: { now(): number };
  readonly #busy = new Set<ProcessId>();
  readonly #onEvent: ((event: HistoryEvent) => void) | undefined;

  constructor(inner: Store, options: RecordingStoreOptions = {}) {
    this.#inner = inner;
    this.history = options.history ?? new History();
    this.#process = options.process ?? 0;
    this.#clock = options.clock ?? { now: monotonicNow };
    this.#onEvent = options.onEvent;
  }

  #add(event: HistoryEvent): void {
    this.history.add(event);
    this.#onEvent?.(event);
  }

  get capabilities(): StoreCapabilities {
    return this.#inner.capabilities;
  }
  get namespace(): string {
    return this.#inner.namespace;
  }
  get closed(): boolean {
    return this.#inner.closed;
  }

  /** Runs `call` as one operation: invoke, then ok with `result(value)`, fail, or info. */
  async #record<T>(
    op: string,
    args: Record<string, unknown>,
    writes: boolean,
    call: () => Promise<T>,
    result: (value: T) => unknown,
  ): Promise<T> {
    let lane = 0;
    let process: ProcessId = this.#process;
    while (this.#busy.has(process)) process = `${String(this.#process)}:${++lane}`;
    this.#busy.add(process);
    this.#add({ type: 'invoke', process, op, args, time: this.#clock.now() });
    try {
      const value = await call();
      const r = result(value);
      this.#add({
        type: 'ok',
        process,
        op,
        ...(r === undefined ? {} : { result: r }),
        time: this.#clock.now(),
      });
      return value;
    } catch (err) {
      const refused = isTenureError(err) && REFUSED.has(err.code);
      this.#add({
        type: writes && !refused ? 'info' : 'fail',
        process,
        op,
        result: errorResult(err),
        time: this.#clock.now(),
      });
      throw err;
    } finally {
      this.#busy.delete(process);
    }
  }

  txn(request: TxnRequest): Promise<TxnResponse> {
    const kv = txnAsKv(request);
    const writes = [...(request.success ?? []), ...(request.failure ?? [])].some((o) => o.type !== 'get');
    if (kv === undefined) {
      const { keys, prefixes } = txnWrites(request);
      return this.#record(
        'txn',
        { writes: keys, prefixWrites: prefixes },
        writes,
        () => this.#inner.txn(request),
        (r) => ({
          succeeded: r.succeeded,
          revision: r.revision,
        }),
      );
    }
    return this.#record(
      kv.op,
      kv.args,
      writes,
      () => this.#inner.txn(request),
      (r) => {
        if (kv.op === 'cas') return { succeeded: r.succeeded, revision: r.revision };
        if (kv.op === 'get') {
          const first = r.results[0];
          const found = first?.type === 'get' ? first.kvs[0] : undefined;
          return { value: found ? asText(found.value) : null, revision: r.revision };
        }
        return { revision: r.revision };
      },
    );
  }

  get(key: string): Promise<KeyValue | undefined> {
    return this.#record(
      'get',
      { key },
      false,
      () => this.#inner.get(key),
      (kv) => ({
        value: kv ? asText(kv.value) : null,
        ...(kv ? { modRevision: kv.modRevision } : {}),
      }),
    );
  }

  range(prefix: string, options?: RangeOptions): Promise<RangeResult> {
    return this.#record(
      'range',
      { prefix },
      false,
      () => this.#inner.range(prefix, options),
      (r) => ({
        keys: r.kvs.length,
        revision: r.revision,
      }),
    );
  }

  put(key: string, value: Value, options?: { lease?: LeaseId | null }): Promise<number> {
    const lease = options?.lease ?? null;
    return this.#record(
      'put',
      { key, value: asText(value), ...(lease === null ? {} : { lease }) },
      true,
      () => this.#inner.put(key, value, options),
      (revision) => ({ revision }),
    );
  }

  delete(key: string, options?: { prefix?: boolean }): Promise<number> {
    return options?.prefix
      ? this.#record(
          'delete-prefix',
          { prefix: key },
          true,
          () => this.#inner.delete(key, options),
          (deleted) => ({ deleted }),
        )
      : this.#record(
          'delete',
          { key },
          true,
          () => this.#inner.delete(key, options),
          (deleted) => ({ deleted }),
        );
  }

  revision(): Promise<number> {
    return this.#record(
      'revision',
      {},
      false,
      () => this.#inner.revision(),
      (revision) => ({ revision }),
    );
  }

  grant(ttlMs: number): Promise<Lease> {
    return this.#record(
      'grant',
      { ttlMs },
      true,
      () => this.#inner.grant(ttlMs),
      (l) => ({ lease: l.id, ttlMs: l.ttlMs }),
    );
  }

  keepAlive(id: LeaseId): Promise<number> {
    return this.#record(
      'keepAlive',
      { lease: id },
      true,
      () => this.#inner.keepAlive(id),
      (ttlMs) => ({ ttlMs }),
    );
  }

  revoke(id: LeaseId): Promise<void> {
    return this.#record(
      'revoke',
      { lease: id },
      true,
      () => this.#inner.revoke(id),
      () => undefined,
    );
  }

  timeToLive(id: LeaseId): Promise<number | undefined> {
    return this.#record(
      'timeToLive',
      { lease: id },
      false,
      () => this.#inner.timeToLive(id),
      (ttl) => ({
        ttlMs: ttl ?? null,
      }),
    );
  }

  watch(key: string, options?: WatchOptions): AsyncIterable<WatchBatch> {
    return this.#inner.watch(key, options);
  }

  compact(revision: number): Promise<void> {
    return this.#record(
      'compact',
      { revision },
      true,
      () => this.#inner.compact(revision),
      () => undefined,
    );
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** The key-value part of a recorded history, ready for the checker. */
export interface KeyValueOperations {
  /** The `get`, `put`, `delete` and `cas` operations on keys the checker can model. */
  readonly operations: Operation[];
  /**
   * Keys left out: written with a lease (its expiry or revoke deletes them unseen), by a
   * transaction the checker cannot model, or by a prefix delete.
   */
  readonly excludedKeys: readonly string[];
  /** Operations left out: other calls (range, leases, ...) and those on excluded keys. */
  readonly ignored: number;
}

/**
 * Selects from a history recorded by {@link RecordingStore} the operations the linearizability
 * checker can model, leaving out every key something unmodelled may have changed.
 */
export function keyValueOperations(history: History | readonly Operation[]): KeyValueOperations {
  const ops = history instanceof History ? history.operations() : history;
  const excluded = new Set<string>();
  const prefixes: string[] = [];
  const field = (o: Operation, name: string) => (o.args as Record<string, unknown> | undefined)?.[name];
  for (const o of ops) {
    if (o.status === 'fail') continue;
    if (o.op === 'put' && field(o, 'lease') !== undefined) excluded.add(field(o, 'key') as string);
    if (o.op === 'txn') {
      for (const k of (field(o, 'writes') as string[] | undefined) ?? []) excluded.add(k);
      prefixes.push(...((field(o, 'prefixWrites') as string[] | undefined) ?? []));
    }
    if (o.op === 'delete-prefix') prefixes.push(field(o, 'prefix') as string);
  }
  const isExcluded = (key: string) => excluded.has(key) || prefixes.some((p) => key.startsWith(p));
  const operations: Operation[] = [];
  const left = new Set<string>();
  let ignored = 0;
  for (const o of ops) {
    const key = field(o, 'key');
    if (!KV_OPERATIONS.has(o.op) || typeof key !== 'string') {
      ignored++;
      continue;
    }
    if (isExcluded(key)) {
      left.add(key);
      ignored++;
      continue;
    }
    operations.push(o);
  }
  return { operations, excludedKeys: [...left].sort(), ignored };
}

/**
 * A distributed mutex with fencing tokens. Waiters queue by create revision under
 * `mutex/<name>/` and each watches only the key just ahead of it: FIFO-fair, and an unlock wakes
 * exactly one waiter. A waiter that times out or is aborted deletes its key before rejecting.
 *
 * Optional lock-delay (Chubby §2.4, Consul's lock-delay): when a holder's session ends without an
 * unlock, nobody can take the lock for `lockDelayMs`, for resources that cannot check fencing
 * tokens. It is implemented with a marker key outside the queue, written (without a lease) by
 * each holder and deleted by its unlock: a marker left by a dead session means the last holder
 * did not unlock.
 *
 * With `{ layout: 'etcd' }` the queue is etcd's own (etcd-layout.ts): `<name>/<lease in hex>`, so
 * that tenure, `etcdctl lock` and Go's `concurrency.Mutex` on one etcd exclude each other.
 */
import { TenureError, invalidArgument } from '../../errors.js';
import { ETCD_MUTEX_VALUE, ETCD_QUEUE_LAYOUT, checkLayout, type Layout } from './etcd-layout.js';
import { Lock } from './lock.js';
import { encodeMarker, markerKey } from './mutex-layout.js';
import { toEntry, type QueueEntry } from './queue-layout.js';
import { ownerOption } from '../owner.js';
import {
  QueueRecipe,
  exclusive,
  enqueue,
  removeKey,
  takeTurn,
  type Ticket,
  type WaitOptions,
  type WaitScope,
} from './queue.js';
import type { Session } from './session.js';

/** Options of {@link Mutex}. */
export interface MutexOptions {
  /**
   * After a holder's session ends without unlocking, the lock cannot be taken for this long.
   * @default 0 — off: fencing tokens are the safe way; use a delay only for resources that
   * cannot check them, and make it longer than any write can take.
   */
  lockDelayMs?: number;
  /**
   * How this process describes itself in the queue (see `tenure status`).
   * @default host:pid; under the etcd layout, empty (what etcd's Mutex writes; etcd never reads it)
   */
  owner?: string;
  /**
   * Whose key layout the lock uses. `'tenure'`: `mutex/<name>/<unique key>`. `'etcd'`: the layout
   * of etcd's `concurrency.Mutex` and `etcdctl lock` (`<name>/<lease id in hex>`, see
   * etcd-layout.ts), so that they and tenure exclude each other on one etcd. Open the store at
   * the namespace the other side uses: etcd URLs default to `tenure/`, and `etcdctl lock NAME`
   * writes at the root (`etcd://host:2379?namespace=`). Under the etcd layout the name may contain
   * `/` (it is etcd's prefix), a session has one key per name (a second `lock()` of the name in
   * the same session, while the first holds or waits or its unlock is not yet confirmed, is
   * refused with TENURE_INVALID_ARGUMENT rather than sharing the key as etcd does; await
   * `close()` before locking again), and `lockDelayMs` is refused (etcd's clients would not
   * honour it).
   * @default 'tenure'
   */
  layout?: Layout;
}

/** Defaults of {@link MutexOptions}. */
export const MUTEX_DEFAULTS = Object.freeze({ lockDelayMs: 0 });

/**
 * A mutex, used through one session.
 *
 * @example
 * ```ts
 * const mutex = new Mutex(session, 'invoices');
 * await mutex.withLock(async (signal, lock) => {
 *   await invoices.write(batch, { fencingToken: lock.fencingToken, signal });
 * });
 * ```
 */
export class Mutex extends QueueRecipe {
  readonly lockDelayMs: number;
  readonly #owner: string;
  readonly #marker: string;

  /** @throws TENURE_INVALID_ARGUMENT for a bad name or option (named in the message). */
  constructor(session: Session, name: string, options: MutexOptions = {}) {
    const layout = checkLayout(typeof options === 'object' ? options?.layout : undefined);
    super(session, name, 'mutex', layout === 'etcd' ? ETCD_QUEUE_LAYOUT : undefined);
    if (options === null || typeof options !== 'object')
      throw invalidArgument('options', 'must be an object');
    const delay = options.lockDelayMs ?? MUTEX_DEFAULTS.lockDelayMs;
    if (typeof delay !== 'number' || !Number.isFinite(delay) || delay < 0)
      throw invalidArgument(
        'options.lockDelayMs',
        `must be a finite number of milliseconds ≥ 0, got ${String(delay)}`,
      );
    if (layout === 'etcd' && delay > 0)
      throw invalidArgument(
        'options.lockDelayMs',
        "cannot be used with options.layout 'etcd': etcd's clients would not honour the delay",
      );
    this.#marker = markerKey(name);
    this.lockDelayMs = delay;
    this.#owner =
      layout === 'etcd' && options.owner === undefined ? ETCD_MUTEX_VALUE : ownerOption(options.owner);
  }

  /**
   * Waits for the lock. FIFO among waiters. A lost reply to the write that queues the waiter is
   * retried within the caller's time (see enqueue).
   * @throws TENURE_TIMEOUT after `options.timeoutMs`, TENURE_ABORTED when `options.signal`
   * aborts (cause: its reason); TENURE_SESSION_EXPIRED or TENURE_CLOSED when the session ends
   * first (also when its deadline passed while the last step ran); TENURE_LOCK_LOST if its queue
   * key was deleted by someone else while it waited; TENURE_UNAVAILABLE only for a store error
   * that retrying cannot fix (transient ones, a lost reply included, are retried while time is
   * left); TENURE_CLOSED if the store was closed; TENURE_INVALID_ARGUMENT for bad options.
   * Whatever it throws, it has removed its queue key (or, with the store unreachable, removes it
   * in the background until the lease ends).
   */
  async lock(options?: WaitOptions): Promise<Lock> {
    return takeTurn(
      this.session,
      `lock ${this.name}`,
      this.prefix,
      this.#owner,
      exclusive,
      options,
      async (ticket, turn, scope) => {
        if (this.lockDelayMs > 0) await this.#takeMarker(ticket, scope);
        return this.#lock(ticket, turn.revision);
      },
      this.entryKey(),
    );
  }

  /**
   * Takes the lock if it is free now; resolves undefined (leaving no key) if it is not. It does
   * not wait, so it does not retry either.
   * @throws TENURE_UNAVAILABLE (retryable) when the store did not answer, a lost reply included:
   * it leaves no key, and calling again is safe; TENURE_LOCK_BUSY when, with lock-delay, a
   * previous holder's unclean end was noticed between its checks; TENURE_LOCK_LOST if its key was
   * deleted during lock-delay; TENURE_SESSION_EXPIRED / TENURE_CLOSED when the session is gone;
   * TENURE_CLOSED when the store was closed.
   */
  async tryLock(): Promise<Lock | undefined> {
    // Its own entry and the one ahead, if any: enough to know whether it is first.
    const ticket = await enqueue(this.session, this.prefix, this.#owner, undefined, 2, this.entryKey());
    const free =
      ticket.queue[0]?.key === ticket.key && (this.lockDelayMs === 0 || (await this.#markerFree()));
    if (!free) {
      await removeKey(this.session, ticket.key);
      return undefined;
    }
    try {
      if (this.lockDelayMs > 0) await this.#takeMarker(ticket, undefined);
      return this.#lock(ticket, ticket.createRevision);
    } catch (err) {
      await removeKey(this.session, ticket.key);
      throw err;
    }
  }

  /**
   * Runs `fn` while holding the lock, handing it a signal that aborts if the lock is lost; unlocks
   * when `fn` settles.
   *
   * It checks the lock ({@link Lock.throwIfLost}: the session's deadline on the monotonic clock)
   * right before calling `fn`, and again when `fn` resolves: a result computed while the lock
   * was lost is not reported as done under the lock. Inside `fn`, call `lock.throwIfLost()`
   * before each external effect and pass `lock.fencingToken` to the resource: the signal can lag
   * after a pause, fencing cannot.
   *
   * @throws what {@link Mutex.lock} throws; TENURE_LOCK_LOST when the lock was lost before `fn`
   * was called (then `fn` is not called) or before it resolved (its result is discarded);
   * TENURE_INVALID_ARGUMENT when `fn` is not a function; whatever `fn` throws, as it is.
   */
  async withLock<T>(
    fn: (signal: AbortSignal, lock: Lock) => Promise<T> | T,
    options?: WaitOptions,
  ): Promise<T> {
    if (typeof fn !== 'function') throw invalidArgument('fn', 'must be a function');
    const lock = await this.lock(options);
    try {
      lock.throwIfLost();
      const result = await fn(lock.signal, lock);
      lock.throwIfLost();
      return result;
    } finally {
      await lock.close();
    }
  }

  /**
   * The holder (first) and the waiters, in queue order, decoded: each entry's owner and its
   * fencing token (create revision).
   * @throws TENURE_UNAVAILABLE when the store cannot answer (retryable), TENURE_CLOSED when the
   * store was closed.
   */
  async queue(): Promise<QueueEntry[]> {
    return (await this.entries()).map((kv) => toEntry(kv));
  }

  #lock(ticket: Ticket, revision: number): Lock {
    const release =
      this.lockDelayMs > 0
        ? async () => {
            // Only this holder's marker: a late delete must not erase the next holder's.
            await this.session.store
              .txn({
                compare: [
                  { key: this.#marker, target: 'value', op: '=', value: encodeMarker(ticket.createRevision) },
                ],
                success: [{ type: 'delete', key: this.#marker }],
              })
              .catch(() => undefined);
          }
        : undefined;
    return new Lock(this.session, ticket, revision, `lock ${this.name}`, release);
  }

  async #markerFree(): Promise<boolean> {
    const marker = await this.session.store.get(this.#marker);
    return marker === undefined;
  }

  /** With lock-delay: waits out a previous holder's unclean end, then marks this holder. */
  async #takeMarker(ticket: Ticket, scope: WaitScope | undefined): Promise<void> {
    const store = this.session.store;
    if (!(await this.#markerFree())) {
      if (scope === undefined)
        throw new TenureError('TENURE_LOCK_BUSY', `lock ${this.name} is in its lock-delay`);
      await new Promise<void>((resolve, reject) => {
        const timer = this.session.clock.setTimeout(resolve, this.lockDelayMs);
        scope.signal.addEventListener('abort', () => {
          this.session.clock.clearTimeout(timer);
          reject(scope.signal.reason);
        });
      });
    }
    const res = await store.txn({
      compare: [{ key: ticket.key, target: 'createRevision', op: '=', value: ticket.createRevision }],
      success: [{ type: 'put', key: this.#marker, value: encodeMarker(ticket.createRevision) }],
    });
    if (!res.succeeded) {
      this.session.throwIfDead();
      throw new TenureError('TENURE_LOCK_LOST', `lock ${this.name} was lost during its lock-delay`);
    }
  }
}

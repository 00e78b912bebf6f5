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
 */
import { TenureError, invalidArgument } from '../errors.js';
import { Lock } from './lock.js';
import { PREFIX } from './names.js';
import { ownerOption } from './owner.js';
import {
  QueueRecipe,
  behindAll,
  enqueue,
  removeKey,
  takeTurn,
  type Entry,
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
  /** How this process describes itself in the queue (see `tenure status`). @default host:pid */
  owner?: string;
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

  constructor(session: Session, name: string, options: MutexOptions = {}) {
    super(session, name, PREFIX.mutex);
    if (options === null || typeof options !== 'object')
      throw invalidArgument('options', 'must be an object');
    const delay = options.lockDelayMs ?? MUTEX_DEFAULTS.lockDelayMs;
    if (typeof delay !== 'number' || !Number.isFinite(delay) || delay < 0)
      throw invalidArgument(
        'options.lockDelayMs',
        `must be a finite number of milliseconds ≥ 0, got ${String(delay)}`,
      );
    this.#marker = `${PREFIX.mutexHolder}${name}`;
    this.lockDelayMs = delay;
    this.#owner = ownerOption(options.owner);
  }

  /**
   * Waits for the lock. FIFO among waiters.
   * @throws TENURE_TIMEOUT, TENURE_ABORTED (after removing the waiter's key), TENURE_SESSION_EXPIRED
   */
  async lock(options?: WaitOptions): Promise<Lock> {
    return takeTurn(
      this.session,
      `lock ${this.name}`,
      this.prefix,
      this.#owner,
      behindAll,
      options,
      async (ticket, turn, scope) => {
        if (this.lockDelayMs > 0) await this.#takeMarker(ticket, scope);
        return this.#lock(ticket, turn.revision);
      },
    );
  }

  /** Takes the lock if it is free now; resolves undefined (leaving no key) if it is not. */
  async tryLock(): Promise<Lock | undefined> {
    // Its own entry and the one ahead, if any: enough to know whether it is first.
    const ticket = await enqueue(this.session, this.prefix, this.#owner, 2);
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
   */
  async withLock<T>(
    fn: (signal: AbortSignal, lock: Lock) => Promise<T> | T,
    options?: WaitOptions,
  ): Promise<T> {
    if (typeof fn !== 'function') throw invalidArgument('fn', 'must be a function');
    const lock = await this.lock(options);
    try {
      return await fn(lock.signal, lock);
    } finally {
      await lock.unlock();
    }
  }

  /** The holder (first) and the waiters, in queue order. */
  async queue(): Promise<Entry[]> {
    return this.entries();
  }

  #lock(ticket: Ticket, revision: number): Lock {
    const release =
      this.lockDelayMs > 0
        ? async () => {
            // Only this holder's marker: a late delete must not erase the next holder's.
            await this.session.store
              .txn({
                compare: [
                  { key: this.#marker, target: 'value', op: '=', value: String(ticket.createRevision) },
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
      success: [{ type: 'put', key: this.#marker, value: String(ticket.createRevision) }],
    });
    if (!res.succeeded) {
      this.session.throwIfDead();
      throw new TenureError('TENURE_LOCK_LOST', `lock ${this.name} was lost during its lock-delay`);
    }
  }
}

/**
 * A held lock or permit: the shape every lock recipe (Mutex, Semaphore, RWLock) returns.
 */
import { Holding, type HoldingStatus } from './holding.js';
import type { Ticket } from './queue.js';
import type { Session } from './session.js';

/**
 * A held lock. Pass `fencingToken` to the protected resource with every write, and stop when
 * `signal` aborts.
 *
 * @example
 * ```ts
 * await using lock = await mutex.lock({ timeoutMs: 5000 });
 * await db.write(row, { fencingToken: lock.fencingToken, signal: lock.signal });
 * ```
 */
export class Lock {
  /** Strictly increasing across successive holders: the protected resource must refuse lower ones. */
  readonly fencingToken: number;
  readonly #hold: Holding;
  readonly #afterRelease: (() => Promise<void>) | undefined;

  /** @internal */
  constructor(
    session: Session,
    ticket: Ticket,
    readRevision: number,
    what: string,
    afterRelease?: () => Promise<void>,
  ) {
    this.fencingToken = ticket.createRevision;
    this.#hold = new Holding(session, ticket, readRevision, what);
    this.#afterRelease = afterRelease;
  }

  /** The store key that represents this lock. */
  get key(): string {
    return this.#hold.key;
  }

  /** Aborts when the lock is lost (TENURE_SESSION_EXPIRED, TENURE_LOCK_LOST) or unlocked (TENURE_CLOSED). */
  get signal(): AbortSignal {
    return this.#hold.signal;
  }

  /** `held` until unlocked or lost. */
  get status(): HoldingStatus {
    return this.#hold.status;
  }

  /** Throws unless the lock is still held (checks the session deadline synchronously). */
  throwIfLost(): void {
    this.#hold.throwIfNotHeld();
  }

  /** Releases the lock; the next waiter takes it within one watch delivery. Idempotent. */
  async unlock(): Promise<void> {
    const wasHeld = this.#hold.status === 'held';
    await this.#hold.release();
    if (wasHeld) await this.#afterRelease?.();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.unlock();
  }
}

/**
 * A held lock or permit: the shape every lock recipe (Mutex, Semaphore, RWLock) returns.
 */
import { Holding } from './holding.js';
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
export class Lock extends Holding {
  readonly #afterRelease: (() => Promise<void>) | undefined;
  #released: Promise<void> | undefined;

  /** @internal */
  constructor(
    session: Session,
    ticket: Ticket,
    readRevision: number,
    what: string,
    afterRelease?: () => Promise<void>,
  ) {
    super(session, ticket, readRevision, what);
    this.#afterRelease = afterRelease;
  }

  /**
   * Strictly increasing across successive holders: the protected resource must refuse lower ones.
   * The real guard against a holder that was paused: pass it with every write.
   */
  get fencingToken(): number {
    return this.token;
  }

  /**
   * Releases the lock; the next waiter takes it within one watch delivery. Idempotent. Never
   * rejects: it retries while the session lives, and the lease's end removes the key after.
   */
  override close(): Promise<void> {
    if (this.#released) return this.#released;
    const wasHeld = this.status === 'held';
    this.#released = super.close().then(() => (wasHeld ? this.#afterRelease?.() : undefined));
    return this.#released;
  }

  /**
   * Same as {@link Lock.close}.
   * @deprecated Use `close()`, the one word that ends every held thing; `unlock()` goes in the
   * next release.
   */
  unlock(): Promise<void> {
    return this.close();
  }
}

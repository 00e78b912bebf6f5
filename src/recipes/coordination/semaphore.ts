/**
 * A counting semaphore: at most `permits` holders at once, FIFO. The first `permits` keys of the
 * queue (by create revision) hold. The first waiter watches the holders (any release wakes it);
 * every later waiter watches only the waiter just ahead of it, which touches its key when it
 * takes a permit. A release therefore wakes one waiter, never the whole queue, and no waiter ever
 * reads the whole queue: each check reads the `permits + 1` entries just ahead of its own
 * (`counting` in queue.ts), O(permits) however many wait.
 */
import { invalidArgument } from '../../errors.js';
import { Lock } from './lock.js';
import { ownerOption } from '../owner.js';
import { decodeSemaphoreEntry, encodeSemaphoreValue, type SemaphoreEntry } from './semaphore-layout.js';
import {
  QueueRecipe,
  counting,
  enqueue,
  removeKey,
  takeTurn,
  type Entry,
  type Ticket,
  type WaitOptions,
} from './queue.js';
import type { Session } from './session.js';

/**
 * A semaphore with a fixed number of permits. Every process using one name must agree on the
 * number of permits.
 *
 * @example
 * ```ts
 * const crawlers = new Semaphore(session, 'crawler', 4);
 * await using permit = await crawlers.acquire({ timeoutMs: 30_000 });
 * ```
 */
export class Semaphore extends QueueRecipe {
  readonly permits: number;
  readonly #owner: string;

  /**
   * @param options.owner shown as a holder by `tenure status` and the dashboard. @default host:pid
   * @throws TENURE_INVALID_ARGUMENT for a bad name, `permits` or owner (named in the message).
   */
  constructor(session: Session, name: string, permits: number, options: { owner?: string } = {}) {
    super(session, name, 'semaphore');
    if (!Number.isSafeInteger(permits) || permits < 1)
      throw invalidArgument('permits', `must be an integer ≥ 1, got ${String(permits)}`);
    this.permits = permits;
    // Each entry says how many permits its process counts: a process that counts differently
    // refuses to join the queue (see #checkPermits), and readers (`tenure status`, the
    // dashboard) can tell holders from waiters.
    this.#owner = encodeSemaphoreValue(permits, ownerOption(options.owner));
  }

  /**
   * Refuses to count among processes that count differently: with 2 permits here and 3 there,
   * the bound would be whichever process looks. The entries ahead that a check reads (the
   * `permits + 1` nearest: the first process's count wins until the queue drains) must declare
   * this process's count. Every entry still ahead when it takes a permit is among them.
   */
  #checkPermits(ahead: readonly Entry[]): void {
    for (const entry of ahead) {
      const declared = decodeSemaphoreEntry(entry).permits;
      if (declared !== this.permits)
        throw invalidArgument(
          'permits',
          `semaphore ${this.name} is in use with ${declared ?? 'an unknown number of'} permits, and this process counts ${this.permits}: every process must use the same count`,
        );
    }
  }

  /** What enqueue reads with its put: its own entry and the `permits + 1` entries ahead. */
  get #window(): number {
    return this.permits + 2;
  }

  /**
   * Waits for a permit. A lost reply to the write that queues the waiter is retried within the
   * caller's time (see enqueue).
   * @throws TENURE_INVALID_ARGUMENT (naming `permits`) if the semaphore is in use by processes
   * that count another number of permits; the wait leaves no key.
   * @throws TENURE_TIMEOUT after `options.timeoutMs`, TENURE_ABORTED when `options.signal`
   * aborts (cause: its reason); TENURE_SESSION_EXPIRED or TENURE_CLOSED when the session ends
   * first (also when its deadline passed while the last step ran); TENURE_LOCK_LOST if its queue
   * key was deleted by someone else while it waited; TENURE_UNAVAILABLE only for a store error
   * that retrying cannot fix (transient ones, a lost reply included, are retried while time is
   * left); TENURE_CLOSED if the store was closed; TENURE_INVALID_ARGUMENT for bad options.
   * Whatever it throws, it has removed its queue key (or, with the store unreachable, removes it
   * in the background until the lease ends).
   */
  async acquire(options?: WaitOptions): Promise<Lock> {
    return takeTurn(
      this.session,
      `acquire ${this.name}`,
      this.prefix,
      this.#owner,
      counting(this.permits, (ahead) => this.#checkPermits(ahead)),
      options,
      async (ticket, turn) => {
        // Held with the put itself: nobody was behind it then, and whoever came later saw it hold.
        const waited = turn.revision !== ticket.createRevision;
        const touched = waited ? await this.#touchIfFollowed(ticket) : undefined;
        return new Lock(this.session, ticket, touched ?? turn.revision, `permit of ${this.name}`);
      },
    );
  }

  /**
   * Takes a permit if one is free now; resolves undefined (leaving no key) if none is. It does
   * not wait, so it does not retry either.
   * @throws TENURE_INVALID_ARGUMENT as {@link Semaphore.acquire} does; TENURE_UNAVAILABLE
   * (retryable) when the store did not answer, a lost reply included: it leaves no key, and
   * calling again is safe; TENURE_SESSION_EXPIRED / TENURE_CLOSED when the session is gone;
   * TENURE_CLOSED when the store was closed.
   */
  async tryAcquire(): Promise<Lock | undefined> {
    const ticket = await enqueue(this.session, this.prefix, this.#owner, undefined, this.#window);
    const ahead = ticket.queue.filter((e) => e.createRevision < ticket.createRevision);
    try {
      this.#checkPermits(ahead);
    } catch (err) {
      await removeKey(this.session, ticket.key);
      throw err;
    }
    if (ahead.length >= this.permits) {
      await removeKey(this.session, ticket.key);
      return undefined;
    }
    return new Lock(this.session, ticket, ticket.createRevision, `permit of ${this.name}`);
  }

  /**
   * Holders first, then waiters, in queue order, decoded: each entry's owner, the permit count
   * it declares and its fencing token (create revision).
   * @throws TENURE_UNAVAILABLE when the store cannot answer (retryable), TENURE_CLOSED when the
   * store was closed.
   */
  async queue(): Promise<SemaphoreEntry[]> {
    return (await this.entries()).map(decodeSemaphoreEntry);
  }

  /**
   * Wakes the waiter behind this one, which watches this key, by rewriting it; when nobody is
   * behind (its own entry is the newest: one read of one key), it writes nothing.
   */
  async #touchIfFollowed(ticket: Ticket): Promise<number | undefined> {
    const newest = await this.session.store.range(this.prefix, {
      order: 'createRevisionDescending',
      limit: 1,
    });
    if (newest.kvs[0]?.key === ticket.key) return undefined;
    const res = await this.session.store.txn({
      compare: [{ key: ticket.key, target: 'createRevision', op: '=', value: ticket.createRevision }],
      success: [{ type: 'put', key: ticket.key, value: this.#owner, lease: this.session.lease }],
    });
    return res.revision;
  }
}

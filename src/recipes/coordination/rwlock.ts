/**
 * A readers-writer lock without writer starvation. Readers and writers share one FIFO queue
 * (by create revision): a reader holds when no writer is ahead of it, a writer when nothing is
 * ahead of it. A reader that arrives after a waiting writer queues behind it, so a stream of
 * readers cannot starve writers. A reader watches the nearest writer ahead; a writer watches the
 * entry just ahead: a release wakes only those it unblocks.
 */
import { Lock } from './lock.js';
import { ownerOption } from '../owner.js';
import { QueueRecipe, exclusive, shared, takeTurn, type Entry, type WaitOptions } from './queue.js';
import { decodeRWEntry, encodeRWValue, isWriterValue, type RWEntry, type RWMode } from './rwlock-layout.js';
import type { Session } from './session.js';

const READ = 'read';
const WRITE = 'write';
const isWriter = (e: Entry) => isWriterValue(e.value);

/**
 * How many entries ahead a reader reads at a time while it looks for the nearest writer: its
 * enqueue reads them with its put, so a reader with a writer (or nothing) among the 32 entries
 * ahead decides without another read.
 */
const READER_PAGE = 32;

/** A reader waits for no writer ahead, reading the queue ahead a page at a time. */
const reader = shared(isWriter, READER_PAGE);

/**
 * A readers-writer lock, used through one session.
 *
 * @example
 * ```ts
 * const config = new RWLock(session, 'config');
 * await using r = await config.readLock();
 * ```
 */
export class RWLock extends QueueRecipe {
  readonly #owner: string;

  /**
   * @param options.owner shown as the holder by `tenure status` and the dashboard. @default host:pid
   * @throws TENURE_INVALID_ARGUMENT for a bad name or owner (named in the message).
   */
  constructor(session: Session, name: string, options: { owner?: string } = {}) {
    super(session, name, 'rwlock');
    this.#owner = ownerOption(options.owner);
  }

  /**
   * Waits for shared (read) access. A lost reply to the write that queues the waiter is retried
   * within the caller's time (see enqueue).
   * @throws TENURE_TIMEOUT after `options.timeoutMs`, TENURE_ABORTED when `options.signal`
   * aborts (cause: its reason); TENURE_SESSION_EXPIRED or TENURE_CLOSED when the session ends
   * first (also when its deadline passed while the last step ran); TENURE_LOCK_LOST if its queue
   * key was deleted by someone else while it waited; TENURE_UNAVAILABLE only for a store error
   * that retrying cannot fix (transient ones, a lost reply included, are retried while time is
   * left); TENURE_CLOSED if the store was closed; TENURE_INVALID_ARGUMENT for bad options.
   * Whatever it throws, it has removed its queue key (or, with the store unreachable, removes it
   * in the background until the lease ends).
   */
  readLock(options?: WaitOptions): Promise<Lock> {
    const what = `${READ} lock ${this.name}`;
    return takeTurn(
      this.session,
      what,
      this.prefix,
      encodeRWValue(READ, this.#owner),
      reader,
      options,
      (ticket, turn) => new Lock(this.session, ticket, turn.revision, what),
    );
  }

  /**
   * Waits for exclusive (write) access. A lost reply to the write that queues the waiter is
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
  writeLock(options?: WaitOptions): Promise<Lock> {
    const what = `${WRITE} lock ${this.name}`;
    return takeTurn(
      this.session,
      what,
      this.prefix,
      encodeRWValue(WRITE, this.#owner),
      exclusive,
      options,
      (ticket, turn) => new Lock(this.session, ticket, turn.revision, what),
    );
  }

  /**
   * Holders and waiters in queue order, decoded: each entry's mode, owner and fencing token
   * (create revision). `entry`, the raw key-value, is kept for one release.
   * @throws TENURE_UNAVAILABLE when the store cannot answer (retryable), TENURE_CLOSED when the
   * store was closed.
   */
  async queue(): Promise<
    (RWEntry & { mode: RWMode; /** @deprecated use the decoded fields */ entry: Entry })[]
  > {
    return (await this.entries()).map((entry) => ({
      ...decodeRWEntry(entry),
      mode: isWriter(entry) ? WRITE : READ,
      entry,
    }));
  }
}

/**
 * A readers-writer lock without writer starvation. Readers and writers share one FIFO queue
 * (by create revision): a reader holds when no writer is ahead of it, a writer when nothing is
 * ahead of it. A reader that arrives after a waiting writer queues behind it, so a stream of
 * readers cannot starve writers. A reader watches the nearest writer ahead; a writer watches the
 * entry just ahead: a release wakes only those it unblocks.
 */
import { Lock } from './lock.js';
import { PREFIX } from './names.js';
import { ownerOption, taggedOwner } from './owner.js';
import { QueueRecipe, behindAll, takeTurn, type Blocker, type Entry, type WaitOptions } from './queue.js';
import type { Session } from './session.js';

const READ = 'read';
const WRITE = 'write';
// An entry's value is its mode, a space and its owner: `write host:1234`.
const W = WRITE.charCodeAt(0);
const isWriter = (e: Entry) => e.value[0] === W;

const readerBlocker: Blocker = (queue, index) => {
  for (let j = index - 1; j >= 0; j--) if (isWriter(queue[j]!)) return [queue[j]!];
  return [];
};
const writerBlocker: Blocker = behindAll;

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

  /** @param options.owner shown as the holder by `tenure status` and the dashboard. @default host:pid */
  constructor(session: Session, name: string, options: { owner?: string } = {}) {
    super(session, name, PREFIX.rwlock);
    this.#owner = ownerOption(options.owner);
  }

  /** Waits for shared (read) access. */
  readLock(options?: WaitOptions): Promise<Lock> {
    return this.#acquire(READ, readerBlocker, options);
  }

  /** Waits for exclusive (write) access. */
  writeLock(options?: WaitOptions): Promise<Lock> {
    return this.#acquire(WRITE, writerBlocker, options);
  }

  /** Holders and waiters in queue order, each with its mode. */
  async queue(): Promise<{ mode: 'read' | 'write'; entry: Entry }[]> {
    return (await this.entries()).map((entry) => ({ mode: isWriter(entry) ? WRITE : READ, entry }));
  }

  async #acquire(mode: string, blocker: Blocker, options: WaitOptions | undefined): Promise<Lock> {
    const what = `${mode} lock ${this.name}`;
    return takeTurn(
      this.session,
      what,
      this.prefix,
      taggedOwner(mode, this.#owner),
      blocker,
      options,
      (ticket, turn) => new Lock(this.session, ticket, turn.revision, what),
    );
  }
}

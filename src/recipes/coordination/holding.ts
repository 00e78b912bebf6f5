/**
 * What a lock or a leadership has in common once taken: a key in the store, a fencing token (the
 * key's create revision), a signal that aborts the moment it is lost, and a release that the
 * store must confirm.
 */
import { TenureError, isTenureError } from '../../errors.js';
import { sleep } from '../../sleep.js';
import type { Timer } from '../../clock.js';
import { followOn } from '../../store/follow.js';
import { LazyEnd } from './lazy-end.js';
import { onAbort, removeKey, type Ticket } from './queue.js';
import type { Session } from './session.js';

/**
 * - `held`: the store has the key and the session is alive.
 * - `releasing`: release was asked; the signal has aborted and the store has not yet confirmed.
 * - `released`: the store confirmed the key is gone.
 * - `lost`: the session expired or the key was deleted by someone else.
 */
export type HoldingStatus = 'held' | 'releasing' | 'released' | 'lost';

/**
 * How long after a hold is handed out it starts following its key (from the revision it was
 * handed out at, so nothing is missed): a hold released sooner never pays for the watch, which on
 * every backend cost more than the writes of a short lock cycle. A deletion of the key by someone
 * else is seen this much later at most; the session's expiry is not watched this way (its own
 * timer aborts the hold at the deadline), nor is safety (fencing tokens).
 */
export const FOLLOW_DELAY_MS = 50;

/** The code {@link Holding.throwIfLost} throws: what "not held" means for this kind of hold. */
export type LostCode = 'TENURE_LOCK_LOST' | 'TENURE_NOT_LEADER';

/** A queue key this process holds. */
export class Holding {
  /** The store key that represents this hold. */
  readonly key: string;
  /** The key's create revision: strictly increasing across successive holders. */
  readonly token: number;
  readonly #session: Session;
  readonly #what: string;
  /** Ended when it is no longer held; its signal and reason are made when first read. */
  readonly #end = new LazyEnd();
  readonly #lostCode: LostCode;
  #status: HoldingStatus = 'held';
  /** Ends the watch of the key. */
  #stopWatch: (() => void) | undefined;
  /** Starts the watch of the key, FOLLOW_DELAY_MS after the hold was handed out. */
  #followTimer: Timer | undefined;
  #releasing: Promise<void> | undefined;
  readonly #onSessionEnd = () => this.#lose(this.#session.signal.reason);
  /** Removes #onSessionEnd from the session's signal (one shared listener per signal: queue.ts). */
  #offSessionEnd: () => void = () => undefined;

  /**
   * @throws the session's reason (TENURE_SESSION_EXPIRED, TENURE_CLOSED) if its deadline has
   * passed: a hold is never handed out after its session's deadline, even when the process was
   * frozen between the last check of the wait and this moment and the loss timer has not run.
   */
  constructor(
    session: Session,
    ticket: Ticket,
    readRevision: number,
    what: string,
    lostCode: LostCode = 'TENURE_LOCK_LOST',
  ) {
    session.throwIfDead();
    this.#session = session;
    this.#lostCode = lostCode;
    this.key = ticket.key;
    this.token = ticket.createRevision;
    this.#what = what;
    this.#offSessionEnd = onAbort(session.signal, this.#onSessionEnd);

    // Scheduled here, not on first read of `signal`: a getter has no side effects (CONVENTIONS
    // 13), and a hold whose key someone else deletes is lost whether or not its signal was read.
    this.#followTimer = session.clock
      .setTimeout(() => {
        this.#followTimer = undefined;
        this.#watchKey(readRevision + 1);
      }, FOLLOW_DELAY_MS)
      .unref();
  }

  /** The session this is held under. */
  get session(): Session {
    return this.#session;
  }

  /**
   * Where this hold is in its life. Past the session's deadline it reports `lost` even if the
   * timer that ends the session has not fired yet: it compares the deadline with the clock, and
   * changes nothing (a getter has no side effects). To also abort the signals at that moment,
   * call {@link Holding.throwIfLost}.
   */
  get status(): HoldingStatus {
    if (this.#status === 'held' && !this.#session.alive) return 'lost';
    return this.#status;
  }

  /**
   * Aborts when the hold is lost (session expired: TENURE_SESSION_EXPIRED; key deleted:
   * TENURE_LOCK_LOST) or released (TENURE_CLOSED). Reading it changes nothing: the key is
   * followed from the revision the hold was handed out at, starting {@link FOLLOW_DELAY_MS} after.
   *
   * The signal can lag: after a pause (SIGSTOP, a VM pause, a long GC) the process can run code
   * before the timer that aborts it fires. Before an external effect call
   * {@link Holding.throwIfLost} (which aborts it then if the deadline has passed), and pass the
   * fencing token: fencing is the guard that holds.
   */
  get signal(): AbortSignal {
    // Made on first read (not an observable effect): a hold that is no longer held hands out a
    // signal that has already aborted, with the same reason the other would have had.
    return this.#end.signal;
  }

  /**
   * Ends the session now if its deadline has passed but the timer that ends it has not run yet
   * (after a freeze), so that the signals agree with the clock. The explicit form of what the
   * getters only report.
   */
  #checkDeadline(): void {
    if (this.#status === 'held' && !this.#session.alive) this.#session.checkDeadline();
  }

  #lose(reason: unknown): void {
    if (this.#status !== 'held') return;
    this.#status = 'lost';
    this.#end.end(() => reason);
    this.#stop();
  }

  /** Stops what a held hold runs: the watch of its key and the session's listener. */
  #stop(): void {
    if (this.#followTimer !== undefined) this.#session.clock.clearTimeout(this.#followTimer);
    this.#followTimer = undefined;
    this.#stopWatch?.();
    this.#stopWatch = undefined;
    this.#offSessionEnd();
  }

  /**
   * Watches the key from `from` on, so the hold is lost if someone else deletes it. Started by the
   * constructor's timer; a failed watch starts again where it stopped.
   */
  #watchKey(from: number): void {
    if (this.#status !== 'held') return;
    const key = this.key;
    try {
      this.#stopWatch = followOn(
        this.#session.store,
        key,
        { fromRevision: from },
        {
          batch: (batch) => {
            for (const e of batch.events) {
              from = e.kv.modRevision + 1;
              if (e.type === 'delete')
                return this.#lose(
                  new TenureError(
                    'TENURE_LOCK_LOST',
                    `${this.#what} lost: its key ${key} was deleted from the store`,
                  ),
                );
            }
          },
          error: (err) => void this.#watchFailed(err, from),
        },
      );
    } catch (err) {
      void this.#watchFailed(err, from); // the store was closed: the hold is lost
    }
  }

  async #watchFailed(err: unknown, from: number): Promise<void> {
    this.#stopWatch = undefined;
    if (this.#status !== 'held') return;
    const store = this.#session.store;
    if (isTenureError(err, 'TENURE_COMPACTED')) {
      // History is gone: check the key itself.
      const kv = await store.get(this.key).catch(() => null);
      if (kv === undefined || (kv !== null && kv.createRevision !== this.token))
        return this.#lose(
          new TenureError('TENURE_LOCK_LOST', `${this.#what} lost: its key ${this.key} is gone`),
        );
      from = (await store.revision().catch(() => from - 1)) + 1;
    } else if (isTenureError(err, 'TENURE_CLOSED')) {
      return this.#lose(err);
    } else {
      await sleep(100, { clock: this.#session.clock, signal: this.signal });
    }
    this.#watchKey(from);
  }

  /**
   * The one check to make right before an external effect (a write, a call, a command): throws
   * unless this is still held. Synchronous, and it compares the session's deadline with the
   * monotonic clock itself, so it is right at once after a freeze, before the timer that aborts
   * the signal has run; when it finds the deadline passed it ends the session there, aborting
   * the signals, so that the signals agree with it from then on.
   *
   * @throws TENURE_LOCK_LOST (a lock or permit) or TENURE_NOT_LEADER (a leadership) when it is
   * not held; `cause` says why: TENURE_SESSION_EXPIRED, TENURE_LOCK_LOST (the key was deleted),
   * TENURE_CLOSED (released by this process).
   * @example
   * ```ts
   * lock.throwIfLost();
   * await resource.write(data, { fencingToken: lock.fencingToken });
   * ```
   */
  throwIfLost(): void {
    this.#checkDeadline();
    if (this.#status === 'held') return;
    const reason = this.#end.reason;
    const why = reason instanceof Error ? reason.message : 'it is not held';
    const next = this.#lostCode === 'TENURE_NOT_LEADER' ? 'campaign again' : 'lock again';
    throw new TenureError(
      this.#lostCode,
      `${this.#what} is no longer held (${why}): stop acting on it; ${next}`,
      { cause: reason, details: { key: this.key, token: this.token } },
    );
  }

  /**
   * Gives the hold up: the signal aborts at once (stop using the resource), then the key is
   * deleted, retrying transient store errors while the session lives. Resolves once the store
   * confirmed (status `released`), or once the session ended (the lease's expiry removes the key).
   * Idempotent. Never rejects.
   */
  close(): Promise<void> {
    if (this.#releasing) return this.#releasing;
    // Past the deadline the hold is lost, not released: end the session first (the lease's expiry
    // removes the key), as the timer would have.
    this.#checkDeadline();
    if (this.#status !== 'held') return (this.#releasing = Promise.resolve());
    this.#status = 'releasing';
    this.#end.end(() => new TenureError('TENURE_CLOSED', `${this.#what} was released`));
    this.#stop();
    this.#releasing = removeKey(this.#session, this.key).then((confirmed) => {
      this.#status = confirmed ? 'released' : 'lost';
    });
    return this.#releasing;
  }

  /**
   * Same as {@link Holding.close}.
   * @deprecated Use `close()`, the one word that ends every held thing; `release()` goes in the
   * next release.
   */
  release(): Promise<void> {
    return this.close();
  }

  /**
   * Gives the hold up, as `close()` does (the signal aborts, then the key is deleted), when an
   * `await using` declaration leaves its scope. Idempotent; never rejects.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

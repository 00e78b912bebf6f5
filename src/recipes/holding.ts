/**
 * What a lock or a leadership has in common once taken: a key in the store, a fencing token (the
 * key's create revision), a signal that aborts the moment it is lost, and a release that the
 * store must confirm.
 */
import { TenureError, isTenureError } from '../errors.js';
import { removeKey, type Ticket } from './queue.js';
import type { Session } from './session.js';

/**
 * - `held`: the store has the key and the session is alive.
 * - `releasing`: release was asked; the signal has aborted and the store has not yet confirmed.
 * - `released`: the store confirmed the key is gone.
 * - `lost`: the session expired or the key was deleted by someone else.
 */
export type HoldingStatus = 'held' | 'releasing' | 'released' | 'lost';

/** A queue key this process holds. */
export class Holding {
  /** The store key that represents this hold. */
  readonly key: string;
  /** The key's create revision: strictly increasing across successive holders. */
  readonly token: number;
  readonly #session: Session;
  readonly #what: string;
  readonly #ac = new AbortController();
  readonly #fromRevision: number;
  #status: HoldingStatus = 'held';
  #watching = false;
  #releasing: Promise<void> | undefined;
  readonly #onSessionEnd = () => this.#lose(this.#session.signal.reason);

  constructor(session: Session, ticket: Ticket, readRevision: number, what: string) {
    this.#session = session;
    this.key = ticket.key;
    this.token = ticket.createRevision;
    this.#what = what;
    this.#fromRevision = readRevision + 1;
    if (session.signal.aborted) this.#onSessionEnd();
    else session.signal.addEventListener('abort', this.#onSessionEnd, { once: true });
  }

  /** The session this is held under. */
  get session(): Session {
    return this.#session;
  }

  /** Where this hold is in its life. */
  get status(): HoldingStatus {
    if (this.#status === 'held' && !this.#session.alive) this.#session.checkDeadline();
    return this.#status;
  }

  /**
   * Aborts when the hold is lost (session expired: TENURE_SESSION_EXPIRED; key deleted:
   * TENURE_LOCK_LOST) or released (TENURE_CLOSED). Reading it starts a watch on the key.
   */
  get signal(): AbortSignal {
    this.#watchKey();
    return this.#ac.signal;
  }

  #lose(reason: unknown): void {
    if (this.#status !== 'held') return;
    this.#status = 'lost';
    this.#ac.abort(reason);
    this.#session.signal.removeEventListener('abort', this.#onSessionEnd);
  }

  /** Watches the key so the signal aborts if someone else deletes it. Started lazily. */
  #watchKey(): void {
    if (this.#watching || this.#status !== 'held') return;
    this.#watching = true;
    void (async () => {
      let from = this.#fromRevision;
      while (this.#status === 'held') {
        try {
          for await (const batch of this.#session.store.watch(this.key, {
            fromRevision: from,
            signal: this.#ac.signal,
          })) {
            for (const e of batch.events) {
              from = e.kv.modRevision + 1;
              if (e.type === 'delete')
                return this.#lose(
                  new TenureError(
                    'TENURE_LOCK_LOST',
                    `${this.#what} lost: its key ${this.key} was deleted from the store`,
                  ),
                );
            }
          }
        } catch (err) {
          if (this.#status !== 'held') return;
          if (isTenureError(err, 'TENURE_COMPACTED')) {
            // History is gone: check the key itself.
            const kv = await this.#session.store.get(this.key).catch(() => null);
            if (kv === undefined || (kv !== null && kv.createRevision !== this.token))
              return this.#lose(
                new TenureError('TENURE_LOCK_LOST', `${this.#what} lost: its key ${this.key} is gone`),
              );
            from = (await this.#session.store.revision().catch(() => from - 1)) + 1;
          } else if (isTenureError(err, 'TENURE_CLOSED')) {
            return this.#lose(err);
          } else {
            await new Promise((r) => setTimeout(r, 100));
          }
        }
      }
    })();
  }

  /** Throws the loss reason unless still held (checks the session deadline synchronously). */
  throwIfNotHeld(): void {
    if (this.status !== 'held')
      throw this.#ac.signal.reason ?? new TenureError('TENURE_LOCK_LOST', `${this.#what} is not held`);
  }

  /**
   * Gives the hold up: the signal aborts at once (stop using the resource), then the key is
   * deleted, retrying transient store errors while the session lives. Resolves once the store
   * confirmed (status `released`), or once the session ended (the lease's expiry removes the key).
   * Idempotent.
   */
  release(): Promise<void> {
    if (this.#releasing) return this.#releasing;
    if (this.#status !== 'held') return (this.#releasing = Promise.resolve());
    this.#status = 'releasing';
    this.#ac.abort(new TenureError('TENURE_CLOSED', `${this.#what} was released`));
    this.#session.signal.removeEventListener('abort', this.#onSessionEnd);
    this.#releasing = removeKey(this.#session, this.key).then((confirmed) => {
      this.#status = confirmed ? 'released' : 'lost';
    });
    return this.#releasing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }
}

/**
 * How a network store's watch retries its own calls: a call that failed only because the server
 * could not be reached (TENURE_UNAVAILABLE) is tried again after a short pause, for up to
 * `requestTimeoutMs` from the first failure of a run; any other error, or a closed store, ends
 * the watch. Shared by the Redis and PostgreSQL watches.
 */
import type { Clock } from '../clock.js';
import { isTenureError } from '../errors.js';
import { sleep } from '../sleep.js';
import { closedError } from './errors.js';

/** Pause between two tries of a failed call, ms. */
const RETRY_PAUSE_MS = 100;

/** A run of failed calls, and the rule that decides whether to try again. */
export class UnavailableRetries {
  readonly #o: { readonly clock: Clock; readonly requestTimeoutMs: number; isClosed(): boolean };
  /** When the current run of failures began (undefined: the last call succeeded). */
  #since: number | undefined;

  constructor(source: { readonly clock: Clock; readonly requestTimeoutMs: number; isClosed(): boolean }) {
    this.#o = source;
  }

  /** A call succeeded: the next failure begins a new run. */
  succeeded(): void {
    this.#since = undefined;
  }

  /**
   * After a failed call: pauses before the next try (`signal` ends the pause early; the caller
   * checks why).
   * @throws TENURE_CLOSED when the store closed; `err` itself unless it is TENURE_UNAVAILABLE and
   * the run of failures is younger than `requestTimeoutMs`.
   */
  async pauseAfter(err: unknown, signal?: AbortSignal): Promise<void> {
    if (this.#o.isClosed()) throw closedError();
    if (!isTenureError(err, 'TENURE_UNAVAILABLE')) throw err;
    const now = this.#o.clock.now();
    this.#since ??= now;
    if (now - this.#since >= this.#o.requestTimeoutMs) throw err;
    await sleep(RETRY_PAUSE_MS, { clock: this.#o.clock, signal });
  }
}

/**
 * The end of something a caller may wait on (a hold, a wait), with an AbortSignal and a reason
 * that are made only when read. Most locks are taken and released without anyone reading their
 * signal, and an AbortController (about 5 µs to make, as much to abort) or a TenureError (4 µs
 * of stack capture) per lock cost more than the lock's own work on an embedded store.
 */
export class LazyEnd {
  #ac: AbortController | undefined;
  #ended = false;
  #reason: unknown;
  #makeReason: (() => unknown) | undefined;

  /** Whether it has ended. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Why it ended (undefined while it has not). */
  get reason(): unknown {
    if (this.#makeReason !== undefined) {
      this.#reason = this.#makeReason();
      this.#makeReason = undefined;
    }
    return this.#reason;
  }

  /** Aborts when it ends, with {@link LazyEnd.reason}; one made after the end has already aborted. */
  get signal(): AbortSignal {
    if (this.#ac === undefined) {
      this.#ac = new AbortController();
      if (this.#ended) this.#ac.abort(this.reason);
    }
    return this.#ac.signal;
  }

  /** Ends it, for the reason `makeReason` returns when first needed; only the first call counts. */
  end(makeReason: () => unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#makeReason = makeReason;
    this.#ac?.abort(this.reason);
  }
}

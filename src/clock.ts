/**
 * Time, injected. Elapsed time is measured only with a monotonic clock (never wall time), and
 * every component that waits takes a {@link Clock} so tests drive time with a {@link ManualClock}.
 */

/** A timer created by a {@link Clock}. */
export interface Timer {
  /** Lets the process exit while this timer is pending (like Node's `timeout.unref()`). */
  unref(): Timer;
}

/** A monotonic clock in milliseconds, and timers on it. */
export interface Clock {
  /** Milliseconds on a monotonic clock; only differences are meaningful. */
  now(): number;
  /** Calls `fn` after `ms` milliseconds of this clock. */
  setTimeout(fn: () => void, ms: number): Timer;
  /** Cancels a timer; cancelling twice or after it fired is a no-op. */
  clearTimeout(timer: Timer): void;
}

/** The process's monotonic clock (`performance.now()`) and Node's timers. */
export const systemClock: Clock = Object.freeze({
  now: () => performance.now(),
  setTimeout: (fn: () => void, ms: number): Timer => setTimeout(fn, Math.max(0, ms)),
  clearTimeout: (timer: Timer) => clearTimeout(timer as ReturnType<typeof setTimeout>),
});

interface ManualTimer extends Timer {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

/**
 * A clock that moves only when told to: for deterministic tests and simulation.
 *
 * @example
 * ```ts
 * const clock = new ManualClock();
 * const store = new MemoryStore({ clock });
 * await clock.advance(5_000); // fires every timer due in the next 5 s, in order
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: ManualTimer[] = [];

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    const timer: ManualTimer = {
      at: this.#now + Math.max(0, ms),
      seq: this.#seq++,
      fn,
      cancelled: false,
      unref() {
        return this;
      },
    };
    this.#timers.push(timer);
    return timer;
  }

  clearTimeout(timer: Timer): void {
    (timer as ManualTimer).cancelled = true;
  }

  /** Number of timers still pending. */
  get pending(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }

  /**
   * Moves time forward by `ms`, firing due timers in time order. Between timers it lets
   * promise callbacks and I/O callbacks run, so async code reacting to a timer settles before
   * the next one fires.
   */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await settle();
    for (;;) {
      this.#timers = this.#timers.filter((t) => !t.cancelled);
      let next: ManualTimer | undefined;
      for (const t of this.#timers) {
        if (
          t.at <= target &&
          (next === undefined || t.at < next.at || (t.at === next.at && t.seq < next.seq))
        )
          next = t;
      }
      if (next === undefined) break;
      this.#now = Math.max(this.#now, next.at);
      next.cancelled = true;
      next.fn();
      await settle();
    }
    this.#now = target;
    await settle();
  }
}

/** Lets pending promise callbacks and immediates run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * Time, injected. Elapsed time is measured only with a monotonic clock (never wall time), and
 * every component that waits takes a {@link Clock} so tests drive time with a {@link ManualClock}.
 */

import { invalidArgument } from './errors.js';

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

/**
 * A `clock` option: `clock` itself, or {@link systemClock} when it is undefined.
 * @throws TENURE_INVALID_ARGUMENT naming `name` for anything else than a Clock.
 */
export function clockOption(clock: unknown, name = 'options.clock'): Clock {
  if (clock === undefined) return systemClock;
  if (typeof (clock as Partial<Clock> | null)?.setTimeout !== 'function')
    throw invalidArgument(name, 'must be a Clock (systemClock, or a ManualClock in tests)');
  return clock as Clock;
}

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
  /** Pending timers, sorted by (at, seq); cancelled ones are dropped when reached. */
  readonly #timers: ManualTimer[] = [];

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
    // Kept sorted by (at, seq): inserted from the end, where new timers mostly land.
    const timers = this.#timers;
    let i = timers.length;
    while (
      i > 0 &&
      (timers[i - 1]!.at > timer.at || (timers[i - 1]!.at === timer.at && timers[i - 1]!.seq > timer.seq))
    )
      i--;
    timers.splice(i, 0, timer);
    return timer;
  }

  clearTimeout(timer: Timer): void {
    (timer as ManualTimer).cancelled = true;
  }

  /**
   * Fires the earliest timer due by `until` (ties in creation order), moving time to it, and
   * returns at once without letting promise callbacks run: for a caller that schedules everything
   * itself (a simulation). False when no timer is due by then.
   */
  fireNext(until: number): boolean {
    const timers = this.#timers;
    while (timers.length > 0 && timers[0]!.cancelled) timers.shift();
    const next = timers[0];
    if (next === undefined || next.at > until) return false;
    timers.shift();
    this.#now = Math.max(this.#now, next.at);
    next.cancelled = true;
    next.fn();
    return true;
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
    while (this.fireNext(target)) await settle();
    this.#now = target;
    await settle();
  }
}

/** Lets pending promise callbacks and immediates run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * The classic fixed-timeout failure detector: a peer is suspected once no heartbeat arrived for
 * `timeoutMs`. Simple and predictable, but the timeout has to be tuned by hand for the worst
 * network and load the fleet will ever see; {@link PhiAccrualDetector} adapts instead.
 */
import { systemClock, type Clock } from '../clock.js';
import { invalidArgument } from '../errors.js';
import { checkNumber, checkOptionsObject } from './options.js';
import type { FailureDetector } from './types.js';

/** Options of {@link FixedTimeoutDetector}. */
export interface FixedTimeoutOptions {
  /**
   * Silence after which the peer is suspected.
   * @default 3000 — three missed one-second heartbeats: one lost packet or a short GC pause is
   * tolerated, a dead process is noticed within a few seconds.
   */
  timeoutMs?: number;
  /** Monotonic clock the arrivals are timed with. @default systemClock (performance.now) */
  clock?: Clock;
}

/** Defaults of {@link FixedTimeoutOptions}. */
export const FIXED_TIMEOUT_DEFAULTS = Object.freeze({ timeoutMs: 3000 });

/**
 * Suspects a peer after a fixed silence. Its suspicion level is `elapsed / timeoutMs`, so the
 * threshold is 1.
 *
 * @example
 * ```ts
 * const detector = new FixedTimeoutDetector({ timeoutMs: 500 });
 * detector.heartbeat();
 * detector.isAvailable(); // true for the next 500 ms
 * ```
 * @throws TENURE_INVALID_ARGUMENT from the constructor for a bad option.
 */
export class FixedTimeoutDetector implements FailureDetector {
  /** Always 1: suspicion is the silence as a fraction of the timeout. */
  readonly threshold = 1;
  /** Silence after which the peer is suspected. */
  readonly timeoutMs: number;
  readonly #clock: Clock;
  #last: number | undefined;

  constructor(options: FixedTimeoutOptions = {}) {
    checkOptionsObject(options);
    this.timeoutMs = checkNumber(
      options.timeoutMs ?? FIXED_TIMEOUT_DEFAULTS.timeoutMs,
      'options.timeoutMs',
      Number.MIN_VALUE,
    );
    const clock = options.clock ?? systemClock;
    if (typeof clock?.now !== 'function') throw invalidArgument('options.clock', 'must be a Clock');
    this.#clock = clock;
  }

  get lastHeartbeatAt(): number | undefined {
    return this.#last;
  }

  heartbeat(): void {
    this.#last = this.#clock.now();
  }

  /** Silence so far divided by the timeout (0 before the first heartbeat). */
  suspicion(): number {
    return this.#last === undefined ? 0 : Math.max(0, this.#clock.now() - this.#last) / this.timeoutMs;
  }

  isAvailable(): boolean {
    return this.suspicion() < this.threshold;
  }
}

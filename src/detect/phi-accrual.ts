/**
 * The phi accrual failure detector (Hayashibara, Défago, Yared, Katayama: "The φ accrual failure
 * detector", SRDS 2004, https://doi.org/10.1109/RELDIS.2004.1353004), with the adjustments Akka
 * made for garbage-collected runtimes: a minimum standard deviation and an acceptable pause added
 * to the mean.
 *
 * Instead of a yes/no verdict after a fixed timeout, the detector keeps a window of recent
 * heartbeat inter-arrival times, models them as a normal distribution, and reports
 * phi = -log10 P(a heartbeat arrives later than the silence observed so far). phi = 1 means a 10 %
 * chance that the peer is merely late, phi = 8 about one in 10^8. The threshold is therefore a
 * false-positive rate chosen by the caller, and the detector adapts to the network and load it
 * actually sees: a jittery link widens the distribution and raises the silence it tolerates.
 */
import { systemClock, type Clock } from '../clock.js';
import { invalidArgument } from '../errors.js';
import { phiOfDeviation } from './normal.js';
import { checkInt, checkNumber, checkOptionsObject } from './options.js';
import type { FailureDetector } from './types.js';

/** Options of {@link PhiAccrualDetector}. */
export interface PhiAccrualOptions {
  /**
   * phi at and above which the peer is considered unavailable.
   * @default 8 — Akka's default: roughly a 1e-8 chance that a live peer is flagged at any given
   * check, with the acceptable pause below; Cassandra's 8 too. Lower (e.g. 5) detects faster and
   * errs more often.
   */
  threshold?: number;
  /**
   * How many inter-arrival times the window keeps; older ones are forgotten.
   * @default 1000 — about 17 minutes of history at one heartbeat a second (100 s at 100 ms):
   * long enough for a stable estimate, short enough to follow a change of load.
   */
  maxSampleSize?: number;
  /**
   * Floor of the standard deviation used in the model. Heartbeats that arrive like clockwork
   * would otherwise give a near-zero deviation and make any small delay look fatal.
   * @default 100 — Akka's default, the scale of a minor GC pause plus scheduling jitter.
   */
  minStdDeviationMs?: number;
  /**
   * Silence added to the mean before computing phi: pauses up to this long are expected and
   * must not raise suspicion much (GC, a busy event loop, a brief network hiccup).
   * @default 3000 — Akka's default for its 1 s heartbeat; scale it with your interval.
   */
  acceptableHeartbeatPauseMs?: number;
  /**
   * The inter-arrival time assumed before any has been measured (the window is seeded with
   * this ± a quarter of it at the first heartbeat). Set it to the sender's interval.
   * @default 1000 — Akka's one-second heartbeat interval.
   */
  firstHeartbeatEstimateMs?: number;
  /** Monotonic clock the arrivals are timed with. @default systemClock (performance.now) */
  clock?: Clock;
}

/** Defaults of {@link PhiAccrualOptions}. */
export const PHI_ACCRUAL_DEFAULTS = Object.freeze({
  threshold: 8,
  maxSampleSize: 1000,
  minStdDeviationMs: 100,
  acceptableHeartbeatPauseMs: 3000,
  firstHeartbeatEstimateMs: 1000,
});

/**
 * A phi accrual failure detector for one peer.
 *
 * @example
 * ```ts
 * const detector = new PhiAccrualDetector({ firstHeartbeatEstimateMs: 100, acceptableHeartbeatPauseMs: 300 });
 * socket.on('message', () => detector.heartbeat());
 * setInterval(() => metrics.set(detector.phi()), 1000);
 * ```
 * @throws TENURE_INVALID_ARGUMENT from the constructor for a bad option (named in the message).
 */
export class PhiAccrualDetector implements FailureDetector {
  /** phi at and above which the peer is considered unavailable. */
  readonly threshold: number;
  /** Window size. */
  readonly maxSampleSize: number;
  /** Floor of the standard deviation. */
  readonly minStdDeviationMs: number;
  /** Silence added to the mean. */
  readonly acceptableHeartbeatPauseMs: number;
  /** Seed of the window. */
  readonly firstHeartbeatEstimateMs: number;
  readonly #clock: Clock;
  readonly #ring: Float64Array;
  #count = 0;
  #next = 0;
  #sum = 0;
  #sumSquares = 0;
  #last: number | undefined;

  constructor(options: PhiAccrualOptions = {}) {
    checkOptionsObject(options);
    const o = { ...PHI_ACCRUAL_DEFAULTS, ...stripUndefined(options) };
    this.threshold = checkNumber(o.threshold, 'options.threshold', Number.MIN_VALUE);
    this.maxSampleSize = checkInt(o.maxSampleSize, 'options.maxSampleSize', 2, 1_000_000);
    this.minStdDeviationMs = checkNumber(o.minStdDeviationMs, 'options.minStdDeviationMs', Number.MIN_VALUE);
    this.acceptableHeartbeatPauseMs = checkNumber(
      o.acceptableHeartbeatPauseMs,
      'options.acceptableHeartbeatPauseMs',
      0,
    );
    this.firstHeartbeatEstimateMs = checkNumber(
      o.firstHeartbeatEstimateMs,
      'options.firstHeartbeatEstimateMs',
      Number.MIN_VALUE,
    );
    const clock = options.clock ?? systemClock;
    if (typeof clock?.now !== 'function') throw invalidArgument('options.clock', 'must be a Clock');
    this.#clock = clock;
    this.#ring = new Float64Array(this.maxSampleSize);
  }

  /** The clock time of the last heartbeat, or undefined before the first. */
  get lastHeartbeatAt(): number | undefined {
    return this.#last;
  }

  /** Number of inter-arrival times in the window (2 seeded ones included). */
  get sampleCount(): number {
    return this.#count;
  }

  /** Mean of the inter-arrival times in the window, ms (NaN before the first heartbeat). */
  get meanMs(): number {
    return this.#count === 0 ? Number.NaN : this.#sum / this.#count;
  }

  /** Standard deviation (population) of the window, ms, before the floor is applied. */
  get stdDeviationMs(): number {
    if (this.#count === 0) return Number.NaN;
    const mean = this.#sum / this.#count;
    return Math.sqrt(Math.max(0, this.#sumSquares / this.#count - mean * mean));
  }

  /** Records a heartbeat arriving now. */
  heartbeat(): void {
    const now = this.#clock.now();
    if (this.#last === undefined) {
      // Seed with two samples one quarter of the estimate apart from it, as Akka does, so the
      // first silences are judged against a plausible distribution instead of none.
      const est = this.firstHeartbeatEstimateMs;
      this.#add(est - est / 4);
      this.#add(est + est / 4);
    } else {
      this.#add(Math.max(0, now - this.#last));
    }
    this.#last = now;
  }

  #add(interval: number): void {
    if (this.#count === this.maxSampleSize) {
      const old = this.#ring[this.#next]!;
      this.#sum -= old;
      this.#sumSquares -= old * old;
    } else {
      this.#count++;
    }
    this.#ring[this.#next] = interval;
    this.#sum += interval;
    this.#sumSquares += interval * interval;
    this.#next = (this.#next + 1) % this.maxSampleSize;
  }

  /**
   * phi now: -log10 of the probability, under the window's normal model shifted by the
   * acceptable pause, that a heartbeat comes later than the current silence. 0 before the first
   * heartbeat; finite (never Infinity) however long the silence.
   */
  phi(at: number = this.#clock.now()): number {
    if (this.#last === undefined) return 0;
    const elapsed = at - this.#last;
    const mean = this.#sum / this.#count + this.acceptableHeartbeatPauseMs;
    const std = Math.max(this.stdDeviationMs, this.minStdDeviationMs);
    return Math.max(0, phiOfDeviation((elapsed - mean) / std));
  }

  /** Same as {@link PhiAccrualDetector.phi}. */
  suspicion(): number {
    return this.phi();
  }

  /** True while phi is below the threshold. */
  isAvailable(): boolean {
    return this.phi() < this.threshold;
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

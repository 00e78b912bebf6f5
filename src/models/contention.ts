/**
 * Contention on one lock: waiting time from the arrival rate of lock requests and the hold-time
 * distribution (the M/G/1 queue), and the most lock handoffs one lock can make per second on a
 * given store.
 *
 * **M/G/1.** Requests arrive as a Poisson process of rate λ and are served one at a time in
 * arrival order (tenure's Mutex queues by create revision: FIFO). A holder occupies the lock for
 * B = hold + handoff, the handoff being the store's time to pass the lock on (the release's
 * commit and its watch delivery to the next waiter). With ρ = λ·E[B] < 1 the
 * Pollaczek–Khinchine formula gives the mean wait Wq = λ·E[B²] / (2(1 − ρ)); a request waits at
 * all with probability ρ. Percentiles use the exponential tail P(W > t) ≈ ρ·exp(−ρt / Wq), exact
 * for exponential holds, an approximation otherwise (Kingman's heavy-traffic law). ρ ≥ 1: the
 * queue grows without bound.
 *
 * **Throughput bound.** Under full contention a lock is never idle: at most 1000 / E[B] holds per
 * second.
 */
import { checkAbove, checkChoice, checkNumber, checkObject, checkSamples } from './check.js';

/** A hold-time distribution. */
export type HoldTime =
  | { kind: 'constant'; /** ms (> 0) */ ms: number }
  | { kind: 'exponential'; /** mean, ms (> 0) */ meanMs: number }
  | { kind: 'general'; /** mean, ms (> 0) */ meanMs: number; /** std / mean (≥ 0) */ cv: number }
  | { kind: 'empirical'; /** measured holds, ms */ samplesMs: readonly number[] };

/** Input of {@link contentionModel}. */
export interface ContentionInput {
  /** Lock requests per second, λ (> 0). */
  arrivalsPerSecond: number;
  /** How long each holder keeps the lock. */
  hold: HoldTime;
  /**
   * Store time to hand the lock to the next waiter, ms: one commit plus one watch delivery.
   * Measured in bench/README.md: ~1 ms on SQLite across processes, ~2.4 ms on a loopback etcd.
   * @default 0
   */
  handoffMs?: number;
}

/** What {@link contentionModel} predicts. */
export interface ContentionPrediction {
  /** Utilisation ρ = λ·E[B]. */
  utilisation: number;
  /** Whether ρ < 1 (otherwise waits grow without bound and the figures below are Infinity). */
  stable: boolean;
  /** Mean service B = hold + handoff, ms. */
  meanServiceMs: number;
  /** Probability that a request waits at all (ρ, capped at 1). */
  waitProbability: number;
  /** Mean wait before holding, ms (Pollaczek–Khinchine). */
  meanWaitMs: number;
  /** Median wait, ms (exponential-tail approximation). */
  p50WaitMs: number;
  /** 99th percentile wait, ms (exponential-tail approximation). */
  p99WaitMs: number;
  /** Most holds per second this lock can serve: 1000 / E[B]. */
  maxThroughputPerSecond: number;
}

/** E[H] and E[H²] of a hold-time law, ms and ms². */
function moments(hold: HoldTime): [number, number] {
  checkObject(hold, 'hold');
  const kind = checkChoice(hold.kind, 'hold.kind', [
    'constant',
    'exponential',
    'general',
    'empirical',
  ] as const);
  switch (kind) {
    case 'constant': {
      const ms = checkAbove((hold as { ms: unknown }).ms, 'hold.ms', 0);
      return [ms, ms * ms];
    }
    case 'exponential': {
      const m = checkAbove((hold as { meanMs: unknown }).meanMs, 'hold.meanMs', 0);
      return [m, 2 * m * m];
    }
    case 'general': {
      const g = hold as { meanMs: unknown; cv: unknown };
      const m = checkAbove(g.meanMs, 'hold.meanMs', 0);
      const cv = checkNumber(g.cv, 'hold.cv', 0);
      return [m, m * m * (1 + cv * cv)];
    }
    default: {
      const xs = checkSamples((hold as { samplesMs: unknown }).samplesMs, 'hold.samplesMs', 1);
      const m = xs.reduce((s, x) => s + x, 0) / xs.length;
      return [m, xs.reduce((s, x) => s + x * x, 0) / xs.length];
    }
  }
}

/**
 * Waits on one contended lock (M/G/1) and its throughput bound.
 * @throws TENURE_INVALID_ARGUMENT for a non-positive or non-finite rate, a bad hold law (named
 * field), or a negative handoff.
 * @example
 * ```ts
 * contentionModel({ arrivalsPerSecond: 5, hold: { kind: 'exponential', meanMs: 100 } }).meanWaitMs; // 100
 * ```
 */
export function contentionModel(input: ContentionInput): ContentionPrediction {
  checkObject(input, 'input');
  const lambda = checkAbove(input.arrivalsPerSecond, 'arrivalsPerSecond', 0) / 1000; // per ms
  const handoff = checkNumber(input.handoffMs ?? 0, 'handoffMs', 0);
  const [h1, h2] = moments(input.hold);
  const b1 = h1 + handoff;
  const b2 = h2 + 2 * h1 * handoff + handoff * handoff;
  const rho = lambda * b1;
  const maxThroughputPerSecond = 1000 / b1;
  if (rho >= 1)
    return {
      utilisation: rho,
      stable: false,
      meanServiceMs: b1,
      waitProbability: 1,
      meanWaitMs: Number.POSITIVE_INFINITY,
      p50WaitMs: Number.POSITIVE_INFINITY,
      p99WaitMs: Number.POSITIVE_INFINITY,
      maxThroughputPerSecond,
    };
  const wq = (lambda * b2) / (2 * (1 - rho));
  const quantile = (p: number) => (p <= 1 - rho ? 0 : (wq / rho) * Math.log(rho / (1 - p)));
  return {
    utilisation: rho,
    stable: true,
    meanServiceMs: b1,
    waitProbability: rho,
    meanWaitMs: wq,
    p50WaitMs: quantile(0.5),
    p99WaitMs: quantile(0.99),
    maxThroughputPerSecond,
  };
}

/**
 * The most holds per second one lock can serve on a store: 1000 / (hold + commit + delivery),
 * since every handoff is one release commit and one watch delivery to the next waiter.
 * @throws TENURE_INVALID_ARGUMENT for a negative or non-finite time (named).
 * @example lockThroughputBound({ holdMs: 0, storeWriteMs: 0.07, watchDeliveryMs: 0.37 }) // ≈ 2273
 */
export function lockThroughputBound(input: {
  holdMs: number;
  storeWriteMs: number;
  watchDeliveryMs: number;
}): number {
  checkObject(input, 'input');
  const hold = checkNumber(input.holdMs, 'holdMs', 0);
  const write = checkNumber(input.storeWriteMs, 'storeWriteMs', 0);
  const delivery = checkNumber(input.watchDeliveryMs, 'watchDeliveryMs', 0);
  const cycle = hold + write + delivery;
  return cycle === 0 ? Number.POSITIVE_INFINITY : 1000 / cycle;
}

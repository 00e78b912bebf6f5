/**
 * Failure detection: how often a live member is wrongly suspected, and how long a dead one takes
 * to be noticed, for tenure's phi accrual and fixed-timeout detectors (`tenure/detect`), from the
 * distribution of heartbeat inter-arrival times.
 *
 * **The detector as a timeout.** tenure's phi detector computes
 * phi(t) = −log10 Q((t − m − A) / s), t the silence since the last heartbeat, m and s the mean and
 * population standard deviation of its window of inter-arrival times (s floored at
 * minStdDeviationMs), A the acceptable pause, Q the standard normal's upper tail. Between two
 * heartbeats m and s do not change, and phi grows with t, so phi ≥ Φ exactly when
 * t ≥ T = m + A + s·Q⁻¹(10^−Φ). Once its window is full, the phi detector is a fixed timeout T
 * that it re-derives from what it measured; the fixed-timeout detector's T is its timeoutMs.
 *
 * **False suspicion.** Inter-arrival times X are independent with mean μ. A gap X > T makes the
 * member look dead from T to X. Checked continuously, a gap is a false suspicion with probability
 * P(X > T); checked every C ms at an independent phase, with probability E[min(1, (X − T)⁺ / C)].
 * Rate per member-hour = (3,600,000 / μ) × that probability.
 *
 * **Detection time.** A crash falls at a random instant of the heartbeat process, whose last
 * arrival is then A_ge old, with the renewal process's age density P(X > a) / μ. The detector
 * fires when the silence reaches T: D = (T − A_ge)⁺, plus Uniform[0, C) for a periodic check.
 *
 * Inter-arrival times come as a normal law (mean, std; the negative tail is ignored) or as
 * measured samples (what a HeartbeatMesh saw); both give exact formulas (docs/models.md).
 */
import { invalidArgument } from '../errors.js';
import { checkAbove, checkChoice, checkInt, checkNumber, checkObject, checkSamples } from './check.js';
import { expectedOvershoot, inverseUpperTail, logUpperTail, upperTail } from '../math/normal.js';

/** Heartbeat inter-arrival times, as a normal law or as measured samples. */
export type InterArrival =
  | {
      /** Normal inter-arrival times. */
      kind: 'normal';
      /** Mean inter-arrival time, ms (> 0): the heartbeat interval plus any average delay. */
      meanMs: number;
      /** Standard deviation, ms (≥ 0): jitter. */
      stdMs: number;
    }
  | {
      /** Measured inter-arrival times. */
      kind: 'empirical';
      /** At least 2 samples, ms, each ≥ 0 with a positive mean. */
      samplesMs: readonly number[];
    };

/** The detector being modelled, with tenure's defaults (`PHI_ACCRUAL_DEFAULTS`, `FIXED_TIMEOUT_DEFAULTS`). */
export type DetectorModel =
  | {
      kind: 'phi';
      /** phi threshold (> 0). @default 8 */
      threshold?: number;
      /** Floor of the window's standard deviation, ms (> 0). @default 100 */
      minStdDeviationMs?: number;
      /** Silence added to the mean, ms (≥ 0). @default 3000 */
      acceptableHeartbeatPauseMs?: number;
      /** Window size: with samples, only the last this many count, as in the detector. @default 1000 */
      maxSampleSize?: number;
    }
  | {
      kind: 'fixed';
      /** Silence after which the member is suspected, ms (> 0). @default 3000 */
      timeoutMs?: number;
    };

/** Input of {@link detectionModel}. */
export interface DetectionInput {
  /** Heartbeat inter-arrival times. */
  interArrival: InterArrival;
  /** The detector. */
  detector: DetectorModel;
  /**
   * How often the detector is asked, ms (0: continuously). A HeartbeatMesh checks every
   * `checkIntervalMs`, intervalMs / 2 by default.
   * @default 0
   */
  checkIntervalMs?: number;
}

/** What {@link detectionModel} predicts. */
export interface DetectionPrediction {
  /** The silence at which the detector suspects, ms (T). */
  timeoutMs: number;
  /** Mean inter-arrival time used, ms (μ). */
  meanIntervalMs: number;
  /** Standard deviation of inter-arrival times, ms (before any floor). */
  stdIntervalMs: number;
  /** Probability that one inter-arrival gap raises a false suspicion. */
  falseSuspicionPerHeartbeat: number;
  /** Expected false suspicions of one live member by one observer per hour. */
  falseSuspicionsPerHour: number;
  /** Detection time of a crash: mean, p50, p99, max, ms. */
  detection: { meanMs: number; p50Ms: number; p99Ms: number; maxMs: number };
}

interface Law {
  mean: number; // μ, E[X⁺]
  std: number; // population std
  tail(x: number): number; // P(X > x)
  overshoot(x: number): number; // E[(X − x)⁺]
  ageCdf(a: number): number; // P(age ≤ a)
  max: number; // largest possible X (Infinity for normal)
}

function lawOf(ia: InterArrival, window = Number.MAX_SAFE_INTEGER): Law {
  checkObject(ia, 'interArrival');
  const kind = checkChoice(ia.kind, 'interArrival.kind', ['normal', 'empirical'] as const);
  if (kind === 'normal') {
    const n = ia as Extract<InterArrival, { kind: 'normal' }>;
    const mu = checkAbove(n.meanMs, 'interArrival.meanMs', 0);
    const sigma = checkNumber(n.stdMs, 'interArrival.stdMs', 0);
    if (sigma === 0)
      return {
        mean: mu,
        std: 0,
        tail: (x) => (mu > x ? 1 : 0),
        overshoot: (x) => Math.max(0, mu - x),
        ageCdf: (a) => Math.min(1, Math.max(0, a / mu)),
        max: mu,
      };
    const z0 = -mu / sigma;
    const positiveMean = sigma * expectedOvershoot(z0); // E[X⁺]
    return {
      mean: mu,
      std: sigma,
      tail: (x) => upperTail((x - mu) / sigma),
      overshoot: (x) => sigma * expectedOvershoot((x - mu) / sigma),
      // ∫₀^a Q((u−μ)/σ) du = σ[ψ(z₀) − ψ(z_a)]
      ageCdf: (a) =>
        a <= 0
          ? 0
          : Math.min(
              1,
              (sigma * (expectedOvershoot(z0) - expectedOvershoot((a - mu) / sigma))) / positiveMean,
            ),
      max: Number.POSITIVE_INFINITY,
    };
  }
  const all = checkSamples((ia as { samplesMs: unknown }).samplesMs, 'interArrival.samplesMs');
  const xs = Float64Array.from(all.length > window ? all.slice(all.length - window) : all).sort();
  const n = xs.length;
  // prefix[i] = sum of the i smallest samples: every question below is a binary search and a lookup.
  const prefix = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) prefix[i + 1] = prefix[i]! + xs[i]!;
  const mean = prefix[n]! / n;
  if (!(mean > 0)) throw invalidArgument('interArrival.samplesMs', 'must have a positive mean');
  const variance = Math.max(0, xs.reduce((acc, x) => acc + x * x, 0) / n - mean * mean);
  /** How many samples are ≤ x. */
  const atMost = (x: number) => {
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (xs[mid]! <= x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  return {
    mean,
    std: Math.sqrt(variance),
    tail: (x) => (n - atMost(x)) / n,
    // E[(X − x)⁺] = (sum of the samples above x − x · their count) / n
    overshoot: (x) => {
      const k = atMost(x);
      return (prefix[n]! - prefix[k]! - x * (n - k)) / n;
    },
    // E[min(X, a)] / mean = (sum of the samples ≤ a + a · the count above) / n / mean
    ageCdf: (a) => {
      if (a <= 0) return 0;
      const k = atMost(a);
      return Math.min(1, (prefix[k]! + a * (n - k)) / n / mean);
    },
    max: xs[n - 1]!,
  };
}

interface Resolved {
  law: Law;
  timeoutMs: number;
  checkMs: number;
  phi?: { minStd: number; pause: number };
}

function resolveDetector(input: DetectionInput): Resolved {
  checkObject(input, 'input');
  const checkMs = checkNumber(input.checkIntervalMs ?? 0, 'checkIntervalMs', 0);
  checkObject(input.detector, 'detector');
  const kind = checkChoice(input.detector.kind, 'detector.kind', ['phi', 'fixed'] as const);
  if (kind === 'fixed') {
    const d = input.detector as Extract<DetectorModel, { kind: 'fixed' }>;
    const timeoutMs = checkAbove(d.timeoutMs ?? 3000, 'detector.timeoutMs', 0);
    return { law: lawOf(input.interArrival), timeoutMs, checkMs };
  }
  const d = input.detector as Extract<DetectorModel, { kind: 'phi' }>;
  const threshold = checkAbove(d.threshold ?? 8, 'detector.threshold', 0);
  const minStd = checkAbove(d.minStdDeviationMs ?? 100, 'detector.minStdDeviationMs', 0);
  const pause = checkNumber(d.acceptableHeartbeatPauseMs ?? 3000, 'detector.acceptableHeartbeatPauseMs', 0);
  const window = checkInt(d.maxSampleSize ?? 1000, 'detector.maxSampleSize', 2, 1_000_000);
  const law = lawOf(input.interArrival, window);
  return {
    law,
    timeoutMs: phiTimeout(law.mean, law.std, { threshold, minStd, pause }),
    checkMs,
    phi: { minStd, pause },
  };
}

/** T = m + A + max(s, floor)·Q⁻¹(10^−Φ): the silence at which phi reaches Φ. */
function phiTimeout(
  mean: number,
  std: number,
  o: { threshold: number; minStd: number; pause: number },
): number {
  return mean + o.pause + Math.max(std, o.minStd) * inverseUpperTail(10 ** -o.threshold);
}

function falseSuspicionProbability(law: Law, timeoutMs: number, checkMs: number): number {
  if (checkMs <= 0) return law.tail(timeoutMs);
  return Math.min(1, Math.max(0, (law.overshoot(timeoutMs) - law.overshoot(timeoutMs + checkMs)) / checkMs));
}

/** P(D ≤ d): D = (T − age)⁺ + Uniform[0, C). */
function detectionCdf(law: Law, t: number, c: number, d: number): number {
  const base = (x: number) => (x < 0 ? 0 : x >= t ? 1 : 1 - law.ageCdf(t - x));
  if (c <= 0) return base(d);
  const steps = 200;
  const h = c / steps;
  let sum = 0;
  for (let i = 0; i <= steps; i++) sum += (i === 0 || i === steps ? 1 : i % 2 ? 4 : 2) * base(d - i * h);
  return (sum * h) / 3 / c;
}

function detectionStats(law: Law, t: number, c: number): DetectionPrediction['detection'] {
  const maxMs = Math.max(0, t) + c;
  const q = (p: number) => {
    let lo = 0;
    let hi = maxMs;
    for (let i = 0; i < 60; i++) {
      const mid = (lo + hi) / 2;
      if (detectionCdf(law, t, c, mid) < p) lo = mid;
      else hi = mid;
    }
    return (lo + hi) / 2;
  };
  // E[(T − age)⁺] = ∫₀^T P(age ≤ a) da, by Simpson.
  let mean = c / 2;
  if (t > 0) {
    const steps = 400;
    const h = t / steps;
    let sum = 0;
    for (let i = 0; i <= steps; i++) sum += (i === 0 || i === steps ? 1 : i % 2 ? 4 : 2) * law.ageCdf(i * h);
    mean += (sum * h) / 3;
  }
  return { meanMs: mean, p50Ms: q(0.5), p99Ms: q(0.99), maxMs };
}

/**
 * Predicts false suspicions and detection time for one detector on one heartbeat stream.
 * @throws TENURE_INVALID_ARGUMENT for a bad field, named in the message (negative std, a
 * non-positive mean or threshold, fewer than 2 samples, an unknown kind).
 * @example
 * ```ts
 * detectionModel({
 *   interArrival: { kind: 'normal', meanMs: 1000, stdMs: 50 },
 *   detector: { kind: 'phi', threshold: 8 },
 * }).falseSuspicionsPerHour;
 * ```
 */
export function detectionModel(input: DetectionInput): DetectionPrediction {
  const r = resolveDetector(input);
  const p = falseSuspicionProbability(r.law, r.timeoutMs, r.checkMs);
  return {
    timeoutMs: r.timeoutMs,
    meanIntervalMs: r.law.mean,
    stdIntervalMs: r.law.std,
    falseSuspicionPerHeartbeat: p,
    falseSuspicionsPerHour: (3_600_000 / r.law.mean) * p,
    detection: detectionStats(r.law, r.timeoutMs, r.checkMs),
  };
}

/** What {@link thresholdFor} finds. */
export interface ThresholdChoice {
  /** The silence T that meets the target, ms: the fixed detector's timeoutMs. */
  timeoutMs: number;
  /**
   * The phi threshold giving that T with the given phi options. Below −log10(0.5) ≈ 0.30 it means
   * the acceptable pause alone nearly meets the target: T lies below mean + pause.
   */
  phiThreshold: number;
  /** The false-suspicion rate at T, per member-hour (≤ the target). */
  falseSuspicionsPerHour: number;
  /** Detection time of a crash at T. */
  detection: DetectionPrediction['detection'];
  /**
   * Samples only: T lies at or past the largest sample, so the sample is too small to resolve the
   * target; the real rate may be higher. Measure longer.
   */
  beyondSamples: boolean;
}

/**
 * The least suspicious timeout (and the matching phi threshold) whose false-suspicion rate is at
 * most `targetPerHour` per member-hour. The rate falls as T grows; T is found by bisection.
 * @param input.phi - phi options to translate T into a threshold (defaults as the detector's).
 * @throws TENURE_INVALID_ARGUMENT for a target not in (0, heartbeats per hour) or a bad field.
 */
export function thresholdFor(input: {
  interArrival: InterArrival;
  targetPerHour: number;
  checkIntervalMs?: number;
  phi?: { minStdDeviationMs?: number; acceptableHeartbeatPauseMs?: number; maxSampleSize?: number };
}): ThresholdChoice {
  checkObject(input, 'input');
  const target = checkAbove(input.targetPerHour, 'targetPerHour', 0);
  const checkMs = checkNumber(input.checkIntervalMs ?? 0, 'checkIntervalMs', 0);
  const phiOptions = input.phi === undefined ? {} : checkObject(input.phi, 'phi');
  const minStd = checkAbove(phiOptions.minStdDeviationMs ?? 100, 'phi.minStdDeviationMs', 0);
  const pause = checkNumber(
    phiOptions.acceptableHeartbeatPauseMs ?? 3000,
    'phi.acceptableHeartbeatPauseMs',
    0,
  );
  const window = checkInt(phiOptions.maxSampleSize ?? 1000, 'phi.maxSampleSize', 2, 1_000_000);
  const law = lawOf(input.interArrival, window);
  const perHour = 3_600_000 / law.mean;
  if (target >= perHour)
    throw invalidArgument(
      'targetPerHour',
      `must be below the heartbeats per hour (${perHour}), got ${target}`,
    );
  const rate = (t: number) => perHour * falseSuspicionProbability(law, t, checkMs);
  let lo = 0;
  let hi = law.mean + law.std;
  while (rate(hi) > target && hi < 1e15) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-9 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (rate(mid) > target) lo = mid;
    else hi = mid;
  }
  const timeoutMs = hi;
  const s = Math.max(law.std, minStd);
  const phiThreshold = Math.max(0, -logUpperTail((timeoutMs - law.mean - pause) / s) / Math.LN10);
  return {
    timeoutMs,
    phiThreshold,
    falseSuspicionsPerHour: rate(timeoutMs),
    detection: detectionStats(law, timeoutMs, checkMs),
    beyondSamples: Number.isFinite(law.max) && timeoutMs + checkMs >= law.max,
  };
}

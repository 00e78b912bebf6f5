/**
 * Placement: how evenly each of tenure's hashing algorithms (`tenure/hashing`) spreads keys, how
 * many keys a membership change moves, and how many virtual nodes a ring needs for a target
 * balance.
 *
 * **Load of one member.** Its share S of the hash space, then the keys that land in it:
 * - rings (`ring`, `ketama`, `bounded` before its cap): V points per member on a circle of n·V
 *   random points. A member owns V of the n·V spacings, so S ~ Beta(V, (n−1)V): mean 1/n and
 *   squared coefficient of variation (n−1)/(nV+1);
 * - `rendezvous`, `jump`, `memento`: every key picks a member independently and uniformly: S = 1/n;
 * - `maglev` (table of M entries) and `slots` (S slots): each member owns ⌊M/n⌋ or ⌈M/n⌉ entries;
 *   the peak share is ⌈M/n⌉/M.
 * With K keys the load is Binomial(K, S) ("balls into bins"), adding (n−1)/K to the squared
 * coefficient of variation. (K omitted: the share of the hash space itself.)
 *
 * **Peak / average.** The load divided by its mean is approximated by a Gamma law with the same
 * mean and variance (the exact law of a ring member's share before normalisation, and the usual
 * approximation of a binomial), through the Wilson–Hilferty cube-root transform; members are
 * treated as independent. E[max of n]/mean = ∫₀^∞ (1 − F(x)^n) dx.
 *
 * **Keys moved** by adding one member to n: its share, 1/(n+1), for every algorithm but Maglev
 * (its rebuilt table moves a few more: the model gives the minimum). Removing a member other
 * than the last moves its share 1/n; tenure's JumpHash also moves the last member into the freed
 * bucket: the removed member's keys all move, and so do the last member's keys except the
 * 1/(n−1) of them that Jump sends to that bucket anyway, (2 − 1/(n−1))/n in all.
 */
import { invalidArgument } from '../errors.js';
import { checkAbove, checkChoice, checkInt, checkObject } from './check.js';
import { upperTail } from '../math/normal.js';

/** The algorithms of `tenure/hashing`, by their snapshot names. */
export const PLACEMENT_ALGORITHMS = Object.freeze([
  'ring',
  'ketama',
  'bounded',
  'rendezvous',
  'jump',
  'memento',
  'maglev',
  'slots',
] as const);

/** One algorithm name of {@link PLACEMENT_ALGORITHMS}. */
export type PlacementAlgorithm = (typeof PLACEMENT_ALGORITHMS)[number];

/** Input of {@link placementModel}. */
export interface PlacementInput {
  /** Which algorithm. */
  algorithm: PlacementAlgorithm;
  /** Members n (equal weights), an integer ≥ 1. */
  members: number;
  /**
   * Keys placed, an integer ≥ 1; omitted: the shares of the hash space (infinitely many keys).
   * @default undefined
   */
  keys?: number;
  /** Rings: points per member (`ketama` always has 160). @default 160 */
  pointsPerNode?: number;
  /** `maglev`: table size M. @default 65537 */
  tableSize?: number;
  /** `slots`: slot count. @default 16384 */
  slotCount?: number;
  /** `bounded`: ε of the load cap ⌈(1+ε)·K/n⌉. @default 0.25 */
  epsilon?: number;
}

/** What {@link placementModel} predicts. */
export interface PlacementPrediction {
  /** The algorithm. */
  algorithm: PlacementAlgorithm;
  /** Members n. */
  members: number;
  /** Keys K (undefined: shares of the hash space). */
  keys: number | undefined;
  /** Coefficient of variation of one member's load (std / mean). */
  loadCv: number;
  /** Expected peak load / average load. */
  peakToAverage: number;
  /** Expected fraction of keys moved when one member is added (n → n+1). */
  movedOnAdd: number;
  /** Expected fraction moved when a member other than the last is removed (n → n−1). */
  movedOnRemove: number;
  /** Whether the movement figures are a lower bound (Maglev) rather than the expectation. */
  movementIsLowerBound: boolean;
}

/** ∫₀^∞ (1 − F(x)^n) dx for x = load / mean with the Gamma law of squared cv `cv2`. */
function expectedMaxOverMean(n: number, cv2: number): number {
  if (cv2 <= 0 || n === 1) return 1;
  const k = 1 / cv2; // Gamma shape with mean 1
  const mu = 1 - 1 / (9 * k);
  const sd = Math.sqrt(1 / (9 * k));
  const logCdf = (x: number) =>
    x <= 0 ? Number.NEGATIVE_INFINITY : Math.log1p(-upperTail((Math.cbrt(x) - mu) / sd));
  const top = 1 + 40 * Math.sqrt(cv2) + 10;
  const steps = 4000;
  const h = top / steps;
  let sum = 0;
  for (let i = 0; i <= steps; i++) {
    const x = i * h;
    const f = -Math.expm1(n * logCdf(x)); // 1 − F^n, precise when F^n is near 1
    sum += (i === 0 || i === steps ? 1 : i % 2 ? 4 : 2) * (Number.isFinite(f) ? f : 1);
  }
  return (sum * h) / 3;
}

/**
 * Expected balance and movement of one hashing algorithm with n equal members.
 * @throws TENURE_INVALID_ARGUMENT for an unknown algorithm, members not an integer in
 * 1..1,000,000, keys not a positive integer, or a bad algorithm option (named).
 * @example
 * ```ts
 * placementModel({ algorithm: 'ring', members: 10, pointsPerNode: 160 }).peakToAverage; // ≈ 1.12
 * ```
 */
export function placementModel(input: PlacementInput): PlacementPrediction {
  checkObject(input, 'input');
  const algorithm = checkChoice(input.algorithm, 'algorithm', PLACEMENT_ALGORITHMS);
  const n = checkInt(input.members, 'members', 1, 1_000_000);
  const keys = input.keys === undefined ? undefined : checkInt(input.keys, 'keys', 1);
  const keyCv2 = keys === undefined ? 0 : (n - 1) / keys;
  let shareCv2 = 0;
  let peakShareFactor = 1;
  if (algorithm === 'ring' || algorithm === 'bounded' || algorithm === 'ketama') {
    const v = algorithm === 'ketama' ? 160 : checkInt(input.pointsPerNode ?? 160, 'pointsPerNode', 1, 65536);
    shareCv2 = (n - 1) / (n * v + 1);
  } else if (algorithm === 'maglev' || algorithm === 'slots') {
    const m =
      algorithm === 'maglev'
        ? checkInt(input.tableSize ?? 65537, 'tableSize', 2)
        : checkInt(input.slotCount ?? 16384, 'slotCount', 1, 2 ** 24);
    if (m < n)
      throw invalidArgument(
        algorithm === 'maglev' ? 'tableSize' : 'slotCount',
        `must be at least members (${n}), got ${m}`,
      );
    peakShareFactor = (Math.ceil(m / n) * n) / m;
  }
  const cv2 = shareCv2 + keyCv2;
  let peak = expectedMaxOverMean(n, cv2) * peakShareFactor;
  if (algorithm === 'bounded') {
    const epsilon = checkAbove(input.epsilon ?? 0.25, 'epsilon', 0);
    const cap = keys === undefined ? 1 + epsilon : Math.ceil(((1 + epsilon) * keys) / n) / (keys / n);
    peak = Math.min(peak, cap);
  }
  return {
    algorithm,
    members: n,
    keys,
    loadCv: Math.sqrt(cv2),
    peakToAverage: peak,
    movedOnAdd: 1 / (n + 1),
    movedOnRemove: n === 1 ? 1 : algorithm === 'jump' ? (2 - 1 / (n - 1)) / n : 1 / n,
    movementIsLowerBound: algorithm === 'maglev',
  };
}

/**
 * The fewest ring points per member (`HashRing`'s `pointsPerNode`) whose expected peak / average
 * is at most `target`, for n members and K keys (or the hash space, K omitted).
 * @returns the count, or undefined when no count up to 65536 meets the target (with few keys the
 * balls-into-bins noise alone exceeds it: place more keys or use a slot table).
 * @throws TENURE_INVALID_ARGUMENT for a target not above 1, or bad members/keys.
 */
export function pointsPerNodeFor(input: {
  members: number;
  target: number;
  keys?: number;
}): number | undefined {
  checkObject(input, 'input');
  checkAbove(input.target, 'target', 1);
  const peak = (v: number) =>
    placementModel({ algorithm: 'ring', members: input.members, keys: input.keys, pointsPerNode: v })
      .peakToAverage;
  if (peak(65536) > input.target) return undefined;
  let lo = 1;
  let hi = 65536;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (peak(mid) <= input.target) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * Availability of a store that needs k of its n members up (a quorum), from each member's
 * availability or its mean time between failures and to repair.
 *
 * Two models, both documented in docs/models.md:
 * - **binomial**: members fail independently and each is up with probability a at a random
 *   instant; the store is up when at least k are: A = Σ_{i=k..n} C(n,i) a^i (1−a)^(n−i).
 * - **Markov (CTMC) with repair**: each up member fails at rate λ = 1/MTBF, each failed member is
 *   repaired at rate μ = 1/MTTR by one of `repairCrews` crews (a failed member waits when all
 *   crews are busy). The number of failed members is a birth–death chain whose stationary law is
 *   π_j ∝ Π_{i<j} (n−i)λ / (min(i+1, c)μ); the store is up in the states j ≤ n−k. With as many crews
 *   as members the chain gives back the binomial answer; with fewer it is worse, and it also
 *   gives what the binomial cannot: how often quorum is lost and for how long.
 */
import { invalidArgument } from '../errors.js';
import { checkAbove, checkInt, checkObject, checkProbability } from './check.js';

/** Minutes in a year of 365.25 days. */
export const MINUTES_PER_YEAR = 365.25 * 24 * 60;

/** Input of {@link quorumAvailability}. */
export interface QuorumAvailabilityInput {
  /** Members n, an integer ≥ 1. */
  members: number;
  /**
   * Members that must be up, k in 1..n.
   * @default ⌊n/2⌋ + 1, a majority (what etcd's Raft needs to commit and to expire a lease)
   */
  quorum?: number;
  /** Probability in [0, 1] that one member is up at a random instant. */
  memberAvailability: number;
}

/** What an availability model predicts. */
export interface AvailabilityPrediction {
  /** Which model produced it. */
  model: 'binomial' | 'markov';
  /** Members n. */
  members: number;
  /** Quorum k. */
  quorum: number;
  /** One member's availability a. */
  memberAvailability: number;
  /** Probability that at least k members are up: the store's availability. */
  availability: number;
  /** 1 − availability, computed directly (not by subtraction, so tiny values keep their digits). */
  unavailability: number;
  /** Expected minutes per year without quorum: unavailability × 525,960. */
  downtimeMinutesPerYear: number;
  /** −log10(unavailability): 3 means 99.9 %. Infinity when the store cannot be down. */
  nines: number;
  /** Markov model only: mean hours between losses of quorum (Infinity if it cannot be lost). */
  meanHoursBetweenOutages?: number;
  /** Markov model only: mean hours an outage lasts (from losing quorum to getting it back). */
  meanOutageHours?: number;
}

/**
 * One member's steady-state availability from its mean time between failures and to repair:
 * MTBF / (MTBF + MTTR).
 * @throws TENURE_INVALID_ARGUMENT if either is not a finite number > 0 (named in the message).
 * @example memberAvailability(1000, 1) // 0.999000999…
 */
export function memberAvailability(mtbfHours: number, mttrHours: number): number {
  checkAbove(mtbfHours, 'mtbfHours', 0);
  checkAbove(mttrHours, 'mttrHours', 0);
  return mtbfHours / (mtbfHours + mttrHours);
}

function checkQuorum(input: { members: unknown; quorum?: unknown }): { n: number; k: number } {
  const n = checkInt(input.members, 'members', 1, 10_000);
  const k = input.quorum === undefined ? Math.floor(n / 2) + 1 : checkInt(input.quorum, 'quorum', 1);
  if (k > n)
    throw invalidArgument('quorum', `must be at most members (${n}), got ${k}`, { value: k, members: n });
  return { n, k };
}

/** ln C(n, i). */
function logChoose(n: number, i: number): number {
  let s = 0;
  for (let j = 1; j <= i; j++) s += Math.log((n - i + j) / j);
  return s;
}

/** Σ over i in [lo, hi] of C(n,i) a^i (1−a)^(n−i), in log space (a in (0,1)). */
function binomialSum(n: number, a: number, lo: number, hi: number): number {
  let total = 0;
  const la = Math.log(a);
  const lb = Math.log1p(-a);
  for (let i = lo; i <= hi; i++) total += Math.exp(logChoose(n, i) + i * la + (n - i) * lb);
  return total;
}

function finish(p: Omit<AvailabilityPrediction, 'downtimeMinutesPerYear' | 'nines'>): AvailabilityPrediction {
  return {
    ...p,
    downtimeMinutesPerYear: p.unavailability * MINUTES_PER_YEAR,
    nines: p.unavailability <= 0 ? Number.POSITIVE_INFINITY : -Math.log10(p.unavailability),
  };
}

/**
 * The binomial model: availability of k-of-n members, each up independently with probability a.
 * @throws TENURE_INVALID_ARGUMENT for members not an integer in 1..10000, quorum not in
 * 1..members, or memberAvailability outside [0, 1] (the message names the argument).
 * @example
 * ```ts
 * quorumAvailability({ members: 3, memberAvailability: 0.99 }).availability; // 0.999702
 * ```
 */
export function quorumAvailability(input: QuorumAvailabilityInput): AvailabilityPrediction {
  checkObject(input, 'input');
  const { n, k } = checkQuorum(input);
  const a = checkProbability(input.memberAvailability, 'memberAvailability');
  let availability: number;
  let unavailability: number;
  if (a === 1 || a === 0) {
    availability = a;
    unavailability = 1 - a;
  } else {
    unavailability = binomialSum(n, a, 0, k - 1);
    availability = binomialSum(n, a, k, n);
  }
  return finish({
    model: 'binomial',
    members: n,
    quorum: k,
    memberAvailability: a,
    availability,
    unavailability,
  });
}

/** Input of {@link markovAvailability}. */
export interface MarkovAvailabilityInput {
  /** Members n, an integer ≥ 1. */
  members: number;
  /** Members that must be up, k in 1..n. @default ⌊n/2⌋ + 1 */
  quorum?: number;
  /** One member's mean time between failures, hours (> 0). */
  mtbfHours: number;
  /** One member's mean time to repair, hours (> 0). */
  mttrHours: number;
  /**
   * How many failed members can be repaired at once, in 1..members.
   * @default members — independent repair (one crew per member): the binomial answer
   */
  repairCrews?: number;
}

/**
 * The Markov model with repair (a birth–death CTMC over the number of failed members): the
 * stationary availability, and how often and how long quorum is lost. Failures and repairs are
 * exponential (memoryless); members are alike and fail independently.
 *
 * Outage frequency = π_{n−k} · k·λ (the rate of leaving the last up state towards a down one);
 * mean outage = unavailability / frequency.
 * @throws TENURE_INVALID_ARGUMENT for a bad count, k > n, a non-positive MTBF or MTTR, or
 * repairCrews not in 1..members.
 * @example
 * ```ts
 * markovAvailability({ members: 3, mtbfHours: 2000, mttrHours: 4, repairCrews: 1 }).downtimeMinutesPerYear; // ≈ 12.6
 * ```
 */
export function markovAvailability(input: MarkovAvailabilityInput): AvailabilityPrediction {
  checkObject(input, 'input');
  const { n, k } = checkQuorum(input);
  const a = memberAvailability(input.mtbfHours, input.mttrHours);
  const lambda = 1 / input.mtbfHours;
  const mu = 1 / input.mttrHours;
  const crews = input.repairCrews === undefined ? n : checkInt(input.repairCrews, 'repairCrews', 1, n);
  // ln of the unnormalised stationary weights, state j = failed members.
  const logw = [0];
  for (let j = 1; j <= n; j++)
    logw.push(logw[j - 1]! + Math.log(((n - j + 1) * lambda) / (Math.min(j, crews) * mu)));
  const top = Math.max(...logw);
  const w = logw.map((l) => Math.exp(l - top));
  const total = w.reduce((s, x) => s + x, 0);
  const pi = w.map((x) => x / total);
  const lastUp = n - k; // most failed members with quorum kept
  const availability = pi.slice(0, lastUp + 1).reduce((s, x) => s + x, 0);
  const unavailability = pi.slice(lastUp + 1).reduce((s, x) => s + x, 0);
  const outagesPerHour = pi[lastUp]! * k * lambda;
  return finish({
    model: 'markov',
    members: n,
    quorum: k,
    memberAvailability: a,
    availability,
    unavailability,
    meanHoursBetweenOutages: 1 / outagesPerHour,
    meanOutageHours: unavailability / outagesPerHour,
  });
}

/** One row of {@link compareDeployments}. */
export interface DeploymentAvailability extends AvailabilityPrediction {
  /** What was compared: `sqlite (1 host)`, `etcd 3 members`, `etcd 5 members`. */
  deployment: string;
}

/**
 * The comparison users ask for: SQLite on one host (the host is the store: 1 of 1) against etcd
 * with 3 and 5 members (majorities 2 and 3), every machine with the same MTBF and MTTR, by the
 * Markov model (one repair crew per machine unless `repairCrews` is given, capped at the
 * member count).
 * @throws TENURE_INVALID_ARGUMENT as {@link markovAvailability}.
 */
export function compareDeployments(input: {
  mtbfHours: number;
  mttrHours: number;
  repairCrews?: number;
}): DeploymentAvailability[] {
  checkObject(input, 'input');
  if (input.repairCrews !== undefined) checkInt(input.repairCrews, 'repairCrews', 1);
  return [
    ['sqlite (1 host)', 1],
    ['etcd 3 members', 3],
    ['etcd 5 members', 5],
  ].map(([deployment, members]) => ({
    deployment: deployment as string,
    ...markovAvailability({
      members: members as number,
      mtbfHours: input.mtbfHours,
      mttrHours: input.mttrHours,
      repairCrews:
        input.repairCrews === undefined ? undefined : Math.min(input.repairCrews, members as number),
    }),
  }));
}

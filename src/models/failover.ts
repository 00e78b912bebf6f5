/**
 * How long a failover takes: from the leader's fault to the new leader acting (its campaign
 * resolved), the definition tenure's inspect/ layer and demo measure.
 *
 * **SIGKILL (crash).** The leader's last keepalive reached the store at some instant; the store
 * then expires its lease ttl later (etcd rounds the ttl up to whole seconds). A crash falls at a
 * uniformly random point of the keepalive cycle, so the lease outlives the crash by ttl − U with
 * U ~ Uniform[0, keepAliveInterval). The store notices the expiry at its next expiry check: with
 * c processes checking every R ms at independent phases, after V = the minimum of c
 * Uniform[0, R) delays. The deletion then reaches the next candidate's watch after
 * W ~ Uniform[watchMin, watchMax], and the candidate acts after a constant settle time S:
 *
 *   T_kill = ttl − U + V + W + S
 *
 * **Graceful stop.** The leader notices its stop and revokes its lease: L ~ Uniform[revokeMs,
 * revokeMaxMs] from the stop to the commit (a constant by default); the deletion travels the
 * same watch: T_graceful = L + W + S.
 *
 * Assumptions: the crash instant is independent of the keepalive schedule; the keepalive that
 * preceded it succeeded; clocks run at the same rate (tenure's 0.1 % allowance is ignored);
 * components are independent. The distribution is computed exactly for the sum of uniforms
 * (inclusion–exclusion) and integrated numerically over V.
 */
import { invalidArgument } from '../errors.js';
import { checkAbove, checkChoice, checkInt, checkNumber, checkObject } from './check.js';

/** Store timing profiles the failover model starts from (what each backend does by default). */
export const FAILOVER_STORE_PROFILES = Object.freeze({
  /** SQLite: every open store reaps expired leases every `reapIntervalMs` (100); watches poll ≤ 25 ms. */
  sqlite: Object.freeze({ expiryCheckIntervalMs: 100, watchMinMs: 0, watchMaxMs: 25, ttlGranularityMs: 1 }),
  /** etcd: the leader's lessor checks every 500 ms; a watch event takes a few ms on a LAN. */
  etcd: Object.freeze({ expiryCheckIntervalMs: 500, watchMinMs: 1, watchMaxMs: 10, ttlGranularityMs: 1000 }),
  /** memory: a timer at the exact deadline; delivery within the process. */
  memory: Object.freeze({ expiryCheckIntervalMs: 0, watchMinMs: 0, watchMaxMs: 1, ttlGranularityMs: 1 }),
});

/** A store profile name of {@link FAILOVER_STORE_PROFILES}. */
export type FailoverStore = keyof typeof FAILOVER_STORE_PROFILES;

/** Input of {@link failoverTime}. */
export interface FailoverInput {
  /** How the leader stops: `sigkill` (crash, the lease must expire) or `graceful` (it revokes). */
  stop: 'sigkill' | 'graceful';
  /** The session's ttl, ms (> 0). */
  ttlMs: number;
  /**
   * The session's keepalive interval, ms, in (0, ttl).
   * @default ⌊ttl / 3⌋ — the Session's default
   */
  keepAliveIntervalMs?: number;
  /** Which store's defaults fill the fields below. @default 'sqlite' */
  store?: FailoverStore;
  /** How often one checker looks for expired leases, ms (0: exactly at the deadline). @default the store's */
  expiryCheckIntervalMs?: number;
  /**
   * Processes checking for expiry at independent phases (SQLite: every open store does, and every
   * write reaps first). More checkers shorten V. @default 1 — the conservative bound
   */
  expiryCheckers?: number;
  /** Fastest watch delivery of the deletion to the next candidate, ms. @default the store's */
  watchMinMs?: number;
  /** Slowest watch delivery, ms (≥ watchMinMs). @default the store's */
  watchMaxMs?: number;
  /** Ttls are rounded up to a multiple of this, ms. @default the store's (etcd 1000) */
  ttlGranularityMs?: number;
  /** Constant time from the delivery to the candidate acting (its campaign's last read), ms. @default 0 */
  settleMs?: number;
  /** Graceful only: time from the stop to the leader's revoke committing, ms (the shortest). @default 1 */
  revokeMs?: number;
  /**
   * Graceful only: the longest such time, ms (≥ revokeMs): the revoke takes between the two,
   * uniformly (the stopping process must notice its signal and close, and is scheduled like any
   * other).
   * @default revokeMs (a constant revoke time)
   */
  revokeMaxMs?: number;
}

/** The predicted failover time distribution. */
export interface FailoverPrediction {
  /** The input after defaults. */
  input: Required<FailoverInput>;
  /** Shortest possible failover, ms. */
  minMs: number;
  /** Longest possible failover, ms. */
  maxMs: number;
  /** Mean, ms. */
  meanMs: number;
  /** Median, ms. */
  p50Ms: number;
  /** 99th percentile, ms. */
  p99Ms: number;
  /** Percentiles 1, 5, 10, 25, 50, 75, 90, 95, 99 (ms), for plots and tables. */
  percentiles: { p: number; ms: number }[];
}

/** Fills defaults and checks every field (named on error). */
function resolve(input: FailoverInput): Required<FailoverInput> {
  checkObject(input, 'input');
  const stop = checkChoice(input.stop, 'stop', ['sigkill', 'graceful'] as const);
  const store = checkChoice(
    input.store ?? 'sqlite',
    'store',
    Object.keys(FAILOVER_STORE_PROFILES) as FailoverStore[],
  );
  const profile = FAILOVER_STORE_PROFILES[store];
  const ttlMs = checkAbove(input.ttlMs, 'ttlMs', 0);
  const keepAliveIntervalMs =
    input.keepAliveIntervalMs === undefined
      ? Math.floor(ttlMs / 3)
      : checkAbove(input.keepAliveIntervalMs, 'keepAliveIntervalMs', 0);
  if (keepAliveIntervalMs >= ttlMs)
    throw invalidArgument(
      'keepAliveIntervalMs',
      `must be below ttlMs (${ttlMs}), got ${keepAliveIntervalMs}`,
    );
  const watchMinMs = checkNumber(input.watchMinMs ?? profile.watchMinMs, 'watchMinMs', 0);
  const watchMaxMs = checkNumber(
    input.watchMaxMs ?? Math.max(profile.watchMaxMs, watchMinMs),
    'watchMaxMs',
    0,
  );
  if (watchMaxMs < watchMinMs)
    throw invalidArgument('watchMaxMs', `must be at least watchMinMs (${watchMinMs}), got ${watchMaxMs}`);
  const revokeMs = checkNumber(input.revokeMs ?? 1, 'revokeMs', 0);
  return {
    stop,
    store,
    ttlMs,
    keepAliveIntervalMs,
    expiryCheckIntervalMs: checkNumber(
      input.expiryCheckIntervalMs ?? profile.expiryCheckIntervalMs,
      'expiryCheckIntervalMs',
      0,
    ),
    expiryCheckers: checkInt(input.expiryCheckers ?? 1, 'expiryCheckers', 1, 10_000),
    watchMinMs,
    watchMaxMs,
    ttlGranularityMs: checkAbove(input.ttlGranularityMs ?? profile.ttlGranularityMs, 'ttlGranularityMs', 0),
    settleMs: checkNumber(input.settleMs ?? 0, 'settleMs', 0),
    revokeMs,
    revokeMaxMs: checkNumber(input.revokeMaxMs ?? revokeMs, 'revokeMaxMs', revokeMs),
  };
}

/** T = offset + Σ Uniform[0, w_i] + V, V = min of `checkers` Uniform[0, R). */
interface Shape {
  offset: number;
  widths: number[];
  checkR: number;
  checkers: number;
}

function shapeOf(o: Required<FailoverInput>): Shape {
  const watch = o.watchMaxMs - o.watchMinMs;
  if (o.stop === 'graceful')
    return {
      offset: o.revokeMs + o.watchMinMs + o.settleMs,
      widths: [o.revokeMaxMs - o.revokeMs, watch],
      checkR: 0,
      checkers: 1,
    };
  const ttl = Math.ceil(o.ttlMs / o.ttlGranularityMs) * o.ttlGranularityMs;
  // ttl − U with U ~ U[0, I) is (ttl − I) + U' with U' ~ U(0, I].
  return {
    offset: ttl - o.keepAliveIntervalMs + o.watchMinMs + o.settleMs,
    widths: [o.keepAliveIntervalMs, watch],
    checkR: o.expiryCheckIntervalMs,
    checkers: o.expiryCheckers,
  };
}

/** CDF of Σ Uniform[0, w_i] at x, exactly (inclusion–exclusion over subsets). */
function uniformSumCdf(widths: readonly number[], x: number): number {
  const w = widths.filter((v) => v > 0);
  const total = w.reduce((s, v) => s + v, 0);
  if (x <= 0) return 0;
  if (x >= total) return 1;
  const m = w.length;
  if (m === 0) return 1;
  let sum = 0;
  for (let mask = 0; mask < 1 << m; mask++) {
    let shift = 0;
    let sign = 1;
    for (let i = 0; i < m; i++)
      if (mask & (1 << i)) {
        shift += w[i]!;
        sign = -sign;
      }
    if (x > shift) sum += sign * (x - shift) ** m;
  }
  let denom = 1;
  for (let i = 0; i < m; i++) denom *= (i + 1) * w[i]!;
  return Math.min(1, Math.max(0, sum / denom));
}

const STEPS = 400;

function cdfOf(s: Shape, t: number): number {
  const x = t - s.offset;
  if (s.checkR <= 0) return uniformSumCdf(s.widths, x);
  // ∫ F_X(x − v) g(v) dv over v in [0, R], g the density of the minimum of c uniforms; Simpson.
  const r = s.checkR;
  const c = s.checkers;
  const g = (v: number) => (c / r) * (1 - v / r) ** (c - 1);
  const h = r / STEPS;
  let sum = 0;
  for (let i = 0; i <= STEPS; i++) {
    const v = i * h;
    const weight = i === 0 || i === STEPS ? 1 : i % 2 === 1 ? 4 : 2;
    sum += weight * uniformSumCdf(s.widths, x - v) * g(v);
  }
  return Math.min(1, Math.max(0, (sum * h) / 3));
}

function bounds(s: Shape): [number, number] {
  return [s.offset, s.offset + s.widths.reduce((a, b) => a + b, 0) + s.checkR];
}

function quantileOf(s: Shape, p: number): number {
  let [lo, hi] = bounds(s);
  if (hi === lo) return lo;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (cdfOf(s, mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/**
 * The failover time distribution for a configuration: range, mean, p50, p99 and a percentile
 * table. Pure arithmetic, no I/O.
 * @throws TENURE_INVALID_ARGUMENT for a bad field (named in the message): a non-positive ttl, a
 * keepalive interval not below the ttl, negative delays, watchMaxMs below watchMinMs, an unknown
 * store or stop.
 * @example
 * ```ts
 * failoverTime({ stop: 'sigkill', ttlMs: 1000, store: 'sqlite' }).p99Ms; // ≈ 1088
 * ```
 */
export function failoverTime(input: FailoverInput): FailoverPrediction {
  const o = resolve(input);
  const s = shapeOf(o);
  const [minMs, maxMs] = bounds(s);
  const meanV = s.checkR > 0 ? s.checkR / (s.checkers + 1) : 0;
  const meanMs = s.offset + s.widths.reduce((a, b) => a + b / 2, 0) + meanV;
  const percentiles = [1, 5, 10, 25, 50, 75, 90, 95, 99].map((p) => ({ p, ms: quantileOf(s, p / 100) }));
  return {
    input: o,
    minMs,
    maxMs,
    meanMs,
    p50Ms: quantileOf(s, 0.5),
    p99Ms: quantileOf(s, 0.99),
    percentiles,
  };
}

/**
 * P(failover ≤ t) for a configuration: the model's CDF, for comparing a measured sample with it.
 * @throws TENURE_INVALID_ARGUMENT as {@link failoverTime}, and for a non-finite t.
 */
export function failoverCdf(input: FailoverInput, tMs: number): number {
  checkNumber(tMs, 'tMs');
  return cdfOf(shapeOf(resolve(input)), tMs);
}

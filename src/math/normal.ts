/**
 * The standard normal distribution: density, upper tail Q(y) = P(Z > y) in log space (so that a
 * one-in-10^16 tail is still a number, and the phi of a long silence stays finite and keeps
 * growing instead of rounding to Infinity), and its inverse. One copy for the phi detector
 * (`tenure/detect`) and the models (`tenure/models`), so that a threshold a model computes is the
 * one the detector applies.
 *
 * Written by hand (no statistics package is a dependency, and this is a few dozen lines): the
 * Maclaurin series of erf near the centre, and Laplace's continued fraction for the Mills ratio
 * in the tail, where the series would cancel catastrophically (Abramowitz & Stegun 7.1.5 and
 * 26.2.14), accurate to about 1e-12 relative. The inverse starts from A&S 26.2.23 and polishes
 * with Newton steps on ln Q, to about 1e-12 relative. Pure arithmetic: imports nothing.
 */

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);
/** Below this |y| the series is used; above it, the continued fraction. */
const SPLIT = 3;
/** Terms of the continued fraction. */
const CF_TERMS = 80;

/** erf(x) by its Maclaurin series: 2/√π Σ (-1)^n x^(2n+1) / (n! (2n+1)). Good for |x| ≤ ~2.5. */
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x; // (-1)^n x^(2n+1) / n!
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= -x2 / n;
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

/**
 * ln of the Mills ratio R(y) = Q(y)/φ(y) for y ≥ SPLIT, from the continued fraction
 * R(y) = 1/(y + 1/(y + 2/(y + 3/(y + ...)))), evaluated from the bottom up.
 */
function logMillsRatio(y: number): number {
  let d = y;
  for (let k = CF_TERMS; k >= 1; k--) d = y + k / d;
  return -Math.log(d);
}

/** ln φ(y), the log density of the standard normal. */
export function logNormalDensity(y: number): number {
  return -0.5 * y * y - LOG_SQRT_2PI;
}

/** φ(y), the density of the standard normal. */
export function normalDensity(y: number): number {
  return Math.exp(logNormalDensity(y));
}

/** ln Q(y) = ln P(Z > y) for the standard normal Z. */
export function logUpperTail(y: number): number {
  if (y >= SPLIT) return logNormalDensity(y) + logMillsRatio(y);
  if (y <= -SPLIT) return Math.log1p(-Math.exp(logUpperTail(-y)));
  return Math.log(0.5 * (1 - erfSeries(y / Math.SQRT2)));
}

/** Q(y) = P(Z > y) for the standard normal Z. */
export function upperTail(y: number): number {
  return Math.exp(logUpperTail(y));
}

/**
 * The y with Q(y) = p, for 0 < p < 1 (Q⁻¹; the standard normal's 1 − p quantile).
 * @internal arguments are checked by the callers
 */
export function inverseUpperTail(p: number): number {
  if (p > 0.5) return -inverseUpperTail(1 - p);
  if (p === 0.5) return 0;
  const t = Math.sqrt(-2 * Math.log(p));
  let y =
    t -
    (2.515517 + 0.802853 * t + 0.010328 * t * t) / (1 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t ** 3);
  const target = Math.log(p);
  for (let i = 0; i < 50; i++) {
    const lq = logUpperTail(y);
    // d ln Q / dy = -φ(y)/Q(y)
    const step = (lq - target) / -Math.exp(logNormalDensity(y) - lq);
    y -= step;
    if (Math.abs(step) < 1e-13 * Math.max(1, Math.abs(y))) break;
  }
  return y;
}

/**
 * ψ(z) = E[(Z − z)⁺] = φ(z) − z·Q(z): the expected overshoot of a standard normal past z. Used for
 * the chance that a periodic check falls inside a late heartbeat's gap.
 */
export function expectedOvershoot(z: number): number {
  return normalDensity(z) - z * upperTail(z);
}

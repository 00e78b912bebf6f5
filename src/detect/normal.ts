/**
 * The upper tail of the standard normal distribution, Q(y) = P(Z > y), in log space so that the
 * phi of a long silence stays finite and keeps growing instead of rounding to Infinity.
 *
 * Written by hand (no statistics package is a dependency, and this is twenty lines): the
 * Maclaurin series of erf near the centre, and Laplace's continued fraction for the Mills ratio
 * in the tail, where the series would cancel catastrophically. Both are textbook identities
 * (Abramowitz & Stegun 7.1.5 and 26.2.14), accurate to about 1e-12 relative.
 */

const LN10 = Math.LN10;
const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);
/** Below this |y| the series is used; above it, the continued fraction. */
const SPLIT = 3;
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

/** ln Q(y) for any finite y. */
export function logNormalTail(y: number): number {
  if (y >= SPLIT) return -0.5 * y * y - LOG_SQRT_2PI + logMillsRatio(y);
  if (y <= -SPLIT) return Math.log1p(-Math.exp(logNormalTail(-y)));
  return Math.log(0.5 * (1 - erfSeries(y / Math.SQRT2)));
}

/** -log10 Q(y): the phi of a silence `y` standard deviations past the mean. */
export function phiOfDeviation(y: number): number {
  return -logNormalTail(y) / LN10;
}

/**
 * The phi of a silence: -log10 of the standard normal's upper tail, computed in log space
 * (src/math/normal.ts) so that a long silence's phi stays finite and keeps growing.
 */
import { logUpperTail } from '../math/normal.js';

/** ln Q(y) = ln P(Z > y) for the standard normal Z, for any finite y. */
export const logNormalTail: (y: number) => number = logUpperTail;

/** -log10 Q(y): the phi of a silence `y` standard deviations past the mean. */
export function phiOfDeviation(y: number): number {
  return -logUpperTail(y) / Math.LN10;
}

/**
 * Option checks of the failure detectors: each names the bad option and the accepted range, as
 * every tenure option check does.
 */
import { invalidArgument } from '../errors.js';

/** Checks a finite number within [min, max] (inclusive); returns it. @internal */
export function checkNumber(value: unknown, name: string, min: number, max = Number.MAX_VALUE): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max)
    throw invalidArgument(
      name,
      `must be a finite number in ${min}..${max === Number.MAX_VALUE ? '∞' : max}, got ${String(value)}`,
    );
  return value;
}

/** Checks an integer within [min, max] (inclusive); returns it. @internal */
export function checkInt(value: unknown, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max)
    throw invalidArgument(name, `must be an integer in ${min}..${max}, got ${String(value)}`);
  return value;
}

/** Checks that `value` is an object or undefined. @internal */
export function checkOptionsObject(value: unknown, name = 'options'): void {
  if (value !== undefined && (value === null || typeof value !== 'object'))
    throw invalidArgument(name, 'must be an object');
}

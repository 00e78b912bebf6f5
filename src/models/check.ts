/**
 * Argument checks of the models: each names the bad argument and the accepted range, as every
 * tenure option check does, and throws TENURE_INVALID_ARGUMENT.
 */
import { invalidArgument } from '../errors.js';

/** Checks a finite number within [min, max] (inclusive); returns it. @internal */
export function checkNumber(
  value: unknown,
  name: string,
  min = -Number.MAX_VALUE,
  max = Number.MAX_VALUE,
): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max)
    throw invalidArgument(name, `must be a finite number in ${range(min, max)}, got ${String(value)}`, {
      value,
      minimum: min,
      maximum: max,
    });
  return value;
}

/** Checks a finite number strictly above `min` (and at most `max`); returns it. @internal */
export function checkAbove(value: unknown, name: string, min: number, max = Number.MAX_VALUE): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= min || value > max)
    throw invalidArgument(
      name,
      `must be a finite number above ${min}${max === Number.MAX_VALUE ? '' : ` and at most ${max}`}, got ${String(value)}`,
      { value, minimum: min, maximum: max },
    );
  return value;
}

/** Checks a probability in [0, 1]. @internal */
export function checkProbability(value: unknown, name: string): number {
  return checkNumber(value, name, 0, 1);
}

/** Checks an integer within [min, max]; returns it. @internal */
export function checkInt(value: unknown, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max)
    throw invalidArgument(name, `must be an integer in ${min}..${max}, got ${String(value)}`, {
      value,
      minimum: min,
      maximum: max,
    });
  return value;
}

/** Checks that `value` is a plain object (an options or input bag). @internal */
export function checkObject(value: unknown, name: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw invalidArgument(name, 'must be an object');
  return value as Record<string, unknown>;
}

/** Checks one of a fixed set of strings. @internal */
export function checkChoice<T extends string>(value: unknown, name: string, choices: readonly T[]): T {
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value))
    throw invalidArgument(name, `must be one of ${choices.join(', ')}, got ${String(value)}`, { value });
  return value as T;
}

/** Checks a non-empty array of finite non-negative numbers (measured samples). @internal */
export function checkSamples(value: unknown, name: string, minLength = 2): readonly number[] {
  if (!Array.isArray(value) || value.length < minLength)
    throw invalidArgument(name, `must be an array of at least ${minLength} numbers`);
  value.forEach((x, i) => checkNumber(x, `${name}[${i}]`, 0));
  return value as number[];
}

function range(min: number, max: number): string {
  const lo = min === -Number.MAX_VALUE ? '-∞' : String(min);
  const hi = max === Number.MAX_VALUE ? '∞' : String(max);
  return `${lo}..${hi}`;
}

/** Durations on the command line: `500`, `500ms`, `2s`, `1.5m` (a bare number is milliseconds). */
import { InvalidArgumentError } from 'commander';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses a duration to milliseconds; a commander argument parser. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m)
    throw new InvalidArgumentError(
      `expected a duration such as 500, 500ms, 2s or 1m, got ${JSON.stringify(text)}.`,
    );
  const ms = Math.round(Number(m[1]) * UNITS[m[2] ?? 'ms']!);
  if (!Number.isSafeInteger(ms)) throw new InvalidArgumentError(`duration ${text} is too large.`);
  return ms;
}

/** Parses a positive integer; a commander argument parser. */
export function parseCount(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < 1)
    throw new InvalidArgumentError(`expected a whole number ≥ 1, got ${JSON.stringify(text)}.`);
  return n;
}

/** Parses a TCP port (0 picks a free one); a commander argument parser. */
export function parsePort(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n > 65535)
    throw new InvalidArgumentError(`expected a port number 0-65535, got ${JSON.stringify(text)}.`);
  return n;
}

/** Durations on the command line: `500`, `500ms`, `2s`, `1.5m`, `2h` (a bare number is milliseconds). */
import { InvalidArgumentError } from 'commander';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * The longest duration a Node.js timer can wait: 2^31 − 1 ms, about 24.8 days. A longer one
 * fires after 1 ms instead (with a TimeoutOverflowWarning), so `--timeout 1000h` would give up at
 * once and `--grace 1000h` would kill at once.
 */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/**
 * Parses a duration to milliseconds; a commander argument parser (commander names the flag in
 * front of the message: `option '--timeout <duration>' argument '1000h' is invalid. …`).
 * @throws InvalidArgumentError for anything but a number with an optional unit, and for
 * durations above {@link MAX_DURATION_MS}
 */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m)
    throw new InvalidArgumentError(
      `expected a duration such as 500, 500ms, 2s, 1m or 2h, got ${JSON.stringify(text)}.`,
    );
  const ms = Math.round(Number(m[1]) * UNITS[m[2] ?? 'ms']!);
  if (!(ms <= MAX_DURATION_MS))
    throw new InvalidArgumentError(
      `${text.trim()} is longer than the longest timer, 24.8 days (${MAX_DURATION_MS} ms).`,
    );
  return ms;
}

/** Formats milliseconds the way {@link parseDuration} reads them, in the largest exact unit: `10s`, `500ms`. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const)
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
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

/**
 * How the CLI reports a user's mistake: one line on stderr, exit code 2, never a stack trace.
 * Anything that is not the user's mistake (a bug) keeps its stack, so it can be reported.
 */
import { TenureError } from '../errors.js';

/** Exit code for bad input: a bad option, NAME or store URL, a missing `--`, an unreachable store. */
export const EXIT_USAGE = 2;
/** Exit code when a lock could not be taken: busy with `--no-wait`, or `--timeout` elapsed. */
export const EXIT_NOT_ACQUIRED = 3;

/** A mistake in what the user typed or configured. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Codes that mean the user must change the command, the URL or the environment. */
const USER_CODES = new Set([
  'TENURE_INVALID_ARGUMENT',
  'TENURE_INVALID_URL',
  'TENURE_UNAVAILABLE',
  'TENURE_CORRUPT',
  'TENURE_STORE_REPLACED',
]);

/** True for errors the CLI reports as one line with exit code 2. */
export function isUserError(err: unknown): boolean {
  return err instanceof UsageError || (err instanceof TenureError && USER_CODES.has(err.code));
}

/** The one line printed for an error: the message, without newlines. */
export function oneLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/\s*\n\s*/g, ' ').trim();
}

/** Prints `tenure: <message>` to stderr and exits with `code`. */
export function exitWith(err: unknown, code = EXIT_USAGE): never {
  process.stderr.write(`tenure: ${oneLine(err)}\n`);
  process.exit(code);
}

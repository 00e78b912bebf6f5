/**
 * How the CLI reports a user's mistake: one line on stderr, exit code 2, never a stack trace.
 * Anything that is not the user's mistake (a bug) keeps its stack, so it can be reported.
 */
import { TenureError } from '../errors.js';

/** Exit code for bad input: a bad option, NAME or store URL, a missing `--`, an unreachable store. */
export const EXIT_USAGE = 2;
/** Exit code when a lock could not be taken: busy with `--no-wait`, or `--timeout` elapsed. */
export const EXIT_NOT_ACQUIRED = 3;
/**
 * Exit code of `tenure lock` when the lock was lost while CMD ran (its session's lease expired or
 * its key was deleted): CMD was stopped, and its own code (often 143 after SIGTERM, or even 0) is
 * not passed through, so that a script can tell a lost lock from CMD's success or failure.
 */
export const EXIT_LOCK_LOST = 4;
/**
 * Exit code of `tenure elect` when CMD failed `--max-failures` times within `--failure-window`:
 * the supervisor resigned so that another candidate takes over, and exited.
 */
export const EXIT_GAVE_UP = 5;

/** A mistake in what the user typed or configured. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Codes that mean the user must change the command, the URL or the environment. */
const USER_CODES = new Set([
  'TENURE_INVALID_ARGUMENT',
  'TENURE_INVALID_URL',
  'TENURE_UNAVAILABLE',
  'TENURE_STORE_UNUSABLE',
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

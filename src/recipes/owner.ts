import { hostname } from 'node:os';
import { invalidArgument } from '../errors.js';

/** How a process describes itself in the queue keys it writes (shown by `tenure status`). */
export function defaultOwner(): string {
  return `${hostname()}:${process.pid}`;
}

/**
 * The owner a lock recipe writes: `options.owner`, checked, or {@link defaultOwner}.
 * @throws TENURE_INVALID_ARGUMENT when `owner` is given and is not a string.
 */
export function ownerOption(owner: unknown): string {
  if (owner === undefined) return defaultOwner();
  if (typeof owner !== 'string') throw invalidArgument('options.owner', 'must be a string');
  return owner;
}

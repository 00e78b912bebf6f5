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

/**
 * The value of a queue entry that carries a tag before its owner, `<tag> <owner>`: a
 * semaphore's permit count, a read-write lock's mode.
 */
export function taggedOwner(tag: string | number, owner: string): string {
  return `${tag} ${owner}`;
}

/** A tagged entry value as `[tag, owner]`; `['', value]` for a value without a tag. */
export function splitTagged(value: string): [tag: string, owner: string] {
  const space = value.indexOf(' ');
  return space < 0 ? ['', value] : [value.slice(0, space), value.slice(space + 1)];
}

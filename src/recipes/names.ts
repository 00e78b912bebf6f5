/** Names of elections, locks and groups, and the store prefixes they live under. */
import { invalidArgument } from '../errors.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;

/**
 * Checks a recipe name: 1–128 characters of letters, digits and `. _ : @ -`, starting with a
 * letter or digit. Names become store keys and CLI arguments, so they are kept plain.
 */
export function checkName(name: unknown, argument = 'name'): asserts name is string {
  if (typeof name !== 'string' || !NAME.test(name))
    throw invalidArgument(
      argument,
      `must be 1-128 characters of letters, digits and . _ : @ - starting with a letter or digit, got ${JSON.stringify(name)}`,
    );
}

/** Where each recipe keeps its keys (inside the store's namespace). */
export const PREFIX = Object.freeze({
  election: 'election/',
  mutex: 'mutex/',
  mutexHolder: 'mutex-holder/',
  semaphore: 'semaphore/',
  rwlock: 'rwlock/',
  members: 'members/',
  shards: 'shards/',
});

/**
 * Fencing (Kleppmann, "How to do distributed locking", 2016; Chubby's sequencers): a lock holder
 * can be paused (GC, SIGSTOP, a swapped-out VM) past its lease and wake up still believing it
 * holds the lock. No client-side check can close that window, because the pause can fall between
 * the check and the write. The protected resource closes it: every write carries the lock's
 * fencing token, and the resource refuses a token lower than the highest it has accepted.
 *
 * {@link FencingGate} is that rule for a resource that lives in one process. For a database, the
 * rule must run inside the database, in the same statement as the write; see
 * `examples/fenced-counter.ts` for a SQLite table that does so.
 */
import { invalidArgument } from '../../errors.js';

/**
 * The fencing rule for in-process resources: accepts a token at least as high as the highest
 * accepted so far for the same resource.
 *
 * @example
 * ```ts
 * const gate = new FencingGate();
 * if (!gate.admit(lock.fencingToken, 'orders')) throw new Error('stale lock holder');
 * ```
 */
export class FencingGate {
  readonly #highest = new Map<string, number>();

  /** Records and accepts `token` if it is ≥ the highest accepted for `resource`; else refuses. */
  admit(token: number, resource = ''): boolean {
    if (!Number.isSafeInteger(token) || token < 1)
      throw invalidArgument('token', `must be a fencing token (an integer ≥ 1), got ${String(token)}`);
    const highest = this.#highest.get(resource) ?? 0;
    if (token < highest) return false;
    this.#highest.set(resource, token);
    return true;
  }

  /** The highest token accepted for `resource` (0 if none). */
  highest(resource = ''): number {
    return this.#highest.get(resource) ?? 0;
  }
}

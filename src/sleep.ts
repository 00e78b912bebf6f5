/**
 * @internal Waiting that an abort cuts short, on an injectable clock: the one implementation
 * behind every retry backoff and pause in tenure.
 */
import { systemClock, type Clock } from './clock.js';

/**
 * Resolves after `ms` milliseconds of `clock`, or at once when `signal` aborts (already aborted:
 * at once). It never rejects: the caller checks the signal. Whichever comes first removes the
 * other, so a long run of sleeps on one signal collects no listeners.
 */
export function sleep(ms: number, options: { signal?: AbortSignal; clock?: Clock } = {}): Promise<void> {
  const { signal, clock = systemClock } = options;
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clock.clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = clock.setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

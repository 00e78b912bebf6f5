/**
 * A Store that reports the duration of each operation: instrumentation from the outside, so no
 * backend needs to know about metrics.
 */
import type { Store } from '../store/types.js';

/**
 * Called after each operation with its name, its duration in ms, whether it succeeded, and what
 * it threw when it did not.
 */
export type StoreTimer = (op: string, ms: number, ok: boolean, error?: unknown) => void;

const TIMED = [
  'txn',
  'get',
  'range',
  'put',
  'delete',
  'revision',
  'grant',
  'keepAlive',
  'revoke',
  'timeToLive',
  'compact',
] as const;

/**
 * Wraps `store` so that `onOperation` is called after each of its request/response operations
 * (watch and close pass through untouched).
 */
export function timedStore(store: Store, onOperation: StoreTimer): Store {
  const timed = new Map<string, (...args: unknown[]) => Promise<unknown>>();
  for (const op of TIMED) {
    const fn = (store[op] as (...args: unknown[]) => Promise<unknown>).bind(store);
    timed.set(op, async (...args: unknown[]) => {
      const start = performance.now();
      try {
        const result = await fn(...args);
        onOperation(op, performance.now() - start, true);
        return result;
      } catch (err) {
        onOperation(op, performance.now() - start, false, err);
        throw err;
      }
    });
  }
  return new Proxy(store, {
    get(target, prop) {
      if (typeof prop === 'string' && timed.has(prop)) return timed.get(prop);
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

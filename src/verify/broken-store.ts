/**
 * Stores broken on purpose, for negative controls: a checker that passes a history recorded
 * through one of these does not work. Never use them for anything else.
 */
import { invalidArgument } from '../errors.js';
import type { KeyValue, LeaseId, Store, Value } from '../store/types.js';

/** How {@link breakStore} breaks a store. */
export type Breakage =
  /** Every `every`-th `put` is acknowledged (with the current revision) but never applied. */
  | 'lost-writes'
  /** Every `every`-th `get` returns the first value the wrapper ever read for that key. */
  | 'stale-reads';

/** The breakages {@link breakStore} knows. */
export const BREAKAGES: readonly Breakage[] = Object.freeze(['lost-writes', 'stale-reads']);

/**
 * A view of `store` that breaks linearizability as `breakage` says; every other call passes
 * through. `close()` closes `store`.
 * @throws TENURE_INVALID_ARGUMENT for an unknown breakage or an `every` below 1.
 */
export function breakStore(store: Store, breakage: Breakage, every = 4): Store {
  if (!BREAKAGES.includes(breakage))
    throw invalidArgument('breakage', `must be one of ${BREAKAGES.join(', ')} (got ${String(breakage)})`);
  if (!Number.isSafeInteger(every) || every < 1)
    throw invalidArgument('every', `must be a positive integer (got ${String(every)})`);
  let n = 0;
  const first = new Map<string, KeyValue>();
  const put = async (key: string, value: Value, options?: { lease?: LeaseId | null }): Promise<number> =>
    ++n % every === 0 ? store.revision() : store.put(key, value, options);
  const get = async (key: string): Promise<KeyValue | undefined> => {
    const kv = await store.get(key);
    if (kv !== undefined && !first.has(key)) first.set(key, kv);
    return ++n % every === 0 && first.has(key) ? first.get(key) : kv;
  };
  const replaced = breakage === 'lost-writes' ? { put } : { get };
  return new Proxy(store, {
    get(target, prop) {
      if (Object.hasOwn(replaced, prop)) return replaced[prop as keyof typeof replaced];
      const v = Reflect.get(target, prop, target) as unknown;
      // The stores keep private fields: their methods must run on the store itself.
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

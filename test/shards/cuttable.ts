/** A store proxy that can be cut off (every call fails as unreachable): an in-process partition. */
import { TenureError } from '../../src/errors.js';
import type { Store } from '../../src/store/types.js';

export function cuttable(store: Store): { store: Store; cut(): void } {
  let cut = false;
  const proxy = new Proxy(store, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target) as unknown;
      if (typeof v !== 'function') return v;
      if (cut && prop !== 'close' && prop !== Symbol.asyncDispose)
        return () => Promise.reject(new TenureError('TENURE_UNAVAILABLE', 'partitioned by the test'));
      return (v as (...a: unknown[]) => unknown).bind(target);
    },
  });
  return { store: proxy, cut: () => (cut = true) };
}

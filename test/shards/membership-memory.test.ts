import { describe, expect, it } from 'vitest';
import { Membership } from '../../src/recipes/fleet/membership.js';
import { Session } from '../../src/recipes/coordination/session.js';
import { compactedError } from '../../src/store/errors.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import type { Store, WatchBatch } from '../../src/store/types.js';
import { eventually } from '../helpers/async.js';
import { membershipSuite } from './membership-suite.js';

membershipSuite('memory', async () => new MemoryStore(), 500);

describe('Membership on memory, when its watch falls behind compaction', () => {
  it('re-reads the live set and keeps following', async () => {
    const store = new MemoryStore();
    let failed = false;
    // The first watch the view opens fails as a watch past the retained history would.
    const failing = new Proxy(store, {
      get(target, prop) {
        if (prop === 'watch')
          return (...args: Parameters<Store['watch']>): AsyncIterable<WatchBatch> => {
            if (failed) return target.watch(...args);
            failed = true;
            return {
              [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(compactedError(1, 5)) }),
            };
          };
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const view = await Membership.open(failing, 'g');
    const session = await Session.create(store, { ttlMs: 1000 });
    const member = await (await Membership.open(store, 'g')).join(session, { id: 'late' });
    await eventually(() => view.members().some((m) => m.id === 'late'));
    expect(failed).toBe(true); // the compacted watch happened, and the view recovered from it
    await member.close();
    await eventually(() => view.members().length === 0);
    await view.close();
    await session.close();
  });
});

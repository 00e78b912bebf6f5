/**
 * followOn over a store whose follow() does not keep the contract: a wrapper that made every
 * method async (a proxy, an instrumented store) returns a promise instead of the function that
 * stops the follow. The follow must end through its listener, once, and leave nothing unhandled
 * or uncaught (a hold used to crash calling the "stop function" when it was released).
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { TenureError } from '../../src/errors.js';
import { FOLLOW_DELAY_MS } from '../../src/recipes/coordination/holding.js';
import { Mutex } from '../../src/recipes/coordination/mutex.js';
import { Session } from '../../src/recipes/coordination/session.js';
import { followOn } from '../../src/store/follow.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import type { Store } from '../../src/store/types.js';
import { eventually, sleep } from '../helpers/async.js';

/** `store`, with follow() replaced by `follow` while `broken` is set. */
function withFollow(store: Store, follow: () => unknown) {
  const state = { broken: true };
  const proxy = new Proxy(store, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target) as unknown;
      if (typeof v !== 'function') return v;
      if (prop === 'follow' && state.broken) return follow;
      return (v as (...a: unknown[]) => unknown).bind(target);
    },
  });
  return { store: proxy, state };
}

function recorder() {
  const errors: unknown[] = [];
  return { errors, listener: { batch: () => undefined, error: (e: unknown) => void errors.push(e) } };
}

describe('followOn over a follow() that returns no stop function', () => {
  it('a rejected promise ends the follow with that rejection, once; nothing is left unhandled', async () => {
    const reason = new TenureError('TENURE_UNAVAILABLE', 'cut off (injected)');
    const { store } = withFollow(new MemoryStore(), () => Promise.reject(reason));
    const r = recorder();
    const stop = followOn(store, 'k', {}, r.listener);
    expect(stop).toBeTypeOf('function');
    await eventually(() => r.errors.length > 0);
    await sleep(20);
    expect(r.errors).toEqual([reason]);
    stop();
    stop();
  });

  it('a resolved promise or a non-function ends it with TENURE_UNAVAILABLE, once', async () => {
    for (const returned of [Promise.resolve(), undefined, 42]) {
      const { store } = withFollow(new MemoryStore(), () => returned);
      const r = recorder();
      followOn(store, 'k', {}, r.listener);
      await eventually(() => r.errors.length > 0);
      await sleep(10);
      expect(r.errors.map((e) => (e as TenureError).code)).toEqual(['TENURE_UNAVAILABLE']);
    }
  });

  it('stopped before the outcome, the listener hears nothing', async () => {
    const { store } = withFollow(new MemoryStore(), () => Promise.reject(new Error('late')));
    const r = recorder();
    followOn(store, 'k', {}, r.listener)();
    await sleep(20);
    expect(r.errors).toEqual([]);
  });

  it('a hold whose follow fails that way retries it, and once it works sees its key deleted', async () => {
    const clock = new ManualClock();
    const base = new MemoryStore({ clock });
    const { store, state } = withFollow(base, () =>
      Promise.reject(new TenureError('TENURE_UNAVAILABLE', 'cut off (injected)')),
    );
    const session = await Session.create(store, { ttlMs: 3000, clock });
    try {
      const lock = await new Mutex(session, 'm').lock();
      await clock.advance(FOLLOW_DELAY_MS); // the follow starts, and fails
      await sleep(20);
      expect(lock.status).toBe('held');
      state.broken = false;
      await clock.advance(100); // the retry
      await base.delete(lock.key);
      await eventually(() => lock.status === 'lost');
      expect((lock.signal.reason as TenureError).code).toBe('TENURE_LOCK_LOST');
    } finally {
      await session.close();
    }
  });
});

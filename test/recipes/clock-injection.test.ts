/**
 * Time injected everywhere (CONVENTIONS 14) and getters without side effects (CONVENTIONS 13).
 *
 * Every retry below waits on a ManualClock: the test lets real time pass and checks that nothing
 * happened, then advances the clock and checks that it did. A global timer that crept back would
 * retry in real time, and the "not before" half fails.
 */
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ManualClock, type Clock, type Timer } from '../../src/clock.js';
import { TenureError } from '../../src/errors.js';
import { Election } from '../../src/recipes/coordination/election.js';
import { followPrefix } from '../../src/recipes/follow-prefix.js';
import { Membership } from '../../src/recipes/fleet/membership.js';
import { FOLLOW_DELAY_MS } from '../../src/recipes/coordination/holding.js';
import { Mutex } from '../../src/recipes/coordination/mutex.js';
import { Session } from '../../src/recipes/coordination/session.js';
import { ShardRouter } from '../../src/recipes/fleet/shard-router.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import type { Store, WatchBatch, WatchListener } from '../../src/store/types.js';
import { eventually, sleep } from '../helpers/async.js';

/** Longer than every backoff under test (20 ms, 100 ms), in real time. */
const REAL_WAIT_MS = 250;

const unavailable = () => new TenureError('TENURE_UNAVAILABLE', 'the store is down (injected)');

/**
 * A view of `store` that counts every call by method name, and whose watches (iterated or followed)
 * of keys that `failWatch` selects fail (with TENURE_UNAVAILABLE) while `failing` is set.
 */
function instrumented(store: Store, failWatch: (key: string) => boolean = () => false) {
  const calls = new Map<string, number>();
  const watched: string[] = [];
  const state = { failing: true };
  const proxy = new Proxy(store, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target) as unknown;
      if (typeof v !== 'function') return v;
      const name = String(prop);
      return (...args: unknown[]) => {
        calls.set(name, (calls.get(name) ?? 0) + 1);
        if (name === 'watch' || name === 'follow') {
          watched.push(String(args[0]));
          if (state.failing && failWatch(String(args[0]))) {
            if (name === 'watch')
              return {
                [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(unavailable()) }),
              } satisfies AsyncIterable<WatchBatch>;
            const listener = args[2] as WatchListener;
            queueMicrotask(() => listener.error(unavailable()));
            return () => {};
          }
        }
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  const total = () => [...calls.values()].reduce((a, b) => a + b, 0);
  const watchesOf = (key: string) => watched.filter((k) => k === key).length;
  return { store: proxy, calls, total, watched, watchesOf, state };
}

describe('watch retries wait on the injected clock', () => {
  it('followPrefix retries a failed watch after 20 ms of its clock, and not before', async () => {
    const clock = new ManualClock();
    const t = instrumented(new MemoryStore({ clock }), () => true);
    const ac = new AbortController();
    const errors: unknown[] = [];
    const following = followPrefix(t.store, 'p/', ac.signal, clock, {
      revision: () => 0,
      apply: () => undefined,
      resync: async () => undefined,
      onError: (err) => errors.push(err),
    });
    await eventually(() => errors.length === 1);
    await sleep(REAL_WAIT_MS);
    expect(t.watchesOf('p/')).toBe(1); // real time passed: no retry
    await clock.advance(19);
    expect(t.watchesOf('p/')).toBe(1);
    await clock.advance(1);
    expect(t.watchesOf('p/')).toBe(2); // the first backoff, 20 ms of the clock
    await clock.advance(39);
    expect(t.watchesOf('p/')).toBe(2);
    await clock.advance(1);
    expect(t.watchesOf('p/')).toBe(3); // doubled: 40 ms
    // A close during a backoff ends the follower at once: the sleep takes the signal.
    ac.abort();
    await following;
  });

  it('Membership.open({ clock }) retries its watch on that clock', async () => {
    const clock = new ManualClock();
    const t = instrumented(new MemoryStore({ clock }), (key) => key.includes('g1'));
    const membership = await Membership.open(t.store, 'g1', { clock });
    try {
      // Its first watch failed at once (before a listener could be added: count the watches).
      await eventually(() => t.watched.length === 1);
      const prefix = t.watched[0]!;
      await sleep(REAL_WAIT_MS);
      expect(t.watchesOf(prefix)).toBe(1);
      await clock.advance(20);
      expect(t.watchesOf(prefix)).toBe(2);
    } finally {
      await membership.close();
    }
  });

  it('ShardRouter.open({ clock }) retries its watch on that clock', async () => {
    const clock = new ManualClock();
    const t = instrumented(new MemoryStore({ clock }), () => true);
    const router = await ShardRouter.open(t.store, 'orders', { slotCount: 4, clock });
    try {
      await eventually(() => t.watched.length === 1);
      const prefix = t.watched[0]!;
      await sleep(REAL_WAIT_MS);
      expect(t.watchesOf(prefix)).toBe(1);
      await clock.advance(20);
      expect(t.watchesOf(prefix)).toBe(2);
    } finally {
      await router.close();
    }
  });

  it("a lock's watch of its own key retries after 100 ms of the session's clock, and not before", async () => {
    const clock = new ManualClock();
    const base = new MemoryStore({ clock });
    const t = instrumented(base, (key) => key.includes('m1'));
    const session = await Session.create(t.store, { ttlMs: 3000, clock });
    try {
      const lock = await new Mutex(session, 'm1').lock();
      await clock.advance(FOLLOW_DELAY_MS);
      expect(t.watchesOf(lock.key)).toBe(1); // started FOLLOW_DELAY_MS after it was handed out
      await sleep(REAL_WAIT_MS);
      expect(t.watchesOf(lock.key)).toBe(1);
      await clock.advance(99);
      expect(t.watchesOf(lock.key)).toBe(1);
      t.state.failing = false;
      await clock.advance(1);
      expect(t.watchesOf(lock.key)).toBe(2);
      // The retried watch works: deleting the key loses the lock.
      await base.delete(lock.key);
      await eventually(() => lock.status === 'lost');
      expect((lock.signal.reason as TenureError).code).toBe('TENURE_LOCK_LOST');
    } finally {
      await session.close();
    }
  });
});

describe('a hold follows its key from FOLLOW_DELAY_MS of the session clock after it is handed out', () => {
  async function held() {
    const clock = new ManualClock();
    const base = new MemoryStore({ clock });
    const t = instrumented(base);
    const session = await Session.create(t.store, { ttlMs: 3000, clock });
    return { clock, base, t, session };
  }

  it('starts at FOLLOW_DELAY_MS, not before, and not at all for a hold released sooner', async () => {
    const { clock, t, session } = await held();
    try {
      const short = await new Mutex(session, 'short').lock();
      const long = await new Mutex(session, 'long').lock();
      void short.signal; // reading the signal starts nothing either
      await sleep(REAL_WAIT_MS);
      await clock.advance(FOLLOW_DELAY_MS - 1);
      expect([t.watchesOf(short.key), t.watchesOf(long.key)]).toEqual([0, 0]);
      await short.close();
      await clock.advance(1);
      expect([t.watchesOf(short.key), t.watchesOf(long.key)]).toEqual([0, 1]);
      await clock.advance(10 * FOLLOW_DELAY_MS);
      expect(t.watchesOf(short.key)).toBe(0);
    } finally {
      await session.close();
    }
  });

  it("a key deleted before the follow starts is still seen: the follow starts at the hold's revision", async () => {
    const { clock, base, session } = await held();
    try {
      const lock = await new Mutex(session, 'm').lock();
      await base.delete(lock.key);
      await base.put('unrelated', 'x');
      await sleep(REAL_WAIT_MS);
      expect(lock.status).toBe('held'); // not followed yet
      await clock.advance(FOLLOW_DELAY_MS);
      await eventually(() => lock.status === 'lost');
      expect((lock.signal.reason as TenureError).code).toBe('TENURE_LOCK_LOST');
    } finally {
      await session.close();
    }
  });
});

describe('getters without side effects', () => {
  it('a held lock notices its key deleted by someone else without its signal ever being read', async () => {
    const store = new MemoryStore();
    const session = await Session.create(store, { ttlMs: 3000 });
    try {
      const lock = await new Mutex(session, 'm').lock();
      await store.delete(lock.key);
      await eventually(() => lock.status === 'lost');
    } finally {
      await session.close();
    }
  });

  /** A clock whose time can jump without firing timers: a process resumed after SIGSTOP. */
  class FreezableClock implements Clock {
    readonly driven = new ManualClock();
    #frozenMs = 0;
    now(): number {
      return this.driven.now() + this.#frozenMs;
    }
    setTimeout(fn: () => void, ms: number): Timer {
      return this.driven.setTimeout(fn, ms);
    }
    clearTimeout(timer: Timer): void {
      this.driven.clearTimeout(timer);
    }
    freeze(ms: number): void {
      this.#frozenMs += ms;
    }
  }

  async function holdings() {
    const clock = new FreezableClock();
    const t = instrumented(new MemoryStore({ clock: clock.driven }));
    const session = await Session.create(t.store, { ttlMs: 3000, clock });
    const lock = await new Mutex(session, 'm').lock();
    const leadership = await new Election(session, 'e').campaign('me');
    const membership = await Membership.open(t.store, 'g', { clock });
    const member = await membership.join(session, { id: 'w1' });
    const events: string[] = [];
    session.on('status', (s) => events.push(`session:${s}`));
    for (const [name, signal] of [
      ['session', session.signal],
      ['lock', lock.signal],
      ['leadership', leadership.signal],
      ['member', member.signal],
    ] as const)
      signal.addEventListener('abort', () => events.push(`${name}:abort`));
    await clock.driven.advance(0);
    /** Reads every getter of every held thing once, and returns what they said. */
    const readAll = () =>
      JSON.stringify([
        session.status,
        session.alive,
        session.deadline,
        session.signal.aborted,
        lock.status,
        lock.signal.aborted,
        lock.fencingToken,
        leadership.status,
        leadership.signal.aborted,
        leadership.term,
        leadership.value,
        member.status,
        member.signal.aborted,
        member.info.id,
      ]);
    const close = async () => {
      await membership.close();
      await session.close();
    };
    return { clock, t, session, lock, leadership, member, events, readAll, close };
  }

  it('reading every getter twice makes no store call and no event, and gives the same answers', async () => {
    const h = await holdings();
    try {
      const before = h.t.total();
      const first = h.readAll();
      const second = h.readAll();
      await sleep(20); // anything a getter started would have reached the store by now
      expect(second).toBe(first);
      expect(h.t.total()).toBe(before);
      expect(h.events).toEqual([]);
      expect(h.lock.status).toBe('held');
    } finally {
      await h.close();
    }
  });

  it('past the deadline, before the timer fires: getters report the loss and change nothing (no revoke, no abort, no event)', async () => {
    const h = await holdings();
    try {
      h.clock.freeze(3100);
      const before = h.t.total();
      const first = h.readAll();
      const second = h.readAll();
      await sleep(20);
      expect(second).toBe(first);
      expect(h.session.status).toBe('expired');
      expect(h.lock.status).toBe('lost');
      expect(h.leadership.status).toBe('lost');
      expect(h.member.status).toBe('lost');
      expect(h.session.signal.aborted).toBe(false);
      expect(h.lock.signal.aborted).toBe(false);
      expect(h.t.total()).toBe(before); // in particular no revoke: the session was not ended
      expect(h.events).toEqual([]);
      // The explicit check ends it: the revoke, the event and every abort happen now.
      expect(() => h.lock.throwIfLost()).toThrow(TenureError);
      expect(h.events).toEqual(
        expect.arrayContaining([
          'session:expired',
          'session:abort',
          'lock:abort',
          'leadership:abort',
          'member:abort',
        ]),
      );
      await eventually(() => (h.t.calls.get('revoke') ?? 0) === 1);
    } finally {
      await h.close();
    }
  });

  it("200 locks held under one session add one listener to the session's signal, not one each", async () => {
    const store = new MemoryStore();
    const session = await Session.create(store, { ttlMs: 3000 });
    try {
      const before = getEventListeners(session.signal, 'abort').length;
      const locks = [];
      for (let i = 0; i < 200; i++) locks.push(await new Mutex(session, `m${i}`).lock());
      expect(getEventListeners(session.signal, 'abort').length - before).toBeLessThanOrEqual(1);
      await session.close();
      expect(locks.every((l) => l.status === 'lost' && l.signal.aborted)).toBe(true);
    } finally {
      await session.close();
    }
  });
});

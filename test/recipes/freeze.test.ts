/**
 * Signals after a freeze: a process stopped (SIGSTOP, a VM pause, a long GC) past its session's
 * deadline resumes and runs code before the timer that aborts its signals fires. The synchronous
 * checks compare the deadline with the monotonic clock, so they are right at once.
 *
 * The freeze is simulated with a clock whose time jumps without running any timer (as a process
 * sees its monotonic clock after SIGCONT, before its event loop reaches the timers).
 */
import { describe, expect, it } from 'vitest';
import { ManualClock, type Clock, type Timer } from '../../src/clock.js';
import { TenureError } from '../../src/errors.js';
import { Election } from '../../src/recipes/coordination/election.js';
import { Mutex } from '../../src/recipes/coordination/mutex.js';
import { Semaphore } from '../../src/recipes/coordination/semaphore.js';
import { Session } from '../../src/recipes/coordination/session.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import { codeOf } from '../helpers/async.js';

const TTL = 3000;

/** The session's clock: a driven clock that can also jump forward without firing timers. */
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
  /** The process was stopped for `ms`: time moved on, no timer ran. */
  freeze(ms: number): void {
    this.#frozenMs += ms;
  }
}

async function setup() {
  const clock = new FreezableClock();
  const store = new MemoryStore({ clock: clock.driven });
  const session = await Session.create(store, { ttlMs: TTL, clock });
  return { clock, store, session };
}

describe('checks after a freeze (driven clock)', () => {
  it('session.alive reads the deadline without side effects; session.throwIfDead() throws TENURE_SESSION_EXPIRED and aborts the signal', async () => {
    const { clock, session } = await setup();
    clock.freeze(TTL + 100);
    expect(session.alive).toBe(false);
    expect(session.signal.aborted).toBe(false); // the getter changed nothing: the timer has not run
    expect(await codeOf(() => session.throwIfDead())).toBe('TENURE_SESSION_EXPIRED');
    expect(session.signal.aborted).toBe(true); // and now both agree
  });

  it('lock.throwIfLost() throws TENURE_LOCK_LOST (cause: the session expiry) before the timer fires, and aborts the signals', async () => {
    const { clock, session } = await setup();
    const lock = await new Mutex(session, 'm').lock();
    const signal = lock.signal;
    clock.freeze(TTL + 100);
    expect(signal.aborted).toBe(false); // what the fixture saw in 3 of 7 stale writes
    const err = (() => {
      try {
        lock.throwIfLost();
      } catch (e) {
        return e;
      }
    })();
    expect(err).toMatchObject({ code: 'TENURE_LOCK_LOST' });
    expect(((err as TenureError).cause as TenureError).code).toBe('TENURE_SESSION_EXPIRED');
    expect(signal.aborted).toBe(true);
    expect(session.signal.aborted).toBe(true);
  });

  it('leadership.throwIfLost() throws TENURE_NOT_LEADER before the timer fires', async () => {
    const { clock, session } = await setup();
    const leadership = await new Election(session, 'e').campaign('me');
    leadership.throwIfLost(); // held: no throw
    clock.freeze(TTL + 100);
    expect(await codeOf(() => leadership.throwIfLost())).toBe('TENURE_NOT_LEADER');
    expect(leadership.signal.aborted).toBe(true);
  });

  it('throwIfLost() after a release says the lock is not held (TENURE_LOCK_LOST, cause TENURE_CLOSED)', async () => {
    const { session } = await setup();
    const lock = await new Mutex(session, 'm').lock();
    await lock.unlock();
    expect(await codeOf(() => lock.throwIfLost())).toBe('TENURE_LOCK_LOST');
  });

  it('after a freeze, status reports the loss without side effects; the signals abort at throwIfLost(), not when read', async () => {
    const { clock, session } = await setup();
    const lock = await new Mutex(session, 'm').lock();
    clock.freeze(TTL + 100);
    expect(lock.status).toBe('lost');
    expect(session.status).toBe('expired');
    // Getters changed nothing (CONVENTIONS 13): the timer has not run, so the signals still lag.
    expect(lock.signal.aborted).toBe(false);
    expect(session.signal.aborted).toBe(false);
    expect(await codeOf(() => lock.throwIfLost())).toBe('TENURE_LOCK_LOST');
    expect(lock.signal.aborted).toBe(true);
    expect((lock.signal.reason as TenureError).code).toBe('TENURE_SESSION_EXPIRED');
    expect(session.signal.aborted).toBe(true);
  });

  it('withLock does not call its body when the process froze past the deadline while taking the lock', async () => {
    const { clock, store, session } = await setup();
    // With lock-delay, taking the lock writes a marker after the wait: freeze during that write.
    const txn = store.txn.bind(store);
    store.txn = async (req) => {
      const res = await txn(req);
      if (req.success?.[0]?.type === 'put' && req.success[0].key.startsWith('mutex-holder/'))
        clock.freeze(TTL + 100);
      return res;
    };
    let called = false;
    const code = await codeOf(
      new Mutex(session, 'm', { lockDelayMs: 1000 }).withLock(() => {
        called = true;
      }),
    );
    expect(called).toBe(false);
    expect(code).toBe('TENURE_SESSION_EXPIRED'); // lock() itself refuses: the lock was never handed out
  });

  it('Semaphore.acquire never resolves a permit whose session passed its deadline during its last write', async () => {
    const { clock, store, session } = await setup();
    const other = await Session.create(store, { ttlMs: TTL, clock: clock.driven });
    const first = await new Semaphore(other, 's', 1).acquire();
    const acquiring = new Semaphore(session, 's', 1).acquire();
    acquiring.catch(() => undefined);
    await clock.driven.advance(10);
    const behind = new Semaphore(other, 's', 1).acquire({ timeoutMs: 5000 });
    behind.catch(() => undefined);
    await clock.driven.advance(10);
    // Taking its permit, the waiter rewrites its key to wake the one behind: freeze during it.
    const txn = store.txn.bind(store);
    store.txn = async (req) => {
      const res = await txn(req);
      if (req.compare?.[0]?.target === 'createRevision' && req.compare[0].value !== 0)
        clock.freeze(TTL + 100);
      return res;
    };
    await first.release();
    await clock.driven.advance(10);
    expect(await codeOf(acquiring)).toBe('TENURE_SESSION_EXPIRED');
  });

  it('withLock rejects with TENURE_LOCK_LOST when the lock was lost while its body ran, even before the timer fires', async () => {
    const { clock, session } = await setup();
    const result = new Mutex(session, 'm').withLock(async () => {
      await Promise.resolve();
      clock.freeze(TTL + 100); // the body was stopped mid-way
      return 'done';
    });
    expect(await codeOf(result)).toBe('TENURE_LOCK_LOST');
  });
});

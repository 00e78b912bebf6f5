/**
 * One lifecycle word (issue 12): every held thing ends with `close()`, which is idempotent and is
 * what `[Symbol.asyncDispose]` calls; the old words (`release`, `unlock`, `resign`) still work for
 * one release. Each test checks the store: a close that did not delete the key fails it.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isTenureError } from '../../src/errors.js';
import { closeOnSignals, type Closable } from '../../src/recipes/coordination/shutdown.js';
import { Election } from '../../src/recipes/coordination/election.js';
import type { Holding } from '../../src/recipes/coordination/holding.js';
import type { Lock } from '../../src/recipes/coordination/lock.js';
import { Mutex } from '../../src/recipes/coordination/mutex.js';
import { RWLock } from '../../src/recipes/coordination/rwlock.js';
import { Semaphore } from '../../src/recipes/coordination/semaphore.js';
import { Session } from '../../src/recipes/coordination/session.js';
import { Membership } from '../../src/recipes/fleet/membership.js';
import { ShardManager } from '../../src/recipes/fleet/shards.js';
import { MemoryStore } from '../../src/store/memory/index.js';

let sessions: Session[] = [];
afterEach(async () => {
  for (const s of sessions) await s.close();
  sessions = [];
});

async function open() {
  const store = new MemoryStore();
  const session = await Session.create(store, { ttlMs: 10_000 });
  sessions.push(session);
  const keys = async () => (await store.range('')).kvs.length;
  return { store, session, keys };
}

/** close() twice ends the hold once: status released, signal aborted, key gone from the store. */
async function closesOnce(lock: Holding, keys: () => Promise<number>) {
  expect(lock.status).toBe('held');
  expect(await keys()).toBeGreaterThan(0);
  const first = lock.close();
  const second = lock.close();
  expect(second).toBe(first);
  await first;
  await lock.close();
  expect(lock.status).toBe('released');
  expect(lock.signal.aborted).toBe(true);
  expect(isTenureError(lock.signal.reason, 'TENURE_CLOSED')).toBe(true);
  expect(await keys()).toBe(0);
}

describe('close() ends every held thing, idempotently', () => {
  it('a mutex Lock', async () => {
    const { session, keys } = await open();
    await closesOnce(await new Mutex(session, 'm').lock(), keys);
  });

  it('a Leadership', async () => {
    const { session, keys } = await open();
    await closesOnce(await new Election(session, 'e').campaign('a'), keys);
  });

  it('a semaphore permit and an rwlock hold', async () => {
    const { session, keys } = await open();
    await closesOnce(await new Semaphore(session, 's', 2).acquire(), keys);
    await closesOnce(await new RWLock(session, 'rw').writeLock(), keys);
  });

  it('a Member, a Membership view and a ShardManager', async () => {
    const { store, session, keys } = await open();
    const membership = await Membership.open(store, 'g');
    const member = await membership.join(session, { id: 'w1' });
    const manager = await ShardManager.start(membership, member, { slotCount: 4, settleMs: 10 });
    expect(manager.status).toBe('running');
    await Promise.all([manager.close(), manager.close()]);
    await manager.close();
    expect(manager.status).toBe('closed');
    expect(member.status).toBe('released');
    await member.close();
    expect(await keys()).toBe(0);
    await membership.close();
    await membership.close();
  });

  it('a Session', async () => {
    const { session } = await open();
    await Promise.all([session.close(), session.close()]);
    await session.close();
    expect(session.status).toBe('closed');
  });

  it('await using calls close()', async () => {
    const { session, keys } = await open();
    let lock: Lock;
    {
      await using held = await new Mutex(session, 'm').lock();
      lock = held;
      expect(await keys()).toBe(1);
    }
    expect(lock.status).toBe('released');
    expect(await keys()).toBe(0);
  });
});

describe('the deprecated words still work for one release', () => {
  it('unlock(), release() and resign() end the hold like close()', async () => {
    const { session, keys } = await open();
    const lock = await new Mutex(session, 'm').lock();
    await lock.unlock();
    expect(lock.status).toBe('released');
    expect(await keys()).toBe(0);

    const permit = await new Semaphore(session, 's', 1).acquire();
    await permit.release();
    expect(permit.status).toBe('released');
    expect(await keys()).toBe(0);

    const leadership = await new Election(session, 'e').campaign('a');
    await leadership.resign();
    expect(leadership.status).toBe('released');
    expect(await keys()).toBe(0);
  });

  it("unlock() after close() is the same promise: the lock's after-release step runs once", async () => {
    const { session } = await open();
    const lock = await new Mutex(session, 'm').lock();
    const closing = lock.close();
    expect(lock.unlock()).toBe(closing);
    expect(lock.release()).toBe(closing);
    await closing;
  });
});

describe('closeOnSignals takes anything with close()', () => {
  it('calls close() on a Leadership, not the deprecated resign()', async () => {
    const { session, keys } = await open();
    const leadership = await new Election(session, 'e').campaign('a');
    // The deprecated word must not be the one called: count calls to it.
    let resigned = 0;
    leadership.resign = () => {
      resigned++;
      return Promise.resolve();
    };
    const closables: Closable[] = [leadership];
    const kill = vi.spyOn(process, 'kill').mockImplementation(() => true);
    const remove = closeOnSignals(closables, { signals: ['SIGUSR2'] });
    try {
      process.emit('SIGUSR2', 'SIGUSR2');
      await vi.waitFor(() => expect(kill).toHaveBeenCalledWith(process.pid, 'SIGUSR2'));
    } finally {
      remove();
      kill.mockRestore();
    }
    expect(resigned).toBe(0);
    expect(leadership.status).toBe('released');
    expect(await keys()).toBe(0);
  });
});

/**
 * Locks that ride out a blip: the write that enqueues a waiter loses its reply (etcd's
 * "deadline exceeded" during a leader change: the transaction may or may not have been applied).
 * Every queue recipe retries within the caller's time, reading its own key back (adopting it if
 * the lost write was applied) or creating it again, and never leaves a second key behind. On the
 * memory store with a driven clock.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { TenureError } from '../../src/errors.js';
import { Election } from '../../src/recipes/coordination/election.js';
import { Mutex } from '../../src/recipes/coordination/mutex.js';
import { PREFIX } from '../../src/recipes/names.js';
import { RWLock } from '../../src/recipes/coordination/rwlock.js';
import { Semaphore } from '../../src/recipes/coordination/semaphore.js';
import { Session } from '../../src/recipes/coordination/session.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import type { TxnRequest } from '../../src/store/types.js';
import { codeOf } from '../helpers/async.js';

const TTL = 3000;

/** What happens to one enqueue write: committed then its reply lost, or refused before it applied. */
type Blip = 'applied' | 'not-applied';

const lostReply = () =>
  new TenureError(
    'TENURE_UNAVAILABLE',
    'etcd KV.Txn failed: context deadline exceeded; the write may or may not have been applied',
  );

/** The write that puts a queue entry: a put of a key under `prefix`, then a read of the queue. */
function isEnqueue(req: TxnRequest, prefix: string): boolean {
  const [put, read] = req.success ?? [];
  return put?.type === 'put' && put.key.startsWith(prefix) && read?.type === 'get' && read.key === prefix;
}

/**
 * A memory store on a driven clock whose enqueue writes under `prefix` follow `plan`, one step
 * per write (then succeed): the lost-reply wrapper around a store, as a flaky etcd would be.
 */
async function setup(prefix: string, plan: Blip[]) {
  const clock = new ManualClock();
  const store = new MemoryStore({ clock });
  const session = await Session.create(store, { ttlMs: TTL, clock });
  const txn = store.txn.bind(store);
  const attempts = { total: 0 };
  store.txn = async (req) => {
    if (!isEnqueue(req, prefix)) return txn(req);
    attempts.total++;
    const step = plan.shift();
    if (step === 'applied') await txn(req);
    if (step !== undefined) throw lostReply();
    return txn(req);
  };
  const keys = async () => (await store.range(prefix)).kvs;
  /** Runs `p` to completion while driving the clock in 50 ms steps. */
  const drive = async <T>(p: Promise<T>, maxMs = 30_000): Promise<T> => {
    let done = false;
    const settled = p.then(
      (v) => ((done = true), v),
      (e: unknown) => {
        done = true;
        throw e;
      },
    );
    settled.catch(() => undefined);
    for (let t = 0; t < maxMs && !done; t += 50) await clock.advance(50);
    return settled;
  };
  return { clock, store, session, attempts, keys, drive };
}

describe('an enqueue whose reply is lost (driven clock)', () => {
  it('Mutex.lock: the write was applied, the reply lost once: it adopts its own key (one key, its create revision is the token)', async () => {
    const { session, attempts, keys, drive } = await setup(`${PREFIX.mutex}m/`, ['applied']);
    const lock = await drive(new Mutex(session, 'm').lock({ timeoutMs: 10_000 }));
    expect(attempts.total).toBe(2);
    const queue = await keys();
    expect(queue.map((kv) => kv.key)).toEqual([lock.key]);
    expect(lock.fencingToken).toBe(queue[0]!.createRevision);
    expect(queue[0]!.lease).toBe(session.lease);
    expect(lock.status).toBe('held');
    await lock.unlock();
    expect(await keys()).toEqual([]);
  });

  it('Mutex.lock: lost several times in a row (applied, then each re-read lost too): still one key, adopted', async () => {
    const { session, attempts, keys, drive } = await setup(`${PREFIX.mutex}m/`, [
      'applied',
      'applied',
      'applied',
      'not-applied',
    ]);
    const lock = await drive(new Mutex(session, 'm').lock({ timeoutMs: 10_000 }));
    expect(attempts.total).toBe(5);
    const queue = await keys();
    expect(queue.map((kv) => kv.key)).toEqual([lock.key]);
    expect(lock.fencingToken).toBe(queue[0]!.createRevision);
    await lock.unlock();
  });

  it('Mutex.lock: the write was NOT applied before the error: it creates its key on the retry', async () => {
    const { session, attempts, keys, drive } = await setup(`${PREFIX.mutex}m/`, [
      'not-applied',
      'not-applied',
    ]);
    const lock = await drive(new Mutex(session, 'm').lock({ timeoutMs: 10_000 }));
    expect(attempts.total).toBe(3);
    const queue = await keys();
    expect(queue.map((kv) => kv.key)).toEqual([lock.key]);
    expect(lock.fencingToken).toBe(queue[0]!.createRevision);
    await lock.unlock();
  });

  it('Mutex.lock behind a holder: the adopted entry waits its turn and takes the lock when the holder unlocks', async () => {
    const { store, session, clock, keys, drive } = await setup(`${PREFIX.mutex}m/`, []);
    const holderSession = await Session.create(store, { ttlMs: TTL, clock });
    const held = await new Mutex(holderSession, 'm').lock();
    // Only the waiter's write loses its reply (the holder's already succeeded).
    const txn = store.txn.bind(store);
    let lose = 1;
    store.txn = async (req) => {
      const res = await txn(req);
      if (isEnqueue(req, `${PREFIX.mutex}m/`) && lose-- > 0) throw lostReply();
      return res;
    };
    const waiting = new Mutex(session, 'm').lock({ timeoutMs: 10_000 });
    let got = false;
    void waiting.then(() => (got = true)).catch(() => undefined);
    await clock.advance(2000);
    expect(got).toBe(false);
    expect((await keys()).length).toBe(2); // the holder's and the waiter's: no duplicate
    await held.unlock();
    const lock = await drive(waiting);
    expect(lock.fencingToken).toBeGreaterThan(held.fencingToken);
    expect((await keys()).map((kv) => kv.key)).toEqual([lock.key]);
    await lock.unlock();
  });

  it('an adopted entry with newer entries behind it still waits for the holder ahead (its retry reads the whole queue, not the newest entries)', async () => {
    const { store, session, clock, keys, drive } = await setup(`${PREFIX.mutex}m/`, []);
    const holder = await new Mutex(await Session.create(store, { ttlMs: TTL, clock }), 'm').lock();
    const txn = store.txn.bind(store);
    let lose = 1;
    store.txn = async (req) => {
      const res = await txn(req);
      if (isEnqueue(req, `${PREFIX.mutex}m/`) && lose-- > 0) throw lostReply();
      return res;
    };
    const waiting = new Mutex(session, 'm').lock({ timeoutMs: 20_000 });
    let got = false;
    void waiting.then(() => (got = true)).catch(() => undefined);
    await clock.advance(0); // its write is applied, the reply lost: it backs off
    // Three more waiters queue behind it before its retry.
    const later = await Promise.all([1, 2, 3].map(() => Session.create(store, { ttlMs: TTL, clock })));
    const laterLocks = later.map((s) => new Mutex(s, 'm').lock({ timeoutMs: 20_000 }));
    for (const l of laterLocks) l.catch(() => undefined);
    await clock.advance(0);
    expect((await keys()).length).toBe(5);
    await clock.advance(2000); // it retried and adopted its entry
    expect(got).toBe(false); // the holder is still ahead of it
    expect((await keys()).length).toBe(5);
    await holder.unlock();
    const lock = await drive(waiting);
    expect(lock.fencingToken).toBe((await keys())[0]!.createRevision); // first in line: FIFO kept
    await lock.unlock();
    for (const l of laterLocks) await (await drive(l)).unlock();
  });

  it('Semaphore.acquire adopts its key after a lost reply', async () => {
    const { session, keys, drive } = await setup(`${PREFIX.semaphore}s/`, ['applied', 'not-applied']);
    const permit = await drive(new Semaphore(session, 's', 2).acquire({ timeoutMs: 10_000 }));
    const queue = await keys();
    expect(queue.map((kv) => kv.key)).toEqual([permit.key]);
    expect(permit.fencingToken).toBe(queue[0]!.createRevision);
    await permit.release();
  });

  it('RWLock.readLock and writeLock adopt their keys after a lost reply', async () => {
    const { session, keys, drive } = await setup(`${PREFIX.rwlock}rw/`, ['applied', 'applied']);
    const rw = new RWLock(session, 'rw');
    const r = await drive(rw.readLock({ timeoutMs: 10_000 }));
    expect((await keys()).map((kv) => kv.key)).toEqual([r.key]);
    await r.release();
    const w = await drive(rw.writeLock({ timeoutMs: 10_000 }));
    const queue = await keys();
    expect(queue.map((kv) => kv.key)).toEqual([w.key]);
    expect(w.fencingToken).toBe(queue[0]!.createRevision);
    await w.release();
  });

  it('Election.campaign adopts its candidate key after a lost reply, keeping its value', async () => {
    const { session, keys, drive } = await setup(`${PREFIX.election}e/`, ['applied']);
    const election = new Election(session, 'e');
    const leadership = await drive(election.campaign('me', { timeoutMs: 10_000 }));
    expect(leadership.term).toBe((await keys())[0]!.createRevision);
    expect(await election.candidates()).toEqual([
      { value: 'me', term: leadership.term, key: leadership.key, lease: session.lease },
    ]);
    await leadership.resign();
  });

  it('a store that keeps losing the reply: rejects with TENURE_TIMEOUT at timeoutMs (not TENURE_UNAVAILABLE at once), and deletes the key', async () => {
    const { session, clock, attempts, keys } = await setup(
      `${PREFIX.mutex}m/`,
      Array<Blip>(1000).fill('applied'),
    );
    const started = clock.now();
    let settledAt: number | undefined;
    const locking = new Mutex(session, 'm')
      .lock({ timeoutMs: 2000 })
      .finally(() => (settledAt = clock.now()));
    locking.catch(() => undefined);
    await clock.advance(1990);
    expect(settledAt).toBeUndefined(); // still retrying while time is left
    await clock.advance(100);
    expect(await codeOf(locking)).toBe('TENURE_TIMEOUT');
    expect(settledAt! - started).toBe(2000);
    expect(attempts.total).toBeGreaterThan(3); // it retried, with a bounded backoff
    expect(attempts.total).toBeLessThan(20);
    await clock.advance(100);
    expect(await keys()).toEqual([]); // no key left behind to block the queue until the lease ends
    expect(session.status).toBe('alive');
  });

  it('an abort during the retries rejects with TENURE_ABORTED and deletes the key', async () => {
    const { session, clock, keys } = await setup(`${PREFIX.election}e/`, Array<Blip>(1000).fill('applied'));
    const ac = new AbortController();
    const campaign = new Election(session, 'e').campaign('me', { signal: ac.signal });
    campaign.catch(() => undefined);
    await clock.advance(500);
    expect((await keys()).length).toBe(1);
    ac.abort(new Error('shutting down'));
    expect(await codeOf(campaign)).toBe('TENURE_ABORTED');
    await clock.advance(100);
    expect(await keys()).toEqual([]);
  });

  it('without a timeout it retries until the session ends, then rejects with TENURE_SESSION_EXPIRED', async () => {
    const { store, session, clock } = await setup(`${PREFIX.mutex}m/`, Array<Blip>(1000).fill('not-applied'));
    const locking = new Mutex(session, 'm').lock();
    locking.catch(() => undefined);
    await clock.advance(1000);
    store.fault = (op) => (op === 'keepAlive' ? lostReply() : undefined); // and now its heartbeats fail too
    await clock.advance(TTL + 1000);
    expect(await codeOf(locking)).toBe('TENURE_SESSION_EXPIRED');
  });

  it('tryLock does not wait: a lost reply rejects with TENURE_UNAVAILABLE (retryable) and leaves no key', async () => {
    const { session, clock, keys } = await setup(`${PREFIX.mutex}m/`, ['applied']);
    const err = await new Mutex(session, 'm').tryLock().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'TENURE_UNAVAILABLE', retryable: true });
    await clock.advance(100);
    expect(await keys()).toEqual([]);
  });
});

describe('a lost write applied after the caller gave up (driven clock)', () => {
  it('is swept a ttl later, so it does not block the queue for the rest of the session', async () => {
    const clock = new ManualClock();
    const store = new MemoryStore({ clock });
    const session = await Session.create(store, { ttlMs: TTL, clock });
    const prefix = `${PREFIX.mutex}late/`;
    const txn = store.txn.bind(store);
    // Every enqueue write fails at once, but each is applied 2 s later: a proposal still in the
    // raft log, committed by the next leader (etcd's election takes about a second).
    store.txn = async (req) => {
      if (!isEnqueue(req, prefix)) return txn(req);
      clock.setTimeout(() => void txn(req).catch(() => undefined), 2000);
      throw lostReply();
    };
    const locking = new Mutex(session, 'late').lock({ timeoutMs: 1000 });
    locking.catch(() => undefined);
    await clock.advance(1100);
    expect(await codeOf(locking)).toBe('TENURE_TIMEOUT');
    store.txn = txn;
    await clock.advance(2000); // the late writes land: an orphan entry heads the queue
    expect((await store.range(prefix)).kvs).toHaveLength(1);
    await clock.advance(TTL);
    expect((await store.range(prefix)).kvs).toEqual([]);
    const other = await Session.create(store, { ttlMs: TTL, clock });
    const lock = await new Mutex(other, 'late').tryLock();
    expect(lock).toBeDefined();
    expect(session.status).toBe('alive');
  });
});

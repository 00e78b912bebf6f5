/**
 * Recipes on the memory store with a driven clock: exact deadlines, and a store that fails
 * transiently.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { TenureError } from '../../src/errors.js';
import { Election } from '../../src/recipes/coordination/election.js';
import { Mutex } from '../../src/recipes/coordination/mutex.js';
import { Session } from '../../src/recipes/coordination/session.js';
import { MemoryStore } from '../../src/store/memory/index.js';

const unavailable = () => new TenureError('TENURE_UNAVAILABLE', 'injected outage');

function setup() {
  const clock = new ManualClock();
  const store = new MemoryStore({ clock });
  return { clock, store };
}

describe('Session deadlines (driven clock)', () => {
  it('heartbeats every ttl/3 keep the session alive indefinitely', async () => {
    const { clock, store } = setup();
    const s = await Session.create(store, { ttlMs: 3000, clock });
    let beats = 0;
    s.on('keepalive', () => beats++);
    await clock.advance(30_000);
    expect(s.status).toBe('alive');
    expect(beats).toBe(30);
    expect(await store.timeToLive(s.lease)).toBe(3000);
    await s.close();
  });

  it('a transient outage shorter than the ttl does not end the session', async () => {
    const { clock, store } = setup();
    const s = await Session.create(store, { ttlMs: 3000, clock });
    const errors: unknown[] = [];
    s.on('keepaliveError', (e) => errors.push(e));
    await clock.advance(1000); // one good heartbeat at t=1000: deadline 4000
    store.fault = (op) => (op === 'keepAlive' ? unavailable() : undefined);
    await clock.advance(2500); // t=3500: several failed heartbeats
    expect(errors.length).toBeGreaterThan(1);
    expect(s.status).toBe('alive');
    store.fault = undefined;
    await clock.advance(10_000);
    expect(s.status).toBe('alive');
    await s.close();
  });

  it('is lost at (send time of the last acknowledged heartbeat + ttl less 0.1%), before the store expires it', async () => {
    const { clock, store } = setup();
    const s = await Session.create(store, { ttlMs: 3000, clock });
    await clock.advance(1000); // heartbeat sent and acknowledged at t=1000
    store.fault = (op) => (op === 'keepAlive' || op === 'revoke' ? unavailable() : undefined); // the link is down
    await clock.advance(2996); // t=3996: the session is alive
    expect(s.status).toBe('alive');
    await clock.advance(1); // t=3997 = 1000 + ttl less 0.1% (the clock-rate allowance)
    expect(s.status).toBe('expired');
    expect((s.signal.reason as TenureError).code).toBe('TENURE_SESSION_EXPIRED');
    // The client gave up before the store's expiry: the store still has the lease for 3 ms.
    expect(await store.timeToLive(s.lease)).toBe(3);
    await clock.advance(3);
    expect(await store.timeToLive(s.lease)).toBeUndefined();
  });

  it('a keepalive rejected with lease-not-found ends the session at once', async () => {
    const { clock, store } = setup();
    const s = await Session.create(store, { ttlMs: 3000, clock });
    await store.revoke(s.lease);
    await clock.advance(1000);
    expect(s.status).toBe('expired');
  });
});

describe('Locks and leadership under a failing store (driven clock)', () => {
  it('a holder cut off from the store loses its lock signal before a waiter can take the lock', async () => {
    const { clock, store } = setup();
    const holderSession = await Session.create(store, { ttlMs: 3000, clock });
    const waiterSession = await Session.create(store, { ttlMs: 3000, clock });
    const lock = await new Mutex(holderSession, 'm').lock();
    const signal = lock.signal;
    let signalAbortedWhenWaiterGotLock: boolean | undefined;
    const waiter = new Mutex(waiterSession, 'm').lock().then((l) => {
      signalAbortedWhenWaiterGotLock = signal.aborted;
      return l;
    });
    // The holder's heartbeats fail from now on (its network is cut); the waiter's still work.
    const holderLease = holderSession.lease;
    store.fault = (op) =>
      op === 'keepAlive' && holderSession.status === 'alive' && currentLease === holderLease
        ? unavailable()
        : undefined;
    let currentLease = '';
    const keepAlive = store.keepAlive.bind(store);
    store.keepAlive = (id) => {
      currentLease = id;
      return keepAlive(id);
    };
    await clock.advance(2000);
    expect(signal.aborted).toBe(false);
    expect(signalAbortedWhenWaiterGotLock).toBeUndefined();
    await clock.advance(2000);
    const l2 = await waiter;
    expect(signalAbortedWhenWaiterGotLock).toBe(true);
    expect(l2.fencingToken).toBeGreaterThan(lock.fencingToken);
    expect(waiterSession.status).toBe('alive');
  });

  it('no two leaders after a reconnect (Curator 696, 620): a leader cut off past its ttl stays deposed when the store comes back', async () => {
    const { clock, store } = setup();
    const s1 = await Session.create(store, { ttlMs: 3000, clock });
    const s2 = await Session.create(store, { ttlMs: 3000, clock });
    const l1 = await new Election(s1, 'e').campaign('one');
    const next = new Election(s2, 'e').campaign('two');
    // s1's heartbeats fail (its link is down); s2's succeed.
    const keepAlive = store.keepAlive.bind(store);
    let cut = true;
    store.keepAlive = (id) => (cut && id === s1.lease ? Promise.reject(unavailable()) : keepAlive(id));
    await clock.advance(3500);
    const l2 = await next;
    expect(l1.signal.aborted).toBe(true);
    expect(l1.status).toBe('lost');
    cut = false; // the link comes back
    await clock.advance(10_000);
    expect(s1.status).toBe('expired'); // an expired session never comes back to life
    expect(l1.status).toBe('lost');
    expect(l2.status).toBe('held');
    expect((await new Election(s2, 'e').leader())?.term).toBe(l2.term);
    expect(l2.term).toBeGreaterThan(l1.term);
  });

  it('a campaign whose store writes keep failing leaves no candidate key behind (etcd 21128)', async () => {
    const { clock, store } = setup();
    const s = await Session.create(store, { ttlMs: 3000, clock });
    const e = new Election(s, 'e');
    const blocker = await new Election(await Session.create(store, { ttlMs: 3000, clock }), 'e').campaign(
      'first',
    );
    // Every enqueue commits, but its reply is lost: the client sees an error each time, retries
    // (see blip.test.ts) until its timeout, and then must remove what the writes created.
    const txn = store.txn.bind(store);
    store.txn = async (req) => {
      const res = await txn(req);
      if (req.success?.[0]?.type === 'put') throw unavailable();
      return res;
    };
    const campaign = e.campaign('second', { timeoutMs: 1000 });
    campaign.catch(() => undefined);
    await clock.advance(1100);
    await expect(campaign).rejects.toMatchObject({ code: 'TENURE_TIMEOUT' });
    await clock.advance(100);
    expect((await e.candidates()).map((c) => c.value)).toEqual(['first']);
    store.txn = txn;
    await blocker.resign();
  });

  it('resign that fails transiently keeps retrying until the store confirms, and reports its status truthfully (etcd 22123)', async () => {
    const { clock, store } = setup();
    const s = await Session.create(store, { ttlMs: 3000, clock });
    const l = await new Election(s, 'e').campaign('me');
    store.fault = (op) => (op === 'txn' ? unavailable() : undefined);
    const resigning = l.resign();
    expect(l.signal.aborted).toBe(true); // stop acting as leader at once
    await clock.advance(200);
    expect(l.status).toBe('releasing'); // but not yet confirmed: the key is still there
    store.fault = undefined;
    await clock.advance(2000);
    await resigning;
    expect(l.status).toBe('released');
    expect(await new Election(s, 'e').leader()).toBeUndefined();
  });

  it('a waiter that backs off through a long store outage does not collect abort listeners', async () => {
    const { clock, store } = setup();
    const holder = await Session.create(store, { ttlMs: 3000, clock });
    const waiterSession = await Session.create(store, { ttlMs: 3000, clock });
    const lock = await new Mutex(holder, 'outage').lock();
    // Every watch fails transiently: the waiter re-reads and backs off, again and again.
    const watch = store.watch.bind(store);
    let failing = true;
    store.watch = (key, options) =>
      failing
        ? (async function* () {
            yield* [];
            throw unavailable();
          })()
        : watch(key, options);
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      let attempts = 0;
      // A re-check is a read: a range of the queue, or a transaction reading the entries ahead.
      const range = store.range.bind(store);
      store.range = (key, options) => (attempts++, range(key, options));
      const txn = store.txn.bind(store);
      store.txn = (request) => (attempts++, txn(request));
      const waiter = new Mutex(waiterSession, 'outage').lock();
      for (let i = 0; i < 300; i++) await clock.advance(100); // 30 s: ~35 backoffs, most of 1 s
      expect(attempts).toBeGreaterThan(20);
      failing = false;
      await lock.unlock();
      let got = false;
      void waiter.then(() => (got = true));
      for (let i = 0; i < 30 && !got; i++) await clock.advance(100); // past the last backoff
      const l2 = await waiter;
      expect(l2.fencingToken).toBeGreaterThan(lock.fencingToken);
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
      expect(warnings).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('a waiter notices its own session expired while it waits (etcd 19597) and leaves no key', async () => {
    const { clock, store } = setup();
    const holder = await new Mutex(await Session.create(store, { ttlMs: 3000, clock }), 'm').lock();
    const ws = await Session.create(store, { ttlMs: 3000, clock });
    const waiting = new Mutex(ws, 'm').lock().catch((e: unknown) => e);
    await clock.advance(10);
    await store.revoke(ws.lease);
    await clock.advance(1000);
    // It learns either from its session (heartbeat refused) or from its own key's deletion.
    expect(['TENURE_SESSION_EXPIRED', 'TENURE_LOCK_LOST']).toContain(
      ((await waiting) as { code: string }).code,
    );
    expect((await new Mutex(ws, 'm').queue()).map((e) => e.key)).toEqual([holder.key]);
  });
});

/**
 * The recipe suite: every backend runs these tests against real time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Election } from '../../src/recipes/coordination/election.js';
import { FencingGate } from '../../src/recipes/coordination/fencing.js';
import { Mutex } from '../../src/recipes/coordination/mutex.js';
import { RWLock } from '../../src/recipes/coordination/rwlock.js';
import { Semaphore } from '../../src/recipes/coordination/semaphore.js';
import { Session } from '../../src/recipes/coordination/session.js';
import type { Store } from '../../src/store/types.js';
import { TenureError, isTenureError } from '../../src/errors.js';
import { codeOf, eventually, sleep } from '../helpers/async.js';
import { numbered, putMany } from '../helpers/fill.js';

export interface RecipeHarness {
  /** Opens a store (all opens of one harness share the same data). */
  open(): Promise<Store>;
  /** Session ttl for tests (≥ the backend's minimum). */
  ttlMs: number;
  /**
   * A burst of this process's own calls waits in a queue: for a connection of PostgreSQL's
   * pool, or on a Redis connection (answered in order). Not on etcd (calls are multiplexed on
   * one HTTP/2 channel; none waits for another), nor on the synchronous stores (memory, SQLite:
   * a call runs in its caller's turn, and a burst of them is the caller's own CPU work, which
   * delays every timer of the process).
   */
  queued?: boolean;
  cleanup?(): Promise<void>;
}

export function recipeSuite(name: string, harness: RecipeHarness): void {
  describe(`recipes on ${name}`, () => {
    let store: Store;
    const sessions: Session[] = [];
    let n = 0;
    const fresh = (what: string) => `${what}-${++n}`;
    const session = async (ttlMs = harness.ttlMs) => {
      const s = await Session.create(store, { ttlMs });
      sessions.push(s);
      return s;
    };

    beforeAll(async () => {
      store = await harness.open();
    });
    afterAll(async () => {
      for (const s of sessions) await s.close();
      await store?.close();
      await harness.cleanup?.();
    });

    describe('Session', () => {
      it('stays alive past its ttl while heartbeats flow, and close() revokes its lease and keys', async () => {
        const s = await session();
        await store.put(`${fresh('k')}`, 'v', { lease: s.lease });
        await sleep(harness.ttlMs * 1.5);
        expect(s.status).toBe('alive');
        expect(await store.timeToLive(s.lease)).toBeGreaterThan(0);
        await s.close();
        await s.close();
        expect(s.status).toBe('closed');
        expect(s.signal.aborted).toBe(true);
        expect(await store.timeToLive(s.lease)).toBeUndefined();
      });

      it('expires, aborting its signal with TENURE_SESSION_EXPIRED, when the store loses its lease', async () => {
        const s = await session();
        await store.revoke(s.lease);
        await eventually(() => s.signal.aborted, harness.ttlMs * 2);
        expect(s.status).toBe('expired');
        expect((s.signal.reason as { code: string }).code).toBe('TENURE_SESSION_EXPIRED');
      });

      it('a hot loop of awaited store calls does not starve its heartbeats', async () => {
        const s = await session();
        const key = fresh('hot');
        const until = performance.now() + harness.ttlMs * 2;
        let n = 0;
        while (performance.now() < until) {
          await store.put(key, String(n++));
        }
        expect(s.alive).toBe(true); // checks the deadline itself, not just whether a timer fired
        await sleep(0);
        expect(s.status).toBe('alive');
      });

      it.runIf(harness.queued === true)(
        'a burst of slow calls from its own process does not hold its heartbeats back',
        async () => {
          // 5,000 keys of 100 bytes under one prefix: one range of them is a slow call.
          const prefix = `${fresh('burst')}/`;
          await putMany(store, 5000, numbered(prefix));
          const s = await session();
          let inBurst = false;
          let beatsInBurst = 0;
          s.on('keepalive', () => {
            if (inBurst) beatsInBurst++;
          });
          // Enough ranges at once to keep the store's connections busy for twice the ttl. A get
          // sent behind them is the control: it shows how long a keepalive sent the same way
          // would wait (longer than the ttl: the session would end on a healthy server).
          const t0 = performance.now();
          await store.range(prefix);
          const one = performance.now() - t0;
          let behind = 0;
          for (let burst = Math.ceil((harness.ttlMs * 2) / one); behind < harness.ttlMs * 1.2; burst *= 2) {
            expect(burst, `one range took ${one} ms`).toBeLessThan(2000);
            inBurst = true;
            const calls = Array.from({ length: burst }, () => store.range(prefix));
            const sent = performance.now();
            await store.get(prefix);
            behind = performance.now() - sent;
            await Promise.all(calls); // none fails: a queue of its own calls is not an outage
            inBurst = false;
            expect(s.alive).toBe(true);
          }
          expect(s.status).toBe('alive');
          // Heartbeats were answered while the queue lasted (it lasted over three intervals).
          expect(beatsInBurst).toBeGreaterThan(0);
        },
      );

      it('rejects bad options, naming them', async () => {
        expect(await codeOf(Session.create(store, { ttlMs: 0 }))).toBe('TENURE_INVALID_ARGUMENT');
        await expect(
          Session.create(store, { ttlMs: harness.ttlMs, keepAliveIntervalMs: harness.ttlMs }),
        ).rejects.toThrow(/options.keepAliveIntervalMs must be below options.ttlMs/);
      });

      it("refuses a ttl below the backend's real minimum, naming options.ttlMs and the minimum", async () => {
        const { minTtlMs: min, backend } = store.capabilities;
        // A heartbeat every ttl/3 must ride out a GC pause or a busy host: no backend goes below 500 ms.
        expect(min).toBeGreaterThanOrEqual(500);
        for (const ttlMs of [1, 10, min - 1]) {
          const err = await Session.create(store, { ttlMs }).catch((e: unknown) => e);
          expect(isTenureError(err, 'TENURE_INVALID_ARGUMENT')).toBe(true);
          const { message, details } = err as TenureError;
          // The option the caller set, not one derived from it (keepAliveIntervalMs = ttl/3).
          expect(message).toMatch(/^options\.ttlMs must be at least/);
          expect(message).toContain(`${min} ms`);
          expect(details).toMatchObject({
            argument: 'options.ttlMs',
            option: 'ttlMs',
            minimum: min,
            backend,
          });
        }
        const s = await session(Math.max(min, harness.ttlMs));
        expect(s.status).toBe('alive');
      });
    });

    describe('Election', () => {
      it('elects one leader at a time, with strictly increasing terms, and hands over on resign', async () => {
        const name = fresh('election');
        const candidates = await Promise.all([0, 1, 2].map(async () => new Election(await session(), name)));
        const leading = new Set<number>();
        const terms: number[] = [];
        let maxConcurrent = 0;
        await Promise.all(
          candidates.map(async (e, i) => {
            const l = await e.campaign(`c${i}`);
            leading.add(i);
            maxConcurrent = Math.max(maxConcurrent, leading.size);
            terms.push(l.term);
            expect((await e.leader())?.term).toBe(l.term);
            await sleep(20);
            leading.delete(i);
            await l.resign();
            expect(l.status).toBe('released');
            expect(l.signal.aborted).toBe(true);
          }),
        );
        expect(maxConcurrent).toBe(1);
        expect(terms).toEqual([...terms].sort((a, b) => a - b));
        expect(new Set(terms).size).toBe(3);
        expect(await candidates[0]!.leader()).toBeUndefined();
      });

      it('a cancelled campaign removes its key; proclaim changes the value; observe sees changes', async () => {
        const name = fresh('election');
        const a = new Election(await session(), name);
        const b = new Election(await session(), name);
        const ac = new AbortController();
        const seen: (string | undefined)[] = [];
        const observing = (async () => {
          for await (const leader of a.observe({ signal: ac.signal })) {
            seen.push(leader?.value);
            if (leader?.value === 'b') return;
          }
        })();
        const la = await a.campaign('a');
        const waiting = b.campaign('b', { timeoutMs: 100 });
        expect(await codeOf(waiting)).toBe('TENURE_TIMEOUT');
        expect((await a.candidates()).map((c) => c.value)).toEqual(['a']);
        await la.proclaim('a2');
        expect((await a.leader())?.value).toBe('a2');
        // observe() may skip states that come and go while its consumer is busy: wait for this one.
        await eventually(() => seen.includes('a2'), 5000);
        const lb = b.campaign('b');
        await la.resign();
        expect(await codeOf(la.proclaim('late'))).toBe('TENURE_NOT_LEADER');
        const leaderB = await lb;
        expect(leaderB.term).toBeGreaterThan(la.term);
        await observing;
        ac.abort();
        expect(seen[seen.length - 1]).toBe('b');
        expect(seen).toContain('a2');
        await leaderB.resign();
      });

      it('a leader whose session expires loses leadership (signal aborts) and the next candidate leads', async () => {
        const name = fresh('election');
        const s1 = await session();
        const l1 = await new Election(s1, name).campaign('one');
        const next = new Election(await session(), name).campaign('two');
        const signal = l1.signal;
        await store.revoke(s1.lease); // the store ends the session under the leader
        await eventually(() => signal.aborted, harness.ttlMs * 2);
        const l2 = await next;
        expect(l2.term).toBeGreaterThan(l1.term);
        await l2.resign();
      });
    });

    describe('Mutex', () => {
      it('gives mutual exclusion and FIFO order; fencing tokens increase with each holder', async () => {
        const name = fresh('mutex');
        const gate = new FencingGate();
        const mutexes = await Promise.all([0, 1, 2, 3].map(async () => new Mutex(await session(), name)));
        const first = await mutexes[0]!.lock();
        const order: number[] = [];
        let inside = 0;
        // Queue in a known order without timing: each waiter starts only once the one before it
        // has its key in the queue (holder + i waiters), so the queue order is 1, 2, 3.
        const waiters: Promise<void>[] = [];
        for (const [i, m] of mutexes.slice(1).entries()) {
          waiters.push(
            m.withLock(async (signal, lock) => {
              inside++;
              expect(inside).toBe(1);
              expect(signal.aborted).toBe(false);
              expect(gate.admit(lock.fencingToken)).toBe(true);
              order.push(i + 1);
              await sleep(10);
              inside--;
            }),
          );
          await eventually(async () => (await mutexes[0]!.queue()).length === i + 2);
        }
        expect(order).toEqual([]); // nobody got in while the first held it
        expect(gate.admit(first.fencingToken)).toBe(true);
        await first.unlock();
        await Promise.all(waiters);
        expect(order).toEqual([1, 2, 3]);
        expect(await mutexes[0]!.queue()).toEqual([]);
      });

      it('a waiter that times out or is aborted leaves no key; tryLock does not wait', async () => {
        const name = fresh('mutex');
        const a = new Mutex(await session(), name);
        const b = new Mutex(await session(), name);
        const held = await a.lock();
        expect(await b.tryLock()).toBeUndefined();
        expect(await codeOf(b.lock({ timeoutMs: 50 }))).toBe('TENURE_TIMEOUT');
        const ac = new AbortController();
        const aborted = b.lock({ signal: ac.signal });
        setTimeout(() => ac.abort(new Error('user gave up')), 30);
        expect(await codeOf(aborted)).toBe('TENURE_ABORTED');
        expect((await a.queue()).map((e) => e.key)).toEqual([held.key]);
        await held.unlock();
        const l = await b.tryLock();
        expect(l?.fencingToken).toBeGreaterThan(held.fencingToken);
        await l!.unlock();
      });

      it('a holder whose session ends loses the lock: its signal aborts before the next holder gets it', async () => {
        const name = fresh('mutex');
        const s1 = await session();
        const lock1 = await new Mutex(s1, name).lock();
        const signal = lock1.signal;
        let abortedBeforeNext = false;
        const next = new Mutex(await session(), name).lock().then((l) => {
          abortedBeforeNext = signal.aborted;
          return l;
        });
        await s1.close();
        const lock2 = await next;
        expect(abortedBeforeNext).toBe(true);
        expect(lock1.status).not.toBe('held');
        expect(await codeOf(async () => lock1.throwIfLost())).toMatch(
          /TENURE_CLOSED|TENURE_SESSION_EXPIRED|TENURE_LOCK_LOST/,
        );
        await lock2.unlock();
      });

      it('a holder whose key someone else deletes is lost at once, signal read or not; other writes leave it held', async () => {
        const name = fresh('mutex');
        const s1 = await session();
        const read = await new Mutex(s1, `${name}-a`).lock();
        const signal = read.signal; // read before the loss
        const unread = await new Mutex(s1, `${name}-b`).lock();
        // Negative control: writes next to the keys, and a rewrite of another lock's key, lose nothing.
        await store.put(`${read.key}x`, 'neighbour');
        await store.put(`${unread.key}/child`, 'neighbour');
        await sleep(200);
        expect([read.status, unread.status, signal.aborted]).toEqual(['held', 'held', false]);
        await store.delete(read.key);
        await store.delete(unread.key);
        await eventually(() => read.status === 'lost' && unread.status === 'lost');
        expect(signal.aborted).toBe(true);
        expect((signal.reason as TenureError).code).toBe('TENURE_LOCK_LOST');
        expect(await codeOf(async () => unread.throwIfLost())).toBe('TENURE_LOCK_LOST');
        expect((unread.signal.reason as TenureError).code).toBe('TENURE_LOCK_LOST');
        await store.delete(`${read.key}x`);
        await store.delete(`${unread.key}/child`);
      });

      it("wakes exactly one waiter per unlock (no herd): counted per waiter, and in the store's watch reads", async () => {
        const name = fresh('mutex');
        const waitersCount = 40;
        const releases = 5;
        const s = await session();
        // Each waiter has its own view of the store, so every call is counted against its waiter.
        const calls = Array.from({ length: waitersCount }, () => 0);
        // The keys each waiter watched: a hold watches its own key from the moment it is granted.
        const watched = Array.from({ length: waitersCount }, (): string[] => []);
        const counted = (i: number): Store =>
          new Proxy(store, {
            get(target, prop) {
              // Getters run against the real store: they may read its private fields.
              const v = Reflect.get(target, prop, target);
              if (typeof v !== 'function') return v;
              if (['get', 'range', 'txn', 'watch', 'follow'].includes(String(prop)))
                return (...args: unknown[]) => {
                  calls[i]!++;
                  if (prop === 'watch' || prop === 'follow') watched[i]!.push(String(args[0]));
                  return v.apply(target, args);
                };
              return v.bind(target);
            },
          });
        // Backends that read their own change log (memory, SQLite): count those reads too, since a
        // store that woke every watch on every change would be a herd the counters above miss.
        const log = store as Store & { readChanges?: (...a: unknown[]) => unknown };
        let logReads = 0;
        const readChanges = log.readChanges;
        if (readChanges)
          log.readChanges = (...args: unknown[]) => (logReads++, readChanges.apply(store, args));
        try {
          const holder = await new Mutex(s, name).lock();
          const waiterSessions = await Promise.all(
            Array.from({ length: waitersCount }, (_, i) =>
              Session.create(counted(i), { ttlMs: harness.ttlMs }),
            ),
          );
          sessions.push(...waiterSessions);
          const granted: number[] = [];
          const locks = waiterSessions.map((ws, i) =>
            new Mutex(ws, name).lock().then((l) => (granted.push(i), l)),
          );
          await eventually(async () => (await new Mutex(s, name).queue()).length === waitersCount + 1);
          await sleep(100);
          let release = () => holder.unlock();
          for (let r = 0; r < releases; r++) {
            const before = [...calls];
            const logBefore = logReads;
            await release();
            await eventually(() => granted.length === r + 1);
            await sleep(100);
            // Exactly one lock granted, and no waiter but the new holder made a single store call.
            expect(granted.length).toBe(r + 1);
            const acted = calls.map((c, i) => c - before[i]!).flatMap((d, i) => (d > 0 ? [i] : []));
            expect(acted.filter((i) => i !== granted[r])).toEqual([]);
            const l = await locks[granted[r]!]!;
            // The new holder watches its own key, once, so that its signal aborts if the key is deleted…
            const own = watched[granted[r]!]!.filter((k) => k === l.key).length;
            expect(own).toBe(1);
            // … and besides: no read at all if it was next in line, else one read of the entries ahead.
            expect(calls[granted[r]!]! - before[granted[r]!]! - own).toBeLessThanOrEqual(1);
            // A herd would read the log once per waiting watch (40); one wake-up reads it ~once.
            if (readChanges) expect(logReads - logBefore).toBeLessThanOrEqual(4);
            release = () => l.unlock();
          }
          await release();
          // Release each as it is granted: the queue order need not be the order of this array.
          await Promise.all(locks.map(async (other) => (await other).unlock()));
        } finally {
          if (readChanges) log.readChanges = readChanges;
        }
      });

      it('lock-delay: after a holder dies without unlocking, the lock waits lockDelayMs', async () => {
        const name = fresh('mutex');
        const delay = 300;
        const s1 = await session();
        await new Mutex(s1, name, { lockDelayMs: delay }).lock();
        const s2 = await session();
        const m2 = new Mutex(s2, name, { lockDelayMs: delay });
        await s1.close(); // a session ending without unlock (as a crash would)
        const t0 = performance.now();
        const l2 = await m2.lock();
        expect(performance.now() - t0).toBeGreaterThanOrEqual(delay - 5);
        await l2.unlock();
        // After a clean unlock there is no delay.
        const t1 = performance.now();
        const l3 = await m2.lock();
        expect(performance.now() - t1).toBeLessThan(delay);
        await l3.unlock();
      });
    });

    describe('Semaphore', () => {
      it('admits at most n holders, in FIFO order', async () => {
        const name = fresh('sem');
        const permits = 2;
        const sems = await Promise.all(
          Array.from({ length: 6 }, async () => new Semaphore(await session(), name, permits)),
        );
        let inside = 0;
        let peak = 0;
        const order: number[] = [];
        // Holders keep their permits until all six have queued, so the queue only grows while
        // they queue: each starts once the one before it has its key (i entries before it).
        let allQueued!: () => void;
        const queued = new Promise<void>((resolve) => (allQueued = resolve));
        const runs: Promise<void>[] = [];
        for (const [i, sem] of sems.entries()) {
          runs.push(
            (async () => {
              const permit = await sem.acquire();
              order.push(i);
              inside++;
              peak = Math.max(peak, inside);
              await queued;
              await sleep(20);
              inside--;
              await permit.unlock();
            })(),
          );
          await eventually(async () => (await sems[0]!.queue()).length === i + 1);
        }
        await eventually(() => order.length === permits);
        expect(order).toEqual([0, 1]); // only `permits` got in while the others wait
        allQueued();
        await Promise.all(runs);
        expect(peak).toBe(permits);
        expect(order).toEqual([0, 1, 2, 3, 4, 5]);
        expect(await sems[0]!.tryAcquire().then((l) => l?.unlock().then(() => true))).toBe(true);
      });

      it('rejects a bad permit count', async () => {
        const s = await session(); // its own, not one an earlier test left behind
        expect(() => new Semaphore(s, 'x', 0)).toThrow(/permits/);
        expect(() => new Semaphore(s, 'x', 1.5)).toThrow(/permits/);
        expect(new Semaphore(s, 'x', 1).permits).toBe(1); // negative control: a good count is taken
      });

      it('refuses to count among processes that count differently, and leaves no key', async () => {
        const name = fresh('sem-count');
        const s1 = await session();
        const held = await new Semaphore(s1, name, 2).acquire();
        const other = new Semaphore(await session(), name, 3);
        const err = await other.acquire({ timeoutMs: 5000 }).catch((e: unknown) => e);
        expect(err).toMatchObject({ code: 'TENURE_INVALID_ARGUMENT' });
        expect((err as Error).message).toMatch(/in use with 2 permits, and this process counts 3/);
        expect(await codeOf(other.tryAcquire())).toBe('TENURE_INVALID_ARGUMENT');
        // Negative control: the same process with the agreed count gets the second permit.
        const agreed = await new Semaphore(await session(), name, 2).acquire({ timeoutMs: 5000 });
        expect((await new Semaphore(s1, name, 2).queue()).length).toBe(2); // the refused left no key
        await agreed.unlock();
        await held.unlock();
        // Once the queue has drained, a new count is accepted.
        const later = await other.acquire({ timeoutMs: 5000 });
        await later.unlock();
      });
    });

    describe('RWLock', () => {
      it('readers share, writers exclude, and a waiting writer is not starved by later readers', async () => {
        const name = fresh('rw');
        const locks = await Promise.all(
          Array.from({ length: 4 }, async () => new RWLock(await session(), name)),
        );
        const r1 = await locks[0]!.readLock();
        const r2 = await locks[1]!.readLock({ timeoutMs: 1000 }); // shared
        const events: string[] = [];
        const writer = locks[2]!.writeLock().then((w) => (events.push('writer'), w));
        await eventually(async () => (await locks[0]!.queue()).length === 3);
        const lateReader = locks[3]!.readLock().then((r) => (events.push('late reader'), r));
        await sleep(50);
        expect(events).toEqual([]);
        await r1.unlock();
        await r2.unlock();
        const w = await writer;
        await sleep(50);
        expect(events).toEqual(['writer']);
        await w.unlock();
        const r3 = await lateReader;
        expect(events).toEqual(['writer', 'late reader']);
        expect(r3.fencingToken).toBeGreaterThan(w.fencingToken);
        await r3.unlock();
      });
    });

    describe('bad input', () => {
      it('rejects bad names and options with TENURE_INVALID_ARGUMENT', async () => {
        const s = await session(); // its own, not one an earlier test left behind
        expect(() => new Election(s, '')).toThrow(/name/);
        expect(() => new Mutex(s, 'a/b')).toThrow(/name/);
        expect(() => new Mutex(s, 'ok', { lockDelayMs: -1 })).toThrow(/options.lockDelayMs/);
        const m = new Mutex(s, fresh('mutex'));
        expect(await codeOf(m.lock({ timeoutMs: -1 }))).toBe('TENURE_INVALID_ARGUMENT');
        expect(await codeOf(m.lock({ signal: 'no' as unknown as AbortSignal }))).toBe(
          'TENURE_INVALID_ARGUMENT',
        );
        expect(await codeOf(new Election(s, 'e').campaign(5 as unknown as string))).toBe(
          'TENURE_INVALID_ARGUMENT',
        );
      });
    });
  });
}

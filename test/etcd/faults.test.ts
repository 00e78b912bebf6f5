/**
 * Member failures on a real 3-member cluster while a workload runs: SIGKILL of the member the
 * client talks to (a follower), then of the leader; loss of quorum; and a client cut off by a
 * TCP proxy (latency, blackhole). Checks: no acknowledged write lost, watches continue with no
 * loss and no duplicates, typed errors in bounded time, recovery after restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTenureError } from '../../src/errors.js';
import { Mutex } from '../../src/recipes/coordination/mutex.js';
import { Session } from '../../src/recipes/coordination/session.js';
import { EtcdStore } from '../../src/store/etcd/index.js';
import type { WatchEvent } from '../../src/store/types.js';
import { codeOf, eventually, sleep } from '../helpers/async.js';
import { EtcdCluster, TcpProxy } from '../helpers/etcd-cluster.js';

let cluster: EtcdCluster;
beforeAll(async () => {
  cluster = await EtcdCluster.start();
});
afterAll(async () => {
  await cluster?.stop();
});

/** Endpoints ordered so that the store talks to member `first`. */
const startingAt = (first: number) =>
  cluster.endpoints.map((_, i) => cluster.endpoints[(first + i) % cluster.size]!);

/** Puts w/<n> = n in a loop, retrying on TENURE_UNAVAILABLE; records what was acknowledged. */
function writer(store: EtcdStore, prefix: string) {
  const acked = new Map<string, number>();
  let failures = 0;
  let stop = false;
  const done = (async () => {
    for (let i = 0; !stop; i++) {
      const key = `${prefix}${String(i).padStart(6, '0')}`;
      for (;;) {
        try {
          acked.set(key, await store.put(key, String(i)));
          break;
        } catch (err) {
          if (!isTenureError(err, 'TENURE_UNAVAILABLE')) throw err;
          failures += 1;
          if (stop) return;
          await sleep(20);
        }
      }
    }
  })();
  return {
    acked,
    failures: () => failures,
    stop: async () => {
      stop = true;
      await done;
    },
  };
}

/** Collects every event of a watch until stopped. */
function watcher(store: EtcdStore, prefix: string, fromRevision: number) {
  const ac = new AbortController();
  const events: WatchEvent[] = [];
  let error: unknown;
  const done = (async () => {
    try {
      for await (const batch of store.watch(prefix, { prefix: true, fromRevision, signal: ac.signal }))
        events.push(...batch.events);
    } catch (err) {
      if (!ac.signal.aborted) error = err;
    }
  })();
  return {
    events,
    stop: async () => {
      ac.abort();
      await done;
      if (error !== undefined) throw error;
    },
  };
}

async function waitForRevision(store: EtcdStore, events: WatchEvent[], revision: number, timeoutMs = 10_000) {
  const deadline = performance.now() + timeoutMs;
  while ((events.at(-1)?.kv.modRevision ?? 0) < revision) {
    if (performance.now() > deadline)
      throw new Error(`watch stuck at ${events.at(-1)?.kv.modRevision} < ${revision}`);
    await sleep(20);
  }
}

describe('etcd member failures', () => {
  it('SIGKILL the follower the client uses, then the leader: no acknowledged write lost, the watch goes on without loss or duplicates', async () => {
    const leader = await cluster.leader();
    const follower = (leader + 1) % cluster.size;
    const store = new EtcdStore({
      endpoints: startingAt(follower),
      requestTimeoutMs: 5000,
      watchProbeIntervalMs: 500,
    });
    try {
      const from = (await store.revision()) + 1;
      const watch = watcher(store, 'fail/', from);
      const work = writer(store, 'fail/');
      await sleep(700);
      await cluster.kill(follower, 'SIGKILL');
      await sleep(1500);
      const afterFollower = work.acked.size;
      await cluster.restart(follower);
      const currentLeader = await cluster.leader();
      await cluster.kill(currentLeader, 'SIGKILL');
      await sleep(3000);
      const afterLeader = work.acked.size;
      await cluster.restart(currentLeader);
      // A write proposed just as the leader died is lost inside etcd and answers only at its
      // deadline (etcd's own client behaves the same): progress resumes within requestTimeoutMs.
      await eventually(() => work.acked.size > afterLeader + 10, 10_000);
      await work.stop();
      // The workload made progress through both failures.
      expect(afterFollower).toBeGreaterThan(0);
      expect(work.acked.size).toBeGreaterThan(afterLeader);
      // No acknowledged write lost: every acked key is there, with its acked revision or later.
      const stored = new Map((await store.range('fail/')).kvs.map((kv) => [kv.key, kv]));
      for (const [key, rev] of work.acked) {
        const kv = stored.get(key);
        expect(kv, key).toBeDefined();
        expect(kv!.modRevision).toBeGreaterThanOrEqual(rev);
      }
      // The watch saw exactly the history: no loss, no duplicates, in order.
      const end = await store.revision();
      await waitForRevision(store, watch.events, Math.max(...work.acked.values()));
      await watch.stop();
      const revisions = watch.events.map((e) => e.kv.modRevision);
      expect(new Set(revisions).size).toBe(revisions.length);
      expect([...revisions].sort((a, b) => a - b)).toEqual(revisions);
      const replay = watcher(store, 'fail/', from);
      await waitForRevision(store, replay.events, Math.max(...revisions));
      await replay.stop();
      const key = (e: WatchEvent) => `${e.type} ${e.kv.key} ${e.kv.modRevision}`;
      expect(watch.events.map(key)).toEqual(
        replay.events.filter((e) => e.kv.modRevision <= revisions.at(-1)!).map(key),
      );
      for (const rev of work.acked.values()) expect(revisions).toContain(rev);
      expect(end).toBeGreaterThanOrEqual(revisions.at(-1)!);
    } finally {
      await store.close();
      await cluster.heal();
    }
  });

  it('SIGKILL two members: calls fail with TENURE_UNAVAILABLE in bounded time, never hang, a session aborts within its ttl; after restart they recover', async () => {
    const store = new EtcdStore({
      endpoints: cluster.endpoints,
      requestTimeoutMs: 1500,
      connectTimeoutMs: 300,
    });
    try {
      const lease = await store.grant(10_000);
      await store.put('quorum/a', '1');
      const session = await Session.create(store, { ttlMs: 3000 });
      let sessionLostAt = 0;
      session.signal.addEventListener('abort', () => (sessionLostAt = performance.now()));
      const leader = await cluster.leader();
      const victims = [leader, (leader + 1) % cluster.size];
      const killedAt = performance.now();
      for (const i of victims) await cluster.kill(i, 'SIGKILL');
      const calls: [string, () => Promise<unknown>][] = [
        ['put', () => store.put('quorum/b', '2')],
        ['get', () => store.get('quorum/a')],
        ['txn', () => store.txn({ compare: [{ key: 'quorum/a', target: 'version', op: '>', value: 0 }] })],
        ['keepAlive', () => store.keepAlive(lease.id)],
        ['grant', () => store.grant(5000)],
      ];
      for (const [name, call] of calls) {
        const t0 = performance.now();
        expect(await codeOf(call()), name).toBe('TENURE_UNAVAILABLE');
        expect(performance.now() - t0, name).toBeLessThan(1500 + 1000);
      }
      // The session could not renew its lease: it gave up on its side, within its ttl of the loss
      // (its last acknowledged keepalive was sent before the kill). The slack is for a late timer
      // on a loaded machine; a session that waited for failed keepalives would be far later.
      expect(session.status).toBe('expired');
      expect(sessionLostAt).toBeGreaterThan(0);
      expect(sessionLostAt - killedAt).toBeLessThanOrEqual(3000 + 500);
      for (const i of victims) await cluster.restart(i);
      let recovered = false;
      const t0 = performance.now();
      while (!recovered && performance.now() - t0 < 10_000) {
        recovered = await store.put('quorum/c', '3').then(
          () => true,
          () => false,
        );
      }
      expect(recovered).toBe(true);
      expect((await store.get('quorum/a'))?.version).toBe(1);
    } finally {
      await store.close();
      await cluster.heal();
    }
  });
});

describe('a client behind a TCP proxy', () => {
  let proxies: TcpProxy[] = [];
  beforeAll(async () => {
    proxies = await Promise.all(cluster.endpoints.map((e) => TcpProxy.start(e)));
  });
  afterAll(async () => {
    for (const p of proxies) await p.close();
  });

  it('works through added latency', async () => {
    const store = new EtcdStore({ endpoints: proxies.map((p) => p.address), requestTimeoutMs: 2000 });
    try {
      await store.put('proxy/warm', '1');
      for (const p of proxies) p.latencyMs = 40;
      const t0 = performance.now();
      await store.put('proxy/slow', '1');
      expect(performance.now() - t0).toBeGreaterThanOrEqual(80); // 40 ms each way
      expect((await store.get('proxy/slow'))?.version).toBe(1);
    } finally {
      for (const p of proxies) p.latencyMs = 0;
      await store.close();
    }
  });

  it('blackholed: lease keepalives and calls fail with TENURE_UNAVAILABLE in bounded time; the watch fails over or fails, never hangs', async () => {
    const timeout = 1000;
    const store = new EtcdStore({
      endpoints: proxies.map((p) => p.address),
      requestTimeoutMs: timeout,
      connectTimeoutMs: 200,
      watchProbeIntervalMs: 300,
    });
    const direct = new EtcdStore({ endpoints: cluster.endpoints });
    try {
      const lease = await store.grant(5000);
      expect(await store.keepAlive(lease.id)).toBe(5000);
      const it = store.watch('hole/', { prefix: true })[Symbol.asyncIterator]();
      const first = it.next();
      await sleep(100);
      for (const p of proxies) p.blackholed = true;
      let t0 = performance.now();
      expect(await codeOf(store.keepAlive(lease.id))).toBe('TENURE_UNAVAILABLE');
      expect(performance.now() - t0).toBeLessThan(timeout + 500);
      t0 = performance.now();
      expect(await codeOf(store.get('hole/x'))).toBe('TENURE_UNAVAILABLE');
      expect(performance.now() - t0).toBeLessThan(timeout + 500);
      // The cluster itself is fine: a write made directly must not be seen by the cut-off watch,
      // which must end with TENURE_UNAVAILABLE within probe interval + 2 × timeout.
      await direct.put('hole/x', '1');
      t0 = performance.now();
      expect(await codeOf(first)).toBe('TENURE_UNAVAILABLE');
      expect(performance.now() - t0).toBeLessThan(300 + 2 * timeout + 1000);
      // Healed: the same store works again and the lease (5 s) is still alive.
      for (const p of proxies) p.blackholed = false;
      expect(await store.keepAlive(lease.id)).toBe(5000);
      expect((await store.get('hole/x'))?.version).toBe(1);
    } finally {
      for (const p of proxies) p.blackholed = false;
      await store.close();
      await direct.close();
    }
  });
});

interface Hold {
  who: number;
  token: number;
  from: number;
  to: number;
}

/** The first pair of holds that overlap or whose tokens do not rise, or undefined. */
function turnViolation(holds: readonly Hold[]): string | undefined {
  const byToken = [...holds].sort((a, b) => a.token - b.token);
  for (let i = 1; i < byToken.length; i++) {
    const [prev, next] = [byToken[i - 1]!, byToken[i]!];
    if (next.token <= prev.token) return `token ${next.token} does not rise above ${prev.token}`;
    if (next.from < prev.to)
      return `holder ${next.who} (token ${next.token}) took the lock before ${prev.who} (token ${prev.token}) let go`;
  }
  return undefined;
}

describe('recipes through member failures and partitions', () => {
  it('negative control: the turn check catches a lock that does not exclude', async () => {
    const store = new EtcdStore({ endpoints: cluster.endpoints });
    try {
      const holds: Hold[] = [];
      // A "lock" that writes without comparing: both workers always get it.
      await Promise.all(
        [0, 1].map(async (who) => {
          for (let i = 0; i < 5; i++) {
            const res = await store.txn({
              success: [
                { type: 'put', key: 'faults-naive', value: String(who) },
                { type: 'get', key: 'faults-naive' },
              ],
            });
            const got = res.results[1];
            const from = performance.now();
            await sleep(15);
            holds.push({
              who,
              token: got?.type === 'get' ? got.kvs[0]!.modRevision : 0,
              from,
              to: performance.now(),
            });
          }
        }),
      );
      expect(turnViolation(holds)).toMatch(/took the lock before/);
    } finally {
      await store.close();
    }
  });

  it('SIGKILL the leader while two processes take turns on a Mutex: never two holders, fencing tokens rise', async () => {
    const stores = [0, 1].map((i) => new EtcdStore({ endpoints: startingAt(i), requestTimeoutMs: 5000 }));
    const holds: Hold[] = [];
    let stop = false;
    try {
      const workers = stores.map(async (store, who) => {
        // A session may expire while etcd elects a new leader (no keepalive is acknowledged
        // meanwhile): the worker then starts a new one, as an application would.
        let session = await Session.create(store, { ttlMs: 5000 });
        while (!stop) {
          if (session.status !== 'alive')
            session = await Session.create(store, { ttlMs: 5000 }).catch(() => session);
          let lock;
          try {
            lock = await new Mutex(session, 'faults-turns').lock({ timeoutMs: 8000 });
          } catch (err) {
            if (isTenureError(err) && (err.retryable || err.code === 'TENURE_SESSION_EXPIRED')) {
              await sleep(50);
              continue;
            }
            throw err;
          }
          const from = performance.now();
          let lostAt = Number.POSITIVE_INFINITY;
          lock.signal.addEventListener('abort', () => (lostAt = Math.min(lostAt, performance.now())));
          await sleep(15);
          // The hold ends at unlock, or when the lock said it was lost, whichever came first.
          holds.push({ who, token: lock.fencingToken, from, to: Math.min(lostAt, performance.now()) });
          await lock.unlock().catch(() => undefined);
        }
        await session.close().catch(() => undefined);
      });
      const all = Promise.all(workers);
      all.catch(() => undefined);
      await sleep(800);
      const leader = await cluster.leader();
      await cluster.kill(leader, 'SIGKILL');
      await sleep(3000);
      await cluster.restart(leader);
      await sleep(500);
      stop = true;
      await all;
      expect(holds.length).toBeGreaterThan(10);
      expect(new Set(holds.map((h) => h.who)).size).toBe(2);
      expect(turnViolation(holds)).toBeUndefined();
    } finally {
      stop = true;
      for (const s of stores) await s.close();
      await cluster.heal();
    }
  });

  it('a client cut off by a blackholed proxy loses its session on its side before the cluster hands its lock to another', async () => {
    const proxies = await Promise.all(cluster.endpoints.map((e) => TcpProxy.start(e)));
    const cut = new EtcdStore({
      endpoints: proxies.map((p) => p.address),
      requestTimeoutMs: 1000,
      connectTimeoutMs: 200,
    });
    const other = new EtcdStore({ endpoints: cluster.endpoints });
    try {
      const ttlMs = 2000;
      const sessionA = await Session.create(cut, { ttlMs });
      const sessionB = await Session.create(other, { ttlMs });
      const held = await new Mutex(sessionA, 'faults-partition').lock();
      let lostAt = 0;
      held.signal.addEventListener('abort', () => (lostAt = performance.now()));
      const waiting = new Mutex(sessionB, 'faults-partition').lock({ timeoutMs: 10_000 });
      await sleep(100);
      const cutAt = performance.now();
      for (const p of proxies) p.blackholed = true;
      const lockB = await waiting;
      const takenAt = performance.now();
      expect(lostAt).toBeGreaterThan(0);
      expect(lostAt).toBeLessThan(takenAt);
      // Safety is the line above; this one says it gave up within its ttl (slack for a late timer).
      expect(lostAt - cutAt).toBeLessThanOrEqual(ttlMs + 500);
      expect(takenAt - cutAt).toBeLessThan(ttlMs + other.capabilities.expiryBoundMs + 1000);
      expect(lockB.fencingToken).toBeGreaterThan(held.fencingToken);
      await lockB.unlock();
      await sessionB.close();
    } finally {
      for (const p of proxies) p.blackholed = false;
      await cut.close();
      await other.close();
      for (const p of proxies) await p.close();
    }
  });
});

describe('locks through a leader change (lost replies)', () => {
  it('SIGKILL the leader the clients talk to while they take locks: the writes in flight lose their replies, and no lock() rejects while time is left', async () => {
    const leader = await cluster.leader();
    const stores = [0, 1, 2, 3].map(
      () => new EtcdStore({ endpoints: startingAt(leader), requestTimeoutMs: 2000 }),
    );
    let stop = false;
    let lostReplies = 0;
    let inFlight = 0;
    const failures: unknown[] = [];
    try {
      const loops = stores.map(async (store, i) => {
        // Counts the enqueue writes in flight and those that failed (the recipes' only txn calls
        // in this loop).
        const txn = store.txn.bind(store);
        store.txn = async (req) => {
          inFlight++;
          try {
            return await txn(req);
          } catch (err) {
            if (isTenureError(err, 'TENURE_UNAVAILABLE')) lostReplies++;
            throw err;
          } finally {
            inFlight--;
          }
        };
        const session = await Session.create(store, { ttlMs: 6000 });
        const mutex = new Mutex(session, `faults-blip-${i}`);
        let last = 0;
        while (!stop) {
          try {
            const lock = await mutex.lock({ timeoutMs: 15_000 });
            expect(lock.fencingToken).toBeGreaterThan(last);
            last = lock.fencingToken;
            await lock.unlock();
          } catch (err) {
            failures.push(err);
            await sleep(50);
          }
        }
        const left = await store.range(`mutex/faults-blip-${i}/`);
        await session.close();
        return left.kvs.length;
      });
      const all = Promise.all(loops);
      all.catch(() => undefined);
      await sleep(800);
      // Kill the member the clients use while enqueue writes are in flight, so that their replies
      // are lost: first the leader, then (if no write was in flight after all) the member they
      // failed over to, the next in their list.
      for (let round = 0; round < 3 && lostReplies === 0; round++) {
        for (const t0 = performance.now(); inFlight < 2 && performance.now() - t0 < 2000;)
          await new Promise((r) => setImmediate(r));
        const victim = (leader + round) % cluster.size;
        await cluster.kill(victim, 'SIGKILL');
        await sleep(3000);
        await cluster.restart(victim);
        await sleep(500);
      }
      stop = true;
      expect(await all).toEqual([0, 0, 0, 0]); // no key left behind by a retried enqueue
      expect(failures.map((e) => (isTenureError(e) ? e.code : String(e)))).toEqual([]);
      // The fault did hit enqueue writes in flight (otherwise this test would prove nothing).
      expect(lostReplies).toBeGreaterThan(0);
    } finally {
      stop = true;
      for (const s of stores) await s.close();
      await cluster.heal();
    }
  });
});

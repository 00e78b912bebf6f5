/**
 * Faults while a fenced workload runs on Redis, each with a negative control:
 * - SIGKILL of the server and a restart that lost the tail of its AOF (what a power loss does to
 *   `appendfsync everysec`), and a restart with no persistence at all: no fencing token is handed
 *   out twice. Control: the data Redis recovered would hand out tokens already used, and redlock
 *   in the same restart grants one lock to two clients.
 * - CLIENT KILL of every client connection: watches deliver every revision exactly once.
 * - CLIENT PAUSE (a frozen server): calls fail typed in bounded time and sessions end on their
 *   side. Control: a client without deadlines (ioredis on its defaults) just waits.
 * - A client cut off by a TCP proxy: its session ends on its side, another process takes the
 *   lock with a higher token, and the fenced resource refuses the cut-off holder's late write.
 */
import { readdirSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import Redlock from 'redlock';
import { describe, expect, it } from 'vitest';
import { FencedCounter } from '../../examples/fenced-counter.js';
import { Mutex } from '../../src/recipes/coordination/mutex.js';
import { Session } from '../../src/recipes/coordination/session.js';
import { RedisStore } from '../../src/store/redis/index.js';
import type { WatchEvent } from '../../src/store/types.js';
import { codeOf, eventually, sleep } from '../helpers/async.js';
import { TcpProxy } from '../helpers/etcd-cluster.js';
import { startNode, type Child } from '../helpers/processes.js';
import { RedisServer } from '../helpers/redis-server.js';
import { tempDir } from '../helpers/tmp.js';

const worker = fileURLToPath(new URL('../fixtures/recipe-worker.mjs', import.meta.url));
type Event = { event: string; id: string; at: number; token?: number; accepted?: boolean; code?: string };
const events = (c: Child) => c.lines.map((l) => JSON.parse(l) as Event);
const writes = (procs: Child[]) => procs.flatMap(events).filter((e) => e.event === 'write');
const acquisitions = (procs: Child[]) => procs.flatMap(events).filter((e) => e.event === 'acquired');

/** A raw client that stays quiet about its reconnects once the server is gone. */
const quiet = (r: Redis) => r.on('error', () => undefined);

/** Cuts the last `fraction` of the AOF's newest incremental file, as a lost fsync window would. */
function loseAofTail(dir: string, fraction: number): void {
  const aofDir = join(dir, 'appendonlydir');
  const incr = readdirSync(aofDir)
    .filter((f) => f.endsWith('.incr.aof'))
    .sort()
    .pop()!;
  const path = join(aofDir, incr);
  truncateSync(path, Math.floor(statSync(path).size * (1 - fraction)));
}

describe('a Redis restart that lost writes', () => {
  async function restartUnderLoad(persistence: 'everysec' | 'none') {
    const server = await RedisServer.start({ persistence });
    const admin = quiet(new Redis({ port: server.port, maxRetriesPerRequest: 1 }));
    const t = tempDir();
    new FencedCounter(join(t.dir, 'counter.db')).close();
    const procs = [0, 1, 2].map((i) =>
      startNode(worker, [server.url, 'loop-forever', `w${i}`, '1000', join(t.dir, 'counter.db'), '1']),
    );
    try {
      await eventually(() => writes(procs).length >= 30, 20_000);
      // Freeze the workers so that the recovered data can be read before any of them touches it.
      for (const p of procs) p.proc.kill('SIGSTOP');
      await sleep(200); // let their output drain
      const before = acquisitions(procs);
      const maxBefore = Math.max(...before.map((e) => e.token!));
      const writesBefore = writes(procs).length;
      await server.kill();
      if (persistence === 'everysec') loseAofTail(server.dir, 0.3);
      await server.restart();
      const recovered = Number((await admin.hget('{tenure}:meta', 'rev')) ?? 0);
      for (const p of procs) p.proc.kill('SIGCONT');
      await eventually(() => writes(procs).length >= writesBefore + 20, 20_000);
      for (const p of procs) p.proc.kill('SIGKILL');
      const all = acquisitions(procs);
      const after = all.filter((e) => !before.includes(e));
      const counter = new FencedCounter(join(t.dir, 'counter.db'));
      const accepted = counter.writes().filter((w) => w.accepted);
      counter.close();
      return {
        maxBefore,
        recovered,
        epochs: Number(await admin.hget('{tenure}:meta', 'epochs')),
        tokens: all.map((e) => e.token!),
        after,
        acceptedAfter: writes(procs)
          .slice(writesBefore)
          .filter((e) => e.accepted).length,
        accepted,
      };
    } finally {
      for (const p of procs) p.proc.kill('SIGKILL');
      admin.disconnect();
      await server.stop();
      t.cleanup();
    }
  }

  function checkNoTokenTwice(r: Awaited<ReturnType<typeof restartUnderLoad>>) {
    // Control: what Redis recovered is behind tokens already handed out; without the epoch the
    // store would count on from there and hand them out again.
    expect(r.recovered).toBeLessThan(r.maxBefore);
    // Every acquisition got its own token, and those after the restart are above all before it.
    expect(r.after.length).toBeGreaterThan(0);
    expect(new Set(r.tokens).size).toBe(r.tokens.length);
    // (A worker frozen between taking the lock and printing it reports an older token later.)
    expect(r.after.filter((e) => e.token! > r.maxBefore).length).toBeGreaterThanOrEqual(10);
    // The fenced resource accepted no token twice (a double grant shows up as an equal token).
    const acceptedTokens = r.accepted.map((w) => w.token);
    expect(new Set(acceptedTokens).size).toBe(acceptedTokens.length);
    expect(r.acceptedAfter).toBeGreaterThan(0); // and the workload went on after the restart
  }

  it('SIGKILL, then a restart on an AOF (everysec) that lost its tail: no fencing token is handed out twice', async () => {
    const r = await restartUnderLoad('everysec');
    expect(r.epochs).toBe(2); // the restart was detected: a second epoch
    checkNoTokenTwice(r);
  });

  it('a restart with no persistence at all: no fencing token is handed out twice', async () => {
    const r = await restartUnderLoad('none');
    expect(r.recovered).toBe(0); // everything was lost, the epoch count too
    expect(r.epochs).toBe(1);
    checkNoTokenTwice(r);
  });

  it('a restart that lost nothing (appendfsync always) still starts an epoch: revisions jump past, a watch behind fails with TENURE_COMPACTED, sessions end', async () => {
    const server = await RedisServer.start({ persistence: 'always' });
    const store = new RedisStore({ port: server.port, requestTimeoutMs: 1000 });
    try {
      const r1 = await store.put('e/k', 'before');
      // Control: without a restart the next revision is the next integer.
      expect(await store.put('e/k', 'before')).toBe(r1 + 1);
      const session = await Session.create(store, { ttlMs: 1000 });
      const watched = (async () => {
        try {
          for await (const _batch of store.watch('e/', { prefix: true, fromRevision: r1 + 2 })) {
            // nothing is written under e/ before the restart
          }
          return 'ended';
        } catch (err) {
          return (err as { code: string }).code;
        }
      })();
      await sleep(100);
      await server.restart();
      const r2 = await eventually(async () => (await store.put('other', 'x').catch(() => 0)) > 0, 5000).then(
        () => store.revision(),
      );
      expect(r2).toBeGreaterThan(r1 + 1000);
      expect(r2).toBeGreaterThan((Date.now() - 60_000) * 1000); // at least the server's clock in µs
      expect(Buffer.from((await store.get('e/k'))!.value).toString()).toBe('before'); // nothing lost
      expect(await watched).toBe('TENURE_COMPACTED');
      await eventually(() => session.signal.aborted, 3000);
      expect((session.signal.reason as { code: string }).code).toBe('TENURE_SESSION_EXPIRED');
      await session.close();
    } finally {
      await store.close();
      await server.stop();
    }
  });

  it('negative control: redlock, in the same restart, grants one lock to two clients at once; tenure does not', async () => {
    const server = await RedisServer.start({ persistence: 'none' });
    const a = quiet(new Redis({ port: server.port, maxRetriesPerRequest: 1 }));
    const b = quiet(new Redis({ port: server.port, maxRetriesPerRequest: 1 }));
    const storeA = new RedisStore({ port: server.port, requestTimeoutMs: 1000 });
    const storeB = new RedisStore({ port: server.port, requestTimeoutMs: 1000 });
    try {
      // redlock 4 calls the client's eval with an argument array: ioredis accepts it, its types do not.
      const redlockA = new Redlock([a as unknown as Redlock.CompatibleRedisClient], { retryCount: 0 });
      const redlockB = new Redlock([b as unknown as Redlock.CompatibleRedisClient], { retryCount: 0 });
      const lockA = await redlockA.lock('resource', 10_000);
      const sessionA = await Session.create(storeA, { ttlMs: 2000 });
      const tenureA = await new Mutex(sessionA, 'resource').lock({ timeoutMs: 2000 });
      await server.restart();
      await eventually(async () => (await b.ping().catch(() => '')) === 'PONG', 5000);
      // Redlock: B gets the lock while A's is still valid for seconds; both would act.
      const lockB = await redlockB.lock('resource', 10_000);
      expect(lockA.expiration).toBeGreaterThan(Date.now() + 5000);
      expect(lockB.value).not.toBe(lockA.value);
      // tenure: A's session learns its lease is gone and aborts the lock's signal; B's token is
      // above A's, so a fenced resource refuses A from B's first write on.
      const sessionB = await Session.create(storeB, { ttlMs: 2000 });
      const tenureB = await new Mutex(sessionB, 'resource').lock({ timeoutMs: 5000 });
      expect(tenureB.fencingToken).toBeGreaterThan(tenureA.fencingToken);
      await eventually(() => tenureA.signal.aborted, 2000);
      await tenureB.close();
      await sessionB.close();
      await sessionA.close();
    } finally {
      a.disconnect();
      b.disconnect();
      await storeA.close();
      await storeB.close();
      await server.stop();
    }
  });
});

describe('connections and a frozen server', () => {
  it('CLIENT KILL of every connection: a watch from a revision delivers each revision from it exactly once, in order', async () => {
    const server = await RedisServer.start();
    const admin = quiet(new Redis({ port: server.port }));
    const watcher = new RedisStore({ port: server.port });
    const writer = new RedisStore({ port: server.port });
    const ac = new AbortController();
    try {
      const from = (await writer.revision()) + 1;
      const seen: WatchEvent[] = [];
      const done = (async () => {
        try {
          // From a revision read before the first write: a watch without one starts when its
          // start read reaches the server, which a reconnecting connection delays past writes
          // made meanwhile through another connection.
          for await (const batch of watcher.watch('k/', {
            prefix: true,
            fromRevision: from,
            signal: ac.signal,
          }))
            seen.push(...batch.events);
        } catch {
          // aborted at the end
        }
      })();
      let last = 0;
      for (let i = 0; i < 60; i++) {
        for (;;) {
          try {
            last = await writer.put(`k/${i % 7}`, String(i));
            break;
          } catch (err) {
            expect((err as { code: string }).code).toBe('TENURE_UNAVAILABLE'); // a killed connection
            // The put may have been applied before its reply was lost: a retry writes again,
            // which the watch must show as its own revision.
          }
        }
        if (i % 10 === 5) await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      }
      await eventually(() => seen.length > 0 && seen[seen.length - 1]!.kv.modRevision === last, 10_000);
      const revs = seen.map((e) => e.kv.modRevision);
      expect(revs[0]).toBe(from);
      expect(revs).toEqual(Array.from({ length: last - from + 1 }, (_, i) => from + i)); // each once
      ac.abort();
      await done;
    } finally {
      ac.abort();
      admin.disconnect();
      await watcher.close();
      await writer.close();
      await server.stop();
    }
  });

  it('CLIENT KILL while the first reads are in flight: the watches start anyway, each revision once, in order', async () => {
    const server = await RedisServer.start();
    const admin = quiet(new Redis({ port: server.port }));
    const watcher = new RedisStore({ port: server.port });
    const writer = new RedisStore({ port: server.port });
    const ac = new AbortController();
    try {
      await watcher.revision();
      const from = (await writer.revision()) + 1;
      // Scripts wait while the server is paused for writes; CLIENT KILL does not. So the start
      // read of the watch without a revision, and the first log read of the watch from one, are
      // at the server, unanswered, when their connection is killed.
      await admin.call('CLIENT', 'PAUSE', '10000', 'WRITE');
      const collect = (fromRevision: number | undefined) => {
        const seen: number[] = [];
        const done = (async () => {
          try {
            for await (const batch of watcher.watch('k/', { prefix: true, fromRevision, signal: ac.signal }))
              seen.push(...batch.events.map((e) => e.kv.modRevision));
          } catch (err) {
            return (err as { code?: string }).code;
          }
        })();
        return { seen, done };
      };
      const now = collect(undefined);
      const fromRev = collect(from);
      await sleep(200);
      await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      await admin.call('CLIENT', 'UNPAUSE');
      let last = 0;
      for (let i = 0; i < 30; i++) {
        last = await writer.put(`k/${i % 7}`, String(i));
        await sleep(10);
      }
      const through = (seen: number[]) => seen.length > 0 && seen[seen.length - 1] === last;
      await eventually(() => through(now.seen) && through(fromRev.seen), 10_000);
      // From the asked revision: all of them. Without one: a run of the latest, each once.
      expect(fromRev.seen).toEqual(Array.from({ length: last - from + 1 }, (_, i) => from + i));
      const first = now.seen[0]!;
      expect(first).toBeGreaterThanOrEqual(from);
      expect(now.seen).toEqual(Array.from({ length: last - first + 1 }, (_, i) => first + i));
      ac.abort();
      expect(await now.done).toBe('TENURE_ABORTED');
      expect(await fromRev.done).toBe('TENURE_ABORTED');
    } finally {
      ac.abort();
      await admin.call('CLIENT', 'UNPAUSE').catch(() => undefined);
      admin.disconnect();
      await watcher.close();
      await writer.close();
      await server.stop();
    }
  });

  it('CLIENT PAUSE: calls fail with TENURE_UNAVAILABLE within requestTimeoutMs and the session ends on its side', async () => {
    const server = await RedisServer.start();
    const admin = quiet(new Redis({ port: server.port }));
    const store = new RedisStore({ port: server.port, requestTimeoutMs: 500, connectTimeoutMs: 200 });
    try {
      const session = await Session.create(store, { ttlMs: 1000 });
      const lock = await new Mutex(session, 'paused').lock({ timeoutMs: 2000 });
      const plain = quiet(new Redis({ port: server.port }));
      await plain.ping();
      await admin.call('CLIENT', 'PAUSE', '4000', 'ALL');
      const t0 = performance.now();
      expect(await codeOf(store.put('x', 'y'))).toBe('TENURE_UNAVAILABLE');
      expect(performance.now() - t0).toBeLessThan(1000);
      await eventually(() => lock.signal.aborted, 2000);
      expect(performance.now() - t0).toBeLessThan(1000 + 1000);
      expect(session.status).toBe('expired');
      // Control: a client without a deadline (ioredis on its defaults) is still waiting.
      const pending = plain.set('x', 'y').then(() => 'answered');
      expect(await Promise.race([pending, sleep(1000).then(() => 'waiting')])).toBe('waiting');
      plain.disconnect();
      await admin.call('CLIENT', 'UNPAUSE');
      await session.close();
    } finally {
      admin.disconnect();
      await store.close();
      await server.stop();
    }
  });

  it('a client cut off by a TCP proxy: its session ends on its side, the next holder has a higher token, its late write is refused', async () => {
    const server = await RedisServer.start();
    const proxy = await TcpProxy.start(server.address);
    const t = tempDir();
    const counter = new FencedCounter(join(t.dir, 'counter.db'));
    const cut = new RedisStore({ port: proxy.port, requestTimeoutMs: 500, connectTimeoutMs: 200 });
    const other = new RedisStore({ port: server.port });
    try {
      const sessionA = await Session.create(cut, { ttlMs: 1000 });
      const lockA = await new Mutex(sessionA, 'cut').lock({ timeoutMs: 2000 });
      const value = counter.read();
      proxy.blackholed = true;
      const t0 = performance.now();
      expect(await codeOf(cut.put('x', 'y'))).toBe('TENURE_UNAVAILABLE');
      await eventually(() => lockA.signal.aborted, 2000);
      expect(performance.now() - t0).toBeLessThan(2000);
      const sessionB = await Session.create(other, { ttlMs: 1000 });
      const lockB = await new Mutex(sessionB, 'cut').lock({ timeoutMs: 5000 });
      expect(lockB.fencingToken).toBeGreaterThan(lockA.fencingToken);
      expect(counter.write(value + 1, lockB.fencingToken)).toBe(true);
      expect(counter.write(value + 1, lockA.fencingToken)).toBe(false); // the late write
      await lockB.close();
      await sessionB.close();
      await sessionA.close();
    } finally {
      counter.close();
      t.cleanup();
      await cut.close();
      await other.close();
      await proxy.close();
      await server.stop();
    }
  });
});

/**
 * What each call costs the server, counted by the server itself (pg_stat_statements): a put is
 * one statement, a lock + unlock on an existing session is two (one write each) and no change-log
 * read, a watch from the revision after this process's own write (a lock holder's follow of its
 * key) reads nothing when that write's notification arrives, and a release of a lock 100 waiters queue for costs one change-log read (the one
 * waiter it wakes). Each count has a control run that makes the extra statements it guards
 * against, and must count them.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Mutex } from '../../src/recipes/coordination/mutex.js';
import { Session } from '../../src/recipes/coordination/session.js';
import { PostgresStore } from '../../src/store/postgres/index.js';
import { PG_PASSWORD, PG_USER, PostgresServer } from '../helpers/postgres-server.js';

const started = PostgresServer.start({ settings: { shared_preload_libraries: 'pg_stat_statements' } });
started.catch(() => undefined);
afterAll(async () => {
  await (await started).stop();
});

/** The store's statements, as pg_stat_statements normalizes them. */
const TXN = '%.txn($1%';
const READ = '%.read($1%';
const CHANGES = '%.changes($1%';

async function fresh(prefix: string) {
  const server = await started;
  const database = await server.createDatabase(prefix);
  const store = await PostgresStore.open({
    port: server.port,
    user: PG_USER,
    password: PG_PASSWORD,
    database,
    // No timer-driven statements during a count (the reaper, the listener's probe).
    reapIntervalMs: 60_000,
    watchProbeIntervalMs: 600_000,
  });
  const count = async () => ({
    txn: await server.statementCalls(database, TXN),
    read: await server.statementCalls(database, READ),
    changes: await server.statementCalls(database, CHANGES),
  });
  return { server, database, store, count };
}

/**
 * Resolves once the store's listener has dispatched every notification up to a put made now:
 * notifications arrive in commit order, so a watch of a fresh key on the same store, woken by
 * this put's notification, sees it only after every earlier revision was dispatched. Costs one
 * put, one read (the revision) and one change-log read.
 */
async function drained(store: PostgresStore): Promise<void> {
  const key = `drain/${Math.random()}`;
  const from = (await store.revision()) + 1;
  const it = store.watch(key, { fromRevision: from })[Symbol.asyncIterator]();
  const first = it.next();
  await store.put(key, 'x');
  await first;
  await it.return?.();
}

const minus = (a: Record<string, number>, b: Record<string, number>) =>
  Object.fromEntries(Object.keys(a).map((k) => [k, a[k]! - b[k]!]));

describe('statements per call', () => {
  it('a put is one statement, a get one read', async () => {
    const { store, count } = await fresh('rt_put');
    try {
      await store.put('warm', 'x'); // the pool's first connection
      const before = await count();
      for (let i = 0; i < 10; i++) await store.put('k', String(i));
      for (let i = 0; i < 10; i++) await store.get('k');
      expect(minus(await count(), before)).toEqual({ txn: 10, read: 10, changes: 0 });
    } finally {
      await store.close();
    }
  });

  it('lock + unlock on an existing session: one write each, no read, no change-log read', async () => {
    const { store, count } = await fresh('rt_lock');
    const session = await Session.create(store, { ttlMs: 10_000 });
    try {
      const mutex = new Mutex(session, 'cycle');
      await (await mutex.lock()).unlock(); // the listener is up
      await drained(store);
      const before = await count();
      for (let i = 0; i < 20; i++) await (await mutex.lock()).unlock();
      await drained(store);
      expect(minus(await count(), before)).toEqual({ txn: 20 * 2 + 1, read: 1, changes: 1 }); // + drained
    } finally {
      await session.close();
      await store.close();
    }
  });

  /**
   * Counts what a watch of a key costs when the notification of this process's own write of it
   * arrives: started right after the write, from the next revision (what a lock holder's follow of
   * its key does), or, the control, from the write's own revision, which must read it.
   */
  async function watchAcrossOwnNotification(watchOwnWrite: boolean) {
    const { store, count } = await fresh('rt_hold');
    try {
      await store.put('warm', 'x'); // the pool's first connection
      await drained(store); // the listener is up
      const before = await count();
      const rev = await store.put('held', 'x');
      const ac = new AbortController();
      const watch = store.watch('held', { fromRevision: watchOwnWrite ? rev : rev + 1, signal: ac.signal });
      const it = watch[Symbol.asyncIterator]();
      const first = it.next();
      if (watchOwnWrite) expect((await first).done).toBe(false);
      await drained(store); // the write's notification has reached the watch
      const during = minus(await count(), before);
      ac.abort();
      await first.catch(() => undefined);
      return during;
    } finally {
      await store.close();
    }
  }

  it("a watch from the revision after this process's own write reads nothing when that write's notification arrives", async () => {
    expect(await watchAcrossOwnNotification(false)).toEqual({ txn: 2, read: 1, changes: 1 }); // put + drained
  });

  it('control: a watch that includes the write reads it, and the count shows that read', async () => {
    expect(await watchAcrossOwnNotification(true)).toEqual({ txn: 2, read: 1, changes: 2 });
  });
});

describe('a lock 100 waiters queue for', () => {
  /**
   * Hands the lock down a queue of 100 waiters (one session each) and returns the statements per
   * release. `extraWatches` prefix watches of the queue are opened first (the control: each is
   * woken by every release).
   */
  async function perRelease(extraWatches: number) {
    const { store, count } = await fresh('rt_queue');
    const waiters = 100;
    const holder = await Session.create(store, { ttlMs: 10_000 });
    const sessions = await Promise.all(
      Array.from({ length: waiters }, () => Session.create(store, { ttlMs: 10_000 })),
    );
    const ac = new AbortController();
    let watched: Promise<unknown>[] = [];
    try {
      const mutex = new Mutex(holder, 'queue');
      let current = await mutex.lock();
      watched = Array.from({ length: extraWatches }, async () => {
        for await (const batch of store.watch(mutex.prefix, { prefix: true, signal: ac.signal })) void batch;
      }).map((p) => p.catch(() => undefined));
      const taken: Promise<Awaited<ReturnType<Mutex['lock']>>>[] = [];
      for (const s of sessions) {
        taken.push(new Mutex(s, 'queue').lock());
        // Queued in order, one by one: each waiter reads the queue once as it enqueues.
        for (;;) {
          if ((await mutex.queue()).length === taken.length + 1) break;
          await new Promise((r) => setTimeout(r, 1));
        }
      }
      // Every waiter has made its first read and watches the key ahead of it.
      for (let last = -1; ;) {
        await new Promise((r) => setTimeout(r, 200));
        const n = (await count()).changes;
        if (n === last) break;
        last = n;
      }
      const before = await count();
      for (let i = 0; i < waiters; i++) {
        await current.unlock();
        current = await taken[i]!;
      }
      const after = await count();
      await current.unlock();
      const d = minus(after, before);
      // Per release: the release itself (one write) and what the woken waiter read.
      return { txn: d.txn! / waiters, read: d.read! / waiters, changes: d.changes! / waiters };
    } finally {
      ac.abort();
      await Promise.all(watched);
      for (const s of sessions) await s.close();
      await holder.close();
      await store.close();
    }
  }

  it('a release wakes one waiter: one change-log read and one read of the queue per release', async () => {
    const r = await perRelease(0);
    expect(r.txn).toBe(1);
    expect(r.changes).toBeGreaterThanOrEqual(1);
    expect(r.changes).toBeLessThanOrEqual(1.05); // a reconnect may wake every watch once
    expect(r.read).toBeLessThanOrEqual(1.05);
  });

  it('control: ten watches of the whole queue are woken by every release, and counted', async () => {
    const r = await perRelease(10);
    expect(r.changes).toBeGreaterThan(1.05 + 9);
  });
});

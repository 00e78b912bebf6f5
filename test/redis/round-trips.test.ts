/**
 * What each call costs on the wire, counted with MONITOR on a real redis-server: every store
 * call is one EVALSHA of the store script, so counting them by the script command they name
 * counts round trips. A regression to an extra read (the revision call a tail made to learn where
 * the log ends, a watch's first log read) fails here; the timings are in bench/redis.ts.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Mutex } from '../../src/recipes/coordination/mutex.js';
import { Session } from '../../src/recipes/coordination/session.js';
import { RedisStore } from '../../src/store/redis/index.js';
import type { WatchBatch } from '../../src/store/types.js';
import { eventually } from '../helpers/async.js';
import { RedisServer } from '../helpers/redis-server.js';

let server: RedisServer;
let admin: Redis;
beforeAll(async () => {
  server = await RedisServer.start();
  admin = new Redis({ port: server.port });
});
afterAll(async () => {
  admin?.disconnect();
  await server?.stop();
});

/**
 * Records the commands clients send (not those a script runs): `evalsha <script command>` for
 * store calls, the command name for the rest.
 */
async function record(): Promise<{ stop(): Promise<string[]> }> {
  const monitor = await new Redis({ port: server.port, lazyConnect: true }).monitor();
  const seen: string[] = [];
  // ioredis can report a MONITOR line as a "command queue state error"; it is kept as a line of
  // its own, so a count that lost a line fails rather than passing short.
  monitor.on('error', () => seen.push('lost'));
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (source.includes('lua')) return;
    const name = args[0]!.toLowerCase();
    // EVALSHA sha numkeys key1..key7 command ...
    seen.push(name === 'evalsha' ? `evalsha ${args[3 + Number(args[2])]}` : name);
  });
  // MONITOR is on once it has seen a command sent after it.
  const ready = `ready-${Math.random()}`;
  await eventually(async () => {
    await admin.echo(ready);
    return seen.includes('echo');
  }, 5000);
  seen.length = 0;
  return {
    async stop() {
      // Everything sent before this marker has been reported once the marker is.
      await admin.echo('end');
      await eventually(() => seen.includes('echo'), 5000);
      monitor.disconnect();
      return seen.slice(0, seen.indexOf('echo'));
    },
  };
}

const count = (calls: string[], what: string) => calls.filter((c) => c === what).length;

describe('round trips of the Redis backend', () => {
  it('an uncontended Mutex lock + unlock on a session is two script calls: no revision read, no log read', async () => {
    const store = new RedisStore({ port: server.port, keyPrefix: 'rt-mutex', reapIntervalMs: 250 });
    const session = await Session.create(store, { ttlMs: 30_000 });
    const mutex = new Mutex(session, 'cycle');
    try {
      for (let i = 0; i < 5; i++) await (await mutex.lock()).close(); // the script is loaded
      const rec = await record();
      const N = 20;
      for (let i = 0; i < N; i++) await (await mutex.lock()).close();
      const calls = await rec.stop();
      // The lock's txn and the unlock's txn; the holder's watch of its own key costs no call on
      // the store's connection (the change-log tail starts reading where the lock's txn left the
      // log, on its own connection).
      expect(count(calls, 'evalsha txn')).toBe(2 * N);
      expect(count(calls, 'evalsha revision')).toBe(0);
      expect(count(calls, 'evalsha log')).toBe(0);
      // Nothing else but the reaper's periodic look for expired leases.
      expect(calls.filter((c) => c.startsWith('evalsha') && !/txn|reap/.test(c))).toEqual([]);
      expect(calls).not.toContain('lost');
    } finally {
      await session.close();
      await store.close();
    }
  });

  it('a watch reads the log only when the running tail is ahead of its start (the control: the counter sees that read)', async () => {
    const store = new RedisStore({ port: server.port, keyPrefix: 'rt-watch', reapIntervalMs: 250 });
    const ac = new AbortController();
    try {
      const r0 = await store.put('k', '0');
      // A watch that keeps the tail running, from r0 on.
      const follower: number[] = [];
      const following = (async () => {
        for await (const b of store.watch('k', { fromRevision: r0 + 1, signal: ac.signal }))
          follower.push(...b.events.map((e) => e.kv.modRevision));
      })().catch(() => undefined);
      const r1 = await store.put('k', '1');
      await eventually(() => follower.includes(r1), 5000);

      // Behind or at the tail's position: the tail hands the watch what it needs, no read.
      let rec = await record();
      const atTail = store.watch('k', { fromRevision: r1 + 1 })[Symbol.asyncIterator]();
      const first = atTail.next();
      const r2 = await store.put('k', '2');
      expect(((await first).value as WatchBatch).events.map((e) => e.kv.modRevision)).toEqual([r2]);
      await atTail.return?.();
      let calls = await rec.stop();
      expect(count(calls, 'evalsha log')).toBe(0);
      expect(count(calls, 'evalsha revision')).toBe(0);

      // Ahead of the watch's start: the tail has handed out r1 and r2 already, so the watch
      // reads the log once, and gets both, once each, in order.
      await eventually(() => follower.includes(r2), 5000);
      rec = await record();
      const behind = store.watch('k', { fromRevision: r1 })[Symbol.asyncIterator]();
      const got: number[] = [];
      while (got.at(-1) !== r2)
        got.push(...((await behind.next()).value as WatchBatch).events.map((e) => e.kv.modRevision));
      await behind.return?.();
      calls = await rec.stop();
      expect(got).toEqual([r1, r2]);
      expect(count(calls, 'evalsha log')).toBe(1);
      ac.abort();
      await following;
    } finally {
      ac.abort();
      await store.close();
    }
  });

  it('a watch from a future revision does not move the tail past entries that other watches need', async () => {
    const store = new RedisStore({ port: server.port, keyPrefix: 'rt-future', reapIntervalMs: 250 });
    const ac = new AbortController();
    try {
      const r0 = await store.put('k', '0');
      // Starts the tail; it must still read from r0 on, not from r0 + 100.
      const future: number[] = [];
      const futureWatch = (async () => {
        for await (const b of store.watch('k', { fromRevision: r0 + 100, signal: ac.signal }))
          future.push(...b.events.map((e) => e.kv.modRevision));
      })().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 50));
      const now = store.watch('k', { fromRevision: r0 + 1, signal: ac.signal })[Symbol.asyncIterator]();
      const next = now.next();
      // The watch has started (and found nothing after r0) before the put.
      await new Promise((r) => setTimeout(r, 100));
      const r1 = await store.put('k', '1');
      const late = new Promise<'late'>((r) => setTimeout(() => r('late'), 3000));
      const batch = await Promise.race([next, late]);
      expect(batch).not.toBe('late');
      expect(
        ((batch as IteratorResult<WatchBatch>).value as WatchBatch).events.map((e) => e.kv.modRevision),
      ).toEqual([r1]);
      expect(future).toEqual([]);
      ac.abort();
      await futureWatch;
    } finally {
      ac.abort();
      await store.close();
    }
  });

  it('a watch passed over by changes to other keys keeps its place: after a tail restart it resumes, not TENURE_COMPACTED', async () => {
    // The tail hands a watch only what concerns it; the rest moves its cursor without waking it.
    // Retention of 4 revisions: a watch whose cursor stayed at its start would be compacted.
    const store = new RedisStore({
      port: server.port,
      keyPrefix: 'rt-quiet',
      reapIntervalMs: 250,
      retainRevisions: 4,
    });
    try {
      const r0 = await store.put('a', '0');
      const it = store.watch('a', { fromRevision: r0 + 1 })[Symbol.asyncIterator]();
      const first = it.next();
      let last = r0;
      for (let i = 0; i < 12; i++) last = await store.put('b', String(i));
      await new Promise((r) => setTimeout(r, 100)); // the tail has handed those over
      // Every connection of the store's tail is cut: the tail starts again and sends every watch
      // to the log, from its cursor.
      const list = String(await admin.client('LIST'));
      for (const line of list.split('\n').filter((l) => /cmd=xread/.test(l)))
        await admin.client('KILL', 'ID', /\bid=(\d+)/.exec(line)![1]!);
      await new Promise((r) => setTimeout(r, 200));
      const ra = await store.put('a', '1');
      expect(ra).toBe(last + 1);
      const batch = (await first).value as WatchBatch;
      expect(batch.events.map((e) => [e.kv.key, e.kv.modRevision])).toEqual([['a', ra]]);
      await it.return?.();
    } finally {
      await store.close();
    }
  });
});

/**
 * Semaphore waiters and readers read a bounded part of the queue (issue 10, section 4): a
 * semaphore waiter the `permits + 1` entries ahead of it, a reader the entries ahead of it up to
 * the nearest writer, once; neither reads the entries behind it, nor the whole queue on each
 * wake. Counted as entries returned by the store's reads, on the memory backend.
 */
import { describe, expect, it } from 'vitest';
import { RWLock } from '../../src/recipes/coordination/rwlock.js';
import { Semaphore } from '../../src/recipes/coordination/semaphore.js';
import { Session } from '../../src/recipes/coordination/session.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import type { Store, TxnResponse } from '../../src/store/types.js';
import { eventually } from '../helpers/async.js';

/** The store, seen through a proxy that counts the entries every read returns. */
function counting(s: Store): { store: Store; read: { entries: number } } {
  const read = { entries: 0 };
  const store: Store = new Proxy(s, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target) as unknown;
      if (typeof v !== 'function') return v;
      if (prop === 'txn')
        return async (...args: Parameters<Store['txn']>) => {
          const res: TxnResponse = await target.txn(...args);
          for (const r of res.results) if (r.type === 'get') read.entries += r.kvs.length;
          return res;
        };
      if (prop === 'range')
        return async (...args: Parameters<Store['range']>) => {
          const res = await target.range(...args);
          read.entries += res.kvs.length;
          return res;
        };
      return (v as (...a: unknown[]) => unknown).bind(target);
    },
  });
  return { store, read };
}

describe('bounded reads of semaphore and read-lock waiters', () => {
  it('1,000 semaphore waiters read O(permits) entries each to enqueue and to drain, and never more than permits hold', async () => {
    const s = new MemoryStore();
    const { store, read } = counting(s);
    const permits = 3;
    const holderSession = await Session.create(s, { ttlMs: 10_000 });
    const session = await Session.create(store, { ttlMs: 10_000 });
    const holders = await Promise.all(
      Array.from({ length: permits }, () => new Semaphore(holderSession, 'sem', permits).acquire()),
    );
    const semaphore = new Semaphore(session, 'sem', permits);
    const n = 1000;
    let holding = 0;
    let maxHolding = 0;
    let done = 0;
    const waits = Array.from({ length: n }, async () => {
      const permit = await semaphore.acquire();
      holding++;
      maxHolding = Math.max(maxHolding, holding);
      await new Promise((resolve) => setImmediate(resolve));
      holding--;
      done++;
      await permit.unlock();
    });
    await eventually(
      async () => (await new Semaphore(holderSession, 'sem', permits).queue()).length === n + permits,
      20_000,
    );
    // Enqueue: its own entry and the permits + 1 ahead. The whole queue instead: n²/2 = 500,000.
    expect(read.entries).toBeLessThanOrEqual((permits + 2) * n);
    read.entries = 0;
    for (const h of holders) await h.unlock();
    await Promise.all(waits);
    expect(done).toBe(n);
    expect(maxHolding).toBeLessThanOrEqual(permits);
    // Drain: each waiter reads the window ahead of it a few times (each wake, and the touch's
    // one-key read), never the queue behind it.
    expect(read.entries).toBeLessThanOrEqual(4 * (permits + 2) * n);
    await session.close();
    await holderSession.close();
  });

  it('a reader enqueued behind a long queue reads up to the nearest writer ahead, not the queue', async () => {
    const s = new MemoryStore();
    const { store, read } = counting(s);
    const other = await Session.create(s, { ttlMs: 10_000 });
    const session = await Session.create(store, { ttlMs: 10_000 });
    const rw = new RWLock(other, 'cfg');
    // A writer holds, and 500 writers wait behind it; then a reader queues.
    const first = await rw.writeLock();
    const writers = Array.from({ length: 500 }, async () => (await rw.writeLock()).unlock());
    await eventually(async () => (await rw.queue()).length === 501, 10_000);
    const reader = new RWLock(session, 'cfg').readLock();
    await eventually(async () => (await rw.queue()).length === 502, 10_000);
    // It found the writer just ahead in the window its enqueue read with its put.
    expect(read.entries).toBeLessThanOrEqual(40);
    await first.unlock();
    await Promise.all(writers);
    const lock = await reader;
    // It waited behind the writer just ahead, then the next, each time reading on from there:
    // every entry ahead read about once, not the whole queue (500 entries) on each of 500 wakes.
    expect(read.entries).toBeLessThanOrEqual(3 * 500);
    await lock.unlock();
    await session.close();
    await other.close();
  });

  it('readers behind a writer and a waiting reader hold on the writer’s release without reading the 500 writers queued behind them', async () => {
    const s = new MemoryStore();
    const { store, read } = counting(s);
    const other = await Session.create(s, { ttlMs: 10_000 });
    const session = await Session.create(store, { ttlMs: 10_000 });
    const rw = new RWLock(other, 'cfg');
    const writer = await rw.writeLock();
    const r0 = rw.readLock();
    await eventually(async () => (await rw.queue()).length === 2, 10_000);
    const readers = Array.from({ length: 10 }, () => new RWLock(session, 'cfg').readLock());
    await eventually(async () => (await rw.queue()).length === 12, 10_000);
    const later = Array.from({ length: 500 }, async () => (await rw.writeLock()).unlock());
    await eventually(async () => (await rw.queue()).length === 512, 10_000);
    read.entries = 0;
    await writer.unlock();
    const held = await Promise.all(readers);
    // Each reader knew every writer ahead of it (one) from its enqueue, and held on its delete.
    expect(read.entries).toBe(0);
    for (const r of [...held, await r0]) await r.unlock();
    await Promise.all(later);
    await session.close();
    await other.close();
  });
});

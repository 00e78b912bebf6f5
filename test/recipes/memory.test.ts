import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { Mutex } from '../../src/recipes/coordination/mutex.js';
import { Session } from '../../src/recipes/coordination/session.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import type { Store, TxnResponse } from '../../src/store/types.js';
import { eventually } from '../helpers/async.js';
import { recipeSuite } from './suite.js';

const store = new MemoryStore();
recipeSuite('memory', { open: async () => store, ttlMs: 1000 });

describe('many waiters on one lock, in bounded resources (issue 10)', () => {
  it('1,000 waiters on one session and one caller signal add one listener to each, and no warning', async () => {
    const s = new MemoryStore();
    const holderSession = await Session.create(s, { ttlMs: 10_000 });
    const session = await Session.create(s, { ttlMs: 10_000 });
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const holder = await new Mutex(holderSession, 'm').lock();
      const shutdown = new AbortController();
      const before = getEventListeners(session.signal, 'abort').length;
      const mutex = new Mutex(session, 'm');
      const n = 1000;
      let held = 0;
      const waits = Array.from({ length: n }, async () => {
        const lock = await mutex.lock({ signal: shutdown.signal });
        held++;
        await lock.unlock();
      });
      await eventually(async () => (await mutex.queue()).length === n + 1, 10_000);
      // One fan-out listener per signal, however many waits share it (it was one per wait).
      expect(getEventListeners(session.signal, 'abort').length - before).toBeLessThanOrEqual(1);
      expect(getEventListeners(shutdown.signal, 'abort').length).toBeLessThanOrEqual(1);
      await holder.unlock();
      await Promise.all(waits);
      expect(held).toBe(n);
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await session.close();
      await holderSession.close();
    }
  });

  it('a waiter reads O(1) entries of the queue, not the whole queue: 2,000 waiters read < 3 each', async () => {
    const s = new MemoryStore();
    let entriesRead = 0;
    const counting: Store = new Proxy(s, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target) as unknown;
        if (typeof v !== 'function') return v;
        if (prop === 'txn')
          return async (...args: Parameters<Store['txn']>) => {
            const res: TxnResponse = await target.txn(...args);
            for (const r of res.results) if (r.type === 'get') entriesRead += r.kvs.length;
            return res;
          };
        if (prop === 'range')
          return async (...args: Parameters<Store['range']>) => {
            const res = await target.range(...args);
            entriesRead += res.kvs.length;
            return res;
          };
        return (v as (...a: unknown[]) => unknown).bind(target);
      },
    });
    const holderSession = await Session.create(s, { ttlMs: 10_000 });
    const session = await Session.create(counting, { ttlMs: 10_000 });
    const holder = await new Mutex(holderSession, 'm').lock();
    const mutex = new Mutex(session, 'm');
    const n = 2000;
    let held = 0;
    const waits = Array.from({ length: n }, async () => {
      const lock = await mutex.lock();
      held++;
      await lock.unlock();
    });
    await eventually(async () => (await new Mutex(holderSession, 'm').queue()).length === n + 1, 20_000);
    // Enqueue: its own entry and the two ahead. Reading the whole queue instead is n²/2 = 2,000,000.
    expect(entriesRead).toBeLessThanOrEqual(3 * n);
    entriesRead = 0;
    await holder.unlock();
    await Promise.all(waits);
    expect(held).toBe(n);
    // Drain: each new holder reads its own key (and nothing ahead of it) once at most.
    expect(entriesRead).toBeLessThanOrEqual(3 * n);
    await session.close();
    await holderSession.close();
  });
});

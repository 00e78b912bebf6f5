import type { KeyValue, WatchBatch } from '../../src/store/types.js';
import { setMaxListeners } from 'node:events';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { selectKvs } from '../../src/store/base.js';
import { ManualClock } from '../../src/clock.js';
import { TenureError } from '../../src/errors.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import { codeOf } from '../helpers/async.js';
import { conformance } from './conformance.js';

const clock = new ManualClock();
conformance('memory', {
  open: async () => new MemoryStore({ clock }),
  advance: (ms) => clock.advance(ms),
  realTime: false,
  ttlMs: 1000,
  propertyRuns: 100,
});

describe('MemoryStore specifics', () => {
  it('a fault hook fails chosen operations and nothing else', async () => {
    const store = new MemoryStore({ clock: new ManualClock() });
    store.fault = (op) =>
      op === 'keepAlive' ? new TenureError('TENURE_UNAVAILABLE', 'injected') : undefined;
    const lease = await store.grant(1000);
    expect(await codeOf(store.keepAlive(lease.id))).toBe('TENURE_UNAVAILABLE');
    store.fault = undefined;
    expect(await store.keepAlive(lease.id)).toBe(1000);
  });

  it('keeps only retainRevisions of history', async () => {
    const store = new MemoryStore({ clock: new ManualClock(), retainRevisions: 10 });
    for (let i = 0; i < 30; i++) await store.put('k', String(i));
    expect(await codeOf(store.watch('k', { fromRevision: 5 })[Symbol.asyncIterator]().next())).toBe(
      'TENURE_COMPACTED',
    );
    const it2 = store.watch('k', { fromRevision: 25 })[Symbol.asyncIterator]();
    const batch = await it2.next();
    expect((batch.value as WatchBatch).events.map((e) => e.kv.modRevision)).toEqual([25, 26, 27, 28, 29, 30]);
  });
});

/** The selection a get by create revision means, written the obvious way (keys in key order in). */
function naiveSelect(
  kvs: readonly KeyValue[],
  o: {
    maxCreateRevision?: number;
    order?: 'key' | 'createRevision' | 'createRevisionDescending';
    limit: number;
  },
): { kvs: KeyValue[]; more: boolean } {
  const out = kvs.filter(
    (kv) => o.maxCreateRevision === undefined || kv.createRevision <= o.maxCreateRevision,
  );
  const asc = (a: KeyValue, b: KeyValue) =>
    a.createRevision - b.createRevision || Buffer.compare(Buffer.from(a.key), Buffer.from(b.key));
  if (o.order === 'createRevision') out.sort(asc);
  if (o.order === 'createRevisionDescending') out.sort((a, b) => asc(b, a));
  return { kvs: o.limit > 0 ? out.slice(0, o.limit) : out, more: o.limit > 0 && out.length > o.limit };
}

describe('MemoryStore with many watches and long queues (issue 10)', () => {
  /** Counts the change-log reads of a store's watches. */
  function countReads(store: MemoryStore): { reads: number } {
    const counter = { reads: 0 };
    const read = store.readChanges.bind(store);
    store.readChanges = (...args) => (counter.reads++, read(...args));
    return counter;
  }
  const settle = () => new Promise((resolve) => setImmediate(resolve));

  it('a change wakes only the watches it concerns: one log read for 1,000 watches on other keys', async () => {
    const store = new MemoryStore({ clock: new ManualClock() });
    const counter = countReads(store);
    const ac = new AbortController();
    setMaxListeners(2000, ac.signal); // this test's own signal, shared by its 1,002 watches
    const seen: string[] = [];
    const follow = async (key: string, prefix = false) => {
      for await (const batch of store.watch(key, { prefix, signal: ac.signal }))
        for (const e of batch.events) seen.push(`${key}${prefix ? '*' : ''} ${e.kv.key}`);
    };
    const watches = [
      ...Array.from({ length: 1000 }, (_, i) => follow(`q/${i}`)),
      follow('q/', true),
      follow('other/', true),
    ].map((p) => p.catch(() => undefined));
    await settle();
    // No first reads: each watch starts at the current revision, which the store had already
    // dispatched, and every later change wakes the watches it concerns (a first read per watch
    // before; test/store/watch-start.test.ts checks when one is still needed).
    expect(counter.reads).toBe(0);
    counter.reads = 0;
    await store.put('q/7', 'x');
    await store.delete('q/7');
    await settle();
    expect(seen).toEqual(['q/7 q/7', 'q/* q/7', 'q/7 q/7', 'q/* q/7']);
    // Before: every watch read the log on every commit (2,004 reads), so n waiters cost O(n²).
    expect(counter.reads).toBeLessThanOrEqual(4);
    ac.abort();
    await Promise.all(watches);
  });

  it('a quiet watch skips ahead and does not fall behind compaction while other keys change', async () => {
    const store = new MemoryStore({ clock: new ManualClock(), retainRevisions: 10 });
    const it = store.watch('quiet')[Symbol.asyncIterator]();
    const first = it.next();
    await settle();
    for (let i = 0; i < 50; i++) await store.put('busy', String(i));
    await store.put('quiet', 'now');
    const batch = (await first).value as WatchBatch;
    expect(batch.events.map((e) => [e.kv.key, e.kv.modRevision])).toEqual([['quiet', 51]]);
    await it.return?.();
  });

  it('selects by create revision (maxCreateRevision, order, limit) exactly as a full read would', async () => {
    const keys = ['a/1', 'a/2', 'a/b/1', 'a/b/2', 'a/', 'ab', 'b/1', 'a/b/'];
    const prefixes = ['a/', 'a/b/', 'a', 'b/', '', 'c/', 'a/1'];
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({ t: fc.constant('put' as const), key: fc.constantFrom(...keys) }),
            fc.record({ t: fc.constant('del' as const), key: fc.constantFrom(...keys) }),
            fc.record({
              t: fc.constant('two' as const),
              key: fc.constantFrom(...keys),
              other: fc.constantFrom(...keys),
            }),
          ),
          { maxLength: 40 },
        ),
        fc.array(
          fc.record({
            prefix: fc.constantFrom(...prefixes),
            max: fc.option(fc.integer({ min: 0, max: 45 }), { nil: undefined }),
            order: fc.constantFrom(
              'key' as const,
              'createRevision' as const,
              'createRevisionDescending' as const,
              undefined,
            ),
            limit: fc.integer({ min: 0, max: 20 }),
          }),
          { minLength: 1, maxLength: 8 },
        ),
        async (ops, queries) => {
          const store = new MemoryStore({ clock: new ManualClock() });
          for (const op of ops) {
            if (op.t === 'put') await store.put(op.key, 'v');
            else if (op.t === 'del') await store.delete(op.key);
            else if (op.key !== op.other)
              // Two keys created in one revision: ties are ordered by key.
              await store.txn({
                success: [
                  { type: 'put', key: op.other, value: 'w' },
                  { type: 'put', key: op.key, value: 'w' },
                ],
              });
          }
          for (const q of queries) {
            const options = { maxCreateRevision: q.max, order: q.order, limit: q.limit };
            const got = await store.range(q.prefix, options);
            const all = await store.range(q.prefix);
            const want = naiveSelect(all.kvs, options);
            expect(got.kvs.map((kv) => kv.key)).toEqual(want.kvs.map((kv) => kv.key));
            expect(got.more).toBe(want.more);
            // What backends without a create-revision index answer (StoreBase), from the same read.
            const emulated = selectKvs(all.kvs, { type: 'get', key: q.prefix, prefix: true, ...options });
            expect(emulated.kvs.map((kv) => kv.key)).toEqual(want.kvs.map((kv) => kv.key));
            expect(emulated.more).toBe(want.more);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('finds the entry ahead while a long queue drains from its head', async () => {
    const store = new MemoryStore({ clock: new ManualClock() });
    for (let i = 0; i < 3000; i++) await store.put(`q/${String(i).padStart(5, '0')}`, 'v');
    for (let i = 0; i < 2990; i++) {
      // Drain from the head, each time asking for the entry just ahead of the next one.
      await store.delete(`q/${String(i).padStart(5, '0')}`);
      const { kvs } = await store.range('q/', {
        order: 'createRevisionDescending',
        maxCreateRevision: i + 2,
        limit: 1,
      });
      expect(kvs.map((kv) => kv.key)).toEqual([`q/${String(i + 1).padStart(5, '0')}`]);
    }
    const first = await store.range('q/', { order: 'createRevision', limit: 1 });
    expect(first.kvs[0]?.key).toBe('q/02990');
    expect(first.more).toBe(true);
    expect((await store.range('none/', { order: 'createRevision' })).kvs).toEqual([]);
  });
});

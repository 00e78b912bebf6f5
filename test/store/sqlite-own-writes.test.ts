/**
 * How a SQLite store wakes its own watches after its own commit: it knows the keys it wrote, so it
 * wakes the watches of those keys without reading the change log back, provided nothing was
 * committed between its last notification and this write. When another connection committed in
 * between and that commit was not dispatched yet, it reads the log, so that commit's watchers are
 * woken too.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import type { WatchEvent } from '../../src/store/types.js';
import { eventually } from '../helpers/async.js';
import { tempDir } from '../helpers/tmp.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function open(path: string): SqliteStore {
  const store = new SqliteStore({ path });
  cleanups.push(() => store.close());
  return store;
}

/** Collects the events of a watch of `key` (with `prefix`, the keys under it) until the test ends. */
function collect(store: SqliteStore, key: string, prefix = false): WatchEvent[] {
  const events: WatchEvent[] = [];
  const ac = new AbortController();
  cleanups.unshift(() => ac.abort());
  void (async () => {
    try {
      for await (const batch of store.watch(key, { prefix, signal: ac.signal })) events.push(...batch.events);
    } catch {
      // aborted at the end of the test
    }
  })();
  return events;
}

describe('SqliteStore: its own commits wake its watches', () => {
  it('without reading the change log back', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const store = open(join(t.dir, 's.db'));
    const watched = collect(store, 'watched');
    await store.put('warm', 'up'); // the watch is registered by now
    const reads = vi.spyOn(store, 'readChanges');
    for (let i = 0; i < 50; i++) await store.put(`other/${i}`, 'v');
    expect(reads).not.toHaveBeenCalled();
    await store.put('watched', 'v');
    await eventually(() => watched.length > 0);
    expect(watched.map((e) => e.kv.key)).toEqual(['watched']);
  });

  it("reads the log when another connection's commit was not dispatched yet", async () => {
    const t = tempDir();
    const path = join(t.dir, 's.db');
    cleanups.push(t.cleanup);
    const a = open(path);
    const b = open(path);
    const seen = collect(a, 'x/', true);
    await a.put('warm', 'up');
    await b.put('warm', 'up');
    const reads = vi.spyOn(a, 'readChanges');
    // Mostly no event-loop turn between `b`'s commit and `a`'s (each store yields to the event
    // loop at most once every few milliseconds, before a write, and both just did): `a` has not
    // heard of `b`'s commit when it writes its own, so its own keys alone would not wake the watch
    // of `x/`. Twenty rounds, so that a turn taken now and then does not hide that.
    for (let i = 0; i < 20; i++) {
      await a.put('warm', 'again');
      await b.put(`x/${i}`, 'from b');
      await a.put('y', 'from a');
    }
    await eventually(() => seen.length >= 20);
    expect(seen.map((e) => e.kv.key)).toEqual(Array.from({ length: 20 }, (_, i) => `x/${i}`));
    expect(reads).toHaveBeenCalled();
  });
});

describe('SqliteStore: the write path reads each row once', () => {
  it('a put after a compare of its key keeps the create revision and counts the version the compare read', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const store = open(join(t.dir, 's.db'));
    await store.put('j', 'x');
    const first = await store.txn({
      compare: [{ key: 'k', target: 'createRevision', op: '=', value: 0 }],
      success: [
        { type: 'put', key: 'j', value: 'y' },
        { type: 'put', key: 'k', value: 'a' },
      ],
    });
    expect(first.succeeded).toBe(true);
    expect(await store.get('k')).toMatchObject({
      createRevision: first.revision,
      modRevision: first.revision,
      version: 1,
    });
    expect(await store.get('j')).toMatchObject({ modRevision: first.revision, version: 2 });
    const second = await store.txn({
      compare: [{ key: 'k', target: 'version', op: '=', value: 1 }],
      success: [{ type: 'put', key: 'k', value: 'b' }],
    });
    expect(second.succeeded).toBe(true);
    expect(await store.get('k')).toMatchObject({
      createRevision: first.revision,
      modRevision: second.revision,
      version: 2,
    });
  });

  it('a delete of a missing key takes no revision; of a present one, one', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const store = open(join(t.dir, 's.db'));
    const revision = await store.put('k', 'v');
    const missing = await store.txn({ success: [{ type: 'delete', key: 'nothing' }] });
    expect(missing).toMatchObject({ revision, results: [{ type: 'delete', deleted: 0 }] });
    const present = await store.txn({ success: [{ type: 'delete', key: 'k' }] });
    expect(present.revision).toBeGreaterThan(revision);
    expect(present.results).toEqual([{ type: 'delete', deleted: 1 }]);
    expect(await store.revision()).toBe(present.revision);
  });

  it('range reads with many different limits (prepared per limit, then bound) all return the right rows', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const store = open(join(t.dir, 's.db'));
    for (let i = 0; i < 40; i++) await store.put(`q/${String(i).padStart(2, '0')}`, 'v');
    for (let limit = 1; limit <= 40; limit++) {
      const byKey = await store.range('q/', { limit });
      expect(byKey.kvs.map((kv) => kv.key)).toEqual(
        Array.from({ length: limit }, (_, i) => `q/${String(i).padStart(2, '0')}`),
      );
      expect(byKey.more).toBe(limit < 40);
      const newest = await store.txn({
        success: [{ type: 'get', key: 'q/', prefix: true, order: 'createRevisionDescending', limit }],
      });
      const read = newest.results[0];
      expect(read?.type === 'get' ? read.kvs.map((kv) => kv.key) : []).toEqual(
        Array.from({ length: limit }, (_, i) => `q/${String(39 - i).padStart(2, '0')}`),
      );
    }
  });
});

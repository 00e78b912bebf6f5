/**
 * A watch on a change-log store (memory, SQLite) starts without reading the log when the store can
 * promise that nothing was dispatched past its start and every later change will wake it (a
 * lock's watch of its own key, just written). These tests count the log reads at a watch's start
 * and check that the promise is kept only when it holds: a commit by another connection after
 * this process's last write must still reach a watch started from before it.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/store/memory/index.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import type { Store, WatchEvent } from '../../src/store/types.js';
import { eventually, sleep } from '../helpers/async.js';
import { tempDir } from '../helpers/tmp.js';

/** Counts the store's own reads of its change log (ChangeLog.readChanges, called on the instance). */
function countReads(store: Store): { reads: number } {
  const counter = { reads: 0 };
  const target = store as unknown as { readChanges: (...a: unknown[]) => unknown };
  const read = target.readChanges.bind(store);
  target.readChanges = (...a: unknown[]) => {
    counter.reads++;
    return read(...a);
  };
  return counter;
}

function collect(store: Store, key: string, fromRevision: number, signal: AbortSignal): WatchEvent[] {
  const events: WatchEvent[] = [];
  void (async () => {
    for await (const batch of store.watch(key, { fromRevision, signal })) events.push(...batch.events);
  })().catch(() => undefined);
  return events;
}

describe.each([
  ['memory', () => ({ store: new MemoryStore() as Store, cleanup: () => undefined })],
  [
    'sqlite',
    () => {
      const t = tempDir();
      return { store: new SqliteStore({ path: join(t.dir, 's.db') }) as Store, cleanup: t.cleanup };
    },
  ],
])('watch start on %s', (_name, open) => {
  it('a watch from just after this process wrote reads nothing at its start, and then delivers', async () => {
    const { store, cleanup } = open();
    const ac = new AbortController();
    try {
      const revision = await store.put('k', 'a');
      const counter = countReads(store);
      const events = collect(store, 'k', revision + 1, ac.signal);
      await sleep(20);
      expect(counter.reads).toBe(0);
      await store.put('k', 'b');
      await eventually(() => events.length === 1, 2000);
      expect(String(events[0]!.kv.value)).toBe('b');
    } finally {
      ac.abort();
      await store.close();
      cleanup();
    }
  });

  it('a watch from before the last write reads the log at its start and delivers that write', async () => {
    const { store, cleanup } = open();
    const ac = new AbortController();
    try {
      const revision = await store.put('k', 'a');
      await store.put('k', 'b');
      const counter = countReads(store);
      const events = collect(store, 'k', revision, ac.signal);
      await eventually(() => events.length === 2, 2000);
      expect(counter.reads).toBeGreaterThan(0);
      expect(events.map((e) => String(e.kv.value))).toEqual(['a', 'b']);
    } finally {
      ac.abort();
      await store.close();
      cleanup();
    }
  });
});

describe('watch start on SQLite with another connection', () => {
  it("another connection's commit after this process's last write reaches a watch started from before it, though this process's notifier already saw it", async () => {
    const t = tempDir();
    const path = join(t.dir, 's.db');
    const mine = new SqliteStore({ path });
    const other = new SqliteStore({ path });
    const ac = new AbortController();
    try {
      // A first watch starts the WAL file's notifications, then ends: none is left waiting.
      const first = new AbortController();
      collect(mine, 'warm-up', 1, first.signal);
      await sleep(20);
      first.abort();
      await sleep(20);
      const revision = await mine.put('k', 'mine');
      await other.put('k', 'other'); // the next revision, by another connection
      // This process hears of that commit (the WAL file changed) while nothing watches: it
      // dispatches it to nobody. Its own last write is no longer the current revision.
      await sleep(300);
      const events = collect(mine, 'k', revision + 1, ac.signal);
      await eventually(() => events.length === 1, 3000);
      expect(String(events[0]!.kv.value)).toBe('other');
    } finally {
      ac.abort();
      await other.close();
      await mine.close();
      t.cleanup();
    }
  });
});

import Database from 'better-sqlite3';
import { join } from 'node:path';
import type { WatchBatch } from '../../src/store/types.js';
import { describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { sleep } from '../helpers/async.js';
import { tempDir } from '../helpers/tmp.js';
import { conformance } from './conformance.js';

const tmp = tempDir();
let n = 0;
conformance('sqlite', {
  open: async () => new SqliteStore({ path: join(tmp.dir, `conf-${++n}.db`) }),
  advance: (ms) => sleep(ms),
  realTime: true,
  ttlMs: 500,
  propertyRuns: 40,
  cleanup: async () => tmp.cleanup(),
});

describe('SqliteStore specifics', () => {
  it('a wall-clock step neither expires leases early nor keeps them alive', async () => {
    const t = tempDir();
    const store = new SqliteStore({ path: join(t.dir, 's.db') });
    try {
      const lease = await store.grant(400);
      await store.put('k', 'v', { lease: lease.id });
      const realNow = Date.now;
      try {
        Date.now = () => realNow() + 3_600_000; // an hour forward
        await sleep(50);
        expect(await store.get('k')).toBeDefined();
        Date.now = () => realNow() - 3_600_000; // an hour back
        await sleep(600);
        expect(await store.get('k')).toBeUndefined();
      } finally {
        Date.now = realNow;
      }
    } finally {
      await store.close();
      t.cleanup();
    }
  });

  it('leases granted before a reboot are dead after it (boot id changed)', async () => {
    const t = tempDir();
    const path = join(t.dir, 'boot.db');
    const store = new SqliteStore({ path });
    const lease = await store.grant(3_600_000);
    await store.put('leased', 'v', { lease: lease.id });
    await store.put('plain', 'v');
    await store.close();
    // Pretend the file was last opened under another boot.
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(path);
    db.prepare("UPDATE state SET boot_id = 'a-previous-boot'").run();
    db.close();
    const reopened = new SqliteStore({ path });
    try {
      expect(await reopened.get('leased')).toBeUndefined();
      expect(await reopened.get('plain')).toBeDefined();
      expect(await reopened.timeToLive(lease.id)).toBeUndefined();
    } finally {
      await reopened.close();
      t.cleanup();
    }
  });

  it('two stores on one file see each other’s writes and watch events', async () => {
    const t = tempDir();
    const path = join(t.dir, 'shared.db');
    const a = new SqliteStore({ path });
    const b = new SqliteStore({ path });
    try {
      const it = b.watch('x/', { prefix: true })[Symbol.asyncIterator]();
      const next = it.next();
      const rev = await a.put('x/1', 'from a');
      const batch = await next;
      expect((batch.value as WatchBatch).events.map((e) => [e.kv.key, e.kv.modRevision])).toEqual([
        ['x/1', rev],
      ]);
      expect(Buffer.from((await b.get('x/1'))!.value).toString()).toBe('from a');
      await it.return?.();
    } finally {
      await a.close();
      await b.close();
      t.cleanup();
    }
  });

  it('a watcher catches up across a large gap in revision numbers in a few reads', async () => {
    // Revisions skip (a process's first write jumps past the reserved block, a recreated file
    // starts high): a watch read is a window of revisions that have events, not of numbers.
    const t = tempDir();
    const path = join(t.dir, 'gap.db');
    const store = new SqliteStore({ path });
    try {
      let reads = 0;
      const readChanges = store.readChanges.bind(store);
      store.readChanges = (...args) => {
        reads++;
        return readChanges(...args);
      };
      const it = store.watch('x/', { prefix: true })[Symbol.asyncIterator]();
      const next = it.next();
      const raw = new Database(path);
      // Ten million numbers: ten thousand reads of a thousand numbers each without the fix.
      raw.prepare('UPDATE state SET revision = revision + ? WHERE id = 0').run(1e7);
      raw.close();
      const rev = await store.put('x/1', 'after the gap');
      const batch = (await next).value as WatchBatch;
      expect(batch.events.map((e) => [e.kv.key, e.kv.modRevision])).toEqual([['x/1', rev]]);
      expect(reads).toBeLessThanOrEqual(5);
      await it.return?.();
    } finally {
      await store.close();
      t.cleanup();
    }
  });

  it('a path that cannot be created is an error at once, not a hang', () => {
    for (const path of ['/proc/tenure/x.db', '/dev/null/x.db'])
      expect(() => new SqliteStore({ path, createFolder: true })).toThrow(
        expect.objectContaining({ code: 'TENURE_STORE_UNUSABLE', retryable: false }),
      );
  });

  it('creates missing folders when asked to (createFolder)', async () => {
    const t = tempDir();
    const store = new SqliteStore({ path: join(t.dir, 'a', 'b', 'c.db'), createFolder: true });
    await store.put('k', 'v');
    await store.close();
    t.cleanup();
  });

  it('rejects bad options naming the option', () => {
    expect(() => new SqliteStore({ path: '' })).toThrow(/options.path/);
    expect(() => new SqliteStore({ path: 'x.db', pollIntervalMs: 0 })).toThrow(/options.pollIntervalMs/);
    expect(() => new SqliteStore({ path: 'x.db', synchronous: 'off' as 'full' })).toThrow(
      /options.synchronous/,
    );
  });
});

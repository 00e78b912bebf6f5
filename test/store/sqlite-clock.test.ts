/**
 * The SQLite store's own timers and pauses run on its `clock` option; its leases do not.
 *
 * Leases expire on the host's monotonic clock (host-clock.ts), which every process of the host
 * reads alike: a lease granted by one process must expire for all of them at the same moment, so
 * no process may substitute its own clock for it. What a ManualClock drives is this process's
 * part: when its reaper looks for expired leases, and how long it pauses between busy retries.
 * Each test lets real time pass and checks that nothing happened, then advances the clock: a
 * global timer that crept back would act in real time, and the "not before" half fails.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import type { WatchEvent } from '../../src/store/types.js';
import { codeOf, eventually, sleep } from '../helpers/async.js';
import { tempDir } from '../helpers/tmp.js';

describe('SqliteStore on an injected clock', () => {
  it("the reaper deletes an expired lease's keys when its clock is advanced, not on real time", async () => {
    const t = tempDir();
    const clock = new ManualClock();
    const store = new SqliteStore({ path: join(t.dir, 's.db'), clock, reapIntervalMs: 100 });
    const ac = new AbortController();
    try {
      expect(clock.pending).toBe(1); // the reaper's ticker is a timer on the store's clock
      const lease = await store.grant(500);
      await store.put('k', 'v', { lease: lease.id });
      // A watch only reads the change log: it reaps nothing itself.
      const events: WatchEvent[] = [];
      const watching = (async () => {
        for await (const batch of store.watch('k', { signal: ac.signal })) events.push(...batch.events);
      })().catch(() => undefined);
      // Well past the ttl and several reap intervals of real time: nobody reaped.
      await sleep(900);
      expect(events).toEqual([]);
      await clock.advance(100); // one reaper tick
      await eventually(() => events.length === 1, 2000);
      expect(events[0]).toMatchObject({ type: 'delete', kv: { key: 'k' } });
      ac.abort();
      await watching;
      await store.close();
      expect(clock.pending).toBe(0); // close stopped the ticker
    } finally {
      ac.abort();
      await store.close();
      t.cleanup();
    }
  });

  it('a write that finds the file busy pauses between retries on its clock, and counts busyTimeoutMs on it', async () => {
    const t = tempDir();
    const path = join(t.dir, 's.db');
    const clock = new ManualClock();
    const store = new SqliteStore({ path, clock, busyTimeoutMs: 200 });
    const raw = new Database(path, { timeout: 0 });
    try {
      // Another connection holds the write lock.
      raw.prepare('BEGIN IMMEDIATE').run();
      let settled = false;
      const first = store.put('a', '1').finally(() => (settled = true));
      first.catch(() => undefined);
      await sleep(50);
      raw.prepare('COMMIT').run(); // the lock is free again
      await sleep(300); // more than busyTimeoutMs of real time, and many 1 ms pauses
      expect(settled).toBe(false); // still in its first pause: 1 ms of its clock
      await clock.advance(1);
      await first;
      expect(Buffer.from((await store.get('a'))!.value).toString()).toBe('1');

      // busyTimeoutMs is counted on the clock too: real time alone never times a write out.
      raw.prepare('BEGIN IMMEDIATE').run();
      let failed = false;
      const second = store.put('b', '2');
      second.catch(() => (failed = true));
      await sleep(300);
      expect(failed).toBe(false);
      await clock.advance(1); // a retry, after more than busyTimeoutMs of real time: not timed out
      expect(failed).toBe(false);
      await clock.advance(250);
      expect(await codeOf(second)).toBe('TENURE_UNAVAILABLE');
      raw.prepare('ROLLBACK').run();
    } finally {
      raw.close();
      await store.close();
      t.cleanup();
    }
  });

  it('refuses a clock that is not one, naming options.clock', () => {
    const t = tempDir();
    try {
      expect(
        () => new SqliteStore({ path: join(t.dir, 's.db'), clock: {} as unknown as ManualClock }),
      ).toThrow(/options\.clock/);
    } finally {
      t.cleanup();
    }
  });
});

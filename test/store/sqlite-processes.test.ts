/**
 * SQLite shared by real OS processes: concurrent writers and watchers on one file, and writers
 * killed with SIGKILL in the middle of a stream of writes.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { Session } from '../../src/recipes/coordination/session.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { codeOf, sleep } from '../helpers/async.js';
import { startNode } from '../helpers/processes.js';
import { tempDir } from '../helpers/tmp.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

describe('SQLite across processes', () => {
  it('three writer processes and two watcher processes: no lost update, every event exactly once, in order', async () => {
    const t = tempDir();
    const path = join(t.dir, 'multi.db');
    new SqliteStore({ path }).close();
    const watchers = [0, 1].map(() => startNode(fixture('store-watcher.mjs'), [path]));
    await Promise.all(watchers.map((w) => w.waitFor((l) => l === 'ready')));
    const perWriter = 150;
    const writers = [0, 1, 2].map((i) =>
      startNode(fixture('store-writer.mjs'), [path, String(i), String(perWriter)]),
    );
    const codes = await Promise.all(writers.map((w) => w.exited));
    expect(codes).toEqual([0, 0, 0]);
    const store = new SqliteStore({ path });
    const doneRev = await store.put('done', '1');
    await Promise.all(watchers.map((w) => w.exited));
    expect(Buffer.from((await store.get('counter'))!.value).toString()).toBe(String(3 * perWriter));
    // Every write exactly once per watcher, in strictly increasing revisions (each write here
    // changes one key; a process's first write skips the revisions reserved before it).
    const writes = 3 * perWriter * 2 + 1; // a put and a counter increment per step, then 'done'
    for (const w of watchers) {
      const events = w.lines
        .filter((l) => l.startsWith('['))
        .map((l) => JSON.parse(l) as [string, string, number]);
      expect(events).toHaveLength(writes);
      for (let i = 1; i < events.length; i++) expect(events[i]![2]).toBeGreaterThan(events[i - 1]![2]);
      expect(events.at(-1)![2]).toBe(doneRev);
      const puts = new Set(events.filter((e) => e[1].startsWith('w/')).map((e) => e[1]));
      expect(puts.size).toBe(3 * perWriter);
    }
    await store.close();
    t.cleanup();
  });

  it('a writer killed with SIGKILL mid-stream loses no acknowledged write and leaves the file usable', async () => {
    const t = tempDir();
    const path = join(t.dir, 'crash.db');
    for (let round = 0; round < 3; round++) {
      const writer = startNode(fixture('store-writer.mjs'), [path, `r${round}`, '0']);
      await writer.waitFor((l) => l.startsWith('20 '));
      await sleep(30 + 40 * round);
      writer.proc.kill('SIGKILL');
      expect(await writer.exited).toBe('SIGKILL');
      const acked = writer.lines.map((l) => Number(l.split(' ')[0]));
      const db = new Database(path, { readonly: true });
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      db.close();
      const store = new SqliteStore({ path });
      for (const i of acked) expect(await store.get(`w/r${round}/${i}`)).toBeDefined();
      // The file stays writable, and the revision keeps counting up.
      const rev = await store.revision();
      expect(await store.put('after-crash', String(round))).toBeGreaterThan(rev);
      expect(await store.put('after-crash', String(round))).toBe(await store.revision());
      await store.close();
    }
    t.cleanup();
  });

  describe('a process stopped (SIGSTOP) inside a write transaction holds the file lock', () => {
    /** The longest the event loop went without running a 5 ms interval while `during` ran. */
    async function longestStall(during: () => Promise<unknown>): Promise<number> {
      let last = performance.now();
      let longest = 0;
      const timer = setInterval(() => {
        const now = performance.now();
        longest = Math.max(longest, now - last);
        last = now;
      }, 5);
      try {
        await during();
        await sleep(20);
      } finally {
        clearInterval(timer);
      }
      return longest;
    }

    it('other processes keep their event loops running: sessions abort on time, writes wait, then succeed', async () => {
      const t = tempDir();
      const path = join(t.dir, 'stopped.db');
      const store = new SqliteStore({ path });
      const short = new SqliteStore({ path, busyTimeoutMs: 300 });
      const frozen = startNode(fixture('sqlite-stop-in-txn.mjs'), [path]);
      try {
        const session = await Session.create(store, { ttlMs: 1000 });
        let lostAt = 0;
        session.signal.addEventListener('abort', () => (lostAt = performance.now()));
        await frozen.waitFor((l) => l === 'locked');
        const lockedAt = performance.now();
        let put: Promise<number> | undefined;
        const stall = await longestStall(async () => {
          put = store.put('after', '1');
          put.catch(() => undefined);
          // A store with a short busy timeout fails in bounded time with a retryable error.
          const t0 = performance.now();
          expect(await codeOf(short.put('short', '1'))).toBe('TENURE_UNAVAILABLE');
          expect(performance.now() - t0).toBeLessThan(300 + 200);
          await sleep(1500);
        });
        // The session could not renew its lease; its abort fired on time, not when the lock freed.
        expect(session.status).toBe('expired');
        expect(lostAt - lockedAt).toBeLessThan(1000 + 200);
        expect(stall).toBeLessThan(250);
        frozen.proc.kill('SIGCONT');
        expect(await frozen.exited).toBe(0);
        expect(await put).toBeGreaterThan(0);
        expect((await store.get('after'))?.version).toBe(1);
      } finally {
        frozen.proc.kill('SIGCONT');
        frozen.proc.kill('SIGKILL');
        await short.close();
        await store.close();
        t.cleanup();
      }
    });

    it('negative control: a plain better-sqlite3 write waiting on the same lock stalls its event loop', async () => {
      const t = tempDir();
      const path = join(t.dir, 'stopped-raw.db');
      new Database(path).pragma('journal_mode = WAL');
      const frozen = startNode(fixture('sqlite-stop-in-txn.mjs'), [path]);
      try {
        await frozen.waitFor((l) => l === 'locked');
        const raw = new Database(path, { timeout: 1000 });
        const stall = await longestStall(async () => {
          await sleep(20);
          expect(() => raw.prepare('BEGIN IMMEDIATE').run()).toThrow(/locked/);
        });
        raw.close();
        expect(stall).toBeGreaterThan(900);
      } finally {
        frozen.proc.kill('SIGCONT');
        frozen.proc.kill('SIGKILL');
        t.cleanup();
      }
    });
  });
});

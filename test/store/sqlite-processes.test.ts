/**
 * SQLite shared by real OS processes: concurrent writers and watchers on one file, and writers
 * killed with SIGKILL in the middle of a stream of writes.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { sleep } from '../helpers/async.js';
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
    // Every revision 1..doneRev exactly once per watcher (each write here changes one key).
    for (const w of watchers) {
      const events = w.lines
        .filter((l) => l.startsWith('['))
        .map((l) => JSON.parse(l) as [string, string, number]);
      expect(events.map((e) => e[2])).toEqual(Array.from({ length: doneRev }, (_, i) => i + 1));
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
      // The file stays writable, and the revision keeps counting up by one.
      const rev = await store.revision();
      expect(await store.put('after-crash', String(round))).toBe(rev + 1);
      await store.close();
    }
    t.cleanup();
  });
});

/**
 * A SQLite file swapped underneath running holders (issue 10 §2): deleted, replaced by an older
 * copy, restored in place, truncated. Real processes: holder A takes a lock, the file is swapped,
 * holder B takes the same lock on whatever file is now at the path. B's fencing token must be
 * above A's (a recreated or restored file cannot reissue a token), and A must lose its lock
 * within its ttl (its file is no longer the store). Needs `npm run build` (the fixture runs dist/).
 */
import { copyFileSync, readdirSync, renameSync, rmSync, truncateSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { startNode, type Child } from '../helpers/processes.js';
import { tempDir } from '../helpers/tmp.js';

const holder = fileURLToPath(new URL('../fixtures/sqlite-holder.mjs', import.meta.url));
const TTL_MS = 1000;

const rmWalShm = (path: string) => {
  rmSync(`${path}-wal`, { force: true });
  rmSync(`${path}-shm`, { force: true });
};

/** Each way a file gets swapped; `backup` is a copy of the store taken before A took the lock. */
const swaps: Record<string, (path: string, backup: string) => void> = {
  'deleted with its -wal and -shm': (path) => {
    rmSync(path);
    rmWalShm(path);
  },
  'deleted with every file next to it (rm store.db*)': (path) => {
    for (const f of readdirSync(dirname(path)))
      if (f.startsWith(basename(path))) rmSync(join(dirname(path), f), { force: true });
  },
  'replaced by an older copy (renamed over it)': (path, backup) => {
    copyFileSync(backup, `${path}.new`);
    renameSync(`${path}.new`, path);
    rmWalShm(path);
  },
  'restored from an older copy in place (same inode)': (path, backup) => {
    copyFileSync(backup, path);
    rmWalShm(path);
  },
  'truncated to zero bytes': (path) => {
    truncateSync(path, 0);
    rmWalShm(path);
  },
};

describe('a SQLite file swapped underneath its holders', () => {
  for (const [name, swap] of Object.entries(swaps)) {
    it(`${name}: the next holder's token is above the first's, and the first loses its lock within the ttl`, async () => {
      const t = tempDir();
      const path = join(t.dir, 'store.db');
      const backup = join(t.dir, 'backup.db');
      const children: Child[] = [];
      try {
        // Some history, then a consistent copy of it (closed: the WAL is checkpointed).
        const s = new SqliteStore({ path });
        for (let i = 0; i < 5; i++) await s.put(`k${i}`, 'v');
        await s.close();
        copyFileSync(path, backup);

        const a = startNode(holder, [path, 'job', String(TTL_MS)]);
        children.push(a);
        const tokenA = Number((await a.waitFor((l) => l.startsWith('held '))).split(' ')[1]);
        swap(path, backup);
        const swappedAt = performance.now();
        // Timed as it arrives, whatever B's start-up costs under load.
        const lostLine = a
          .waitFor((l) => l.startsWith('lost '), 3 * TTL_MS)
          .then((line) => ({ line, after: performance.now() - swappedAt }));
        lostLine.catch(() => undefined);

        const b = startNode(holder, [path, 'job', String(TTL_MS)]);
        children.push(b);
        const tokenB = Number((await b.waitFor((l) => l.startsWith('held '))).split(' ')[1]);
        expect(tokenB).toBeGreaterThan(tokenA);

        const lost = await lostLine;
        expect(lost.after).toBeLessThan(TTL_MS + 500);
        expect(lost.line).toMatch(/TENURE_STORE_REPLACED/);
      } finally {
        for (const c of children) c.proc.kill('SIGKILL');
        await Promise.all(children.map((c) => c.exited));
        t.cleanup();
      }
    });
  }
});

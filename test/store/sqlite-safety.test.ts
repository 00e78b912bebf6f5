/**
 * The SQLite store's safety checks (issue 10 §2): plain paths only, no silent creation, private
 * files, revisions that never go backwards at one path, a swapped file noticed by its holders, the
 * top of the revision range, a full disk and a damaged file as typed errors.
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { isTenureError, type TenureError } from '../../src/errors.js';
import { Mutex } from '../../src/recipes/coordination/mutex.js';
import { Session } from '../../src/recipes/coordination/session.js';
import { openStore } from '../../src/store/open.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { codeOf, eventually, sleep } from '../helpers/async.js';
import { tempDir } from '../helpers/tmp.js';

const mode = (path: string) => statSync(path).mode & 0o777;

function thrown(fn: () => unknown): TenureError {
  try {
    fn();
  } catch (err) {
    if (isTenureError(err)) return err;
    throw new Error(`expected a TenureError, got ${String(err)}`, { cause: err });
  }
  throw new Error('expected a throw');
}

describe('SqliteStore paths', () => {
  it('rejects what is not a plain file path: NUL, control characters, :memory:, file: URIs, empty', () => {
    for (const path of [
      '',
      '\0x.db',
      'x\0.db',
      'a\nb.db',
      'x\x7f.db',
      ':memory:',
      'file:x.db',
      'file::memory:',
    ])
      expect(thrown(() => new SqliteStore({ path })).code, JSON.stringify(path)).toBe(
        'TENURE_INVALID_ARGUMENT',
      );
  });

  it('URLs: NUL bytes, fragments, control characters and SQLite special names are rejected', async () => {
    for (const url of [
      'sqlite:%00x.db',
      'sqlite:x%00.db',
      'sqlite:my#store.db',
      'sqlite:x.db#frag',
      'sqlite:a%0Ab.db',
      'sqlite::memory:',
      'sqlite:file:x.db',
      'sqlite:///tmp/x.db?mode=0666',
    ])
      expect(await codeOf(openStore(url)), url).toBe('TENURE_INVALID_URL');
  });

  it('a missing folder is an error naming it, and is not created', () => {
    const t = tempDir();
    try {
      const path = join(t.dir, 'no', 'such', 'x.db');
      const err = thrown(() => new SqliteStore({ path }));
      expect(err.message).toContain(join(t.dir, 'no', 'such'));
      expect(existsSync(join(t.dir, 'no'))).toBe(false);
    } finally {
      t.cleanup();
    }
  });

  it('create: false never creates a store: a missing file is an error naming the path', () => {
    const t = tempDir();
    try {
      const path = join(t.dir, 'missing.db');
      const err = thrown(() => new SqliteStore({ path, create: false }));
      expect(err.message).toContain(path);
      expect(readdirSync(t.dir)).toEqual([]);
    } finally {
      t.cleanup();
    }
  });

  it('createFolder creates the missing folders 0700 and the files 0600, whatever the umask', async () => {
    const t = tempDir();
    const umask = process.umask(0o002);
    try {
      const path = join(t.dir, 'a', 'b', 'store.db');
      const store = new SqliteStore({ path, createFolder: true });
      await store.put('k', 'v');
      expect(mode(join(t.dir, 'a'))).toBe(0o700);
      expect(mode(join(t.dir, 'a', 'b'))).toBe(0o700);
      for (const f of [path, `${path}-wal`, `${path}-shm`, `${path}-revisions`])
        expect(mode(f), f).toBe(0o600);
      await store.close();
    } finally {
      process.umask(umask);
      t.cleanup();
    }
  });

  it('createFolder refuses an existing folder that other users can write', () => {
    const t = tempDir();
    try {
      const dir = join(t.dir, 'open');
      mkdirSync(dir);
      chmodSync(dir, 0o777);
      const err = thrown(() => new SqliteStore({ path: join(dir, 'x.db'), createFolder: true }));
      expect(err.message).toMatch(/other users can write/);
      expect(readdirSync(dir)).toEqual([]);
      chmodSync(dir, 0o700);
      new SqliteStore({ path: join(dir, 'x.db'), createFolder: true }).close();
    } finally {
      t.cleanup();
    }
  });

  it('fileMode 0o660 shares the files with the group; other modes are rejected naming the option', async () => {
    const t = tempDir();
    const umask = process.umask(0o077);
    try {
      const path = join(t.dir, 'shared.db');
      const store = await openStore(`sqlite://${path}?mode=0660`);
      await store.put('k', 'v');
      for (const f of [path, `${path}-wal`, `${path}-shm`, `${path}-revisions`])
        expect(mode(f), f).toBe(0o660);
      await store.close();
      // A process of the group opening it without ?mode keeps the files shared.
      const other = new SqliteStore({ path });
      await other.put('k', 'v2');
      for (const f of [path, `${path}-wal`, `${path}-shm`, `${path}-revisions`])
        expect(mode(f), f).toBe(0o660);
      await other.close();
      for (const fileMode of [0o666, 0o644, 0o700, 0o4600, -1, 1.5])
        expect(thrown(() => new SqliteStore({ path: join(t.dir, 'x.db'), fileMode })).message).toMatch(
          /options\.fileMode/,
        );
    } finally {
      process.umask(umask);
      t.cleanup();
    }
  });
});

describe('SqliteStore revisions never go backwards at one path', () => {
  it('a file deleted and created again starts above every revision handed out before', async () => {
    const t = tempDir();
    const path = join(t.dir, 'store.db');
    try {
      const a = new SqliteStore({ path });
      let last = 0;
      for (let i = 0; i < 20; i++) last = await a.put(`k${i}`, 'v');
      await a.close();
      rmSync(path);
      const b = new SqliteStore({ path });
      expect(await b.put('k', 'v')).toBeGreaterThan(last);
      await b.close();
    } finally {
      t.cleanup();
    }
  });

  it('an older copy restored over the file does not reissue revisions handed out after the copy', async () => {
    const t = tempDir();
    const path = join(t.dir, 'store.db');
    try {
      const a = new SqliteStore({ path });
      await a.put('k', 'v0');
      await a.close();
      copyFileSync(path, join(t.dir, 'copy.db'));
      const b = new SqliteStore({ path });
      let last = 0;
      for (let i = 0; i < 10; i++) last = await b.put('k', `v${i}`);
      await b.close();
      copyFileSync(join(t.dir, 'copy.db'), path); // in place: the same inode
      const c = new SqliteStore({ path });
      expect(await c.put('k', 'again')).toBeGreaterThan(last);
      await c.close();
    } finally {
      t.cleanup();
    }
  });

  it('the top of the revision range is TENURE_CORRUPT, never an unsafe integer or a raw SQLite error', async () => {
    const t = tempDir();
    const path = join(t.dir, 'top.db');
    try {
      const store = new SqliteStore({ path });
      await store.put('k', 'v');
      const raw = new Database(path);
      raw.prepare('UPDATE state SET revision = ? WHERE id = 0').run(Number.MAX_SAFE_INTEGER - 1);
      raw.close();
      const revisions: number[] = [];
      let code: string | undefined;
      for (let i = 0; i < 3 && code === undefined; i++) {
        try {
          revisions.push(await store.put('k', String(i)));
        } catch (err) {
          code = isTenureError(err) ? err.code : String(err);
        }
      }
      expect(code).toBe('TENURE_CORRUPT');
      for (const r of revisions) expect(Number.isSafeInteger(r)).toBe(true);
      await store.close();
    } finally {
      t.cleanup();
    }
  });
});

describe('SqliteStore at the top of its revision range', () => {
  it('sessions end (nothing can be released any more) and unlock returns instead of retrying forever', async () => {
    const t = tempDir();
    const path = join(t.dir, 'top-held.db');
    try {
      const store = new SqliteStore({ path });
      const session = await Session.create(store, { ttlMs: 600 });
      const lock = await new Mutex(session, 'job').lock();
      const raw = new Database(path);
      raw.prepare('UPDATE state SET revision = ? WHERE id = 0').run(Number.MAX_SAFE_INTEGER);
      raw.close();
      await eventually(() => session.signal.aborted, 2000);
      const reason = session.signal.reason as TenureError;
      expect((reason.cause as TenureError).code).toBe('TENURE_LEASE_NOT_FOUND');
      expect(((reason.cause as TenureError).cause as TenureError).code).toBe('TENURE_CORRUPT');
      const unlocked = await Promise.race([
        lock.unlock().then(() => 'returned'),
        sleep(3000).then(() => 'stuck'),
      ]);
      expect(unlocked).toBe('returned');
      await store.close();
    } finally {
      t.cleanup();
    }
  });
});

describe('SqliteStore schema upgrade', () => {
  it('a file of schema version 1 is upgraded in place, keeps its data, and gains an identity', async () => {
    const t = tempDir();
    const path = join(t.dir, 'v1.db');
    try {
      const a = new SqliteStore({ path });
      const rev = await a.put('k', 'v');
      await a.close();
      const raw = new Database(path);
      raw.exec(
        'ALTER TABLE state DROP COLUMN store_id; ALTER TABLE state DROP COLUMN reserved; UPDATE state SET schema_version = 1',
      );
      raw.close();
      rmSync(`${path}-revisions`);
      const b = new SqliteStore({ path });
      expect((await b.get('k'))?.modRevision).toBe(rev);
      expect(await b.put('k', 'v2')).toBeGreaterThan(rev);
      await b.close();
      const check = new Database(path, { readonly: true });
      const row = check.prepare('SELECT schema_version, store_id FROM state').get() as {
        schema_version: number;
        store_id: string;
      };
      check.close();
      expect(row.schema_version).toBe(2);
      expect(row.store_id).not.toBe('');
    } finally {
      t.cleanup();
    }
  });
});

describe('SqliteStore file identity', () => {
  it('a store whose file was deleted fails its writes and keepalives with TENURE_STORE_REPLACED', async () => {
    const t = tempDir();
    const path = join(t.dir, 'store.db');
    try {
      const store = new SqliteStore({ path });
      const session = await Session.create(store, { ttlMs: 600 });
      await store.put('k', 'v');
      rmSync(path);
      rmSync(`${path}-wal`, { force: true });
      rmSync(`${path}-shm`, { force: true });
      expect(await codeOf(store.put('k', 'v2'))).toBe('TENURE_STORE_REPLACED');
      await eventually(() => session.signal.aborted, 2000);
      const reason = session.signal.reason as TenureError;
      expect(reason.code).toBe('TENURE_SESSION_EXPIRED');
      expect((reason.cause as TenureError).code).toBe('TENURE_LEASE_NOT_FOUND');
      expect(((reason.cause as TenureError).cause as TenureError).code).toBe('TENURE_STORE_REPLACED');
      await store.close();
    } finally {
      t.cleanup();
    }
  });

  it('a file rewritten in place with another store, or gone back in time, fails with TENURE_STORE_REPLACED', async () => {
    const t = tempDir();
    try {
      for (const rewrite of [
        "UPDATE state SET store_id = 'another-store'",
        'DELETE FROM changelog WHERE rev = (SELECT revision FROM state); UPDATE state SET revision = revision - 1',
      ]) {
        const path = join(t.dir, `rewritten-${rewrite.length}.db`);
        const store = new SqliteStore({ path });
        await store.put('k', 'v');
        const raw = new Database(path);
        raw.exec(rewrite);
        raw.close();
        expect(await codeOf(store.get('k')), rewrite).toBe('TENURE_STORE_REPLACED');
        expect(await codeOf(store.put('k', 'v2')), rewrite).toBe('TENURE_STORE_REPLACED');
        await store.close();
      }
    } finally {
      t.cleanup();
    }
  });

  it('a watch on a store whose file was deleted fails with TENURE_STORE_REPLACED within reapIntervalMs', async () => {
    const t = tempDir();
    const path = join(t.dir, 'watched.db');
    try {
      const store = new SqliteStore({ path });
      const it = store.watch('x/', { prefix: true })[Symbol.asyncIterator]();
      const next = it.next().then(
        () => 'event',
        (e: unknown) => (isTenureError(e) ? e.code : String(e)),
      );
      await sleep(50);
      rmSync(path);
      const t0 = performance.now();
      expect(await next).toBe('TENURE_STORE_REPLACED');
      expect(performance.now() - t0).toBeLessThan(100 + 400);
      await store.close();
    } finally {
      t.cleanup();
    }
  });

  it('a new file at the same path never reuses the id of a lease of the old one', async () => {
    const t = tempDir();
    const path = join(t.dir, 'leases.db');
    try {
      const a = new SqliteStore({ path });
      const old = await Promise.all([a.grant(60_000), a.grant(60_000)]);
      await a.close();
      rmSync(path);
      const b = new SqliteStore({ path });
      const fresh = await Promise.all([b.grant(60_000), b.grant(60_000)]);
      for (const l of fresh) expect(old.map((o) => o.id)).not.toContain(l.id);
      await b.close();
    } finally {
      t.cleanup();
    }
  });

  it('negative control: a store whose file is untouched keeps its session', async () => {
    const t = tempDir();
    try {
      const store = new SqliteStore({ path: join(t.dir, 'store.db') });
      const session = await Session.create(store, { ttlMs: 500 });
      await sleep(1200);
      expect(session.signal.aborted).toBe(false);
      await session.close();
      await store.close();
    } finally {
      t.cleanup();
    }
  });
});

describe('SqliteStore storage failures are TenureErrors', () => {
  it('a store past maxBytes (SQLITE_FULL) fails writes with TENURE_UNAVAILABLE saying the disk is full', async () => {
    const t = tempDir();
    try {
      const store = new SqliteStore({ path: join(t.dir, 'full.db'), maxBytes: 64 * 1024 });
      let err: unknown;
      for (let i = 0; i < 200 && err === undefined; i++)
        await store.put(`k${i}`, Buffer.alloc(2000, i)).catch((e: unknown) => (err = e));
      expect(isTenureError(err, 'TENURE_UNAVAILABLE')).toBe(true);
      expect((err as Error).message).toMatch(/full/);
      await store.close();
    } finally {
      t.cleanup();
    }
  });

  it('a file that is not a database is TENURE_CORRUPT naming the path', () => {
    const t = tempDir();
    try {
      const path = join(t.dir, 'garbage.db');
      writeFileSync(path, Buffer.alloc(8192, 0x41));
      const err = thrown(() => new SqliteStore({ path }));
      expect(err.code).toBe('TENURE_CORRUPT');
      expect(err.message).toContain(path);
    } finally {
      t.cleanup();
    }
  });

  it('a damaged page is TENURE_CORRUPT, not a raw SqliteError', async () => {
    const t = tempDir();
    const path = join(t.dir, 'damaged.db');
    try {
      const a = new SqliteStore({ path });
      for (let i = 0; i < 50; i++) await a.put(`k${i}`, Buffer.alloc(500, i));
      await a.close();
      // Overwrite every page but the first (the header) with garbage.
      const size = statSync(path).size;
      const fd = openSync(path, 'r+');
      writeSync(fd, Buffer.alloc(size - 4096, 0xa5), 0, size - 4096, 4096);
      closeSync(fd);
      let err: unknown;
      try {
        const b = new SqliteStore({ path });
        await b.get('k1').catch((e: unknown) => (err = e));
        await b.close();
      } catch (e) {
        err = e;
      }
      expect(isTenureError(err, 'TENURE_CORRUPT')).toBe(true);
    } finally {
      t.cleanup();
    }
  });

  const canMount = (() => {
    if (process.getuid?.() !== 0) return false;
    const dir = tempDir('tenure-mount-');
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir.dir], { stdio: 'ignore' });
      execFileSync('umount', [dir.dir], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    } finally {
      dir.cleanup();
    }
  })();

  it.skipIf(!canMount)(
    'a holder that loses its session to a full disk says so in the abort reason',
    async () => {
      const t = tempDir('tenure-full-');
      const mnt = join(t.dir, 'mnt');
      mkdirSync(mnt);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
      try {
        const path = join(mnt, 'store.db');
        const store = new SqliteStore({ path });
        const session = await Session.create(store, { ttlMs: 600 });
        // Empty the WAL, then fill the file system: the next keepalive needs new space for its frames.
        const raw = new Database(path);
        raw.pragma('wal_checkpoint(TRUNCATE)');
        raw.close();
        try {
          writeFileSync(join(mnt, 'filler'), Buffer.alloc(4 * 1024 * 1024));
        } catch {
          // ENOSPC: the file system is full, as wanted
        }
        await eventually(() => session.signal.aborted, 3000);
        const reason = session.signal.reason as TenureError;
        expect(reason.code).toBe('TENURE_SESSION_EXPIRED');
        const cause = reason.cause as TenureError | undefined;
        expect(cause?.message).toMatch(/full/);
        await store.close().catch(() => undefined);
      } finally {
        execFileSync('umount', ['-l', mnt]);
        t.cleanup();
      }
    },
  );
});

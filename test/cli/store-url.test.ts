/**
 * Which store the CLI opens (issue 10 §2): one default for every process of the user whatever its
 * directory or environment, read-only commands that never create a store, and no `memory:` for
 * commands that must exclude other processes. The last tests run the built CLI (`npm run build`).
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, statSync, writeSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_STORE_URL, openCliStore, resolveStoreUrl } from '../../src/cli/store-url.js';
import { UsageError } from '../../src/cli/usage-error.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { tempDir } from '../helpers/tmp.js';

const CLI = join(import.meta.dirname, '../../dist/pkg/cli.cjs');

async function usageError(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UsageError);
  return (err as Error).message;
}

describe('the default store', () => {
  it('is the same for every process of the user: absolute, whatever the directory, HOME or XDG variables', () => {
    const t = tempDir();
    const cwd = process.cwd();
    try {
      const here = resolveStoreUrl(undefined, {});
      process.chdir(t.dir);
      expect(resolveStoreUrl(undefined, { HOME: t.dir, XDG_STATE_HOME: t.dir })).toBe(here);
      expect(here).toBe(`sqlite://${join(userInfo().homedir, '.local/state/tenure/store.db')}`);
      expect(DEFAULT_STORE_URL).toBe(here);
    } finally {
      process.chdir(cwd);
      t.cleanup();
    }
  });
});

describe('openCliStore', () => {
  it('a read-only open of a missing SQLite file is an error naming the path, and creates nothing', async () => {
    const t = tempDir();
    try {
      const path = join(t.dir, 'missing.db');
      expect(await usageError(openCliStore(`sqlite://${path}`))).toContain(path);
      expect(existsSync(path)).toBe(false);
    } finally {
      t.cleanup();
    }
  });

  it('an explicit path in a missing folder is an error, and the folder is not created', async () => {
    const t = tempDir();
    try {
      const path = join(t.dir, 'nonexistent', 'dir', 'x.db');
      expect(await usageError(openCliStore(`sqlite://${path}`, { exclusive: true }))).toContain(
        join(t.dir, 'nonexistent', 'dir'),
      );
      expect(existsSync(join(t.dir, 'nonexistent'))).toBe(false);
    } finally {
      t.cleanup();
    }
  });

  it('a command that must exclude other processes refuses memory: and creates a missing file', async () => {
    expect(await usageError(openCliStore('memory:', { exclusive: true }))).toMatch(/memory:.*process/);
    const t = tempDir();
    try {
      const store = await openCliStore(`sqlite://${join(t.dir, 'new.db')}`, { exclusive: true });
      await store.close();
      expect(existsSync(join(t.dir, 'new.db'))).toBe(true);
    } finally {
      t.cleanup();
    }
  });
});

describe('the built CLI', () => {
  const run = (args: string[]) =>
    spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 20_000 });

  for (const store of ['memory:', 'sqlite::memory:', 'sqlite:%00x.db'])
    for (const command of [
      ['lock', 'job'],
      ['elect', 'job'],
    ])
      it(`${command[0]} --store ${store}: one line, exit 2`, () => {
        const r = run([...command, '--store', store, '--', 'true']);
        expect(r.status).toBe(2);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
      });

  it('status of a damaged store: one line saying so, exit 2, no stack trace', async () => {
    const t = tempDir();
    try {
      const path = join(t.dir, 'damaged.db');
      const store = new SqliteStore({ path });
      for (let i = 0; i < 50; i++) await store.put(`tenure/locks/l${i}`, Buffer.alloc(500, i));
      await store.close();
      const size = statSync(path).size;
      const fd = openSync(path, 'r+');
      writeSync(fd, Buffer.alloc(size - 4096, 0xa5), 0, size - 4096, 4096);
      closeSync(fd);
      const r = run(['status', '--store', `sqlite://${path}`]);
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/damaged/);
    } finally {
      t.cleanup();
    }
  });

  it('status of a missing store: exit 2 naming the path, nothing created', () => {
    const t = tempDir();
    try {
      const path = join(t.dir, 'x.db');
      const r = run(['status', '--store', `sqlite://${path}`]);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(path);
      expect(existsSync(path)).toBe(false);
    } finally {
      t.cleanup();
    }
  });
});

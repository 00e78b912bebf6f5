/** `tenure status` and `tenure demo` on a PostgreSQL store, through the built CLI. */
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { Mutex } from '../../src/recipes/coordination/mutex.js';
import { Session } from '../../src/recipes/coordination/session.js';
import { openStore } from '../../src/store/open.js';
import { CLI, expectDemoPasses } from '../helpers/demo.js';
import { PG_PASSWORD, PostgresServer } from '../helpers/postgres-server.js';

const started = PostgresServer.start();
started.catch(() => undefined);
afterAll(async () => {
  await (await started).stop();
});

describe('the CLI on postgres://', () => {
  it('tenure status shows a lock held in the store and its holder, and never the password', async () => {
    const server = await started;
    const url = server.url(await server.createDatabase('status'));
    const store = await openStore(url);
    const session = await Session.create(store, { ttlMs: 5000 });
    const lock = await new Mutex(session, 'nightly-report').lock();
    try {
      const r = spawnSync(process.execPath, [CLI, 'status', '--store', url], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/nightly-report/);
      expect(r.stdout + r.stderr).not.toContain(PG_PASSWORD);
      const json = spawnSync(process.execPath, [CLI, 'status', '--json', '--store', url], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(json.status, json.stderr).toBe(0);
      expect(json.stdout).toContain(String(lock.fencingToken));
    } finally {
      await lock.unlock();
      await session.close();
      await store.close();
    }
  });

  it('tenure status with a wrong password or a missing store: exit 2, one line, password redacted, nothing created', async () => {
    const server = await started;
    const db = await server.createDatabase('status_bad');
    const bad = spawnSync(
      process.execPath,
      [CLI, 'status', '--store', server.url(db, '', 'tenure', 'not-the-password')],
      {
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/password/);
    expect(bad.stderr).not.toContain('not-the-password');
    const missing = spawnSync(process.execPath, [CLI, 'status', '--store', server.url(db)], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/no tenure store/);
    const schemas = await server.sql<{ n: number }>(
      db,
      "SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'tenure'",
    );
    expect(schemas[0]!.n).toBe(0);
  });

  it('tenure demo passes every check on PostgreSQL', async () => {
    const server = await started;
    await expectDemoPasses(server.url(await server.createDatabase('demo')), '16s', PG_PASSWORD);
  }, 120_000);
});

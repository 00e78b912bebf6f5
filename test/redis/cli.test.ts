/**
 * The CLI on a Redis store: `tenure status` shows what a process holds, `tenure demo` runs its
 * fleet and faults and every check holds, and a wrong password is a one-line error that never
 * shows the password. Real processes; needs `npm run build` first.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Mutex } from '../../src/recipes/coordination/mutex.js';
import { Session } from '../../src/recipes/coordination/session.js';
import { RedisStore } from '../../src/store/redis/index.js';
import { CLI, expectDemoPasses } from '../helpers/demo.js';
import { RedisServer } from '../helpers/redis-server.js';
import { runCli } from '../helpers/cli.js';

const PASSWORD = 'cli-s3cret';

let server: RedisServer;
beforeAll(async () => {
  server = await RedisServer.start({ password: PASSWORD });
});
afterAll(async () => server?.stop());

function cli(args: string[], env: Record<string, string> = {}) {
  return runCli(CLI, args, { env, timeoutMs: 30_000 });
}

describe('tenure on redis://', () => {
  it('status lists a lock held by another process, with its fencing token', async () => {
    const store = new RedisStore({ port: server.port, password: PASSWORD, keyPrefix: 'cli-status' });
    const session = await Session.create(store, { ttlMs: 5000 });
    const lock = await new Mutex(session, 'nightly-report').lock({ timeoutMs: 5000 });
    try {
      const r = cli(['status', '--store', `redis://127.0.0.1:${server.port}?keyPrefix=cli-status`], {
        TENURE_STORE_PASSWORD: PASSWORD,
      });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/LOCKS \(1\)/);
      expect(r.stdout).toContain('nightly-report');
      expect(r.stdout).toContain(String(lock.fencingToken));
      expect(r.stdout).not.toContain(PASSWORD);
    } finally {
      await lock.close();
      await session.close();
      await store.close();
    }
  });

  it('a wrong password: exit 2, one line naming the store with the password redacted', () => {
    const r = cli(['status', '--store', `redis://:wrong-${PASSWORD}@127.0.0.1:${server.port}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/password/);
    expect(r.stderr).not.toContain(`wrong-${PASSWORD}`);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('demo: a fleet of three workers through the four faults, every check holds', async () => {
    await expectDemoPasses(
      `redis://:${PASSWORD}@127.0.0.1:${server.port}?keyPrefix=cli-demo`,
      '10s',
      PASSWORD,
    );
  });
});

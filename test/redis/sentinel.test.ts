/**
 * Redis Sentinel: `redis+sentinel://` follows the master that a real Sentinel names, and a
 * failover to a replica that had not received the last writes never hands out a fencing token
 * twice (the promoted replica's run id starts a new epoch). The servers are real: a master, a
 * replica that replicates through a TCP proxy (so the test can cut it off and make it miss
 * writes), and one Sentinel (`redis-server --sentinel`), all on loopback.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Mutex } from '../../src/recipes/coordination/mutex.js';
import { Session } from '../../src/recipes/coordination/session.js';
import { openStore } from '../../src/store/open.js';
import { RedisStore } from '../../src/store/redis/index.js';
import type { Store } from '../../src/store/types.js';
import { eventually } from '../helpers/async.js';
import { TcpProxy, freePort } from '../helpers/etcd-cluster.js';
import { RedisSentinel, RedisServer } from '../helpers/redis-server.js';

const NAME = 'tenure-master';
let master: RedisServer;
let replica: RedisServer;
let proxy: TcpProxy;
let sentinel: RedisSentinel;
let sentinelAdmin: Redis;
let replicaAdmin: Redis;

beforeAll(async () => {
  master = await RedisServer.start();
  proxy = await TcpProxy.start(master.address);
  replica = await RedisServer.start({ args: ['--replicaof', '127.0.0.1', String(proxy.port)] });
  replicaAdmin = new Redis({ port: replica.port });
  await eventually(async () => /master_link_status:up/.test(await replicaAdmin.info('replication')), 10_000);
  // Started once the replica is attached, so its first look at the master finds it.
  sentinel = await RedisSentinel.start(NAME, master.port);
  sentinelAdmin = new Redis({ port: sentinel.port });
  await eventually(
    async () => ((await sentinelAdmin.call('SENTINEL', 'REPLICAS', NAME)) as unknown[]).length === 1,
    15_000,
  );
}, 40_000);

afterAll(async () => {
  sentinelAdmin?.disconnect();
  replicaAdmin?.disconnect();
  await sentinel?.stop();
  await proxy?.close();
  await replica?.stop();
  await master?.stop();
});

const masterPort = async () =>
  Number(((await sentinelAdmin.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', NAME)) as string[])[1]);

describe('redis+sentinel://', () => {
  it('tokens never repeat across a failover to a replica that missed the last writes; the store follows the new master', async () => {
    const url = `redis+sentinel://127.0.0.1:${sentinel.port}/${NAME}?requestTimeoutMs=2000`;
    const store = await openStore(url);
    const stores: Store[] = [store];
    try {
      expect(await masterPort()).toBe(master.port);
      const session = await Session.create(store, { ttlMs: 3000 });
      const mutex = new Mutex(session, 'failover');
      const tokens: number[] = [];
      const take = async (m: Mutex) => {
        const lock = await m.lock({ timeoutMs: 10_000 });
        tokens.push(lock.fencingToken);
        await lock.close();
      };
      for (let i = 0; i < 5; i++) await take(mutex);
      // The replica has all of that...
      const masterAdmin = new Redis({ port: master.port });
      await eventually(
        async () =>
          (await replicaAdmin.hget('{tenure}:meta', 'rev')) ===
          (await masterAdmin.hget('{tenure}:meta', 'rev')),
        10_000,
      );
      masterAdmin.disconnect();
      // ... and none of what follows: the replication link is cut, the master goes on.
      proxy.blackholed = true;
      for (let i = 0; i < 5; i++) await take(mutex);
      const highest = Math.max(...tokens);
      // Control: the replica's revision is below tokens already handed out, so a store that
      // simply went on counting there would hand them out again.
      const replicaRevision = Number(await replicaAdmin.hget('{tenure}:meta', 'rev'));
      expect(replicaRevision).toBeLessThan(highest);
      expect(tokens.filter((t) => t > replicaRevision).length).toBeGreaterThanOrEqual(5);

      await master.kill();
      await eventually(async () => (await masterPort()) === replica.port, 30_000);

      // The store that was open follows the Sentinel to the promoted replica, and a new session
      // there gets a token above every token handed out before.
      let after = 0;
      await eventually(
        async () => {
          try {
            const s = await Session.create(store, { ttlMs: 3000 });
            const lock = await new Mutex(s, 'failover').lock({ timeoutMs: 5000 });
            after = lock.fencingToken;
            await lock.close();
            await s.close();
            return true;
          } catch {
            return false; // the switch is still under way: TENURE_UNAVAILABLE
          }
        },
        20_000,
        100,
      );
      expect(after).toBeGreaterThan(highest);
      // The session held across the switch ends: the new epoch revoked every lease.
      await eventually(() => session.signal.aborted, 15_000);
      // A store opened now, through the same URL, agrees.
      const fresh = await openStore(url);
      stores.push(fresh);
      const s2 = await Session.create(fresh, { ttlMs: 3000 });
      const lock = await new Mutex(s2, 'failover').lock({ timeoutMs: 5000 });
      expect(lock.fencingToken).toBeGreaterThan(after);
      await lock.close();
      await s2.close();
    } finally {
      for (const s of stores) await s.close();
    }
  }, 90_000);

  it('rejects bad URLs and options with typed errors naming the problem, never the password', async () => {
    for (const [bad, why] of [
      ['redis+sentinel://:secret@127.0.0.1:26379', /master name/],
      ['redis+sentinel://:secret@127.0.0.1:26379/', /master name/],
      ['redis+sentinel:///m', /at least one Sentinel/],
      ['redis+sentinel://:secret@127.0.0.1:1,127.0.0.1:x/m', /is not host:port/],
      ['redis+sentinel://127.0.0.1/m', /is not host:port/],
      ['redis+sentinel://127.0.0.1:70000/m', /is not host:port/],
      ['redis+sentinel://:secret@127.0.0.1:1/m/2', /master name/],
      ['redis+sentinel://127.0.0.1:1/m?ca=/ca.pem', /TLS is not supported/],
      ['redis+sentinel://127.0.0.1:1/m?colour=blue', /unknown parameter/],
      ['redis+sentinel://127.0.0.1:1/m?db=x', /database index/],
      ['redis+sentinel://user@127.0.0.1:1/m', /needs a password/],
    ] as const) {
      const err = (await openStore(bad).catch((e: unknown) => e)) as Error & { code: string };
      expect(err, bad).toMatchObject({ code: 'TENURE_INVALID_URL' });
      expect(err.message, bad).toMatch(why);
      expect(err.message).not.toContain('secret');
    }
    const sentinels = [{ host: '127.0.0.1', port: 26379 }];
    expect(() => new RedisStore({ sentinels: [] })).toThrow(/options.sentinels/);
    expect(() => new RedisStore({ sentinels })).toThrow(/options.sentinelMasterName/);
    expect(() => new RedisStore({ sentinelMasterName: 'm' })).toThrow(/options.sentinelMasterName/);
    expect(() => new RedisStore({ sentinels: [{ host: 'a b', port: 1 }], sentinelMasterName: 'm' })).toThrow(
      /options.sentinels\[0\].host/,
    );
    expect(() => new RedisStore({ sentinels, sentinelMasterName: 'm', port: 6380 })).toThrow(/options.port/);
    expect(() => new RedisStore({ sentinels, sentinelMasterName: 'm', tls: true })).toThrow(/options.tls/);
  });

  it('no Sentinel answering: TENURE_UNAVAILABLE within requestTimeoutMs', async () => {
    const store = new RedisStore({
      sentinels: [{ host: '127.0.0.1', port: await freePort() }],
      sentinelMasterName: NAME,
      requestTimeoutMs: 1000,
    });
    const t0 = performance.now();
    const err = (await store.revision().catch((e: unknown) => e)) as { code: string; retryable: boolean };
    const ms = performance.now() - t0;
    await store.close();
    expect(err).toMatchObject({ code: 'TENURE_UNAVAILABLE', retryable: true });
    expect(ms).toBeLessThan(2000);
  });
});

/**
 * Redis-specific facts on a real redis-server: URLs, the script reloaded after NOSCRIPT, keys of
 * one store under one hash tag, and bad input (wrong password or user, wrong database, a key of
 * another kind at the store's names, a server that is not Redis, no server) as typed errors in
 * bounded time.
 */
import { createServer, type Server } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Mutex } from '../../src/recipes/coordination/mutex.js';
import { Session } from '../../src/recipes/coordination/session.js';
import { openStore } from '../../src/store/open.js';
import { RedisStore } from '../../src/store/redis/index.js';
import type { WatchEvent } from '../../src/store/types.js';
import { codeOf, eventually } from '../helpers/async.js';
import { freePort } from '../helpers/etcd-cluster.js';
import { RedisServer } from '../helpers/redis-server.js';

let server: RedisServer;
let admin: Redis;
beforeAll(async () => {
  server = await RedisServer.start({ password: 'pw/with?odd#chars' });
  admin = new Redis({ port: server.port, password: 'pw/with?odd#chars', lazyConnect: true });
  await admin.connect();
  await admin.call('ACL', 'SETUSER', 'app', 'on', '>app-secret', '~*', '+@all');
});
afterAll(async () => {
  admin?.disconnect();
  await server?.stop();
});

const url = (rest = '') =>
  `redis://:${encodeURIComponent('pw/with?odd#chars')}@127.0.0.1:${server.port}${rest}`;

describe('redis:// URLs', () => {
  it('open a store: one hash tag for all its keys, ?db=, /db and ?keyPrefix= choose where', async () => {
    for (const [rest, db, tag] of [
      ['', 0, 'tenure'],
      ['/2', 2, 'tenure'],
      ['?db=3&keyPrefix=billing', 3, 'billing'],
    ] as const) {
      const store = await openStore(url(rest));
      await store.put('url-key', 'v');
      await store.close();
      await admin.select(db);
      const keys = (await admin.keys('*')).sort();
      // Only this store's keys in this database, all under its hash tag.
      expect(keys.every((k) => k.startsWith(`{${tag}}:`))).toBe(true);
      expect(keys).toContain(`{${tag}}:kv`);
      expect(await admin.hexists(`{${tag}}:kv`, 'url-key')).toBe(1);
    }
    await admin.select(0);
  });

  it('?namespace= prefixes the keys as on every backend; an ACL user and password from the URL', async () => {
    const store = await openStore(`redis://app:app-secret@127.0.0.1:${server.port}?namespace=ns/`);
    const session = await Session.create(store, { ttlMs: 1000 });
    const lock = await new Mutex(session, 'url-lock').lock({ timeoutMs: 5000 });
    expect(await admin.hexists('{tenure}:kv', lock.key)).toBe(0);
    expect(await admin.hexists('{tenure}:kv', `ns/${lock.key}`)).toBe(1);
    await lock.close();
    await session.close();
    await store.close();
  });

  it('rejects bad URLs with TENURE_INVALID_URL, never showing the password', async () => {
    for (const bad of [
      'redis://:secret@127.0.0.1:1?colour=blue',
      'redis://:secret@127.0.0.1:1/x',
      'redis://:secret@127.0.0.1:1/2?db=3',
      'redis://user@127.0.0.1:1',
      'redis://:secret@127.0.0.1:1?ca=/x.pem',
    ]) {
      const err = await openStore(bad).catch((e: unknown) => e as Error & { code: string });
      expect(err).toMatchObject({ code: 'TENURE_INVALID_URL' });
      expect((err as Error).message).not.toContain('secret');
    }
  });
});

describe('bad input is a typed error in bounded time', () => {
  const timed = async (store: RedisStore) => {
    const t0 = performance.now();
    const err = await store.revision().catch((e: unknown) => e as { code: string; retryable: boolean });
    await store.close();
    return { err, ms: performance.now() - t0 };
  };

  it('a wrong password, no password, or an unknown user: TENURE_STORE_UNUSABLE naming the credentials', async () => {
    for (const options of [{ password: 'wrong' }, {}, { username: 'ghost', password: 'x' }]) {
      const { err, ms } = await timed(
        new RedisStore({ port: server.port, requestTimeoutMs: 2000, ...options }),
      );
      expect(err).toMatchObject({ code: 'TENURE_STORE_UNUSABLE', retryable: false });
      expect((err as unknown as Error).message).toMatch(/user name and password/);
      expect(ms).toBeLessThan(2500);
    }
  });

  it('a database index the server does not have: TENURE_STORE_UNUSABLE, and nothing written to database 0', async () => {
    const before = await admin.dbsize();
    const store = new RedisStore({ port: server.port, password: 'pw/with?odd#chars', db: 99 });
    const err = (await store.put('x', 'y').catch((e: unknown) => e)) as Error & { code: string };
    await store.close();
    expect(err).toMatchObject({ code: 'TENURE_STORE_UNUSABLE' });
    expect(err.message).toMatch(/\?db=/);
    expect(await admin.dbsize()).toBe(before);
  });

  it('a Redis key of another kind at the store names: TENURE_STORE_UNUSABLE, and the key is left as it was', async () => {
    await admin.set('{taken}:kv', 'someone else');
    const store = new RedisStore({ port: server.port, password: 'pw/with?odd#chars', keyPrefix: 'taken' });
    const err = (await store.put('x', 'y').catch((e: unknown) => e)) as Error & { code: string };
    await store.close();
    expect(err).toMatchObject({ code: 'TENURE_STORE_UNUSABLE' });
    expect(err.message).toMatch(/keyPrefix/);
    expect(await admin.get('{taken}:kv')).toBe('someone else');
    expect(await admin.exists('{taken}:meta')).toBe(0);
  });

  it('a server that is not Redis: TENURE_STORE_UNUSABLE; a silent one or none: TENURE_UNAVAILABLE in requestTimeoutMs', async () => {
    const port = await freePort();
    const http: Server = createServer((c) => c.on('data', () => c.end('HTTP/1.1 400 Bad Request\r\n\r\n')));
    http.listen(port, '127.0.0.1');
    const silentPort = await freePort();
    const silent: Server = createServer(() => undefined);
    silent.listen(silentPort, '127.0.0.1');
    try {
      const notRedis = await timed(new RedisStore({ port, requestTimeoutMs: 1000 }));
      expect(notRedis.err).toMatchObject({ code: 'TENURE_STORE_UNUSABLE' });
      expect((notRedis.err as unknown as Error).message).toMatch(/Redis protocol/);
      const mute = await timed(new RedisStore({ port: silentPort, requestTimeoutMs: 1000 }));
      expect(mute.err).toMatchObject({ code: 'TENURE_UNAVAILABLE', retryable: true });
      expect(mute.ms).toBeLessThan(1500);
      const none = await timed(new RedisStore({ port: await freePort(), requestTimeoutMs: 1000 }));
      expect(none.err).toMatchObject({ code: 'TENURE_UNAVAILABLE', retryable: true });
      expect(none.ms).toBeLessThan(1500);
    } finally {
      http.close();
      silent.close();
    }
  });

  it('bad options name the option', () => {
    expect(() => new RedisStore({ port: 0 })).toThrow(/options.port/);
    expect(() => new RedisStore({ keyPrefix: 'a{b}' })).toThrow(/options.keyPrefix/);
    expect(() => new RedisStore({ username: 'u' })).toThrow(/options.username/);
    expect(() => new RedisStore({ reapIntervalMs: 1000 })).toThrow(/options.reapIntervalMs/);
    expect(() => new RedisStore({ requestTimeoutMs: 500, connectTimeoutMs: 1000 })).toThrow(
      /options.connectTimeoutMs/,
    );
  });
});

describe('the script', () => {
  it('is loaded again after SCRIPT FLUSH (NOSCRIPT), and a closed store fails at once', async () => {
    const store = new RedisStore({ port: server.port, password: 'pw/with?odd#chars', keyPrefix: 'flush' });
    const r1 = await store.put('a', '1');
    await admin.script('FLUSH');
    const r2 = await store.put('a', '2');
    expect(r2).toBe(r1 + 1);
    await store.close();
    expect(await codeOf(store.get('a'))).toBe('TENURE_CLOSED');
  });
});

describe('watches that start behind the change-log tail', () => {
  // What the tail read is not enough to start a watch from: a compaction made just before the
  // watch starts may not have reached the tail yet. Only the log read says what is retained.
  it('deliver each entry once, and fail with TENURE_COMPACTED below a compaction, even one made just before', async () => {
    // Retention trims the stream below the last 4 revisions as they are written; compact() below.
    const store = new RedisStore({
      port: server.port,
      password: 'pw/with?odd#chars',
      keyPrefix: 'behind',
      retainRevisions: 4,
    });
    const ac = new AbortController();
    try {
      // A running watch keeps the store's tail reading the stream.
      const seen: number[] = [];
      const follower = (async () => {
        try {
          for await (const b of store.watch('w/', { prefix: true, signal: ac.signal }))
            seen.push(...b.events.map((e) => e.kv.modRevision));
        } catch {
          // aborted
        }
      })();
      await new Promise((r) => setTimeout(r, 100));
      const revs: number[] = [];
      for (let i = 0; i < 5; i++) revs.push(await store.put(`w/${i}`, String(i)));
      await eventually(() => seen.at(-1) === revs[4], 5000);
      const from = async (fromRevision: number) => {
        const out: number[] = [];
        const it = store.watch('w/', { prefix: true, fromRevision })[Symbol.asyncIterator]();
        try {
          while (out.at(-1) !== revs[4])
            out.push(...(await it.next()).value!.events.map((e: WatchEvent) => e.kv.modRevision));
        } finally {
          await it.return?.();
        }
        return out;
      };
      expect(await from(revs[3]!)).toEqual([revs[3], revs[4]]);
      // Retained: the last 4 (revs[1] and later); the tail holds all 5, but revs[0] is gone.
      expect(await from(revs[1]!)).toEqual(revs.slice(1));
      expect(await codeOf(from(revs[0]!))).toBe('TENURE_COMPACTED');
      await store.compact(revs[2]!);
      expect(await codeOf(from(revs[2]!))).toBe('TENURE_COMPACTED');
      expect(await from(revs[3]!)).toEqual([revs[3], revs[4]]);
      ac.abort();
      await follower;
    } finally {
      ac.abort();
      await store.close();
    }
  });
});

describe('lease expiry on the server clock', () => {
  it('a lease never expires before the server time of its grant plus its ttl (to the microsecond)', async () => {
    const store = new RedisStore({
      port: server.port,
      password: 'pw/with?odd#chars',
      keyPrefix: 'expiry-us',
    });
    try {
      for (let i = 0; i < 20; i++) {
        const [s, us] = (await admin.time()) as [string | number, string | number];
        const before = Number(s) * 1_000_000 + Number(us);
        const ttlMs = 1000 + i;
        const { id: lease } = await store.grant(ttlMs);
        const expiry = Number(await admin.zscore('{expiry-us}:leases', String(lease)));
        // Rounding the clock down to milliseconds (as the script once did) puts the expiry up to
        // 1 ms early, and a millisecond score is a thousand times too small.
        expect(expiry).toBeGreaterThanOrEqual(before + ttlMs * 1000);
        expect(expiry - before - ttlMs * 1000).toBeLessThan(1_000_000); // the grant came within a second
      }
    } finally {
      await store.close();
    }
  });
});

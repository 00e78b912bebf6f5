/**
 * Connection faults on a real PostgreSQL server: a lock holder cut off by a TCP proxy that drops
 * everything (a partition: no reset, no close), and the server terminating tenure's connections
 * (`pg_terminate_backend`) while waiters watch. The partition has a control run without the cut.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Mutex } from '../../src/recipes/coordination/mutex.js';
import { Session } from '../../src/recipes/coordination/session.js';
import { PostgresStore } from '../../src/store/postgres/index.js';
import { TcpProxy } from '../helpers/etcd-cluster.js';
import { PG_PASSWORD, PG_USER, PostgresServer } from '../helpers/postgres-server.js';
import { numbered, putMany } from '../helpers/fill.js';

const started = PostgresServer.start();
started.catch(() => undefined);
afterAll(async () => {
  await (await started).stop();
});

const TTL = 2000;

describe('a lock holder cut off by a TCP fault proxy', () => {
  async function cutHolder(cut: boolean) {
    const server = await started;
    const database = await server.createDatabase('cut');
    const proxy = await TcpProxy.start(`127.0.0.1:${server.port}`);
    const options = {
      user: PG_USER,
      password: PG_PASSWORD,
      database,
      requestTimeoutMs: 1000,
      connectTimeoutMs: 500,
    };
    const cutStore = await PostgresStore.open({ ...options, port: proxy.port });
    const store = await PostgresStore.open({ ...options, port: server.port });
    const holderSession = await Session.create(cutStore, { ttlMs: TTL });
    const otherSession = await Session.create(store, { ttlMs: TTL });
    try {
      const held = await new Mutex(holderSession, 'partitioned').lock();
      let lostAt: number | undefined;
      held.signal.addEventListener('abort', () => (lostAt ??= performance.now()));
      const cutAt = performance.now();
      if (cut) proxy.blackholed = true;
      let acquiredAt: number | undefined;
      let code: string | undefined;
      try {
        const lock = await new Mutex(otherSession, 'partitioned').lock({ timeoutMs: TTL * 3 });
        acquiredAt = performance.now();
        expect(lock.fencingToken).toBeGreaterThan(held.fencingToken);
        await lock.unlock();
      } catch (err) {
        code = (err as { code?: string }).code;
      }
      return { cutAt, lostAt, acquiredAt, code };
    } finally {
      await otherSession.close();
      proxy.blackholed = false;
      await holderSession.close().catch(() => undefined);
      await cutStore.close();
      await store.close();
      await proxy.close();
    }
  }

  it('its session ends on its side before anyone else gets its lock, and the other gets it within ttl plus the bound', async () => {
    const r = await cutHolder(true);
    expect(r.code).toBeUndefined();
    expect(r.lostAt).toBeDefined();
    expect(r.lostAt!).toBeLessThan(r.acquiredAt!);
    expect(r.acquiredAt! - r.cutAt).toBeLessThan(TTL + 250 + 1500);
  });

  it('control: without the cut, the holder keeps its lock and the other times out', async () => {
    const r = await cutHolder(false);
    expect(r.code).toBe('TENURE_TIMEOUT');
    expect(r.acquiredAt).toBeUndefined();
    expect(r.lostAt).toBeUndefined();
  });
});

describe("the server terminating tenure's connections", () => {
  it('waiters watching through a terminated listener still get the lock at once; calls on terminated connections fail typed and retry', async () => {
    const server = await started;
    const database = await server.createDatabase('terminate');
    const open = () =>
      PostgresStore.open({ port: server.port, user: PG_USER, password: PG_PASSWORD, database });
    const a = await open();
    const b = await open();
    const sa = await Session.create(a, { ttlMs: TTL });
    const sb = await Session.create(b, { ttlMs: TTL * 10 });
    try {
      const held = await new Mutex(sa, 'terminated').lock();
      const waiting = new Mutex(sb, 'terminated').lock({ timeoutMs: 10_000 });
      await new Promise((r) => setTimeout(r, 300)); // the waiter watches
      const killed = await server.sql<{ n: number }>(
        database,
        "SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = 'tenure' AND pid <> pg_backend_pid()",
      );
      expect(killed[0]!.n).toBeGreaterThanOrEqual(3); // the pools and both listeners
      // The holder's first call may land on a terminated connection: typed and retryable.
      let unlocked = false;
      for (let i = 0; i < 5 && !unlocked; i++) {
        try {
          await held.unlock();
          unlocked = true;
        } catch (err) {
          expect((err as { code?: string }).code).toBe('TENURE_UNAVAILABLE');
        }
      }
      const t0 = performance.now();
      const lock = await waiting;
      // Woken by the reconnected listener, not by the waiter's lease deadline (20 s) or timeout.
      expect(performance.now() - t0).toBeLessThan(1500);
      expect(lock.fencingToken).toBeGreaterThan(held.fencingToken);
      await lock.unlock();
    } finally {
      await sa.close().catch(() => undefined);
      await sb.close().catch(() => undefined);
      await a.close();
      await b.close();
    }
  });
});

describe('a watch whose start read finds the server down', () => {
  /** Kills the server, opens a watch (its start read fails), restarts the server `downMs` later. */
  async function startDuringOutage(downMs: number) {
    const server = await PostgresServer.start();
    const database = await server.createDatabase('start');
    const options = { port: server.port, user: PG_USER, password: PG_PASSWORD, database };
    const store = await PostgresStore.open({ ...options, requestTimeoutMs: 2000, connectTimeoutMs: 500 });
    const writer = await PostgresStore.open(options);
    const ac = new AbortController();
    try {
      await store.put('k', 'before');
      await writer.close();
      await server.kill('SIGKILL');
      const t0 = performance.now();
      const it = store.watch('k', { signal: ac.signal })[Symbol.asyncIterator]();
      const first = it.next().then(
        (r) => ({ value: r.value, ms: performance.now() - t0 }),
        (err: unknown) => ({ err: err as { code?: string }, ms: performance.now() - t0 }),
      );
      await new Promise((r) => setTimeout(r, downMs));
      await server.restart();
      const again = await PostgresStore.open(options);
      try {
        const settled = await Promise.race([first, new Promise((r) => setTimeout(r, 300))]);
        if (settled === undefined) await again.put('k', 'after'); // still waiting: give it an event
        return await first;
      } finally {
        await again.close();
      }
    } finally {
      ac.abort();
      await store.close();
      await server.stop();
    }
  }

  it('retries it within requestTimeoutMs and then delivers what is written', async () => {
    const r = await startDuringOutage(700);
    expect('err' in r ? r.err.code : undefined).toBeUndefined();
    const batch = (r as { value: { events: { kv: { value: Uint8Array } }[] } }).value;
    expect(Buffer.from(batch.events[0]!.kv.value).toString()).toBe('after');
  });

  it('control: an outage longer than requestTimeoutMs fails the watch with TENURE_UNAVAILABLE in bounded time', async () => {
    const r = await startDuringOutage(3500);
    expect('err' in r ? r.err.code : undefined).toBe('TENURE_UNAVAILABLE');
    expect(r.ms).toBeLessThan(2000 + 1500);
  });
});

describe('calls waiting for a connection of the pool', () => {
  /** A store with one pooled connection, `keys` keys under `q/` (a range of them is a slow call). */
  async function queued(
    port: number,
    keys: number,
    timeouts: { requestTimeoutMs: number; connectTimeoutMs: number },
  ) {
    const server = await started;
    const database = await server.createDatabase('queue');
    const direct = await PostgresStore.open({
      port: server.port,
      user: PG_USER,
      password: PG_PASSWORD,
      database,
    });
    await putMany(direct, keys, numbered('q/'));
    await direct.close();
    return PostgresStore.open({
      port,
      user: PG_USER,
      password: PG_PASSWORD,
      database,
      poolSize: 1,
      ...timeouts,
    });
  }

  it('wait up to their deadline, not connectTimeoutMs: a queue of its own calls is not an outage', async () => {
    const store = await queued((await started).port, 3000, { requestTimeoutMs: 5000, connectTimeoutMs: 100 });
    try {
      const t0 = performance.now();
      const results = await Promise.allSettled(Array.from({ length: 12 }, () => store.range('q/')));
      const ms = performance.now() - t0;
      // The queue was longer than connectTimeoutMs, and every call still got its answer.
      expect(ms).toBeGreaterThan(300);
      expect(results.map((r) => (r.status === 'fulfilled' ? r.value.kvs.length : String(r.reason)))).toEqual(
        Array(12).fill(3000),
      );
    } finally {
      await store.close();
    }
  });

  it('control: on a server that stopped answering, every queued call fails TENURE_UNAVAILABLE in bounded time', async () => {
    const server = await started;
    const proxy = await TcpProxy.start(`127.0.0.1:${server.port}`);
    const store = await queued(proxy.port, 10, { requestTimeoutMs: 1000, connectTimeoutMs: 300 });
    try {
      proxy.blackholed = true;
      const t0 = performance.now();
      const outcomes = await Promise.all(
        Array.from({ length: 5 }, () =>
          store.get('q/00001').then(
            () => ({ code: 'ok', ms: performance.now() - t0 }),
            (err: unknown) => ({ code: (err as { code?: string }).code, ms: performance.now() - t0 }),
          ),
        ),
      );
      expect(outcomes.map((o) => o.code)).toEqual(Array(5).fill('TENURE_UNAVAILABLE'));
      // The call on the connection: its query_timeout (deadline + 500 ms); the queued ones: their
      // wait for the pool (the deadline), then a new connection (connectTimeoutMs) if the broken
      // one was dropped; never longer than two deadlines and the slack.
      expect(Math.max(...outcomes.map((o) => o.ms))).toBeLessThan(2 * 1000 + 500 + 1000);
    } finally {
      proxy.blackholed = false;
      await store.close();
      await proxy.close();
    }
  });
});

/**
 * Redis benchmarks, on one redis-server started here (no persistence, loopback), with the peers a
 * Node user would pick instead measured side by side in the same run:
 * - the floor: one raw EVALSHA of a trivial script and one raw SET, through ioredis and through
 *   node-redis (the driver comparison behind docs/redis.md), and tenure's put;
 * - a blocking XREAD delivery through each driver (what a watch waits on);
 * - an uncontended lock + unlock on an existing session: tenure's Mutex against two tenure puts,
 *   redlock (lock + unlock) and redis-semaphore's Mutex (acquire + release);
 * - 100 waiters on one lock: handoff latency, throughput, FIFO order and the longest wait, tenure
 *   against redlock with its default retry settings;
 * - crash failover: SIGKILL of a holder process, until the next holder has the lock, tenure
 *   against redlock at the same ttl.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { Mutex as SemaphoreMutex } from 'redis-semaphore';
import Redlock from 'redlock';
import { Mutex } from '../src/recipes/coordination/mutex.js';
import { Session } from '../src/recipes/coordination/session.js';
import { RedisStore } from '../src/store/redis/index.js';
import { RedisServer } from '../test/helpers/redis-server.js';
import { percentile, table, writeResults } from './report.js';

const r3 = (x: number) => Number(x.toFixed(3));
const p50 = (xs: number[]) => r3(percentile(xs, 50));
const p99 = (xs: number[]) => r3(percentile(xs, 99));
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const here = import.meta.dirname;
/** The pause between the last waiter queueing and the release, for tenure and redlock alike. */
const SETTLE_MS = 500;

/** Times each body in turn, rotating which goes first, so drift in load hits all alike. */
async function timeRound(n: number, bodies: ((i: number) => Promise<unknown>)[]): Promise<number[][]> {
  const out = bodies.map(() => [] as number[]);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < bodies.length; k++) {
      const j = (k + i) % bodies.length;
      const t0 = performance.now();
      await bodies[j]!(i);
      out[j]!.push(performance.now() - t0);
    }
  }
  return out;
}

/** Blocking-read delivery: `block` waits for the next entry, `add` appends one; n samples. */
async function blockingDelivery(
  block: (lastId: string) => Promise<string>,
  add: () => Promise<unknown>,
  n: number,
): Promise<number[]> {
  const out: number[] = [];
  let last = '$';
  for (let i = 0; i < n; i++) {
    const waiting = block(last);
    await sleep(1); // the read is blocked on the server before the add
    const t0 = performance.now();
    await add();
    last = await waiting;
    out.push(performance.now() - t0);
  }
  return out;
}

interface Waiters {
  handoffP50: number;
  handoffP99: number;
  perSecond: number;
  maxWaitMs: number;
  acquired: number;
  failed: number;
  fifo: boolean | undefined;
}

/** 100 tenure sessions queue on one Mutex while a holder keeps it; then it is released. */
async function tenureWaiters(port: number, n: number): Promise<Waiters> {
  const stores = Array.from({ length: 4 }, () => new RedisStore({ port, keyPrefix: 'bench-waiters' }));
  const holderSession = await Session.create(stores[0]!, { ttlMs: 10_000 });
  const sessions = await Promise.all(
    Array.from({ length: n }, (_, i) => Session.create(stores[i % 4]!, { ttlMs: 10_000 })),
  );
  const holder = await new Mutex(holderSession, 'handoff').lock();
  const acquired: { at: number; token: number; enqueued: number }[] = [];
  const released: number[] = [];
  const done = sessions.map(async (s) => {
    const enqueued = now();
    const lock = await new Mutex(s, 'handoff').lock();
    acquired.push({ at: now(), token: lock.fencingToken, enqueued });
    await lock.close();
    released.push(now());
  });
  // Every waiter has its key in the queue before the holder lets go.
  const probe = new Mutex(holderSession, 'handoff');
  while ((await probe.queue()).length < n + 1) await sleep(10);
  await sleep(SETTLE_MS); // and has its watch armed
  const t0 = now();
  released.unshift(t0);
  await holder.close();
  await Promise.all(done);
  const end = released[released.length - 1]!;
  const handoffs = acquired.map((a, i) => a.at - released[i]!);
  const tokens = acquired.map((a) => a.token);
  for (const s of [holderSession, ...sessions]) await s.close();
  for (const s of stores) await s.close();
  return {
    handoffP50: p50(handoffs),
    handoffP99: p99(handoffs),
    perSecond: Math.round((n / (end - t0)) * 1000),
    maxWaitMs: Math.round(Math.max(...acquired.map((a) => a.at - t0))),
    acquired: n,
    failed: 0,
    fifo: tokens.every((t, i) => i === 0 || t > tokens[i - 1]!),
  };
}

/** 100 redlock clients (default retry settings) contend for one resource the holder keeps. */
async function redlockWaiters(port: number, n: number): Promise<Waiters> {
  const clients = Array.from({ length: 4 }, () => new Redis({ port }));
  const locks = Array.from(
    { length: n + 1 },
    (_, i) => new Redlock([clients[i % 4]! as unknown as Redlock.CompatibleRedisClient]),
  );
  const holder = await locks[n]!.lock('bench-waiters-redlock', 10_000);
  const acquired: number[] = [];
  const released: number[] = [];
  let failed = 0;
  const done = locks.slice(0, n).map(async (r) => {
    try {
      const lock = await r.lock('bench-waiters-redlock', 10_000);
      acquired.push(now());
      await lock.unlock();
      released.push(now());
    } catch {
      failed++; // redlock gave up after its retries
    }
  });
  await sleep(SETTLE_MS); // every client has made its first attempt and is in its retry pause
  const t0 = now();
  released.unshift(t0);
  await holder.unlock();
  await Promise.all(done);
  const end = Math.max(...released);
  const handoffs = acquired.map((a, i) => a - released[i]!);
  for (const c of clients) c.disconnect();
  return {
    handoffP50: p50(handoffs),
    handoffP99: p99(handoffs),
    perSecond: Math.round((acquired.length / (end - t0)) * 1000),
    maxWaitMs: Math.round(Math.max(...acquired.map((a) => a - t0))),
    acquired: acquired.length,
    failed,
    fifo: undefined,
  };
}

/** SIGKILL of a holder process; ms from the kill until this process holds the lock. */
async function failover(mode: 'tenure' | 'redlock', port: number, ttlMs: number): Promise<number> {
  const child = spawn(
    process.execPath,
    [join(here, 'workers', 'redis-holder.js'), mode, String(port), String(ttlMs)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const lines = createInterface({ input: child.stdout });
  await new Promise<void>((resolve) => lines.on('line', (l) => l.startsWith('held') && resolve()));
  let acquire: () => Promise<() => Promise<void>>;
  let cleanup: () => Promise<void>;
  if (mode === 'tenure') {
    const store = new RedisStore({ port, keyPrefix: 'bench-failover' });
    const session = await Session.create(store, { ttlMs });
    acquire = async () => {
      const lock = await new Mutex(session, 'failover').lock();
      return () => lock.close();
    };
    cleanup = async () => {
      await session.close();
      await store.close();
    };
  } else {
    const client = new Redis({ port });
    const redlock = new Redlock([client as unknown as Redlock.CompatibleRedisClient]);
    acquire = async () => {
      const lock = await redlock.lock('bench-failover-redlock', ttlMs);
      return () => lock.unlock();
    };
    cleanup = async () => client.disconnect();
  }
  await sleep(ttlMs / 2);
  const pending = acquire();
  await sleep(20);
  const killedAt = now();
  child.kill('SIGKILL');
  await once(child, 'exit');
  const release = await pending;
  const ms = now() - killedAt;
  await release();
  await cleanup();
  return Math.round(ms);
}

export async function run(): Promise<void> {
  const server = await RedisServer.start();
  const port = server.port;
  const io = new Redis({ port });
  const io2 = new Redis({ port });
  const nr = createClient({ socket: { port, host: '127.0.0.1' } });
  await nr.connect();
  const nr2 = createClient({ socket: { port, host: '127.0.0.1' } });
  await nr2.connect();
  const store = new RedisStore({ port, keyPrefix: 'bench' });
  try {
    const sha = (await io.script('LOAD', 'return 1')) as string;
    for (let i = 0; i < 200; i++) {
      await io.evalsha(sha, 0);
      await nr.evalSha(sha);
      await store.put('warm', String(i));
    }
    const N = 1000;
    const [ioEval, ioSet, nrEval, nrSet, tenurePut] = await timeRound(N, [
      () => io.evalsha(sha, 0),
      (i) => io.set('bench:raw', String(i)),
      () => nr.evalSha(sha),
      (i) => nr.set('bench:raw-nr', String(i)),
      (i) => store.put('bench/put', String(i)),
    ]);
    const floor = {
      ioredisEvalsha: p50(ioEval!),
      ioredisSet: p50(ioSet!),
      nodeRedisEvalsha: p50(nrEval!),
      nodeRedisSet: p50(nrSet!),
      tenurePut: p50(tenurePut!),
      tenurePutP99: p99(tenurePut!),
    };
    console.log('floor p50 ms', floor);

    const ioBlock = await blockingDelivery(
      async (last) => {
        const r = await io2.xread('BLOCK', 5000, 'STREAMS', 'bench:stream', last);
        return r![0]![1].at(-1)![0];
      },
      () => io.xadd('bench:stream', '*', 'f', 'v'),
      200,
    );
    const nrBlock = await blockingDelivery(
      async (last) => {
        const r = (await nr2.xRead({ key: 'bench:stream-nr', id: last }, { BLOCK: 5000 })) as
          { messages: { id: string }[] }[] | null;
        return r![0]!.messages.at(-1)!.id;
      },
      () => nr.xAdd('bench:stream-nr', '*', { f: 'v' }),
      200,
    );
    const blocking = { ioredis: p50(ioBlock), nodeRedis: p50(nrBlock) };
    console.log('blocking XREAD delivery p50 ms', blocking);

    // A watch's delivery: put through one store, event through another store's watch.
    const watcher = new RedisStore({ port, keyPrefix: 'bench' });
    const ac = new AbortController();
    let arrived: (() => void) | undefined;
    const watching = (async () => {
      try {
        for await (const _batch of watcher.watch('bench/watched', { signal: ac.signal })) arrived?.();
      } catch {
        // aborted
      }
    })();
    await sleep(100);
    const watchMs: number[] = [];
    for (let i = 0; i < 200; i++) {
      const got = new Promise<void>((r) => (arrived = r));
      const t0 = performance.now();
      await Promise.all([store.put('bench/watched', String(i)), got]);
      watchMs.push(performance.now() - t0);
    }
    ac.abort();
    await watching;
    await watcher.close();
    console.log('watch delivery p50 ms', p50(watchMs));

    const session = await Session.create(store, { ttlMs: 10_000 });
    const mutex = new Mutex(session, 'uncontended');
    const redlock = new Redlock([io as unknown as Redlock.CompatibleRedisClient]);
    const L = 500;
    const [twoPuts, tenureLock, redlockLock, semaphoreLock] = await timeRound(L, [
      async (i) => {
        await store.put('bench/two-puts', String(i));
        await store.put('bench/two-puts', String(i + 1));
      },
      async () => {
        const lock = await mutex.lock();
        await lock.close();
      },
      async () => {
        const lock = await redlock.lock('bench-uncontended-redlock', 10_000);
        await lock.unlock();
      },
      async () => {
        const m = new SemaphoreMutex(io, 'bench-uncontended-semaphore', { lockTimeout: 10_000 });
        await m.acquire();
        await m.release();
      },
    ]);
    await session.close();
    const uncontended = {
      twoTenurePuts: p50(twoPuts!),
      tenureLockUnlock: p50(tenureLock!),
      redlock: p50(redlockLock!),
      redisSemaphore: p50(semaphoreLock!),
    };
    console.log('uncontended lock+unlock p50 ms', uncontended);

    const tenure100 = await tenureWaiters(port, 100);
    const redlock100 = await redlockWaiters(port, 100);
    console.log('100 waiters', { tenure: tenure100, redlock: redlock100 });

    const TTL = 1000;
    const failovers = { tenure: [] as number[], redlock: [] as number[] };
    for (let round = 0; round < 3; round++) {
      failovers.tenure.push(await failover('tenure', port, TTL));
      failovers.redlock.push(await failover('redlock', port, TTL));
    }
    console.log('failover ms', failovers);

    const results = {
      floor,
      blocking,
      watchDeliveryP50: p50(watchMs),
      uncontended,
      tenure100,
      redlock100,
      ttlMs: TTL,
      failovers,
    };
    const ratio = (a: number, b: number) => (a / b).toFixed(2);
    const md = [
      '### Redis',
      '',
      `One \`redis-server\` 7.0 on loopback, no persistence; every row of a table measured in the same run, alternating. Load average at the end of the run: ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores (shared machine: absolute numbers are noisy, ratios less so).`,
      '',
      'Floor (p50 ms, 1,000 rounds):',
      '',
      table(
        ['call', 'ioredis', 'node-redis'],
        [
          ['EVALSHA of `return 1`', floor.ioredisEvalsha, floor.nodeRedisEvalsha],
          ['SET', floor.ioredisSet, floor.nodeRedisSet],
          ['blocking XREAD delivery (XADD → reader)', blocking.ioredis, blocking.nodeRedis],
        ],
      ),
      '',
      `tenure put (one EVALSHA of the store script): p50 ${floor.tenurePut} ms, p99 ${floor.tenurePutP99} ms; watch delivery (put → event in another store) p50 ${p50(watchMs)} ms.`,
      '',
      'Uncontended lock + unlock on an existing session (p50 ms, 500 rounds):',
      '',
      table(
        ['cycle', 'p50 ms', 'vs two tenure puts', 'fencing token'],
        [
          ['two tenure puts', uncontended.twoTenurePuts, '1.00', '—'],
          [
            'tenure Mutex lock + close',
            uncontended.tenureLockUnlock,
            ratio(uncontended.tenureLockUnlock, uncontended.twoTenurePuts),
            'yes',
          ],
          [
            'redlock 4.2 lock + unlock',
            uncontended.redlock,
            ratio(uncontended.redlock, uncontended.twoTenurePuts),
            'no',
          ],
          [
            'redis-semaphore 5 Mutex acquire + release',
            uncontended.redisSemaphore,
            ratio(uncontended.redisSemaphore, uncontended.twoTenurePuts),
            'no',
          ],
        ],
      ),
      '',
      `100 waiters on one lock, released ${SETTLE_MS} ms after all queued (each holder releases as soon as it has the lock); longest wait counted from the release:`,
      '',
      table(
        [
          '',
          'handoff p50 ms',
          'handoff p99 ms',
          'acquisitions/s',
          'longest wait ms',
          'acquired',
          'gave up',
          'FIFO',
        ],
        [
          [
            'tenure Mutex',
            tenure100.handoffP50,
            tenure100.handoffP99,
            tenure100.perSecond,
            tenure100.maxWaitMs,
            tenure100.acquired,
            tenure100.failed,
            String(tenure100.fifo),
          ],
          [
            'redlock (defaults: 10 retries, 200 ms + jitter)',
            redlock100.handoffP50,
            redlock100.handoffP99,
            redlock100.perSecond,
            redlock100.maxWaitMs,
            redlock100.acquired,
            redlock100.failed,
            'no order',
          ],
        ],
      ),
      '',
      `Throughput ratio tenure / redlock: ${ratio(tenure100.perSecond, Math.max(1, redlock100.perSecond))}×.`,
      '',
      `Crash failover: SIGKILL of the holder process until the next holder has the lock, ttl ${TTL} ms (3 rounds, ms):`,
      '',
      table(
        ['', 'rounds', 'worst / ttl'],
        [
          ['tenure Mutex', failovers.tenure.join(', '), ratio(Math.max(...failovers.tenure), TTL)],
          [
            'redlock (lock ttl, default retries)',
            failovers.redlock.join(', '),
            ratio(Math.max(...failovers.redlock), TTL),
          ],
        ],
      ),
    ].join('\n');
    writeResults('redis', results, md);
  } finally {
    io.disconnect();
    io2.disconnect();
    await nr.quit().catch(() => undefined);
    await nr2.quit().catch(() => undefined);
    await store.close();
    await server.stop();
  }
}

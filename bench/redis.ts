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
 *
 * Where the lock cycle's time goes is measured beside it: the server time of each call kind
 * (INFO commandstats), the cycle with the holder's loss watch replaced by a no-op, and the cycle
 * on the memory store (the recipes' own work). `TENURE_BENCH_BEFORE=/path/to/a/built/checkout`
 * (its dist/ built) runs that build's store and Mutex side by side with this one, named by
 * `TENURE_BENCH_BEFORE_NAME`.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { Mutex as SemaphoreMutex } from 'redis-semaphore';
import Redlock from 'redlock';
import { FOLLOW_DELAY_MS } from '../src/recipes/coordination/holding.js';
import { Mutex } from '../src/recipes/coordination/mutex.js';
import { Session } from '../src/recipes/coordination/session.js';
import { MemoryStore } from '../src/store/memory/index.js';
import { followOn } from '../src/store/follow.js';
import { RedisStore } from '../src/store/redis/index.js';
import type { Store, WatchListener } from '../src/store/types.js';
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
  /** Store calls during the releases, per release, by script command (counted runs only). */
  callsPerRelease?: Record<string, number>;
}

/**
 * Counts the commands clients send (MONITOR; not those a script runs) until `stop()`: store calls
 * by script command and kind of txn (`txn read`: a read-only txn, as a woken waiter's look at
 * its queue; `txn write`), other commands by name.
 */
async function countCalls(port: number): Promise<{ stop(): Promise<Record<string, number>> }> {
  const monitor = await new Redis({ port, lazyConnect: true }).monitor();
  let driverErrors = 0;
  // ioredis now and then reports a MONITOR line as a "command queue state error": counted, so a
  // count that lost a line says so.
  monitor.on('error', () => driverErrors++);
  const counts: Record<string, number> = {};
  let marker = false;
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (source.includes('lua')) return;
    const name = args[0]!.toLowerCase();
    if (name === 'echo' && args[1] === 'bench-end') marker = true;
    if (marker) return;
    let what = name;
    if (name === 'evalsha' || name === 'eval') {
      // EVALSHA sha numkeys keys... command retain runid, then for txn: compares (count, 4 each),
      // success ops (count, 4 each: kind key a b), failure ops.
      const at = 3 + Number(args[2]);
      what = args[at]!;
      if (what === 'txn') {
        const ops = at + 4 + Number(args[at + 3]) * 4;
        const kinds = Array.from({ length: Number(args[ops]) }, (_, i) => args[ops + 1 + i * 4]);
        what = kinds.some((k) => k === 'p' || k === 'd') ? 'txn write' : 'txn read';
      }
    }
    counts[what] = (counts[what] ?? 0) + 1;
  });
  return {
    async stop() {
      const admin = new Redis({ port });
      while (!marker) {
        await admin.echo('bench-end');
        await sleep(5);
      }
      admin.disconnect();
      monitor.disconnect();
      if (driverErrors > 0) counts['lines lost by the driver'] = driverErrors;
      return counts;
    },
  };
}

/**
 * 100 tenure sessions queue on one Mutex while a holder keeps it; then it is released. With
 * `count`, the store calls made during the releases are counted (MONITOR slows the server, so a
 * counted run's timings are not reported).
 */
async function tenureWaiters(port: number, n: number, count = false): Promise<Waiters> {
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
  const counter = count ? await countCalls(port) : undefined;
  const t0 = now();
  released.unshift(t0);
  await holder.close();
  await Promise.all(done);
  const calls = await counter?.stop();
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
    callsPerRelease:
      calls === undefined
        ? undefined
        : Object.fromEntries(Object.entries(calls).map(([k, v]) => [k, r3(v / (n + 1))])),
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

/** A follow's listener that drops what it is given (the cost of following, nothing else). */
const IGNORE: WatchListener = { batch() {}, error() {} };

/** The store and Mutex of one build: this one, or the one TENURE_BENCH_BEFORE names. */
interface Build {
  name: string;
  RedisStore: new (options: { port: number; keyPrefix: string }) => Store;
  Session: typeof Session;
  Mutex: typeof Mutex;
}

async function beforeBuild(): Promise<Build | undefined> {
  const root = process.env.TENURE_BENCH_BEFORE;
  if (root === undefined) return undefined;
  const load = (path: string) => import(join(root, 'dist', 'src', path)) as Promise<Record<string, unknown>>;
  return {
    name: process.env.TENURE_BENCH_BEFORE_NAME ?? 'before',
    RedisStore: (await load('store/redis/index.js')).RedisStore as Build['RedisStore'],
    Session: (await load('recipes/coordination/session.js')).Session as typeof Session,
    Mutex: (await load('recipes/coordination/mutex.js')).Mutex as typeof Mutex,
  };
}

/** Server time per call (INFO commandstats usec_per_call) of each command `body` sends, n times. */
async function serverTime(
  admin: Redis,
  n: number,
  body: () => Promise<unknown>,
): Promise<Record<string, { calls: number; usPerCall: number }>> {
  await admin.config('RESETSTAT');
  for (let i = 0; i < n; i++) await body();
  const text = await admin.info('commandstats');
  const out: Record<string, { calls: number; usPerCall: number }> = {};
  for (const m of text.matchAll(/cmdstat_(evalsha|eval|xread):calls=(\d+),usec=\d+,usec_per_call=([\d.]+)/g))
    out[m[1]!] = { calls: Number(m[2]) / n, usPerCall: Number(m[3]) };
  return out;
}

/** The results of the previous run (bench/results/redis.json), shown beside this run's. */
function previousResults(): Record<string, unknown> | undefined {
  const file = join(here, '..', '..', 'bench', 'results', 'redis.json');
  const fallback = join(here, 'results', 'redis.json');
  for (const f of [file, fallback])
    if (existsSync(f))
      return (JSON.parse(readFileSync(f, 'utf8')) as { results: Record<string, unknown> }).results;
  return undefined;
}

export async function run(): Promise<void> {
  const before = previousResults() as
    | {
        uncontended?: {
          twoTenurePuts: number;
          tenureLockUnlock: number;
          redlock: number;
          redisSemaphore: number;
        };
        tenure100?: { perSecond: number; handoffP50: number; maxWaitMs: number };
        redlock100?: { perSecond: number };
      }
    | undefined;
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
    // Where the cycle's time goes: the same cycle with the follow of its key that a hold kept
    // past FOLLOW_DELAY_MS starts, and on the memory store (no I/O: the recipes' own work).
    const memory = new MemoryStore();
    const memorySession = await Session.create(memory, { ttlMs: 10_000 });
    const memoryMutex = new Mutex(memorySession, 'uncontended');
    // The earlier build, side by side, on a key prefix of its own.
    const old = await beforeBuild();
    const oldStore = old === undefined ? undefined : new old.RedisStore({ port, keyPrefix: 'bench-before' });
    const oldSession = old === undefined ? undefined : await old.Session.create(oldStore!, { ttlMs: 10_000 });
    const oldMutex = old === undefined ? undefined : new old.Mutex(oldSession!, 'uncontended');
    const L = 500;
    const PASSES = 3;
    const cycle = (m: Mutex) => async () => {
      const lock = await m.lock();
      await lock.close();
    };
    const twoPuts = (s: Store) => async (i: number) => {
      await s.put('bench/two-puts', String(i));
      await s.put('bench/two-puts', String(i + 1));
    };
    const bodies: Record<string, (i: number) => Promise<unknown>> = {
      twoTenurePuts: twoPuts(store),
      tenureLockUnlock: cycle(mutex),
      redlock: async () => {
        const lock = await redlock.lock('bench-uncontended-redlock', 10_000);
        await lock.unlock();
      },
      redisSemaphore: async () => {
        const m = new SemaphoreMutex(io, 'bench-uncontended-semaphore', { lockTimeout: 10_000 });
        await m.acquire();
        await m.release();
      },
      tenureFollowed: async () => {
        const lock = await mutex.lock();
        const stop = followOn(store, lock.key, { fromRevision: lock.fencingToken + 1 }, IGNORE);
        await lock.close();
        stop();
      },
      tenureOnMemory: cycle(memoryMutex),
      ...(old === undefined
        ? {}
        : { twoTenurePutsBefore: twoPuts(oldStore!), tenureLockUnlockBefore: cycle(oldMutex! as Mutex) }),
    };
    const names = Object.keys(bodies);
    const passes: Record<string, number>[] = [];
    for (let pass = 0; pass < PASSES; pass++) {
      const times = await timeRound(
        L,
        names.map((n) => bodies[n]!),
      );
      passes.push(Object.fromEntries(names.map((n, k) => [n, p50(times[k]!)])));
    }
    const med = (xs: number[]) => r3(percentile(xs, 50));
    const medians = Object.fromEntries(names.map((n) => [n, med(passes.map((p) => p[n]!))]));
    const uncontended = {
      ...(medians as Record<string, number> & {
        twoTenurePuts: number;
        tenureLockUnlock: number;
        redlock: number;
        redisSemaphore: number;
        tenureFollowed: number;
        tenureOnMemory: number;
      }),
      /** tenure's cycle / two tenure puts, in each pass. */
      ratioPerPass: passes.map((p) => r3(p.tenureLockUnlock! / p.twoTenurePuts!)),
      /** The earlier build's cycle / its two puts, in each pass. */
      ratioPerPassBefore:
        old === undefined
          ? undefined
          : passes.map((p) => r3(p.tenureLockUnlockBefore! / p.twoTenurePutsBefore!)),
      passes,
    };

    // Server time per call kind: INFO commandstats over 1,000 of each, one kind at a time.
    const admin = new Redis({ port });
    const S = 1000;
    const trivial = await serverTime(admin, S, () => io.evalsha(sha, 0));
    const server: Record<string, Record<string, { calls: number; usPerCall: number }>> = {
      'EVALSHA of `return 1`': trivial,
      'tenure put': await serverTime(admin, S, () => store.put('bench/put', 'v')),
      'tenure Mutex lock + close': await serverTime(admin, S, cycle(mutex)),
    };
    if (old !== undefined) {
      server[`tenure put (${old.name})`] = await serverTime(admin, S, () => oldStore!.put('bench/put', 'v'));
      server[`tenure Mutex lock + close (${old.name})`] = await serverTime(
        admin,
        S,
        cycle(oldMutex! as Mutex),
      );
    }
    admin.disconnect();
    for (const s of [session, memorySession, oldSession]) await s?.close();
    for (const s of [memory, oldStore]) await s?.close();
    console.log('uncontended lock+unlock p50 ms (median of passes)', uncontended);

    const tenureRuns: Waiters[] = [];
    const redlockRuns: Waiters[] = [];
    for (let pass = 0; pass < PASSES; pass++) {
      tenureRuns.push(await tenureWaiters(port, 100));
      redlockRuns.push(await redlockWaiters(port, 100));
    }
    const medianRun = (runs: Waiters[]) => {
      const sorted = [...runs].sort((a, b) => a.perSecond - b.perSecond);
      return { ...sorted[Math.floor(sorted.length / 2)]!, perSecondPerPass: runs.map((r) => r.perSecond) };
    };
    const tenure100 = {
      ...medianRun(tenureRuns),
      fifo: tenureRuns.every((r) => r.fifo === true),
      maxWaitMs: Math.max(...tenureRuns.map((r) => r.maxWaitMs)),
      // A separate run under MONITOR: what each release costs in store calls.
      callsPerRelease: (await tenureWaiters(port, 100, true)).callsPerRelease,
    };
    const redlock100 = {
      ...medianRun(redlockRuns),
      maxWaitMs: Math.max(...redlockRuns.map((r) => r.maxWaitMs)),
      failed: redlockRuns.reduce((a, r) => a + r.failed, 0),
    };
    const throughputRatioPerPass = tenureRuns.map((t, i) =>
      r3(t.perSecond / Math.max(1, redlockRuns[i]!.perSecond)),
    );
    console.log('100 waiters', { tenure: tenure100, redlock: redlock100, throughputRatioPerPass });

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
      serverTime: server,
      tenure100,
      redlock100,
      ttlMs: TTL,
      failovers,
    };
    const ratio = (a: number, b: number) => (a / b).toFixed(2);
    /** A row of the uncontended table: a cycle's p50 and its ratio to two tenure puts. */
    const cycleRow = (label: string, p50: number, fencing: string) => [
      label,
      p50,
      ratio(p50, uncontended.twoTenurePuts),
      fencing,
    ];
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
      `Uncontended lock + unlock on an existing session (p50 ms of ${L} rounds; the median of ${PASSES} passes; every row in the same rotation):`,
      '',
      table(
        ['cycle', 'p50 ms', 'vs two tenure puts', 'fencing token'],
        [
          ['two tenure puts', uncontended.twoTenurePuts, '1.00', '—'],
          cycleRow('tenure Mutex lock + close', uncontended.tenureLockUnlock, 'yes'),
          cycleRow('redlock 4.2 lock + unlock', uncontended.redlock, 'no'),
          cycleRow('redis-semaphore 5 Mutex acquire + release', uncontended.redisSemaphore, 'no'),
          ...(old === undefined
            ? []
            : [
                cycleRow(`two tenure puts (${old.name})`, medians.twoTenurePutsBefore!, '—'),
                cycleRow(`tenure Mutex lock + close (${old.name})`, medians.tenureLockUnlockBefore!, 'yes'),
              ]),
          cycleRow(
            `measurement only: the same cycle, its key followed as a hold kept past ${FOLLOW_DELAY_MS} ms does`,
            uncontended.tenureFollowed,
            'yes',
          ),
          cycleRow(
            "measurement only: the same cycle on the memory store (the recipes' own work)",
            uncontended.tenureOnMemory,
            'yes',
          ),
        ],
      ),
      '',
      `tenure's cycle / two tenure puts per pass: ${uncontended.ratioPerPass.join(', ')}` +
        (uncontended.ratioPerPassBefore === undefined
          ? '.'
          : `; ${old!.name}'s cycle / its two puts: ${uncontended.ratioPerPassBefore.join(', ')}.`) +
        (before?.uncontended === undefined
          ? ''
          : ` Previous run: tenure ${before.uncontended.tenureLockUnlock} ms = ${ratio(before.uncontended.tenureLockUnlock, before.uncontended.twoTenurePuts)}× two puts (redlock ${before.uncontended.redlock}, redis-semaphore ${before.uncontended.redisSemaphore}).`),
      '',
      `Targets: the cycle ≤ 1.3× two tenure puts — ${uncontended.tenureLockUnlock <= 1.3 * uncontended.twoTenurePuts ? 'met' : 'not met'}; at least as fast as redlock — ${uncontended.tenureLockUnlock <= uncontended.redlock ? 'met' : 'not met'}; at least as fast as redis-semaphore — ${uncontended.tenureLockUnlock <= uncontended.redisSemaphore ? 'met' : 'not met'}. What the cycle adds to two puts: the recipes' own work ${uncontended.tenureOnMemory} ms (the cycle on the memory store); the two script calls themselves cost about two puts. A hold kept past ${FOLLOW_DELAY_MS} ms also follows its key, which costs ${r3(uncontended.tenureFollowed - uncontended.tenureLockUnlock)} ms more per hold (the followed cycle less the cycle).`,
      '',
      `Server time (INFO commandstats, µs per call, ${S} of each kind alone; calls per operation in brackets):`,
      '',
      table(
        ['operation', 'EVALSHA / EVAL', 'XREAD'],
        Object.entries(server).map(([name, stats]) => {
          const script = stats.evalsha ?? stats.eval;
          return [
            name,
            script === undefined ? '—' : `${script.usPerCall} (${r3(script.calls)})`,
            stats.xread === undefined ? '—' : `${stats.xread.usPerCall} (${r3(stats.xread.calls)})`,
          ];
        }),
      ),
      '',
      `100 waiters on one lock (the median of ${PASSES} passes by throughput, tenure and redlock alternating), released ${SETTLE_MS} ms after all queued (each holder releases as soon as it has the lock); longest wait counted from the release:`,
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
      `Throughput per pass: tenure ${tenure100.perSecondPerPass.join(', ')}/s, redlock ${redlock100.perSecondPerPass.join(', ')}/s; ratio tenure / redlock per pass: ${throughputRatioPerPass.join(', ')}× (median ${r3(percentile(throughputRatioPerPass, 50))}×).` +
        (before?.tenure100 === undefined || before.redlock100 === undefined
          ? ''
          : ` Previous run: ${before.tenure100.perSecond}/s against ${before.redlock100.perSecond}/s (${ratio(before.tenure100.perSecond, before.redlock100.perSecond)}×).`),
      '',
      `Store calls per release in a separate run under MONITOR (not timed): ${Object.entries(
        tenure100.callsPerRelease ?? {},
      )
        .map(([k, v]) => `${k} ${v}`)
        .join(
          ', ',
        )}. A release is one write (the unlock); the one \`txn read\` is the next waiter, woken by the delete of the key it watches, looking at its queue; no other waiter reads (no herd), and no watch reads the log. \`xread\`: the blocking reads of the four stores' change-log tails.`,
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

/**
 * Many waiters on one lock (issue 10, section 4): 10,000 `mutex.lock()` calls in one process, on
 * one session, behind a holder. Measures how long they take to enqueue and what memory they cost
 * (heap and RSS growth), then drains the queue (each new holder unlocks at once) and measures the
 * handoff rate and the store calls made per release.
 *
 * Each backend runs in a fresh child process, so its memory figures are its own. A run that
 * cannot finish enqueuing within the cap, or that grows past the memory cap, is stopped and
 * reported as such (the numbers before the fix).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Mutex } from '../src/recipes/coordination/mutex.js';
import { Session } from '../src/recipes/coordination/session.js';
import { EtcdStore } from '../src/store/etcd/index.js';
import { MemoryStore } from '../src/store/memory/index.js';
import { SqliteStore } from '../src/store/sqlite/index.js';
import type { Store } from '../src/store/types.js';
import { EtcdCluster } from '../test/helpers/etcd-cluster.js';
import { benchDir, table, writeResults } from './report.js';

const WAITERS = Number(process.env.TENURE_BENCH_WAITERS ?? 10_000);
/**
 * etcd gets fewer: every waiting watch is a gRPC stream of its own (src/store/etcd/watch.ts),
 * and with 10,000 of them the enqueues stopped at 1,190 after 28 s (see bench/README.md).
 */
const ETCD_WAITERS = Number(process.env.TENURE_BENCH_ETCD_WAITERS ?? 1000);
const BACKENDS = ['memory', 'sqlite', 'etcd'] as const;
/**
 * `TENURE_BENCH_BACKENDS=etcd npm run bench -- waiters` runs only the backends named; the others
 * keep their rows from the previous run's results file.
 */
const ASKED = (process.env.TENURE_BENCH_BACKENDS ?? BACKENDS.join(',')).split(',').filter((b) => b !== '');
const ENQUEUE_CAP_MS = Number(process.env.TENURE_BENCH_ENQUEUE_CAP_MS ?? 60_000);
const DRAIN_CAP_MS = 120_000;
const MEMORY_CAP_MB = 1536;
const MB = 1024 * 1024;
const r1 = (x: number) => Number(x.toFixed(1));
const r3 = (x: number) => Number(x.toFixed(3));
const r2 = (x: number) => Number(x.toFixed(2));

/** SQLite at commit b72b4d1 (before issue 10's fix), 10,000 waiters: stopped at the cap. */
const SQLITE_BEFORE = { enqueued: 1742, enqueueMs: 429_000, heapGrowthMB: 542 };
/**
 * etcd before it answered reads by create revision itself (StoreBase's full read of the prefix),
 * 1,000 waiters, measured 2026-11-30 12:51 UTC on the machine of the current results.
 */
const ETCD_BEFORE = {
  enqueueMs: 6958.1,
  heapGrowthMB: 270.3,
  rssGrowthMB: 357.2,
  retainedHeapMB: 213.8,
  handoffsPerSecond: 146,
};

interface Result {
  backend: string;
  waiters: number;
  enqueued: number;
  enqueueMs: number;
  enqueueFinished: boolean;
  /** The child died at the heap limit before it could report. */
  outOfMemory?: boolean;
  heapGrowthMB: number;
  rssGrowthMB: number;
  retainedHeapMB: number;
  drained?: number;
  drainMs?: number;
  handoffsPerSecond?: number;
  storeCallsPerRelease?: Record<string, number>;
  maxHolders?: number;
}

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Counts store calls by name, and the enqueue transactions (a put under `prefix`) that returned. */
function counting(store: Store, prefix: string) {
  const calls: Record<string, number> = {};
  const state = { enqueued: 0, calls, onProgress: () => {} };
  const proxy = new Proxy(store, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target) as unknown;
      if (typeof v !== 'function') return v;
      const name = String(prop);
      return (...args: unknown[]) => {
        calls[name] = (calls[name] ?? 0) + 1;
        const out = (v as (...a: unknown[]) => unknown).apply(target, args);
        const req = args[0] as { success?: { type: string; key: string }[] } | undefined;
        const first = name === 'txn' ? req?.success?.[0] : undefined;
        if (first?.type === 'put' && first.key.startsWith(prefix))
          void (out as Promise<unknown>).then(
            () => {
              state.enqueued++;
              console.error(
                `${state.enqueued} enqueued at ${Math.round(performance.now())} ms, heap ${Math.round(process.memoryUsage().heapUsed / MB)} MB`,
              );
              state.onProgress();
            },
            () => undefined,
          );
        return out;
      };
    },
  });
  return { store: proxy, state };
}

async function child(backend: string, n: number): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'tenure-waiters-'));
  // etcd: one member on loopback, started the way the tests start theirs (test/helpers).
  const cluster = backend === 'etcd' ? await EtcdCluster.start({ size: 1 }) : undefined;
  const raw: Store =
    backend === 'memory'
      ? new MemoryStore()
      : cluster !== undefined
        ? new EtcdStore({ endpoints: cluster.endpoints, requestTimeoutMs: 30_000 })
        : new SqliteStore({ path: join(dir, 'w.db') });
  const prefix = 'mutex/many/';
  const { store, state } = counting(raw, prefix);
  const holderSession = await Session.create(store, { ttlMs: 60_000 });
  const waiterSession = await Session.create(store, { ttlMs: 60_000 });
  const holder = await new Mutex(holderSession, 'many').lock();
  const mutex = new Mutex(waiterSession, 'many');
  process.on('warning', (w) => console.error(`warning: ${w.name}: ${w.message}`));

  gc();
  const heap0 = process.memoryUsage().heapUsed;
  const rss0 = process.memoryUsage().rss;
  let heapMax = heap0;
  let rssMax = rss0;
  const sample = () => {
    const m = process.memoryUsage();
    heapMax = Math.max(heapMax, m.heapUsed);
    rssMax = Math.max(rssMax, m.rss);
  };
  const sampler = setInterval(sample, 20);

  let held = 0;
  let holding = 0;
  let maxHolders = 1;
  const ac = new AbortController();
  state.enqueued = 0; // the holder's own enqueue is not one of the waiters
  const t0 = performance.now();
  const waits = Array.from({ length: n }, async () => {
    const lock = await mutex.lock({ signal: ac.signal });
    holding++;
    maxHolders = Math.max(maxHolders, holding);
    held++;
    holding--;
    await lock.close();
  });
  const settled = Promise.allSettled(waits);
  // Checked on every enqueue as well as on a timer: a run that saturates the event loop starves
  // timers, and must still stop at its cap.
  const capped = (check: () => boolean, capMs: number) =>
    new Promise<boolean>((resolve) => {
      let done = false;
      const tick = (timer: boolean) => {
        if (done) return;
        sample();
        if (check()) done = true;
        else if (performance.now() - t0 > capMs || (rssMax - rss0) / MB > MEMORY_CAP_MB) done = true;
        if (done) {
          state.onProgress = () => {};
          return resolve(check());
        }
        if (timer) setTimeout(() => tick(true), 5);
      };
      state.onProgress = () => tick(false);
      tick(true);
    });
  const enqueueFinished = await capped(() => state.enqueued >= n, ENQUEUE_CAP_MS);
  const enqueueMs = performance.now() - t0;
  const enqueued = state.enqueued;
  // Let the waiters settle into their watches, then see what they keep.
  await new Promise((r) => setTimeout(r, 500));
  sample();
  clearInterval(sampler);
  gc();
  const result: Result = {
    backend,
    waiters: n,
    enqueued,
    enqueueMs: r1(enqueueMs),
    enqueueFinished,
    heapGrowthMB: r1((heapMax - heap0) / MB),
    rssGrowthMB: r1((rssMax - rss0) / MB),
    retainedHeapMB: r1((process.memoryUsage().heapUsed - heap0) / MB),
  };
  if (enqueueFinished) {
    for (const k of Object.keys(state.calls)) state.calls[k] = 0;
    const t1 = performance.now();
    await holder.close();
    const drained = await capped(() => held >= n, DRAIN_CAP_MS + (t1 - t0));
    const drainMs = performance.now() - t1;
    result.drained = held;
    result.drainMs = r1(drainMs);
    result.handoffsPerSecond = Math.round(held / (drainMs / 1000));
    // Each release: the new holder's unlock (one delete) plus whatever the waiters did.
    result.storeCallsPerRelease = Object.fromEntries(
      Object.entries(state.calls)
        .filter(([k]) => ['txn', 'get', 'range', 'delete', 'watch'].includes(k))
        .map(([k, v]) => [k, r3(v / Math.max(1, held))]),
    );
    result.maxHolders = maxHolders;
    if (!drained) ac.abort();
  } else ac.abort();
  await waiterSession.close();
  await settled;
  await holderSession.close().catch(() => undefined);
  await raw.close();
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
  return result;
}

/** The rows of the last run, kept for the backends this run does not measure. */
function previousResults(): Result[] {
  try {
    const file = JSON.parse(readFileSync(join(benchDir, 'results', 'waiters.json'), 'utf8')) as {
      results?: Result[];
    };
    return file.results ?? [];
  } catch {
    return [];
  }
}

function runChild(backend: string): Promise<Result> {
  return new Promise((resolve, reject) => {
    // A heap limit keeps a run that grows without bound (SQLite before its create-revision
    // index) from taking the host's memory: it collects harder, then dies, reported as such.
    const proc = spawn(
      process.execPath,
      [
        `--max-old-space-size=${MEMORY_CAP_MB}`,
        fileURLToPath(import.meta.url),
        'child',
        backend,
        String(backend === 'etcd' ? ETCD_WAITERS : WAITERS),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.on('error', reject);
    proc.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line) as Result);
      else {
        console.error(`waiters benchmark child (${backend}) exited ${code} without a result`);
        resolve({
          backend,
          waiters: backend === 'etcd' ? ETCD_WAITERS : WAITERS,
          enqueued: 0,
          enqueueMs: 0,
          enqueueFinished: false,
          outOfMemory: true,
          heapGrowthMB: MEMORY_CAP_MB,
          rssGrowthMB: 0,
          retainedHeapMB: 0,
        });
      }
    });
  });
}

export async function run(): Promise<void> {
  const unknown = ASKED.filter((b) => !(BACKENDS as readonly string[]).includes(b));
  if (unknown.length > 0)
    throw new Error(`TENURE_BENCH_BACKENDS: unknown ${unknown.join(', ')}; known: ${BACKENDS.join(', ')}`);
  const previous = previousResults();
  const results: Result[] = [];
  for (const backend of BACKENDS) {
    const kept = previous.find((r) => r.backend === backend);
    if (!ASKED.includes(backend)) {
      if (kept !== undefined) results.push(kept);
      continue;
    }
    const r = await runChild(backend);
    console.log(JSON.stringify(r));
    results.push(r);
  }
  const yes = (ok: boolean) => (ok ? 'yes' : 'no');
  const rows = results.map((r) => {
    const calls = r.storeCallsPerRelease ?? {};
    const reads = (calls.get ?? 0) + (calls.range ?? 0);
    return [
      r.backend,
      r.waiters.toLocaleString('en'),
      r.outOfMemory
        ? `out of memory (heap limit ${MEMORY_CAP_MB} MB) before enqueuing`
        : r.enqueueFinished
          ? `${r.enqueueMs} ms`
          : `not done: ${r.enqueued} in ${r.enqueueMs} ms`,
      r.outOfMemory ? `> ${MEMORY_CAP_MB} MB heap` : `${r.heapGrowthMB} / ${r.rssGrowthMB} MB`,
      r.outOfMemory ? '' : `${r.retainedHeapMB} MB`,
      r.handoffsPerSecond === undefined ? '' : `${r.handoffsPerSecond}/s (${r.drained} in ${r.drainMs} ms)`,
      r.storeCallsPerRelease === undefined
        ? ''
        : `${r3(reads)} reads, ${calls.txn ?? 0} txns, ${calls.watch ?? 0} watches`,
      r.maxHolders ?? '',
      r.waiters < WAITERS
        ? `not measured at ${WAITERS.toLocaleString('en')}`
        : yes(r.enqueueFinished && r.enqueueMs <= 5000 && Math.max(r.heapGrowthMB, r.rssGrowthMB) <= 200),
    ];
  });
  const byBackend = (b: string) => results.find((r) => r.backend === b && r.enqueueFinished);
  const x = (before: number, after: number) => `${r2(before / after)}×`;
  const sqlite = byBackend('sqlite');
  const etcd = byBackend('etcd');
  const sqliteRatios =
    sqlite === undefined
      ? ''
      : ` Enqueue rate ${x(sqlite.waiters / (sqlite.enqueueMs / 1000), SQLITE_BEFORE.enqueued / (SQLITE_BEFORE.enqueueMs / 1000))} higher (${Math.round(sqlite.waiters / (sqlite.enqueueMs / 1000))}/s against ${r1(SQLITE_BEFORE.enqueued / (SQLITE_BEFORE.enqueueMs / 1000))}/s); peak heap growth per waiter ${x(SQLITE_BEFORE.heapGrowthMB / SQLITE_BEFORE.enqueued, sqlite.heapGrowthMB / sqlite.waiters)} smaller (${r1((SQLITE_BEFORE.heapGrowthMB * 1024) / SQLITE_BEFORE.enqueued)} KB against ${r1((sqlite.heapGrowthMB * 1024) / sqlite.waiters)} KB); the queue now drains (${sqlite.handoffsPerSecond}/s; before: not within the cap).`;
  const etcdRows =
    etcd === undefined
      ? []
      : [
          [
            'enqueue',
            `${ETCD_BEFORE.enqueueMs} ms`,
            `${etcd.enqueueMs} ms`,
            x(ETCD_BEFORE.enqueueMs, etcd.enqueueMs),
          ],
          [
            'peak heap growth',
            `${ETCD_BEFORE.heapGrowthMB} MB`,
            `${etcd.heapGrowthMB} MB`,
            x(ETCD_BEFORE.heapGrowthMB, etcd.heapGrowthMB),
          ],
          [
            'peak RSS growth',
            `${ETCD_BEFORE.rssGrowthMB} MB`,
            `${etcd.rssGrowthMB} MB`,
            x(ETCD_BEFORE.rssGrowthMB, etcd.rssGrowthMB),
          ],
          [
            'heap while waiting',
            `${ETCD_BEFORE.retainedHeapMB} MB`,
            `${etcd.retainedHeapMB} MB`,
            x(ETCD_BEFORE.retainedHeapMB, etcd.retainedHeapMB),
          ],
          [
            'handoffs',
            `${ETCD_BEFORE.handoffsPerSecond}/s`,
            `${etcd.handoffsPerSecond}/s`,
            x(etcd.handoffsPerSecond!, ETCD_BEFORE.handoffsPerSecond),
          ],
        ];
  writeResults(
    'waiters',
    results,
    `## Many waiters on one lock

\`mutex.lock()\` calls in one process on one session (${WAITERS.toLocaleString('en')}; etcd ${ETCD_WAITERS.toLocaleString('en')}, see below), behind a holder; then the holder unlocks and each new holder unlocks at once. Memory is the peak growth over the run's start (heap / RSS) and the heap still held once they wait; store calls per release count every call the waiters and the new holder make (the unlock is one \`delete\`; a waiter's reads by create revision are inside its \`txn\`). Target: ${WAITERS.toLocaleString('en')} enqueued in ≤ 5 s with ≤ 200 MB, one wakeup per release. etcd is one member on loopback, started as the tests start theirs. Machine: 2 cores. The memory and SQLite rows were measured on a quiet machine (load average below 1), the etcd rows under load average 8–10 from other work. A hold kept longer than \`FOLLOW_DELAY_MS\` (50 ms) also follows its own key from the revision it was handed out at (so a deletion by someone else is noticed without reading its signal); the holders here unlock sooner, so their releases cost no watch (runs before 2026-12-01 counted one per release).

${table(
  [
    'backend',
    'waiters',
    'enqueue',
    'peak heap / RSS growth',
    'heap while waiting',
    'drain',
    'store calls per release',
    'max holders',
    'target met',
  ],
  rows,
)}

**SQLite, before and after its create-revision index.** Before: every earlier run failed. At commit b72b4d1 (before issue 10's fix) ${SQLITE_BEFORE.enqueued.toLocaleString('en')} of 10,000 were enqueued after ${SQLITE_BEFORE.enqueueMs / 1000} s with ${SQLITE_BEFORE.heapGrowthMB} MB heap / 866 MB RSS growth; after that fix but before the index (StoreBase answering reads by create revision from a full read of the prefix, O(n²) memory in a burst), the run died at the ${MEMORY_CAP_MB} MB heap limit before 10,000 were enqueued. After: the row above.${sqliteRatios}

**etcd, before and after it answers reads by create revision itself** (\`max_create_revision\`, \`sort_target\` CREATE, \`sort_order\`, \`limit\` in the RangeRequest instead of StoreBase's full read of the prefix), ${ETCD_WAITERS.toLocaleString('en')} waiters, same machine and load, runs minutes apart:

${table(['measure', 'before (full read)', 'after (etcd selects)', 'ratio'], etcdRows)}

etcd has no create-revision index: it still scans the queue's range for each such read, so its own work per enqueue stays O(n); what changed is what crosses the wire and is decoded here, O(1) per read instead of O(n). With 10,000 waiters etcd did not finish enqueuing (1,190 after 28 s, then no progress to the 60 s cap, 455 MB heap growth): not investigated here; the likely cause is that every waiting watch is a gRPC stream of its own (src/store/etcd/watch.ts), thousands of them on one connection. etcd's clientv3 shares one Watch stream among a client's watches.

Before issue 10's fix (commit b72b4d1, same machine, load average ~10 on 2 cores): every waiter read the whole queue when it enqueued and again when woken, and every watch read the change log on every commit. Memory: enqueued in 38.9 s with 842 MB heap / 892 MB RSS growth, then drained at 8 handoffs/s (974 in the 120 s cap). Both memory and SQLite warned MaxListenersExceededWarning.`,
  );
}

if (process.argv[2] === 'child') {
  const r = await child(process.argv[3]!, Number(process.argv[4]));
  console.log(JSON.stringify(r));
  process.exit(0);
}

/**
 * Store benchmarks: SQLite compare-and-put latency, watch delivery to another process, the idle
 * cost of an open store with a watch, and the memory store's transaction rate.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MemoryStore } from '../src/store/memory/index.js';
import { SqliteStore } from '../src/store/sqlite/index.js';
import type { Store } from '../src/store/types.js';
import { percentile, table, writeResults } from './report.js';

const here = dirname(fileURLToPath(import.meta.url));
const round = (x: number, d = 3) => Number(x.toFixed(d));

async function casLatencies(store: Store, n: number): Promise<number[]> {
  await store.put('bench/cas', '0');
  const out: number[] = [];
  let kv = (await store.get('bench/cas'))!;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await store.txn({
      compare: [{ key: 'bench/cas', target: 'modRevision', op: '=', value: kv.modRevision }],
      success: [{ type: 'put', key: 'bench/cas', value: String(i) }],
    });
    out.push(performance.now() - t0);
    kv = { ...kv, modRevision: res.revision };
  }
  return out;
}

function child(args: string[]): Promise<{ lines: string[]; proc: ReturnType<typeof spawn> }> {
  const proc = spawn(process.execPath, [join(here, 'workers', 'store-watcher.js'), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
  });
  return Promise.resolve({ lines, proc });
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 5));
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tenure-bench-'));
  try {
    const path = join(dir, 'bench.db');
    const sqlite = new SqliteStore({ path });
    await casLatencies(sqlite, 500); // warm up
    const cas = await casLatencies(sqlite, 5000);
    const putLat: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const t0 = performance.now();
      await sqlite.put(`bench/put/${i % 100}`, 'v');
      putLat.push(performance.now() - t0);
    }

    // Watch delivery: commit here, iterator in another process.
    const watcher = await child([path, 'deliver']);
    await until(() => watcher.lines.includes('ready'));
    await new Promise((r) => setTimeout(r, 200));
    for (let i = 0; i < 400; i++) {
      await sqlite.put(`bench/w/${i % 10}`, String(performance.timeOrigin + performance.now()));
      // Irregular spacing so writes do not phase-lock with the poll interval.
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
    }
    await sqlite.put('bench/w/end', 'end');
    await until(() => watcher.lines.some((l) => l.startsWith('{')));
    const delays = (JSON.parse(watcher.lines.find((l) => l.startsWith('{'))!) as { delays: number[] }).delays;

    // Idle cost of an open store with one watch.
    const idle = await child([path, 'idle', '10']);
    await until(() => idle.lines.some((l) => l.startsWith('{')));
    const cpuFraction = (JSON.parse(idle.lines.find((l) => l.startsWith('{'))!) as { cpuFraction: number })
      .cpuFraction;
    await sqlite.close();

    // Memory store: compare-and-put transactions per second.
    const mem = new MemoryStore();
    await casLatencies(mem, 20_000);
    const t0 = performance.now();
    const memN = 300_000;
    await casLatencies(mem, memN);
    const memRate = memN / ((performance.now() - t0) / 1000);
    await mem.close();

    const results = {
      sqlite: {
        casP50Ms: round(percentile(cas, 50)),
        casP99Ms: round(percentile(cas, 99)),
        putP50Ms: round(percentile(putLat, 50)),
        watchDeliveryP50Ms: round(percentile(delays, 50), 2),
        watchDeliveryP99Ms: round(percentile(delays, 99), 2),
        watchDeliveries: delays.length,
        idleWatchCpuPercentOfCore: round(cpuFraction * 100, 2),
      },
      memory: { casTxnPerSecond: Math.round(memRate) },
    };
    console.log(JSON.stringify(results, null, 2));
    const s = results.sqlite;
    writeResults(
      'store',
      results,
      `## Store\n\nOne SQLite file on local disk (WAL, synchronous=normal), default options; the watch runs in a second process.\n\n` +
        table(
          ['measure', 'result', 'target', 'met'],
          [
            [
              'SQLite compare-and-put txn p50 / p99',
              `${s.casP50Ms} / ${s.casP99Ms} ms`,
              '≤ 0.5 ms p50',
              s.casP50Ms <= 0.5 ? 'yes' : 'no',
            ],
            ['SQLite plain put p50', `${s.putP50Ms} ms`, '', ''],
            [
              'SQLite watch delivery to another process p50',
              `${s.watchDeliveryP50Ms} ms`,
              '≤ 10 ms',
              s.watchDeliveryP50Ms <= 10 ? 'yes' : 'no',
            ],
            [
              'SQLite watch delivery p99',
              `${s.watchDeliveryP99Ms} ms`,
              '≤ 30 ms',
              s.watchDeliveryP99Ms <= 30 ? 'yes' : 'no',
            ],
            [
              'open store with one idle watch, CPU',
              `${s.idleWatchCpuPercentOfCore} % of a core`,
              '≤ 1 %',
              s.idleWatchCpuPercentOfCore <= 1 ? 'yes' : 'no',
            ],
            [
              'memory compare-and-put txn/s',
              results.memory.casTxnPerSecond.toLocaleString('en-US'),
              '≥ 200,000',
              results.memory.casTxnPerSecond >= 200_000 ? 'yes' : 'no',
            ],
          ],
        ),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

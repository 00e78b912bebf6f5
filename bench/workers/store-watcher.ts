/**
 * Benchmark child: watches a SQLite store and reports, per event, the delay from the commit time
 * written in the value (host wall clock, same machine) to delivery; or, with `idle`, reports its
 * own CPU use while one watch waits with nothing happening.
 */
import { SqliteStore } from '../../src/store/sqlite/index.js';

const [path, mode, seconds] = process.argv.slice(2) as [string, string, string];
const store = new SqliteStore({ path });
const now = () => performance.timeOrigin + performance.now();

if (mode === 'idle') {
  const ac = new AbortController();
  void (async () => {
    try {
      for await (const _ of store.watch('idle/', { prefix: true, signal: ac.signal })) void _;
    } catch {
      // aborted
    }
  })();
  await new Promise((r) => setTimeout(r, 500));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, Number(seconds) * 1000));
  const cpu = process.cpuUsage(cpu0);
  const wall = performance.now() - t0;
  process.stdout.write(`${JSON.stringify({ cpuFraction: (cpu.user + cpu.system) / 1000 / wall })}\n`);
  ac.abort();
  await store.close();
} else {
  process.stdout.write('ready\n');
  const delays: number[] = [];
  for await (const batch of store.watch('bench/', { prefix: true })) {
    const at = now();
    for (const e of batch.events) {
      const v = Buffer.from(e.kv.value).toString();
      if (v === 'end') {
        process.stdout.write(`${JSON.stringify({ delays })}\n`);
        await store.close();
        process.exit(0);
      }
      delays.push(at - Number(v));
    }
  }
}

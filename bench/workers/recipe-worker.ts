/**
 * Benchmark child for recipes on SQLite. Modes:
 * - `contend <path> <sessions> <seconds>`: runs <sessions> sessions that lock and unlock one mutex
 *   in a loop; prints acquire/release times (host wall clock) and how many queue re-reads its
 *   waiters made.
 * - `elect <path> <id> <ttlMs>`: campaigns and prints when it leads.
 */
import { Election } from '../../src/recipes/coordination/election.js';
import { Mutex } from '../../src/recipes/coordination/mutex.js';
import { Session } from '../../src/recipes/coordination/session.js';
import { exitAfterOutput } from '../../src/cli/exit.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import type { Store } from '../../src/store/types.js';

const [mode, path, a, b] = process.argv.slice(2) as [string, string, string, string];
const now = () => performance.timeOrigin + performance.now();
const store = new SqliteStore({ path });

if (mode === 'contend') {
  let reads = 0;
  const counting = new Proxy(store as Store, {
    get(target, prop) {
      if (prop === 'range') return (...args: Parameters<Store['range']>) => (reads++, target.range(...args));
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...x: unknown[]) => unknown).bind(target) : v;
    },
  });
  const sessions = await Promise.all(
    Array.from({ length: Number(a) }, () => Session.create(counting, { ttlMs: 5000 })),
  );
  const log: [number, number, number][] = []; // [token, acquiredAt, releasedAt]
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
  const until = performance.now() + Number(b) * 1000;
  await Promise.all(
    sessions.map(async (s) => {
      const mutex = new Mutex(s, 'bench');
      while (performance.now() < until) {
        const lock = await mutex.lock();
        const acquiredAt = now();
        const releasedAt = now();
        await lock.close();
        log.push([lock.fencingToken, acquiredAt, releasedAt]);
      }
    }),
  );
  process.stdout.write(`${JSON.stringify({ pid: process.pid, reads, log })}\n`);
  for (const s of sessions) await s.close();
  await store.close();
  // The log is far larger than a pipe's buffer: exit only once stdout has taken all of it.
  await exitAfterOutput(0);
} else if (mode === 'elect') {
  const session = await Session.create(store, { ttlMs: Number(b) });
  process.stdout.write('ready\n');
  for (;;) {
    const l = await new Election(session, 'bench').campaign(a);
    process.stdout.write(`${JSON.stringify({ leader: a, term: l.term, at: now() })}\n`);
    await new Promise((resolve) => l.signal.addEventListener('abort', resolve));
  }
}

/**
 * Recipes across real OS processes on one redis-server: SIGKILL of a leader, and four processes
 * taking turns on one lock, checked through a fenced resource.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { FencedCounter } from '../../examples/fenced-counter.js';
import { sleep } from '../helpers/async.js';
import { startNode, type Child } from '../helpers/processes.js';
import { RedisServer } from '../helpers/redis-server.js';
import { tempDir } from '../helpers/tmp.js';

const worker = fileURLToPath(new URL('./worker.mjs', import.meta.url));
type Event = { event: string; id: string; at: number; term?: number; token?: number; accepted?: boolean };
const events = (c: Child) => c.lines.map((l) => JSON.parse(l) as Event);
// Longer than the SQLite variant's 800 ms: these processes share the machine with a Redis server each.
const TTL = 1500;
/** The Redis expiry bound (capabilities.expiryBoundMs) plus scheduling slack on a loaded machine. */
const BOUND = 300 + 400;

const started = RedisServer.start();
started.catch(() => undefined);
afterAll(async () => (await started).stop());

describe('recipes across processes (Redis)', () => {
  it('election: SIGKILL of the leader hands over within ttl plus a bound; one leader per term, terms increase', async () => {
    const url = `${(await started).url}?keyPrefix=elect`;
    const procs = [0, 1, 2].map((i) => startNode(worker, [url, 'elect', `w${i}`, String(TTL), '', '1', '0']));
    try {
      await Promise.race(procs.map((p) => p.waitFor((l) => l.includes('"leader"'))));
      const failovers: number[] = [];
      for (let round = 0; round < 2; round++) {
        const all = procs.flatMap(events).filter((e) => e.event === 'leader');
        const current = all[all.length - 1]!;
        const leader = procs.find((p) =>
          events(p).some((e) => e.event === 'leader' && e.term === current.term),
        )!;
        await sleep(TTL / 2);
        const killedAt = performance.timeOrigin + performance.now();
        leader.proc.kill('SIGKILL');
        const next = await Promise.race(
          procs
            .filter((p) => p !== leader && p.proc.signalCode === null)
            .map((p) =>
              p.waitFor((l) => l.includes('"leader"') && (JSON.parse(l) as Event).term! > current.term!),
            ),
        );
        failovers.push((JSON.parse(next) as Event).at - killedAt);
      }
      for (const f of failovers) expect(f).toBeLessThanOrEqual(TTL + BOUND);
      const terms = procs
        .flatMap(events)
        .filter((e) => e.event === 'leader')
        .sort((a, b) => a.at - b.at)
        .map((e) => e.term!);
      expect(terms).toEqual([...new Set(terms)].sort((a, b) => a - b));
    } finally {
      for (const p of procs) p.proc.kill('SIGKILL');
    }
  });

  it('mutex: four processes, FIFO and mutually exclusive as seen by the fenced counter', async () => {
    const t = tempDir();
    const url = `${(await started).url}?keyPrefix=mutex`;
    new FencedCounter(join(t.dir, 'counter.db')).close();
    const procs = [0, 1, 2, 3].map((i) =>
      startNode(worker, [url, 'lock', `w${i}`, String(TTL), join(t.dir, 'counter.db'), '1', '15']),
    );
    try {
      const codes = await Promise.all(procs.map((p) => p.exited));
      expect(codes, procs.map((p) => p.stderr()).join('\n')).toEqual([0, 0, 0, 0]);
      const counter = new FencedCounter(join(t.dir, 'counter.db'));
      const writes = counter.writes();
      expect(counter.read()).toBe(60);
      expect(writes.every((w) => w.accepted)).toBe(true);
      const tokens = writes.map((w) => w.token);
      expect(tokens).toEqual([...tokens].sort((a, b) => a - b));
      expect(new Set(tokens).size).toBe(60);
      counter.close();
    } finally {
      for (const p of procs) p.proc.kill('SIGKILL');
      t.cleanup();
    }
  });
});

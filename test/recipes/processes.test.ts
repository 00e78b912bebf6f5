/**
 * Recipes across real OS processes on one SQLite file: crash (SIGKILL) and pause (SIGSTOP)
 * of leaders and lock holders, checked through a fenced resource, with a negative control.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FencedCounter } from '../../examples/fenced-counter.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { sleep } from '../helpers/async.js';
import { startNode, type Child } from '../helpers/processes.js';
import { tempDir } from '../helpers/tmp.js';

const worker = fileURLToPath(new URL('../fixtures/recipe-worker.mjs', import.meta.url));
type Event = {
  event: string;
  id: string;
  at: number;
  term?: number;
  token?: number;
  accepted?: boolean;
  aborted?: boolean;
  signalAborted?: boolean;
  status?: string;
};
const events = (c: Child) => c.lines.map((l) => JSON.parse(l) as Event);
const TTL = 800;
/** SQLite's expiry bound (reaper interval + 50) plus scheduling slack on a loaded 2-core machine. */
const BOUND = 150 + 400;

function fleet(dir: string, mode: string, n: number, extra: string[] = []): Child[] {
  return Array.from({ length: n }, (_, i) =>
    startNode(worker, [join(dir, 'store.db'), mode, `w${i}`, String(TTL), join(dir, 'counter.db'), ...extra]),
  );
}

describe('recipes across processes (SQLite)', () => {
  it('election: SIGKILL of the leader hands over within ttl plus a bound; one leader per term, terms increase', async () => {
    const t = tempDir();
    new SqliteStore({ path: join(t.dir, 'store.db') }).close();
    const procs = fleet(t.dir, 'elect', 3);
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
      const leaders = procs
        .flatMap(events)
        .filter((e) => e.event === 'leader')
        .sort((a, b) => a.at - b.at);
      const terms = leaders.map((e) => e.term!);
      expect(terms).toEqual([...new Set(terms)].sort((a, b) => a - b)); // strictly increasing, one leader each
    } finally {
      for (const p of procs) p.proc.kill('SIGKILL');
      t.cleanup();
    }
  });

  it('graceful shutdown: SIGTERM of a leader with closeOnSignals hands over at once, not after a ttl', async () => {
    const t = tempDir();
    new SqliteStore({ path: join(t.dir, 'store.db') }).close();
    const args = (i: number) => [
      join(t.dir, 'store.db'),
      'elect',
      `g${i}`,
      String(TTL * 4),
      join(t.dir, 'counter.db'),
    ];
    const first = startNode(worker, args(0), { TENURE_TEST_GRACEFUL: '1' });
    await first.waitFor((l) => l.includes('"leader"'));
    const second = startNode(worker, args(1), { TENURE_TEST_GRACEFUL: '1' });
    await second.waitFor((l) => l.includes('"session"'));
    await sleep(100);
    const sentAt = performance.timeOrigin + performance.now();
    first.proc.kill('SIGTERM');
    const line = await second.waitFor((l) => l.includes('"leader"'));
    expect(await first.exited).toBe('SIGTERM'); // it still exits as SIGTERM asks
    const handover = (JSON.parse(line) as Event).at - sentAt;
    expect(handover).toBeLessThan(TTL); // a quarter of the ttl (3.2 s) it would otherwise wait for
    second.proc.kill('SIGKILL');
    t.cleanup();
  });

  it('mutex: four processes, FIFO and mutually exclusive as seen by the fenced counter', async () => {
    const t = tempDir();
    new SqliteStore({ path: join(t.dir, 'store.db') }).close();
    new FencedCounter(join(t.dir, 'counter.db')).close();
    const procs = fleet(t.dir, 'lock', 4, ['1', '15']);
    try {
      expect(await Promise.all(procs.map((p) => p.exited))).toEqual([0, 0, 0, 0]);
      const counter = new FencedCounter(join(t.dir, 'counter.db'));
      const writes = counter.writes();
      expect(counter.read()).toBe(60);
      expect(writes.every((w) => w.accepted)).toBe(true);
      const tokens = writes.map((w) => w.token);
      expect(tokens).toEqual([...tokens].sort((a, b) => a - b)); // holders in queue order
      counter.close();
    } finally {
      for (const p of procs) p.proc.kill('SIGKILL');
      t.cleanup();
    }
  });

  async function pausedHolder(fenced: boolean) {
    const t = tempDir();
    new SqliteStore({ path: join(t.dir, 'store.db') }).close();
    new FencedCounter(join(t.dir, 'counter.db')).close();
    const paused = startNode(worker, [
      join(t.dir, 'store.db'),
      'pause-writer',
      'paused',
      String(TTL),
      join(t.dir, 'counter.db'),
      fenced ? '1' : '0',
    ]);
    await paused.waitFor((l) => l.includes('"checked"'));
    paused.proc.kill('SIGSTOP');
    const stoppedAt = performance.now();
    // A second process takes the lock once the paused holder's lease expires, and increments.
    const other = startNode(worker, [
      join(t.dir, 'store.db'),
      'lock',
      'other',
      String(TTL),
      join(t.dir, 'counter.db'),
      fenced ? '1' : '0',
      '1',
    ]);
    expect(await other.exited).toBe(0);
    const tookOverAfter = performance.now() - stoppedAt;
    paused.proc.kill('SIGCONT');
    expect(await paused.exited).toBe(0);
    const counter = new FencedCounter(join(t.dir, 'counter.db'));
    const result = { value: counter.read(), writes: counter.writes(), paused: events(paused), tookOverAfter };
    counter.close();
    t.cleanup();
    return result;
  }

  it('SIGSTOP of a holder past its ttl: its signal aborts, and the fenced resource refuses its late write', async () => {
    const r = await pausedHolder(true);
    expect(r.tookOverAfter).toBeGreaterThanOrEqual(TTL * 0.5);
    const late = r.paused.find((e) => e.event === 'late-write')!;
    expect(late.status).toBe('lost'); // after SIGCONT it knows at once that the lock is gone
    expect(late.signalAborted).toBe(true);
    expect(r.paused.some((e) => e.event === 'signal-aborted')).toBe(true);
    expect(late.accepted).toBe(false); // stale writes accepted: 0
    expect(r.writes.filter((w) => w.accepted).length).toBe(1);
    expect(r.value).toBe(1); // exact: one increment by the real holder
  });

  it('negative control: the same pause without fencing lets the stale write through (a lost update)', async () => {
    const r = await pausedHolder(false);
    const late = r.paused.find((e) => e.event === 'late-write')!;
    expect(late.accepted).toBe(true);
    expect(r.writes.filter((w) => w.accepted).length).toBe(2); // two holders wrote...
    expect(r.value).toBe(1); // ...but the counter shows one increment: the overlap corrupted it
  });
});

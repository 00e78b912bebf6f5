/**
 * Recipes across real OS processes on one PostgreSQL store: crash (SIGKILL) and pause (SIGSTOP)
 * of leaders and lock holders, checked through a fenced resource, with a negative control.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { FencedCounter } from '../../examples/fenced-counter.js';
import { sleep } from '../helpers/async.js';
import { PostgresServer } from '../helpers/postgres-server.js';
import { startNode, type Child } from '../helpers/processes.js';
import { tempDir } from '../helpers/tmp.js';

const worker = fileURLToPath(new URL('./worker.mjs', import.meta.url));
type Event = {
  event: string;
  id: string;
  at: number;
  term?: number;
  token?: number;
  accepted?: boolean;
  signalAborted?: boolean;
  status?: string;
};
const events = (c: Child) => c.lines.map((l) => JSON.parse(l) as Event);
const TTL = 1000;
/** The store's expiry bound (reaper 100 + grace 50 + 100) plus scheduling slack on a loaded 2-core machine. */
const BOUND = 250 + 400;

const started = PostgresServer.start();
started.catch(() => undefined);
afterAll(async () => {
  await (await started).stop();
});

async function freshStore(): Promise<string> {
  const server = await started;
  return server.url(await server.createDatabase('procs'));
}

describe('recipes across processes (PostgreSQL)', () => {
  it('election: SIGKILL of the leader hands over within ttl plus a bound; one leader per term, terms increase', async () => {
    const url = await freshStore();
    const t = tempDir();
    const procs = Array.from({ length: 3 }, (_, i) =>
      startNode(worker, [url, 'elect', `w${i}`, String(TTL), join(t.dir, 'counter.db')]),
    );
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
      t.cleanup();
    }
  });

  it('mutex: four processes, FIFO and mutually exclusive as seen by the fenced counter', async () => {
    const url = await freshStore();
    const t = tempDir();
    new FencedCounter(join(t.dir, 'counter.db')).close();
    const procs = Array.from({ length: 4 }, (_, i) =>
      startNode(worker, [url, 'lock', `w${i}`, String(TTL), join(t.dir, 'counter.db'), '1', '15']),
    );
    try {
      expect(await Promise.all(procs.map((p) => p.exited))).toEqual([0, 0, 0, 0]);
      const counter = new FencedCounter(join(t.dir, 'counter.db'));
      const writes = counter.writes();
      expect(counter.read()).toBe(60);
      expect(writes.every((w) => w.accepted)).toBe(true);
      const tokens = writes.map((w) => w.token);
      expect(tokens).toEqual([...tokens].sort((a, b) => a - b));
      counter.close();
    } finally {
      for (const p of procs) p.proc.kill('SIGKILL');
      t.cleanup();
    }
  });

  async function pausedHolder(fenced: boolean) {
    const url = await freshStore();
    const t = tempDir();
    new FencedCounter(join(t.dir, 'counter.db')).close();
    const counterPath = join(t.dir, 'counter.db');
    const paused = startNode(worker, [
      url,
      'pause-writer',
      'paused',
      String(TTL),
      counterPath,
      fenced ? '1' : '0',
    ]);
    await paused.waitFor((l) => l.includes('"checked"'));
    paused.proc.kill('SIGSTOP');
    const stoppedAt = performance.now();
    const other = startNode(worker, [
      url,
      'lock',
      'other',
      String(TTL),
      counterPath,
      fenced ? '1' : '0',
      '1',
    ]);
    expect(await other.exited).toBe(0);
    const tookOverAfter = performance.now() - stoppedAt;
    paused.proc.kill('SIGCONT');
    expect(await paused.exited).toBe(0);
    const counter = new FencedCounter(counterPath);
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
    expect(late.accepted).toBe(false);
    expect(r.writes.filter((w) => w.accepted).length).toBe(1);
    expect(r.value).toBe(1);
  });

  it('negative control: the same pause without fencing lets the stale write through (a lost update)', async () => {
    const r = await pausedHolder(false);
    const late = r.paused.find((e) => e.event === 'late-write')!;
    expect(late.accepted).toBe(true);
    expect(r.writes.filter((w) => w.accepted).length).toBe(2);
    expect(r.value).toBe(1);
  });
});

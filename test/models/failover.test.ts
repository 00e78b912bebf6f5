/**
 * The failover model against real failovers: leader processes on one SQLite file, killed with
 * SIGKILL at random points of their keepalive cycle, or stopped with SIGTERM (graceful: the
 * session is closed and its lease revoked). The measured p50 and the worst case must lie inside
 * the predicted range. Negative control: a model that forgets the keepalive phase (the lease
 * outliving the crash by a full ttl) must be refuted by a failover shorter than its minimum.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { failoverTime } from '../../src/models/index.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { sleep } from '../helpers/async.js';
import { startNode, type Child } from '../helpers/processes.js';
import { tempDir } from '../helpers/tmp.js';
import { seeded } from './simulation.js';

const worker = fileURLToPath(new URL('../fixtures/recipe-worker.mjs', import.meta.url));
const TTL = 600;
const KILLS = 6;
/**
 * What a loaded 2-core machine adds that the model leaves out: a process scheduled late to print
 * its leadership line, or to read the pipe. Stated, not hidden: the median must lie in the
 * model's [min, max + SCHEDULING_MS], every failover in [min, max + STARVED_MS] (at a load
 * average of 25 on 2 cores, one starved process in six runs is common). Nothing is allowed below
 * the minimum: scheduling only delays.
 */
const SCHEDULING_MS = 100;
const STARVED_MS = 300;

type Event = { event: string; id: string; at: number; term?: number };
const events = (c: Child) => c.lines.map((l) => JSON.parse(l) as Event);
const now = () => performance.timeOrigin + performance.now();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

/** Kills the current leader `rounds` times; returns each failover, ms. */
async function failovers(signal: 'SIGKILL' | 'SIGTERM', rounds: number): Promise<number[]> {
  const t = tempDir();
  const path = join(t.dir, 'store.db');
  new SqliteStore({ path }).close();
  const env: Record<string, string> = signal === 'SIGTERM' ? { TENURE_TEST_GRACEFUL: '1' } : {};
  // A graceful stop does not wait for the ttl: its candidates get a long one, so that a starved
  // process on a loaded machine does not lose its session, which is not what is measured.
  const ttl = signal === 'SIGTERM' ? 4 * TTL : TTL;
  const procs = Array.from({ length: rounds + 1 }, (_, i) =>
    startNode(worker, [`sqlite://${path}`, 'elect', `w${i}`, String(ttl), join(t.dir, 'counter.db')], env),
  );
  const u = seeded(signal.length);
  const out: number[] = [];
  try {
    await Promise.all(procs.map((p) => p.waitFor((l) => l.includes('"session"'))));
    await Promise.any(procs.map((p) => p.waitFor((l) => l.includes('"leader"'))));
    for (let round = 0; round < rounds; round++) {
      const leaders = procs.flatMap(events).filter((e) => e.event === 'leader');
      const term = Math.max(...leaders.map((e) => e.term!));
      const leader = procs.find((p) => events(p).some((e) => e.event === 'leader' && e.term === term))!;
      // A random point of the leader's keepalive cycle (ttl/3).
      await sleep(TTL / 2 + u() * (TTL / 3));
      const stoppedAt = now();
      leader.proc.kill(signal);
      // Any candidate may win; one that dies meanwhile (a loaded machine) is not the measure.
      const next = await Promise.any(
        procs
          .filter((p) => p !== leader && p.proc.exitCode === null && p.proc.signalCode === null)
          .map((p) => p.waitFor((l) => l.includes('"leader"') && (JSON.parse(l) as Event).term! > term)),
      );
      out.push((JSON.parse(next) as Event).at - stoppedAt);
    }
    return out;
  } finally {
    for (const p of procs) p.proc.kill('SIGKILL');
    t.cleanup();
  }
}

describe('failover model against real failovers (SQLite, processes)', () => {
  it(`SIGKILL of the leader, ${KILLS} times: measured p50 and every run inside the predicted range`, async () => {
    const measured = await failovers('SIGKILL', KILLS);
    const predicted = failoverTime({ stop: 'sigkill', ttlMs: TTL, store: 'sqlite' });
    const inRange = (x: number, slack = SCHEDULING_MS) =>
      x >= predicted.minMs && x <= predicted.maxMs + slack;
    const summary = `measured ${measured.map(Math.round).join(', ')}; predicted ${Math.round(predicted.minMs)}..${Math.round(predicted.maxMs)} (p50 ${Math.round(predicted.p50Ms)}, p99 ${Math.round(predicted.p99Ms)})`;
    expect(inRange(median(measured)), summary).toBe(true);
    expect(
      measured.every((x) => inRange(x, STARVED_MS)),
      summary,
    ).toBe(true);
    // Negative control: a model where the lease outlives the crash by the whole ttl (no keepalive
    // phase) says no failover is shorter than its minimum; the keepalive phase makes most of them
    // shorter (all six above it has a chance below 1 in 1000), so it must be refuted.
    const phaseless = failoverTime({ stop: 'sigkill', ttlMs: TTL, store: 'sqlite', keepAliveIntervalMs: 1 });
    expect(
      measured.every((x) => x >= phaseless.minMs && x <= phaseless.maxMs + SCHEDULING_MS),
      summary,
    ).toBe(false);
  });

  it('SIGTERM of the leader (graceful), 3 times: median inside the predicted range, all far below a crash', async () => {
    const measured = await failovers('SIGTERM', 3);
    // The revoke is one write; the signal's delivery and the close before it cost a few ms more.
    const predicted = failoverTime({ stop: 'graceful', ttlMs: TTL, store: 'sqlite', revokeMs: 5 });
    const summary = `measured ${measured.map((x) => x.toFixed(1)).join(', ')}; predicted ${predicted.minMs}..${predicted.maxMs}`;
    expect(median(measured) <= predicted.maxMs + SCHEDULING_MS, summary).toBe(true);
    // A graceful stop must not wait for expiry: far below the crash model's shortest failover.
    expect(Math.max(...measured)).toBeLessThan(failoverTime({ stop: 'sigkill', ttlMs: TTL }).minMs);
  });
});

describe('failover model: a graceful stop whose revoke time varies', () => {
  it('spreads the revoke between revokeMs and revokeMaxMs, and refuses a maximum below the minimum', () => {
    const fixed = failoverTime({ stop: 'graceful', ttlMs: 1000, store: 'memory', revokeMs: 2 });
    const ranged = failoverTime({
      stop: 'graceful',
      ttlMs: 1000,
      store: 'memory',
      revokeMs: 2,
      revokeMaxMs: 6,
    });
    expect(ranged.minMs).toBe(fixed.minMs);
    expect(ranged.maxMs).toBeCloseTo(fixed.maxMs + 4, 6);
    expect(ranged.p50Ms).toBeGreaterThan(fixed.p50Ms + 1.5);
    expect(ranged.p50Ms).toBeLessThan(fixed.p50Ms + 2.5);
    expect(() => failoverTime({ stop: 'graceful', ttlMs: 1000, revokeMs: 5, revokeMaxMs: 4 })).toThrow(
      expect.objectContaining({
        code: 'TENURE_INVALID_ARGUMENT',
        message: expect.stringMatching(/revokeMaxMs/),
      }),
    );
  });
});

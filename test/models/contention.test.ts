/**
 * The contention model (M/G/1) against real lock waits: a Mutex on the memory store driven by a
 * ManualClock, requests arriving as a seeded Poisson process at three rates, each holding for a
 * drawn time. The measured waits must first equal the FIFO queue's own arithmetic (Lindley's
 * recursion over the same arrivals and holds: the lock serves in order and hands over in no
 * clock time), then agree with the Pollaczek–Khinchine mean. Negative control: the model fed
 * exponential holds (the M/M/1 answer, twice the M/D/1 one) must disagree with constant holds.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { contentionModel, type HoldTime } from '../../src/models/index.js';
import { Mutex } from '../../src/recipes/coordination/mutex.js';
import { Session } from '../../src/recipes/coordination/session.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import { agrees, exponentialSampler, meanOf, seeded, show, type Estimate } from './simulation.js';

const REQUESTS = 1500;
const BATCHES = 15;

/** Runs REQUESTS lock requests through a real Mutex; returns each wait and the Lindley waits. */
async function measureWaits(
  arrivalsPerSecond: number,
  hold: () => number,
  seed: number,
): Promise<{ waits: number[]; lindley: number[] }> {
  const clock = new ManualClock();
  const store = new MemoryStore({ clock });
  const gap = exponentialSampler(seeded(seed), 1000 / arrivalsPerSecond);
  const arrivals: number[] = [];
  const holds: number[] = [];
  for (let i = 0, t = 0; i < REQUESTS; i++) {
    t += gap();
    arrivals.push(t);
    holds.push(hold());
  }
  const waits = new Array<number>(REQUESTS).fill(Number.NaN);
  const done: Promise<void>[] = [];
  arrivals.forEach((at, i) =>
    clock.setTimeout(() => {
      done.push(
        (async () => {
          const session = await Session.create(store, { ttlMs: 3_600_000, clock });
          const lock = await new Mutex(session, 'contended').lock();
          waits[i] = clock.now() - at;
          await new Promise<void>((resolve) => clock.setTimeout(resolve, holds[i]!));
          await lock.close();
          await session.close();
        })(),
      );
    }, at),
  );
  await clock.advance(arrivals[REQUESTS - 1]! + holds.reduce((s, h) => s + h, 0) + 1000);
  await Promise.all(done);
  await store.close();
  const lindley: number[] = [0];
  for (let i = 1; i < REQUESTS; i++)
    lindley.push(Math.max(0, lindley[i - 1]! + holds[i - 1]! - (arrivals[i]! - arrivals[i - 1]!)));
  return { waits, lindley };
}

/** The mean wait with a 99 % interval from batch means (waits in a queue are correlated). */
function batchMean(waits: readonly number[]): Estimate {
  const warm = waits.slice(100);
  const size = Math.floor(warm.length / BATCHES);
  return meanOf(
    Array.from(
      { length: BATCHES },
      (_, b) => warm.slice(b * size, (b + 1) * size).reduce((s, w) => s + w, 0) / size,
    ),
  );
}

const CONSTANT: HoldTime = { kind: 'constant', ms: 100 };

describe('contention model against lock waits on the memory store (ManualClock)', () => {
  for (const rate of [3, 5, 7])
    it(`constant 100 ms holds at ${rate} requests/s (ρ = ${rate / 10})`, async () => {
      const { waits, lindley } = await measureWaits(rate, () => 100, 40 + rate);
      for (let i = 0; i < REQUESTS; i++) expect(waits[i]).toBeCloseTo(lindley[i]!, 6);
      const predicted = contentionModel({ arrivalsPerSecond: rate, hold: CONSTANT });
      const measured = batchMean(waits);
      expect(agrees(predicted.meanWaitMs, measured), show(predicted.meanWaitMs, measured)).toBe(true);
      const waitedShare = waits.filter((w) => w > 1e-9).length / REQUESTS;
      expect(Math.abs(waitedShare - predicted.waitProbability)).toBeLessThan(0.06);
      if (rate === 7) {
        const mm1 = contentionModel({ arrivalsPerSecond: rate, hold: { kind: 'exponential', meanMs: 100 } });
        expect(agrees(mm1.meanWaitMs, measured), `negative control: ${show(mm1.meanWaitMs, measured)}`).toBe(
          false,
        );
      }
    });

  it('exponential holds (M/M/1) at 5 requests/s', async () => {
    const u = seeded(77);
    const { waits, lindley } = await measureWaits(5, exponentialSampler(u, 100), 78);
    for (let i = 0; i < REQUESTS; i++) expect(waits[i]).toBeCloseTo(lindley[i]!, 6);
    const predicted = contentionModel({ arrivalsPerSecond: 5, hold: { kind: 'exponential', meanMs: 100 } });
    const measured = batchMean(waits);
    expect(agrees(predicted.meanWaitMs, measured), show(predicted.meanWaitMs, measured)).toBe(true);
  });

  it('throughput bound and saturation', () => {
    const saturated = contentionModel({ arrivalsPerSecond: 12, hold: CONSTANT });
    expect(saturated.stable).toBe(false);
    expect(saturated.meanWaitMs).toBe(Number.POSITIVE_INFINITY);
    expect(
      contentionModel({ arrivalsPerSecond: 1, hold: CONSTANT, handoffMs: 25 }).maxThroughputPerSecond,
    ).toBe(8);
  });
});

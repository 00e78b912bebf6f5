/**
 * The availability models against Monte Carlo simulation (seeded): the binomial model against
 * independent members drawn up or down, the Markov model against an event-by-event simulation of
 * failures and repairs. Negative controls: the binomial answer must disagree with a simulation
 * that has a single repair crew, and a quorum off by one must disagree with the simulation.
 */
import { describe, expect, it } from 'vitest';
import { markovAvailability, quorumAvailability } from '../../src/models/index.js';
import { agrees, exponentialSampler, meanOf, proportion, seeded, show, type Estimate } from './simulation.js';

function simulateBinomial(n: number, k: number, a: number, trials: number, seed: number): Estimate {
  const u = seeded(seed);
  let down = 0;
  for (let t = 0; t < trials; t++) {
    let up = 0;
    for (let i = 0; i < n; i++) if (u() < a) up++;
    if (up < k) down++;
  }
  return proportion(down, trials);
}

/**
 * Event-by-event simulation of n members with exponential failures and repairs by `crews` crews.
 * Returns the fraction of time below quorum (mean of 20 batch means, with its interval) and the
 * number of quorum losses per hour.
 */
function simulateMarkov(
  o: { n: number; k: number; mtbf: number; mttr: number; crews: number },
  hours: number,
  seed: number,
): { unavailability: Estimate; outagesPerHour: number } {
  const u = seeded(seed);
  const batches = 20;
  const batchHours = hours / batches;
  const downInBatch = new Array<number>(batches).fill(0);
  let failed = 0;
  let now = 0;
  let outages = 0;
  while (now < hours) {
    const failRate = (o.n - failed) / o.mtbf;
    const repairRate = Math.min(failed, o.crews) / o.mttr;
    const total = failRate + repairRate;
    const dt = exponentialSampler(u, 1 / total)();
    const end = Math.min(hours, now + dt);
    if (o.n - failed < o.k) {
      // Spread the down time over the batches it covers.
      for (let t = now; t < end;) {
        const b = Math.min(batches - 1, Math.floor(t / batchHours));
        const until = Math.min(end, (b + 1) * batchHours);
        downInBatch[b]! += until - t;
        t = until;
      }
    }
    now = end;
    const wasUp = o.n - failed >= o.k;
    if (u() * total < failRate) failed++;
    else failed--;
    if (wasUp && o.n - failed < o.k) outages++;
  }
  return {
    unavailability: meanOf(downInBatch.map((d) => d / batchHours)),
    outagesPerHour: outages / hours,
  };
}

describe('availability models against Monte Carlo', () => {
  it('binomial: k of n independent members, three configurations', () => {
    for (const [n, k, a] of [
      [3, 2, 0.9],
      [5, 3, 0.8],
      [1, 1, 0.95],
    ] as const) {
      const predicted = quorumAvailability({ members: n, quorum: k, memberAvailability: a }).unavailability;
      const measured = simulateBinomial(n, k, a, 200_000, 11 + n);
      expect(agrees(predicted, measured), `${n}/${k}@${a}: ${show(predicted, measured)}`).toBe(true);
    }
  });

  it('negative control: a quorum off by one disagrees with the same simulation', () => {
    const measured = simulateBinomial(5, 3, 0.8, 200_000, 16);
    const wrong = quorumAvailability({ members: 5, quorum: 4, memberAvailability: 0.8 }).unavailability;
    expect(agrees(wrong, measured), show(wrong, measured)).toBe(false);
  });

  it('Markov with repair: unavailability and outage frequency, one crew and one crew per member', () => {
    for (const crews of [1, 3]) {
      const o = { n: 3, k: 2, mtbf: 100, mttr: 10, crews };
      const predicted = markovAvailability({
        members: 3,
        quorum: 2,
        mtbfHours: 100,
        mttrHours: 10,
        repairCrews: crews,
      });
      const sim = simulateMarkov(o, 400_000, 100 + crews);
      expect(
        agrees(predicted.unavailability, sim.unavailability),
        show(predicted.unavailability, sim.unavailability),
      ).toBe(true);
      // Outages are counted events: Poisson, so their 99 % interval is ±2.58·√count.
      const count = sim.outagesPerHour * 400_000;
      const outages = proportion(count, 400_000);
      expect(
        agrees(1 / predicted.meanHoursBetweenOutages!, outages),
        show(1 / predicted.meanHoursBetweenOutages!, outages),
      ).toBe(true);
    }
  });

  it('with as many crews as members the Markov model is the binomial model', () => {
    const markov = markovAvailability({ members: 5, mtbfHours: 500, mttrHours: 5 });
    const binomial = quorumAvailability({ members: 5, memberAvailability: 500 / 505 });
    expect(markov.unavailability).toBeCloseTo(binomial.unavailability, 15);
    expect(Math.abs(markov.unavailability / binomial.unavailability - 1)).toBeLessThan(1e-9);
  });

  it('negative control: the binomial answer disagrees with a single-crew simulation', () => {
    const sim = simulateMarkov({ n: 3, k: 2, mtbf: 100, mttr: 10, crews: 1 }, 400_000, 7);
    const independent = quorumAvailability({ members: 3, memberAvailability: 100 / 110 }).unavailability;
    expect(agrees(independent, sim.unavailability), show(independent, sim.unavailability)).toBe(false);
  });
});

/**
 * Deterministic simulation of every recipe over the memory store: seeds replay exactly, the real
 * recipes show no violation in 10,000 seeds (spread over the seven recipes), and each broken
 * variant, and clocks drifting past the documented bound, are caught within 1,000 seeds.
 * TENURE_SIM_SEEDS sets how many seeds the correct runs explore in all (default 10,000).
 *
 * Error stacks are switched off while the seeds run: the simulated store fails many calls on
 * purpose, and capturing a stack for each of those errors was an eighth of a seed's time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SIMULATION_RECIPES,
  VARIANT_RECIPE,
  renderSimulation,
  simulate,
  type SimulationOptions,
  type SimulationVariant,
} from '../../src/verify/index.js';

const TOTAL = Number(process.env.TENURE_SIM_SEEDS ?? 10_000);
const PER_RECIPE = Math.ceil(TOTAL / SIMULATION_RECIPES.length);

let stackTraceLimit: number;
beforeAll(() => {
  stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
});
afterAll(() => {
  Error.stackTraceLimit = stackTraceLimit;
});

/** The first seed from 1 whose run breaks `rule` (any rule if omitted), within `limit` seeds. */
async function firstFailing(options: Omit<SimulationOptions, 'seed'>, limit: number, rule?: string) {
  for (let seed = 1; seed <= limit; seed++) {
    const r = await simulate({ ...options, seed });
    if (r.violations.some((v) => rule === undefined || v.rule === rule)) return r;
  }
  return undefined;
}

describe('simulation', () => {
  it.each(SIMULATION_RECIPES)('%s: a seed replays exactly, the same history and schedule', async (recipe) => {
    const a = await simulate({ seed: 7, recipe });
    const b = await simulate({ seed: 7, recipe });
    expect(a.history.events.length).toBeGreaterThan(20);
    expect(b.history.toJsonLines()).toBe(a.history.toJsonLines());
    expect(b.schedule).toEqual(a.schedule);
    // Another seed is another run.
    const c = await simulate({ seed: 8, recipe });
    expect(c.history.toJsonLines()).not.toBe(a.history.toJsonLines());
  });

  it('seeds running at once in one process replay as when run alone', async () => {
    const alone = await simulate({ seed: 3, recipe: 'shards' });
    const [together] = await Promise.all([
      simulate({ seed: 3, recipe: 'shards' }),
      simulate({ seed: 4, recipe: 'mutex' }),
      simulate({ seed: 5, recipe: 'membership' }),
    ]);
    expect(together.history.toJsonLines()).toBe(alone.history.toJsonLines());
  });

  it.each(SIMULATION_RECIPES)(
    `%s: no violation in ${PER_RECIPE} seeds of delays, lost replies, outages, partitions, pauses and drift`,
    async (recipe) => {
      let holdings = 0;
      let pauses = 0;
      let partitions = 0;
      for (let seed = 1; seed <= PER_RECIPE; seed++) {
        const r = await simulate({ seed, recipe });
        if (r.violations.length > 0) throw new Error(renderSimulation(r));
        holdings += r.holdings;
        pauses += r.schedule.filter((l) => l.includes(' pause ')).length;
        partitions += r.schedule.filter((l) => l.includes(' partition of ')).length;
      }
      // The checkers saw work in every seed on average, and the faults happened.
      expect(holdings).toBeGreaterThan(PER_RECIPE * 3);
      expect(pauses).toBeGreaterThan(PER_RECIPE);
      expect(partitions).toBeGreaterThan(PER_RECIPE / 4);
    },
    300_000,
  );

  const controls: [SimulationVariant, string, string][] = [
    ['unchecked-client', 'a client that never checks its lock', 'overlap'],
    ['blind-queue', 'a lock waiter that skips the check of the keys ahead of its own', 'overlap'],
    ['no-deadline-session', 'a session without the client-side deadline', 'session-late'],
    ['uncompared-election', 'an election without the revision compare', 'overlap'],
    ['table-from-view', 'a shard table computed without the previous table', 'overlap'],
  ];
  it.each(controls)(
    'negative control: %s (%s) is caught within 1,000 seeds, and its seed replays',
    async (variant, _what, rule) => {
      const r = await firstFailing({ variant }, 1000, rule);
      expect(r).toBeDefined();
      expect(r!.recipe).toBe(VARIANT_RECIPE[variant as Exclude<SimulationVariant, 'correct'>]);
      expect(r!.violations.map((v) => v.rule)).toContain(rule);
      const again = await simulate({ seed: r!.seed, variant });
      expect(again.violations.map((v) => v.message)).toEqual(r!.violations.map((v) => v.message));
      const text = renderSimulation(again);
      expect(text).toContain(
        `replay: simulate({ seed: ${r!.seed}, recipe: '${r!.recipe}', variant: '${variant}' })`,
      );
      expect(text).toContain(`${rule}: `);
      expect(text).toContain(`  ${r!.schedule[0]!}`);
    },
    120_000,
  );

  it('negative control: clocks drifting 2% (twenty times the bound sessions allow for) are caught', async () => {
    const r = await firstFailing({ recipe: 'session', maxDriftPpm: 20_000 }, 1000, 'session-late');
    expect(r).toBeDefined();
    expect(r!.schedule.some((l) => l.includes('clock rate'))).toBe(true);
  });

  it('refuses bad options, naming them', async () => {
    await expect(simulate({ seed: 1.5 })).rejects.toThrow(/seed must be an integer/);
    await expect(simulate({ seed: 1, ttlMs: 100 })).rejects.toThrow(/ttlMs must be at least/);
    await expect(simulate({ seed: 1, variant: 'nope' as SimulationVariant })).rejects.toThrow(
      /variant must be one of/,
    );
    await expect(simulate({ seed: 1, recipe: 'queue' as 'mutex' })).rejects.toThrow(/recipe must be one of/);
    await expect(simulate({ seed: 1, recipe: 'election', variant: 'blind-queue' })).rejects.toThrow(
      /recipe must be mutex for variant blind-queue/,
    );
    await expect(simulate({ seed: 1, maxDriftPpm: -1 })).rejects.toThrow(/maxDriftPpm must be/);
    await expect(simulate({ seed: 1, processes: 0 })).rejects.toThrow(/processes must be/);
  });
});

/**
 * Deterministic simulation of Mutex and Election over the memory store: seeds replay exactly,
 * correct recipes show no violation, and broken variants are caught within 1,000 seeds.
 * TENURE_SIM_SEEDS sets how many seeds the correct run explores (default 60: see docs/verify.md
 * for why not 10,000).
 */
import { describe, expect, it } from 'vitest';
import { simulate, type SimulationVariant } from '../../src/verify/index.js';

const SEEDS = Number(process.env.TENURE_SIM_SEEDS ?? 60);

/** The first seed from 1 whose run breaks a rule, within `limit` seeds. */
async function firstFailing(variant: SimulationVariant, limit: number) {
  for (let seed = 1; seed <= limit; seed++) {
    const r = await simulate({ seed, variant });
    if (r.violations.length > 0) return r;
  }
  return undefined;
}

describe('simulation', () => {
  it('a seed replays exactly: the same history and schedule', async () => {
    const a = await simulate({ seed: 7 });
    const b = await simulate({ seed: 7 });
    expect(a.history.events.length).toBeGreaterThan(100);
    expect(b.history.toJsonLines()).toBe(a.history.toJsonLines());
    expect(b.schedule).toEqual(a.schedule);
    // Another seed is another run.
    const c = await simulate({ seed: 8 });
    expect(c.history.toJsonLines()).not.toBe(a.history.toJsonLines());
  });

  it(`correct recipes: no violation in ${SEEDS} seeds of delays, lost replies, outages and pauses`, async () => {
    let holdings = 0;
    let pauses = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const r = await simulate({ seed });
      if (r.violations.length > 0)
        throw new Error(`seed ${seed}: ${r.violations[0]!.message}\nschedule:\n${r.schedule.join('\n')}`);
      expect(r.holdings).toBeGreaterThan(0);
      holdings += r.holdings;
      pauses += r.schedule.filter((l) => l.includes(' pause ')).length;
    }
    expect(holdings).toBeGreaterThan(SEEDS * 10);
    expect(pauses).toBeGreaterThan(SEEDS);
  });

  it('negative control: a client that never checks its lock is caught within 1,000 seeds, and its seed replays', async () => {
    const r = await firstFailing('unchecked-client', 1000);
    expect(r).toBeDefined();
    expect(r!.violations[0]!.rule).toBe('overlap');
    const again = await simulate({ seed: r!.seed, variant: 'unchecked-client' });
    expect(again.violations.map((v) => v.message)).toEqual(r!.violations.map((v) => v.message));
  });

  it('negative control: a lock waiter that sees no one ahead of it is caught within 1,000 seeds', async () => {
    const r = await firstFailing('blind-queue', 1000);
    expect(r).toBeDefined();
    expect(r!.violations.map((v) => v.rule)).toContain('overlap');
  });

  it('refuses bad options, naming them', async () => {
    await expect(simulate({ seed: 1.5 })).rejects.toThrow(/seed must be an integer/);
    await expect(simulate({ seed: 1, ttlMs: 100 })).rejects.toThrow(/ttlMs must be at least/);
    await expect(simulate({ seed: 1, variant: 'nope' as SimulationVariant })).rejects.toThrow(
      /variant must be one of/,
    );
  });
});

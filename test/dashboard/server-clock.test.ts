/**
 * The dashboard server's own timer (the sweeper that disconnects stalled `/events` clients) runs
 * on its `clock` option. (The fleet view it serves is being moved to inspect/, with its timers.)
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { startDashboard } from '../../src/dashboard/server.js';
import { MemoryStore } from '../../src/store/memory/index.js';

describe('dashboard server on an injected clock', () => {
  it('its stall sweeper is a timer of its clock, re-armed as the clock moves, cancelled by close()', async () => {
    const clock = new ManualClock();
    const dashboard = await startDashboard(new MemoryStore(), { port: 0, stallTimeoutMs: 400, clock });
    try {
      expect(clock.pending).toBe(1);
      await clock.advance(100); // one sweep (every stallTimeoutMs / 4), and the next one armed
      expect(clock.pending).toBe(1);
    } finally {
      await dashboard.close();
    }
    expect(clock.pending).toBe(0);
  });

  it('refuses a clock that is not one, naming options.clock', async () => {
    await expect(
      startDashboard(new MemoryStore(), { port: 0, clock: {} as unknown as ManualClock }),
    ).rejects.toThrow(/options\.clock/);
  });
});

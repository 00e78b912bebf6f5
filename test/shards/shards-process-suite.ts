/**
 * Shard ownership across real processes on one store: SIGKILL, graceful leave (SIGTERM), a join
 * storm, and a negative control for the double-ownership check. Run on SQLite and on etcd.
 *
 * The check: every owner writes each of its slots every 50 ms to a fenced table with its token;
 * a write refused because a higher token holds the slot, by a process that (having checked its
 * signal and session deadline just before) believed it owned the slot, is a double owner.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tmp.js';
import { Fleet, untilConverged, type FleetBackend } from './fleet.js';

const SLOTS = 256;

function moved(before: (string | undefined)[], after: (string | undefined)[]): number {
  return after.filter((h, i) => h !== before[i]).length;
}

/**
 * @param backend where test number `n` keeps its fleet (a fresh store or namespace per test);
 *   undefined for a SQLite file in the test's directory.
 */
export function shardProcessSuite(
  name: string,
  ttlMs: number,
  backend?: (n: number) => Promise<FleetBackend>,
  cleanup?: () => Promise<void>,
) {
  const TTL = ttlMs;
  describe(`ShardManager across processes on ${name}`, () => {
    let tmp: ReturnType<typeof tempDir>;
    let fleet: Fleet;
    let n = 0;
    beforeEach(async () => {
      tmp = tempDir('tenure-shards-');
      fleet = new Fleet(tmp.dir, SLOTS, TTL, await backend?.(++n));
    });
    afterEach(async () => {
      await fleet.close();
      tmp.cleanup();
    });
    afterAll(async () => {
      await cleanup?.();
    });

    async function startAll(ids: string[], mode: 'safe' | 'unsafe' = 'safe', settleMs = 200) {
      for (const id of ids) fleet.start(id, mode, 1, settleMs);
      await Promise.all(ids.map((id) => fleet.children.get(id)!.waitFor((l) => l.includes('"started"'))));
    }

    it('SIGKILL of an owner: only its slots move, after its lease, and no slot is ever double-owned', async () => {
      const ids = ['m1', 'm2', 'm3', 'm4', 'm5'];
      await startAll(ids);
      const { state: before } = await untilConverged(fleet, ids, 15_000);
      const victim = 'm3';
      const share = before.holders.filter((h) => h === victim).length;
      expect(share).toBeGreaterThan(0);
      const killedAt = performance.now();
      fleet.children.get(victim)!.proc.kill('SIGKILL');
      const survivors = ids.filter((i) => i !== victim);
      const { state: after, at } = await untilConverged(fleet, survivors, TTL + 5000);
      const took = at - killedAt;
      expect(took).toBeGreaterThan(TTL * 0.5); // its slots waited for the lease
      expect(took).toBeLessThan(TTL + 5000);
      expect(moved(before.holders, after.holders)).toBe(share); // exactly its share: ~1/5
      expect(share).toBe(Math.floor(SLOTS / 5) + (share > Math.floor(SLOTS / 5) ? 1 : 0));
      for (let s = 0; s < SLOTS; s++) {
        if (before.holders[s] === victim) expect(after.tokens[s]).toBeGreaterThan(before.tokens[s]!);
        else expect(after.tokens[s]).toBe(before.tokens[s]);
      }
      await new Promise((r) => setTimeout(r, 200)); // let the owners write with their new tokens
      expect(fleet.events('stale-write')).toEqual([]);
      expect(fleet.events('refused-take')).toEqual([]);
      const rows = fleet.fence();
      expect(rows.length).toBe(SLOTS);
      for (const r of rows) {
        expect(r.token).toBe(after.tokens[r.slot]);
        expect(r.owner).toBe(after.holders[r.slot]);
      }
    });

    it('graceful leave (SIGTERM) hands its slots over, and a join storm converges without flapping', async () => {
      // A settle window longer than the spread of five Node processes' start-up on two cores:
      // 1000 ms was not, on a loaded machine (each start-up also opens an etcd client), and the
      // last joiners then arrived after a plan had been made, moving some slots twice.
      const settleMs = 2000;
      const ids = ['a1', 'a2', 'a3'];
      await startAll(ids, 'safe', settleMs);
      const { state: s0 } = await untilConverged(fleet, ids, 15_000);
      // Graceful leave.
      const share = s0.holders.filter((h) => h === 'a2').length;
      fleet.children.get('a2')!.proc.kill('SIGTERM');
      await fleet.children.get('a2')!.exited;
      const left = ['a1', 'a3'];
      const { state: s1 } = await untilConverged(fleet, left, 10_000);
      expect(moved(s0.holders, s1.holders)).toBe(share);
      // Join storm: five at once.
      await new Promise((r) => setTimeout(r, 300)); // the children's stdout catches up
      const acquiredBefore = fleet.events('acquired').length;
      const storm = ['b1', 'b2', 'b3', 'b4', 'b5'];
      await startAll(storm, 'safe', settleMs);
      const all = [...left, ...storm];
      const { state: s2 } = await untilConverged(fleet, all, 15_000);
      const movedSlots = moved(s1.holders, s2.holders);
      expect(movedSlots).toBe(SLOTS - s2.holders.filter((h) => h === 'a1' || h === 'a3').length);
      await new Promise((r) => setTimeout(r, 300));
      // Each moved slot was acquired once: no slot bounced between newcomers.
      expect(fleet.events('acquired').length - acquiredBefore).toBe(movedSlots);
      expect(fleet.events('stale-write')).toEqual([]);
    });

    it('negative control: a member that ignores its released slots is caught by the fenced check', async () => {
      await startAll(['u1'], 'unsafe');
      await untilConverged(fleet, ['u1'], 15_000);
      await startAll(['s1', 's2']);
      await untilConverged(fleet, ['u1', 's1', 's2'], 15_000).catch((err: Error) => {
        const c = fleet.children.get('s1')!;
        throw new Error(`${err.message}; s1 stderr: ${c.stderr()}; last: ${c.lines.slice(-3).join(' ')}`);
      });
      await new Promise((r) => setTimeout(r, 200));
      const stale = fleet.events('stale-write');
      expect(stale.length).toBeGreaterThan(0);
      expect(stale.every((e) => e.id === 'u1')).toBe(true);
    });
  });
}

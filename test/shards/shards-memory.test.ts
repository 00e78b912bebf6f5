import { afterEach, describe, expect, it } from 'vitest';
import { slotQuotas } from '../../src/hashing/index.js';
import { Membership } from '../../src/recipes/fleet/membership.js';
import { Session } from '../../src/recipes/coordination/session.js';
import { ShardManager } from '../../src/recipes/fleet/shards.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import type { Store } from '../../src/store/types.js';
import { codeOf, eventually } from '../helpers/async.js';
import { cuttable } from './cuttable.js';
import { Ledger } from './ledger.js';

const SLOTS = 256;
let closers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const c of closers.reverse()) await c.close().catch(() => undefined);
  closers = [];
});

async function fleet(store: Store, ledger: Ledger, group: string) {
  const managers = new Map<string, ShardManager>();
  const add = async (id: string, opts: { weight?: number; ttlMs?: number; store?: Store } = {}) => {
    const s = opts.store ?? store;
    const session = await Session.create(s, { ttlMs: opts.ttlMs ?? 500 });
    const membership = await Membership.open(s, group);
    const member = await membership.join(session, { id, weight: opts.weight });
    const m = await ShardManager.start(membership, member, {
      slotCount: SLOTS,
      acquired: (slot, token, signal) => ledger.acquired(id, slot, token, signal),
      released: (slot) => ledger.released(id, slot),
    });
    closers.push(session, membership, m);
    managers.set(id, m);
    return m;
  };
  /** True when every live manager holds exactly what the table gives it and agrees on the holders. */
  const converged = () => {
    const list = [...managers.values()].filter((m) => m.status === 'running');
    if (!list.every((m) => m.settled)) return false;
    const ids = list.map((m) => m.member.id).sort();
    if (list[0]!.tableMembers.join() !== ids.join()) return false;
    const t = list[0]!.tableRevision;
    if (!list.every((m) => m.tableRevision === t)) return false;
    const view = list[0]!.holders();
    if (view.some((h) => h === undefined)) return false;
    return list.every((m) => m.holders().every((h, i) => h === view[i]));
  };
  return { managers, add, converged };
}

function counts(m: ShardManager): Map<string, number> {
  const c = new Map<string, number>();
  for (const h of m.holders()) if (h) c.set(h, (c.get(h) ?? 0) + 1);
  return c;
}

describe('ShardManager on memory', () => {
  it('a join storm converges on one table, weights respected, each slot acquired once', async () => {
    const store = new MemoryStore();
    const ledger = new Ledger();
    const f = await fleet(store, ledger, 'storm');
    const ids = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    const weights = [1, 1, 2, 1, 1, 2, 1, 1];
    await Promise.all(ids.map((id, i) => f.add(id, { weight: weights[i] })));
    await eventually(f.converged, 5000);
    const m = f.managers.get('a')!;
    const quotas = slotQuotas(
      ids.map((node, i) => ({ node, weight: weights[i]! })),
      SLOTS,
    );
    const c = counts(m);
    ids.forEach((id, i) => expect(c.get(id)).toBe(quotas[i]));
    expect(ledger.violations).toEqual([]);
    expect(ledger.acquisitions).toBe(SLOTS); // no slot moved twice
    const tables = [...f.managers.values()].reduce((s, x) => s + x.stats.tableWrites, 0);
    expect(tables).toBeLessThanOrEqual(2);
    // Routing agrees everywhere.
    for (const key of ['user:1', 'user:2', 'order:99']) {
      const owner = m.ownerOf(key);
      expect(owner).toBeDefined();
      for (const x of f.managers.values()) expect(x.ownerOf(key)).toBe(owner);
      expect(f.managers.get(owner!)!.owned().has(m.slotOf(key))).toBe(true);
    }
    for (const x of f.managers.values())
      for (const [slot, token] of x.owned()) expect(ledger.lastToken.get(slot)).toBe(token);
  });

  it('a graceful leave hands over only its slots, without waiting for the ttl', async () => {
    const store = new MemoryStore();
    const ledger = new Ledger();
    const f = await fleet(store, ledger, 'leave');
    for (const id of ['a', 'b', 'c', 'd']) await f.add(id, { ttlMs: 10_000 });
    await eventually(f.converged, 5000);
    const before = f.managers.get('a')!.holders();
    const tokens = f.managers.get('a')!.owned();
    const leaving = f.managers.get('c')!;
    const t0 = performance.now();
    await leaving.close();
    f.managers.delete('c');
    await eventually(f.converged, 5000);
    expect(performance.now() - t0).toBeLessThan(3000); // far below the 10 s ttl
    const after = f.managers.get('a')!.holders();
    const moved = after.filter((h, i) => h !== before[i]).length;
    expect(moved).toBe(before.filter((h) => h === 'c').length);
    expect(after.includes('c')).toBe(false);
    // Untouched slots keep their token.
    for (const [slot, token] of tokens) expect(f.managers.get('a')!.owned().get(slot)).toBe(token);
    expect(ledger.violations).toEqual([]);
  });

  it('a member cut off from the store loses its slots to the others after its lease expires, never before', async () => {
    const store = new MemoryStore();
    const ledger = new Ledger();
    const f = await fleet(store, ledger, 'crash');
    for (const id of ['a', 'b', 'c']) await f.add(id);
    const part = cuttable(store);
    const victim = await f.add('v', { store: part.store });
    await eventually(f.converged, 5000);
    const before = f.managers.get('a')!.holders();
    const victimSlots = [...victim.owned().keys()];
    expect(victimSlots.length).toBe(SLOTS / 4);
    part.cut();
    const cutAt = performance.now();
    f.managers.delete('v');
    await eventually(f.converged, 5000);
    const took = performance.now() - cutAt;
    expect(took).toBeGreaterThan(400); // not before the 500 ms lease could expire
    expect(took).toBeLessThan(500 + 2000);
    expect(victim.status).toBe('lost');
    expect(victimSlots.every((s) => victim.signalOf(s) === undefined)).toBe(true);
    const after = f.managers.get('a')!.holders();
    const moved = after.filter((h, i) => h !== before[i]).length;
    expect(moved).toBe(victimSlots.length);
    expect(ledger.violations).toEqual([]);
  });

  it('a new member takes exactly its quota', async () => {
    const store = new MemoryStore();
    const ledger = new Ledger();
    const f = await fleet(store, ledger, 'grow');
    for (const id of ['a', 'b', 'c']) await f.add(id);
    await eventually(f.converged, 5000);
    const before = f.managers.get('a')!.holders();
    await f.add('d', { weight: 1 });
    await eventually(f.converged, 5000);
    const after = f.managers.get('a')!.holders();
    expect(after.filter((h, i) => h !== before[i]).length).toBe(SLOTS / 4);
    expect(ledger.violations).toEqual([]);
  });

  it('a member that raises its weight in place gets its new quota; only the difference moves', async () => {
    const store = new MemoryStore();
    const ledger = new Ledger();
    const f = await fleet(store, ledger, 'reweigh');
    const a = await f.add('a');
    await f.add('b');
    await eventually(f.converged, 5000);
    const before = a.holders();
    expect(counts(a).get('a')).toBe(SLOTS / 2);
    await a.member.update({ weight: 3 });
    await eventually(() => f.converged() && counts(a).get('a') === (SLOTS * 3) / 4, 5000);
    const after = a.holders();
    expect(after.filter((h, i) => h !== before[i]).length).toBe(SLOTS / 4);
    expect(ledger.violations).toEqual([]);
  });

  it('the ledger catches a double owner and a non-increasing token (negative control)', () => {
    const ledger = new Ledger();
    const live = new AbortController().signal;
    ledger.acquired('a', 1, 10, live);
    ledger.acquired('b', 1, 10, live);
    expect(ledger.violations).toHaveLength(2);
  });

  it('validates options, naming them', async () => {
    const store = new MemoryStore();
    const session = await Session.create(store, { ttlMs: 500 });
    const membership = await Membership.open(store, 'opts');
    const member = await membership.join(session, { id: 'x' });
    closers.push(session, membership);
    expect(await codeOf(ShardManager.start(membership, member, { slotCount: 0 }))).toBe(
      'TENURE_INVALID_ARGUMENT',
    );
    await expect(ShardManager.start(membership, member, { settleMs: 500, maxSettleMs: 100 })).rejects.toThrow(
      /options\.maxSettleMs/,
    );
  });
});

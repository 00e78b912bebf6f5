/** ShardRouter: routing without owning, following a live fleet of ShardManagers. */
import { afterEach, describe, expect, it } from 'vitest';
import { Membership } from '../../src/recipes/fleet/membership.js';
import { Session } from '../../src/recipes/coordination/session.js';
import { ShardRouter } from '../../src/recipes/fleet/shard-router.js';
import { ShardManager } from '../../src/recipes/fleet/shards.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import type { Store } from '../../src/store/types.js';
import { codeOf, eventually } from '../helpers/async.js';

const SLOTS = 64;
let closers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const c of closers.reverse()) await c.close().catch(() => undefined);
  closers = [];
});

async function member(store: Store, group: string, id: string) {
  const session = await Session.create(store, { ttlMs: 5000 });
  const membership = await Membership.open(store, group);
  const m = await ShardManager.start(membership, await membership.join(session, { id }), {
    slotCount: SLOTS,
    settleMs: 20,
  });
  closers.push(session, membership, m);
  return m;
}

const keys = Array.from({ length: 200 }, (_, i) => `order:${i}`);

describe('ShardRouter', () => {
  it('routes every key to the member that owns its slot, with its token, and follows a handover', async () => {
    const store = new MemoryStore();
    closers.push(store);
    // Opened before any member exists: it follows the fleet from nothing.
    const router = await ShardRouter.open(store, 'orders', { slotCount: SLOTS });
    closers.push(router);
    const changes: [number, string | undefined][] = [];
    router.on('holder', (slot, holder) => changes.push([slot, holder]));
    const a = await member(store, 'orders', 'a');
    const b = await member(store, 'orders', 'b');
    const settled = () => a.settled && b.settled && a.tableMembers.length === 2;
    await eventually(() => settled() && router.holders().every((h, s) => h === a.holders()[s]));
    expect(router.tableMembers).toEqual(['a', 'b']);
    expect(router.tableRevision).toBe(a.tableRevision);
    for (const key of keys) {
      const owner = router.ownerOf(key);
      expect(owner).toBeDefined();
      expect(owner).toBe(a.ownerOf(key));
      expect(router.plannedOwnerOf(key)).toBe(owner);
      const manager = owner === 'a' ? a : b;
      expect(manager.owned().get(router.slotOf(key))).toBe(router.tokenOf(router.slotOf(key)));
    }
    // A router opened now reads the same map at once.
    const late = await ShardRouter.open(store, 'orders', { slotCount: SLOTS });
    closers.push(late);
    expect(late.holders()).toEqual(router.holders());

    // b leaves: its slots pass to a, each seen moving (free, then a's).
    const bSlots = [...b.owned().keys()];
    changes.length = 0;
    await b.close();
    await eventually(() => router.holders().every((h) => h === 'a'));
    for (const slot of bSlots) {
      const seen = changes.filter(([s]) => s === slot).map(([, h]) => h);
      expect(seen).toEqual([undefined, 'a']);
    }
    expect(changes.every(([s]) => bSlots.includes(s))).toBe(true);
    for (const key of keys) expect(router.ownerOf(key)).toBe('a');
  });

  it('writes nothing: the store revision does not move while it follows', async () => {
    const store = new MemoryStore();
    closers.push(store);
    const a = await member(store, 'quiet', 'a');
    await eventually(() => a.settled);
    const before = await store.revision();
    const router = await ShardRouter.open(store, 'quiet', { slotCount: SLOTS });
    router.ownerOf('x');
    await new Promise((r) => setTimeout(r, 50));
    await router.close();
    expect(await store.revision()).toBe(before);
  });

  it("without a slot count, takes the one the group's table states (not the default)", async () => {
    const store = new MemoryStore();
    closers.push(store);
    const m = await member(store, 'stated', 'a');
    await eventually(() => m.settled);
    const router = await ShardRouter.open(store, 'stated');
    closers.push(router);
    expect(router.slotCount).toBe(SLOTS);
    expect(router.tableRevision).toBe(m.tableRevision);
    for (const key of keys) expect(router.ownerOf(key)).toBe(m.ownerOf(key));
  });

  it("opened without a slot count before the group's first table, takes the table's count when it comes", async () => {
    const store = new MemoryStore();
    closers.push(store);
    const router = await ShardRouter.open(store, 'later');
    closers.push(router);
    const errors: unknown[] = [];
    router.on('storeError', (e) => errors.push(e));
    const m = await member(store, 'later', 'a');
    await eventually(() => m.settled && router.tableRevision === m.tableRevision);
    expect(router.slotCount).toBe(SLOTS);
    await eventually(() => keys.every((key) => router.ownerOf(key) === 'a'));
    expect(errors).toEqual([]);
  });

  it("a slot count other than the table's is refused at open, naming both", async () => {
    const store = new MemoryStore();
    closers.push(store);
    const m = await member(store, 'mismatch', 'a');
    await eventually(() => m.settled);
    const err = await ShardRouter.open(store, 'mismatch', { slotCount: SLOTS * 2 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'TENURE_INVALID_ARGUMENT' });
    expect((err as Error).message).toMatch(new RegExp(`options\\.slotCount.*${SLOTS * 2}.*${SLOTS} slots`));
  });

  it("a router opened before the group's table, with the wrong slot count, reports the table it cannot read instead of routing by it", async () => {
    const store = new MemoryStore();
    closers.push(store);
    const errors: unknown[] = [];
    const router = await ShardRouter.open(store, 'early', { slotCount: SLOTS * 2 });
    closers.push(router);
    router.on('storeError', (e) => errors.push(e));
    await member(store, 'early', 'a');
    await eventually(() => errors.length > 0);
    expect(await codeOf(Promise.reject(errors[0]))).toBe('TENURE_CORRUPT');
    expect(router.tableRevision).toBe(0); // the table did not decode: not used
    expect(router.plannedOwnerOf('k')).toBeUndefined();
  });

  it('validates its arguments, naming them', async () => {
    const store = new MemoryStore();
    closers.push(store);
    const bad = async (p: () => Promise<unknown>, name: RegExp) => {
      const err = await p().catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'TENURE_INVALID_ARGUMENT' });
      expect((err as Error).message).toMatch(name);
    };
    await bad(() => ShardRouter.open({} as Store, 'g'), /store/);
    await bad(() => ShardRouter.open(store, 'bad group!'), /group/);
    await bad(() => ShardRouter.open(store, 'g', { slotCount: 0 }), /options\.slotCount/);
    await bad(() => ShardRouter.open(store, 'g', { slotCount: 1.5 }), /options\.slotCount/);
  });
});

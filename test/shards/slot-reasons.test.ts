/**
 * A slot's signal says why it ended, with a code a caller can branch on (issue 12): a key deleted
 * behind the member's back is TENURE_SLOT_LOST; a routine handover to a new member is
 * TENURE_CLOSED with `details.reason` 'handover'; closing the manager is TENURE_CLOSED with
 * 'closed'. Before, a lost slot was TENURE_LOCK_LOST and the two orderly ends could not be told
 * apart.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TenureError } from '../../src/errors.js';
import { Session } from '../../src/recipes/coordination/session.js';
import { Membership } from '../../src/recipes/fleet/membership.js';
import { slotKey } from '../../src/recipes/fleet/shard-layout.js';
import { ShardManager } from '../../src/recipes/fleet/shards.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import { eventually } from '../helpers/async.js';

const SLOTS = 4;
let closers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const c of closers.reverse()) await c.close().catch(() => undefined);
  closers = [];
});

async function start(store: MemoryStore, membership: Membership, id: string, reasons: Map<number, unknown>) {
  const session = await Session.create(store, { ttlMs: 10_000 });
  const member = await membership.join(session, { id });
  const manager = await ShardManager.start(membership, member, {
    slotCount: SLOTS,
    settleMs: 10,
    acquired: (slot, _token, signal) => {
      signal.addEventListener('abort', () => reasons.set(slot, signal.reason), { once: true });
    },
  });
  closers.push(session, manager);
  return manager;
}

function codeAndReason(reason: unknown): [string, unknown] {
  expect(reason).toBeInstanceOf(TenureError);
  const err = reason as TenureError;
  return [err.code, err.details.reason];
}

describe('why a slot ended', () => {
  it('lost (key deleted), handed over, closed: three reasons a caller can tell apart', async () => {
    const store = new MemoryStore();
    const membership = await Membership.open(store, 'g');
    closers.push(membership);
    const a = new Map<number, unknown>();
    const managerA = await start(store, membership, 'a', a);
    await eventually(async () => managerA.owned().size === SLOTS, 5000);

    await store.delete(slotKey('g', 0, SLOTS));
    await eventually(async () => a.has(0), 5000);
    expect(codeAndReason(a.get(0))).toEqual(['TENURE_SLOT_LOST', undefined]);
    expect((a.get(0) as TenureError).details.slot).toBe(0);

    a.clear();
    const b = new Map<number, unknown>();
    const managerB = await start(store, membership, 'b', b);
    await eventually(async () => managerB.owned().size > 0, 5000);
    expect(a.size).toBeGreaterThan(0);
    for (const reason of a.values()) expect(codeAndReason(reason)).toEqual(['TENURE_CLOSED', 'handover']);

    await managerB.close();
    expect(b.size).toBeGreaterThan(0);
    for (const reason of b.values()) expect(codeAndReason(reason)).toEqual(['TENURE_CLOSED', 'closed']);
  });
});

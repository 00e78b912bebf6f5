/**
 * Membership and ShardManager on a driven clock (ManualClock + MemoryStore): every expiry, settle
 * window, drain and backoff happens at an exact clock time, and no assertion depends on wall time.
 * Each test checks state just before and at the moment a timer is due, so a timer that does not
 * run on the session's clock (a global setTimeout) makes it fail.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { TenureError } from '../../src/errors.js';
import { Membership } from '../../src/recipes/fleet/membership.js';
import { Session } from '../../src/recipes/coordination/session.js';
import { ShardManager, type ShardManagerOptions } from '../../src/recipes/fleet/shards.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import type { Store, TxnRequest } from '../../src/store/types.js';
import { cuttable } from './cuttable.js';
import { Ledger } from './ledger.js';

const SLOTS = 64;
const TTL = 3000;
const SETTLE = 200;

let closers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  // Sessions first (closers are closed in reverse): a manager whose session is gone closes
  // without waiting on the driven clock.
  for (const c of closers.reverse()) await c.close().catch(() => undefined);
  closers = [];
});

/** Lets promise chains and store callbacks run without moving the clock. */
async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

function world() {
  const clock = new ManualClock();
  const store = new MemoryStore({ clock });
  const ledger = new Ledger();
  const join = async (id: string, options: ShardManagerOptions & { store?: Store } = {}) => {
    const s = options.store ?? store;
    const session = await Session.create(s, { ttlMs: TTL, clock });
    const membership = await Membership.open(s, 'g');
    const member = await membership.join(session, { id });
    const manager = await ShardManager.start(membership, member, {
      slotCount: SLOTS,
      settleMs: SETTLE,
      acquired: (slot, token, signal) => ledger.acquired(id, slot, token, signal),
      released: (slot) => ledger.released(id, slot),
      ...options,
    });
    closers.push(manager, membership, session);
    return manager;
  };
  return { clock, store, ledger, join };
}

/** Whether every manager holds what the table gives it, and the table is over exactly them. */
function converged(...ms: ShardManager[]): boolean {
  const ids = ms.map((m) => m.member.id).sort();
  return ms.every(
    (m) => m.settled && m.tableMembers.join() === ids.join() && m.holders().every((h) => h !== undefined),
  );
}

/** A store whose transactions fail while `fail(request)` says so. */
function failing(store: Store, fail: (request: TxnRequest) => boolean): Store {
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'txn')
        return (request: TxnRequest) =>
          fail(request)
            ? Promise.reject(new TenureError('TENURE_UNAVAILABLE', 'injected by the test'))
            : target.txn(request);
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

describe('Membership and ShardManager on a driven clock', () => {
  it('a member cut off from the store leaves at its lease expiry, and its slots move settleMs later', async () => {
    const { clock, store, ledger, join } = world();
    const a = await join('a');
    const b = await join('b');
    const part = cuttable(store);
    const v = await join('v', { store: part.store });
    await clock.advance(SETTLE);
    await flush();
    expect(converged(a, b, v)).toBe(true);
    const vSlots = [...v.owned().keys()];
    expect(vSlots.length).toBeGreaterThan(0);
    const before = a.holders();
    const table = a.tableRevision;
    const ttl = (await store.timeToLive(v.member.session.lease))!;
    expect(ttl).toBeGreaterThan(0);

    part.cut();
    await clock.advance(ttl - 1);
    await flush();
    // v stopped first (its own deadline is 0.1 % short of the store's), but the store still
    // holds its lease: it is a member, and nobody else holds its slots.
    expect(v.status).toBe('lost');
    expect(vSlots.every((s) => v.signalOf(s) === undefined)).toBe(true);
    expect(a.membership.get('v')).toBeDefined();
    expect(a.holders()).toEqual(before);

    await clock.advance(1); // the store expires v's lease: its member and slot keys go
    await flush();
    expect(a.membership.get('v')).toBeUndefined();
    expect(b.membership.members().map((m) => m.id)).toEqual(['a', 'b']);
    expect(vSlots.every((s) => a.holders()[s] === undefined)).toBe(true);
    await clock.advance(SETTLE - 1);
    await flush();
    expect(a.tableRevision).toBe(table); // still settling

    await clock.advance(1);
    await flush();
    expect(a.tableRevision).toBeGreaterThan(table);
    expect(converged(a, b)).toBe(true);
    const after = a.holders();
    expect(after.filter((h, i) => h !== before[i]).length).toBe(vSlots.length);
    expect(ledger.violations).toEqual([]);
  });

  it('a storm of joins within settleMs produces one table, written settleMs after the last join', async () => {
    const { clock, ledger, join } = world();
    const ids = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    const managers: ShardManager[] = [];
    for (const [i, id] of ids.entries()) {
      if (i > 0) await clock.advance(20);
      managers.push(await join(id));
    }
    await flush();
    const lastJoin = clock.now();
    expect(lastJoin).toBe(140);
    await clock.advance(SETTLE - 1);
    await flush();
    expect(managers.every((m) => m.tableRevision === 0)).toBe(true);
    await clock.advance(1);
    await flush();
    expect(converged(...managers)).toBe(true);
    // Long after: the other members' backup plans found the table current and wrote nothing.
    await clock.advance(10 * SETTLE);
    await flush();
    expect(managers.reduce((n, m) => n + m.stats.tableWrites, 0)).toBe(1);
    expect(managers[0]!.stats.tableWrites).toBe(1); // by the smallest id
    expect(ledger.acquisitions).toBe(SLOTS); // no slot moved twice
    expect(ledger.violations).toEqual([]);
  });

  it('a handover waits for the released callbacks exactly drainTimeoutMs of the session clock', async () => {
    const { clock, join } = world();
    const a = await join('a', { released: () => new Promise<void>(() => undefined), drainTimeoutMs: 500 });
    await clock.advance(SETTLE);
    await flush();
    expect(a.owned().size).toBe(SLOTS);
    const b = await join('b');
    await clock.advance(SETTLE);
    await flush();
    expect(a.tableMembers).toEqual(['a', 'b']);
    const toB = [...Array(SLOTS).keys()].filter((s) => !a.owned().has(s));
    expect(toB.length).toBe(SLOTS / 2);
    // Their signals aborted at once; their keys stay while a drains.
    expect(toB.every((s) => a.signalOf(s) === undefined && a.holders()[s] === 'a')).toBe(true);
    await clock.advance(499);
    await flush();
    expect(toB.every((s) => a.holders()[s] === 'a')).toBe(true);
    await clock.advance(1);
    await flush();
    expect(toB.every((s) => a.holders()[s] === 'b')).toBe(true);
    expect(converged(a, b)).toBe(true);
  });

  it('a claim that failed is retried 100 ms later on the session clock', async () => {
    const { clock, store, join } = world();
    let down = true;
    const claims = (r: TxnRequest) => down && (r.success ?? []).some((op) => op.key.includes('/slot/'));
    const a = await join('a', { store: failing(store, claims) });
    const errors: unknown[] = [];
    a.on('storeError', (e) => errors.push(e));
    await clock.advance(SETTLE);
    await flush();
    expect(a.tableMembers).toEqual(['a']);
    expect(errors.length).toBe(1);
    expect(a.owned().size).toBe(0);
    down = false;
    await clock.advance(99);
    await flush();
    expect(a.owned().size).toBe(0);
    await clock.advance(1);
    await flush();
    expect(a.owned().size).toBe(SLOTS);
  });

  it('close() during a release backoff returns without the clock moving', async () => {
    const { clock, store, join } = world();
    let down = false;
    const deletes = (r: TxnRequest) => down && (r.success ?? []).some((op) => op.type === 'delete');
    const a = await join('a', { store: failing(store, deletes) });
    await clock.advance(SETTLE);
    await flush();
    expect(a.owned().size).toBe(SLOTS);
    const errors: unknown[] = [];
    a.on('storeError', (e) => errors.push(e));
    down = true;
    const b = await join('b');
    await clock.advance(SETTLE);
    await flush();
    // a handed half its slots over and is backing off after its failed delete.
    expect(a.owned().size).toBe(SLOTS / 2);
    expect(errors.length).toBe(1);
    expect(a.status).toBe('running');

    const now = clock.now();
    let closed = false;
    void a.close().then(() => (closed = true));
    await flush();
    expect(closed).toBe(true);
    expect(clock.now()).toBe(now);
    expect(a.status).toBe('closed');
    expect(a.signal.aborted).toBe(true);
    // One more attempt for the handed-over batch and one for the rest; the lease removes them.
    expect(errors.length).toBe(3);
    expect(b.membership.get('a')).toBeUndefined();
  });
});

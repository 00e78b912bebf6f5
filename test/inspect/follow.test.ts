/**
 * inspect/: one read of a whole store, and the follower that keeps it current from ONE watch: a
 * change is seen within one watch delivery, with no re-read of the keys and no lease polling
 * faster than its slow timer.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FleetFollower } from '../../src/inspect/follow.js';
import type { FleetEvent } from '../../src/inspect/model.js';
import { inspectStore } from '../../src/inspect/read.js';
import { Election } from '../../src/recipes/coordination/election.js';
import { Membership } from '../../src/recipes/fleet/membership.js';
import { etcdKey, etcdPrefix } from '../../src/recipes/coordination/etcd-layout.js';
import { Mutex } from '../../src/recipes/coordination/mutex.js';
import { RWLock } from '../../src/recipes/coordination/rwlock.js';
import { Semaphore } from '../../src/recipes/coordination/semaphore.js';
import { Session } from '../../src/recipes/coordination/session.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import type { Store } from '../../src/store/types.js';
import { eventually } from '../helpers/async.js';

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

/** The store, and how many times each method was called through it. */
function counting(store: Store): { store: Store; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const proxy = new Proxy(store, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        calls.set(String(prop), (calls.get(String(prop)) ?? 0) + 1);
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: proxy, calls };
}

describe('inspectStore', () => {
  it('reads every recipe at one revision, through the layouts', async () => {
    const store = new MemoryStore();
    closers.push(() => store.close());
    const s = await Session.create(store, { ttlMs: 5000 });
    closers.push(() => s.close());
    await new Election(s, 'cron').campaign('node-a');
    await new Mutex(s, 'invoices', { owner: 'worker-1' }).lock();
    await new Semaphore(s, 'crawl', 2, { owner: 'c1' }).acquire();
    await new RWLock(s, 'config', { owner: 'r1' }).readLock();
    await (await Membership.open(store, 'web')).join(s, { id: 'w1', zone: 'eu' });
    const fleet = await inspectStore(store);
    expect(fleet.elections.map((e) => [e.name, e.leader?.value, e.term === e.leader?.revision])).toEqual([
      ['cron', 'node-a', true],
    ]);
    expect(fleet.locks.map((l) => [l.kind, l.name, l.holders.map((h) => h.value)])).toEqual([
      ['mutex', 'invoices', ['worker-1']],
      ['semaphore', 'crawl', ['c1']],
      ['rwlock', 'config', ['r1']],
    ]);
    expect(fleet.locks[1]!.permits).toBe(2);
    expect(fleet.locks[2]!.holders[0]!.mode).toBe('read');
    expect(fleet.members.map((m) => [m.group, m.id, m.zone])).toEqual([['web', 'w1', 'eu']]);
    expect(fleet.sessions).toHaveLength(1);
    expect(fleet.sessions[0]!.remainingMs).toBeGreaterThan(0);
    expect(fleet.skippedCount).toBe(0);
  });
});

describe('FleetFollower', () => {
  it('follows changes with one watch: no re-read of the keys, no lease polling between its slow looks', async () => {
    const raw = new MemoryStore();
    closers.push(() => raw.close());
    const { store, calls } = counting(raw);
    // A lease timer that never fires during the test: every change must come from the watch.
    const view = new FleetFollower(store, { refreshMs: 600_000 });
    closers.push(() => view.close());
    const events: FleetEvent[] = [];
    view.on('event', (e) => events.push(e));
    await view.start();
    const reads = calls.get('txn') ?? 0;
    expect(reads).toBe(1);

    const a = await Session.create(raw, { ttlMs: 5000 });
    const b = await Session.create(raw, { ttlMs: 5000 });
    closers.push(
      () => a.close(),
      () => b.close(),
    );
    const leadership = await new Election(a, 'cron').campaign('node-a');
    const second = new Election(b, 'cron').campaign('node-b');
    await eventually(() => events.some((e) => e.kind === 'leader' && e.value === 'node-a'));
    const lock = await new Mutex(a, 'm', { owner: 'holder-a' }).lock();
    const waiting = new Mutex(b, 'm', { owner: 'holder-b' }).lock();
    await eventually(() => view.snapshot().locks[0]?.waiters.length === 1);
    await lock.unlock();
    await (await waiting).unlock();
    await leadership.resign();
    await second;
    await eventually(() => events.some((e) => e.kind === 'leader' && e.value === 'node-b'));
    await eventually(() => events.filter((e) => e.kind === 'lock').length === 2);

    const handover = events.find((e) => e.kind === 'leader' && e.value === 'node-b')!;
    expect(handover.previous).toBe('node-a');
    expect(handover.failoverMs).toBeGreaterThanOrEqual(0);
    expect(events.filter((e) => e.kind === 'lock').map((e) => e.value)).toEqual(['holder-a', 'holder-b']);
    expect(view.snapshot().elections[0]!.history.map((t) => t.value)).toEqual(['node-a', 'node-b']);
    // One watch, the first read only, and one timeToLive per new lease (two sessions).
    expect(calls.get('watch')).toBe(1);
    expect(calls.get('txn')).toBe(reads);
    expect(calls.get('range') ?? 0).toBe(0);
    expect(calls.get('timeToLive')).toBe(2);
  });

  it('reports members joining and leaving', async () => {
    const store = new MemoryStore();
    closers.push(() => store.close());
    const view = new FleetFollower(store, { refreshMs: 600_000 });
    closers.push(() => view.close());
    const events: FleetEvent[] = [];
    view.on('event', (e) => events.push(e));
    await view.start();
    const s = await Session.create(store, { ttlMs: 5000 });
    closers.push(() => s.close());
    const group = await Membership.open(store, 'web');
    closers.push(() => group.close());
    const m = await group.join(s, { id: 'w1' });
    await eventually(() => events.some((e) => e.kind === 'member-join' && e.value === 'w1'));
    await m.close();
    await eventually(() => events.some((e) => e.kind === 'member-leave' && e.value === 'w1'));
    expect(view.snapshot().members).toEqual([]);
  });

  it('after a failed first read, reads again at a bounded pace until the store answers, then follows', async () => {
    const raw = new MemoryStore();
    closers.push(() => raw.close());
    let failing = true;
    let reads = 0;
    const store = new Proxy(raw, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target) as unknown;
        if (prop === 'txn')
          return (...args: Parameters<MemoryStore['txn']>) => {
            reads++;
            return failing ? Promise.reject(new Error('refused')) : target.txn(...args);
          };
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const view = new FleetFollower(store, { refreshMs: 600_000 });
    closers.push(() => view.close());
    view.on('error', () => undefined);
    await view.start();
    expect(view.ready).toBe(false);
    expect(String(view.failure?.error)).toMatch(/refused/);
    await new Promise((r) => setTimeout(r, 1000));
    // One read, then one every 200 ms: not a tight loop.
    expect(reads).toBeGreaterThanOrEqual(3);
    expect(reads).toBeLessThanOrEqual(8);
    failing = false;
    await eventually(() => view.ready);
    expect(view.failure).toBeUndefined();
    await raw.put('election/e/k1', 'node-a');
    await eventually(() => view.snapshot().elections[0]?.leader?.value === 'node-a');
  });
});

describe("etcd's concurrency layout", () => {
  it("reads locks and elections made with { layout: 'etcd' }, and no key that only looks like one", async () => {
    const store = new MemoryStore();
    closers.push(() => store.close());
    const a = await Session.create(store, { ttlMs: 5000 });
    const b = await Session.create(store, { ttlMs: 5000 });
    closers.push(
      () => a.close(),
      () => b.close(),
    );
    await new Mutex(a, 'billing/lock', { layout: 'etcd' }).lock();
    const ac = new AbortController();
    const waiting = new Mutex(b, 'billing/lock', { layout: 'etcd' }).lock({ signal: ac.signal });
    await new Election(a, 'jobs', { layout: 'etcd' }).campaign('node-a');
    await eventually(async () => (await inspectStore(store)).locks[0]?.waiters.length === 1);
    // Negative controls: keys shaped `<name>/<hex>` whose hex is not their own lease, or without a lease.
    await store.put(`decoy/${(BigInt(b.lease) + 100n).toString(16)}`, 'x', { lease: b.lease });
    await store.put(`plain/${BigInt(a.lease).toString(16)}`, '');

    const fleet = await inspectStore(store);
    expect(
      fleet.locks.map((l) => [
        l.kind,
        l.layout,
        l.name,
        l.holders.map((h) => h.lease),
        l.waiters.map((w) => w.lease),
      ]),
    ).toEqual([['mutex', 'etcd', 'billing/lock', [a.lease], [b.lease]]]);
    expect(
      fleet.elections.map((e) => [e.layout, e.name, e.leader?.value, e.term === e.leader?.revision]),
    ).toEqual([['etcd', 'jobs', 'node-a', true]]);
    expect(fleet.skippedCount).toBe(0);
    ac.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'TENURE_ABORTED' });
  });

  it('follows an etcd-layout lock from its watch: taken, then released (a delete carries no lease)', async () => {
    const store = new MemoryStore();
    closers.push(() => store.close());
    const view = new FleetFollower(store, { refreshMs: 600_000 });
    closers.push(() => view.close());
    const events: FleetEvent[] = [];
    view.on('event', (e) => events.push(e));
    await view.start();
    const s = await Session.create(store, { ttlMs: 5000 });
    closers.push(() => s.close());
    const lock = await new Mutex(s, 'deploy', { layout: 'etcd' }).lock();
    await eventually(() => events.some((e) => e.kind === 'lock' && e.name === 'deploy'));
    await lock.close();
    await eventually(() => events.some((e) => e.kind === 'unlock' && e.name === 'deploy'));
    expect(view.snapshot().locks).toEqual([]);
  });
});

describe("etcd's concurrency layout, followed", () => {
  it('an etcd-layout entry put and deleted within one watch batch leaves no lock behind', async () => {
    const store = new MemoryStore();
    closers.push(() => store.close());
    const view = new FleetFollower(store, { refreshMs: 600_000 });
    closers.push(() => view.close());
    await view.start();
    const s = await Session.create(store, { ttlMs: 5000 });
    closers.push(() => s.close());
    const key = etcdKey(etcdPrefix('flash'), s.lease);
    // Both commits before the follower's watch reads: they reach it as one batch.
    await Promise.all([store.put(key, '', { lease: s.lease }), store.delete(key)]);
    const other = await new Mutex(s, 'after', { layout: 'etcd' }).lock();
    await eventually(() => view.snapshot().locks.some((l) => l.name === 'after'));
    expect(view.snapshot().locks.map((l) => l.name)).toEqual(['after']);
    await other.close();
  });
});

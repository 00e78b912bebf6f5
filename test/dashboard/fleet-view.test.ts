/**
 * What `tenure status` and the dashboard read of the membership and shard recipes: the
 * ShardManager's table and slot keys as a slot map, its moves as events, and the heartbeat mesh's
 * phi where members publish it (the lease-based figure otherwise).
 */
import { createSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { formatStatus } from '../../src/cli/status.js';
import { FleetView, type FleetEvent } from '../../src/dashboard/fleet-view.js';
import * as dashboardEntry from '../../src/dashboard/server.js';
import { publishSuspicion } from '../../src/recipes/fleet/suspicion.js';
import { HeartbeatMesh } from '../../src/recipes/fleet/heartbeat-mesh.js';
import { Membership } from '../../src/recipes/fleet/membership.js';
import { Mutex } from '../../src/recipes/coordination/mutex.js';
import { RWLock } from '../../src/recipes/coordination/rwlock.js';
import { Semaphore } from '../../src/recipes/coordination/semaphore.js';
import { Session } from '../../src/recipes/coordination/session.js';
import { ShardManager } from '../../src/recipes/fleet/shards.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import { eventually } from '../helpers/async.js';

const closers: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

describe('FleetView over Membership, ShardManager and HeartbeatMesh', () => {
  it('shows the slot holders and table, counts a handover once, and shows published phi', async () => {
    const store = new MemoryStore();
    closers.push(() => store.close());
    const membership = await Membership.open(store, 'orders');
    closers.push(() => membership.close());
    const join = async (id: string) => {
      const session = await Session.create(store, { ttlMs: 2000 });
      const member = await membership.join(session, { id, address: `127.0.0.1:${await freeUdpPort()}` });
      const mesh = await HeartbeatMesh.start(membership, member, { intervalMs: 50 });
      publishSuspicion(session, mesh, { group: 'orders', id, intervalMs: 50 });
      const shards = await ShardManager.start(membership, member, { slotCount: 16, settleMs: 20 });
      closers.push(
        () => session.close(),
        () => mesh.close(),
        () => shards.close(),
      );
      return { session, shards, mesh };
    };
    const view = new FleetView(store, { refreshMs: 50 });
    closers.push(() => view.close());
    const events: FleetEvent[] = [];
    view.on('event', (e) => events.push(e));
    await view.start();

    const a = await join('a');
    const b = await join('b');
    await eventually(() => a.shards.settled && b.shards.settled && a.shards.tableMembers.length === 2);
    await view.refresh();
    let map = view.snapshot().slots.find((m) => m.name === 'orders')!;
    expect(map.owners).toEqual(a.shards.holders());
    expect(map.planned).toEqual(map.owners);
    expect(map.epoch).toBe(a.shards.tableRevision);
    expect(map.owners.filter((o) => o === 'b')).toHaveLength(8);

    // Phi from the peers' published view, not the lease-based figure alone.
    await eventually(async () => {
      await view.refresh();
      return view.snapshot().members.every((m) => m.phiObservers === 1 && m.phi !== undefined);
    });
    const status = formatStatus(view.snapshot(), 'memory:');
    // The member's published address (and zone, none here) beside its suspicion.
    expect(status).toMatch(/orders\s+a\s+127\.0\.0\.1:\d+\s+-\s+phi \d+\.\d \(1 peer\)/);
    expect(status).toMatch(/orders\s+\d+\s+16\s+a:8 b:8\s+0/);

    // b leaves gracefully: its 8 slots move to a, counted once each.
    events.length = 0;
    await b.shards.close();
    await eventually(() => a.shards.settled && a.shards.owned().size === 16);
    await eventually(async () => {
      await view.refresh();
      map = view.snapshot().slots.find((m) => m.name === 'orders')!;
      return map.owners.every((o) => o === 'a');
    });
    const moved = events.filter((e) => e.kind === 'slots').reduce((n, e) => n + (e.moved ?? 0), 0);
    expect(moved).toBe(8);
    // b's published opinion went with its membership: nobody reports on a now.
    await eventually(async () => {
      await view.refresh();
      return view.snapshot().members.find((m) => m.id === 'a')?.phi === undefined;
    });
  });

  it('falls back to the lease-based figure, labelled as such, without a mesh', async () => {
    const store = new MemoryStore();
    closers.push(() => store.close());
    const session = await Session.create(store, { ttlMs: 2000 });
    closers.push(() => session.close());
    const membership = await Membership.open(store, 'plain');
    closers.push(() => membership.close());
    await membership.join(session, { id: 'solo' });
    const snapshot = await FleetView.read(store);
    const solo = snapshot.members.find((m) => m.id === 'solo')!;
    expect(solo.phi).toBeUndefined();
    expect(solo.suspicion).toBeDefined();
    expect(formatStatus(snapshot, 'memory:')).toMatch(/plain\s+solo\s+-\s+-\s+lease \d\.\d\d/);
  });

  it('shows mutexes, semaphores and read-write locks with their holders and waiters', async () => {
    const store = new MemoryStore();
    closers.push(() => store.close());
    const sessions = await Promise.all([1, 2, 3, 4].map(() => Session.create(store, { ttlMs: 2000 })));
    for (const s of sessions) closers.push(() => s.close());
    const [s1, s2, s3, s4] = sessions as [Session, Session, Session, Session];
    const view = new FleetView(store, { refreshMs: 50 });
    closers.push(() => view.close());
    const events: FleetEvent[] = [];
    view.on('event', (e) => events.push(e));
    await view.start();

    // A semaphore of 2: two holders, one waiter.
    const p1 = await new Semaphore(s1, 'crawl', 2, { owner: 'c1' }).acquire();
    await new Semaphore(s2, 'crawl', 2, { owner: 'c2' }).acquire();
    const third = new Semaphore(s3, 'crawl', 2, { owner: 'c3' }).acquire();
    void third.catch(() => undefined); // awaited below; ended by the teardown if the test fails first
    // A read-write lock: two readers hold, a writer waits, a reader behind the writer waits.
    await new RWLock(s1, 'config', { owner: 'r1' }).readLock();
    await new RWLock(s2, 'config', { owner: 'r2' }).readLock();
    const writer = new RWLock(s3, 'config', { owner: 'w3' }).writeLock();
    void writer.catch(() => undefined); // never granted: ended by the teardown
    await eventually(async () => (await store.range('rwlock/config/')).kvs.length === 3);
    const lateReader = new RWLock(s4, 'config', { owner: 'r4' }).readLock();
    void lateReader.catch(() => undefined); // never granted: ended by the teardown
    // A mutex of the same name as the semaphore is a different lock.
    await new Mutex(s4, 'crawl', { owner: 'm4' }).lock();

    let snap = view.snapshot();
    await eventually(async () => {
      await view.refresh();
      snap = view.snapshot();
      // The semaphore's third acquire enqueues on its own time: wait for its waiter too.
      return (
        snap.locks.length === 3 &&
        snap.locks.find((l) => l.kind === 'rwlock')?.waiters.length === 2 &&
        snap.locks.find((l) => l.kind === 'semaphore')?.waiters.length === 1
      );
    });
    const sem = snap.locks.find((l) => l.kind === 'semaphore')!;
    expect(sem).toMatchObject({ name: 'crawl', permits: 2 });
    expect(sem.permitsDeclared).toBeUndefined();
    expect(sem.holders.map((h) => h.value)).toEqual(['c1', 'c2']);
    expect(sem.waiters.map((h) => h.value)).toEqual(['c3']);
    const rw = snap.locks.find((l) => l.kind === 'rwlock')!;
    expect(rw.holders.map((h) => `${h.mode} ${h.value}`)).toEqual(['read r1', 'read r2']);
    expect(rw.waiters.map((h) => `${h.mode} ${h.value}`)).toEqual(['write w3', 'read r4']);
    const mutex = snap.locks.find((l) => l.kind === 'mutex')!;
    expect(mutex).toMatchObject({ name: 'crawl', waiters: [] });
    expect(mutex.holders.map((h) => h.value)).toEqual(['m4']);
    const status = formatStatus(snap, 'memory:');
    expect(status).toMatch(/semaphore of 2\s+crawl\s+c1, c2\s+\d+, \d+\s+c3/);
    expect(status).toMatch(/rwlock\s+config\s+read r1, read r2\s+\d+, \d+\s+write w3, read r4/);

    // A permit released: the waiter holds, one lock event for it.
    events.length = 0;
    await p1.release();
    const got = await third;
    await eventually(async () => {
      await view.refresh();
      return events.some((e) => e.kind === 'lock' && e.value === 'c3');
    });
    expect(events.filter((e) => e.kind === 'lock').map((e) => e.term)).toEqual([got.fencingToken]);

    // An entry that counts 3 permits (a process of a version that does not refuse, or a key
    // written by hand) is flagged.
    await store.put('semaphore/crawl/other', '3 c4', { lease: s4.lease });
    await eventually(async () => {
      await view.refresh();
      return view.snapshot().locks.find((l) => l.kind === 'semaphore')?.permitsDeclared !== undefined;
    });
    const mixed = view.snapshot().locks.find((l) => l.kind === 'semaphore')!;
    expect(mixed).toMatchObject({ permits: 2, permitsDeclared: [2, 3] });
    expect(formatStatus(view.snapshot(), 'memory:')).toMatch(/semaphore of 2 \(DISAGREE: 2, 3\)/);
  });
});

describe('FleetView on keys it cannot decode', () => {
  it('skips and reports malformed keys of every kind it reads, keeps the rest, in bounded memory', async () => {
    const store = new MemoryStore();
    closers.push(() => store.close());
    const session = await Session.create(store, { ttlMs: 2000 });
    closers.push(() => session.close());
    // Good keys, which must still be shown.
    await store.put('election/ok/k1', 'leader-a', { lease: session.lease });
    await store.put('mutex/m/k1', 'holder-a');
    await store.put('members/web/w1', JSON.stringify({ address: '10.0.0.1:7946', zone: 'eu-1' }));
    await store.put(
      'shards/t/table',
      JSON.stringify({ v: 1, slotCount: 4, nodes: ['w1'], weights: [1], runs: [0, 4], membersRevision: 1 }),
    );
    await store.put('shards/t/slot/3', 'w1');
    const malformed = [
      'election/noslash',
      'election//k',
      'election/name/',
      'mutex/',
      'semaphore/s/no-count',
      'rwlock/r/maybe',
      'members/nogroup',
      'members//id',
      'shards/g/slot/0', // a group without a table: its slot count is unknown
      'shards/g/slot/20000000',
      'shards/g/slot/65536',
      'shards/g/slot/-1',
      'shards/g/slot/abc',
      'shards/g/slot/1e3',
      'shards/g/slot/',
      'shards/g/other',
      'shards/h/table',
      'shards/i/table',
      'shards/t/slot/0007',
      'suspicion/nogroup',
      'suspicion/web/w1',
    ];
    const values: Record<string, string> = {
      'semaphore/s/no-count': 'x owner',
      'rwlock/r/maybe': 'maybe owner',
      'shards/h/table': JSON.stringify({
        v: 1,
        slotCount: 2e9,
        nodes: ['a'],
        weights: [1],
        runs: [0, 2e9],
        membersRevision: 1,
      }),
      'shards/i/table': '{not json',
      'suspicion/web/w1': '{"phi": 5',
    };
    for (const key of malformed) await store.put(key, values[key] ?? 'x');
    // Many more than the list holds: all counted, the list bounded.
    for (let i = 0; i < 120; i++) await store.put(`shards/z/slot/9999999${i}`, 'x');

    const snapshot = await FleetView.read(store);
    expect(snapshot.skippedCount).toBe(malformed.length + 120);
    expect(snapshot.skipped).toHaveLength(50);
    for (const key of malformed) expect(snapshot.skipped.map((s) => s.key)).toContain(key);
    expect(snapshot.skipped.find((s) => s.key === 'shards/t/slot/0007')?.reason).toMatch(
      /not 1 decimal digits/,
    );
    // The good keys are all there; the slot maps are no larger than their real slots.
    expect(snapshot.elections.map((e) => [e.name, e.leader?.value, e.term])).toEqual([
      ['ok', 'leader-a', snapshot.elections[0]!.leader!.revision],
    ]);
    expect(snapshot.locks.map((l) => l.name)).toEqual(['m']);
    expect(snapshot.members.map((m) => [m.group, m.id, m.address, m.zone])).toEqual([
      ['web', 'w1', '10.0.0.1:7946', 'eu-1'],
    ]);
    expect(snapshot.slots.map((m) => [m.name, m.owners.length])).toEqual([['t', 4]]);
    expect(snapshot.slots[0]!.owners).toEqual([null, null, null, 'w1']);
    const text = formatStatus(snapshot, 'memory:');
    expect(text).toMatch(/SKIPPED: 141 keys/);
    expect(text).toMatch(/web\s+w1\s+10\.0\.0\.1:7946\s+eu-1/);
    expect(text).toMatch(/ok\s+leader-a\s+term \d+/);
    expect(text).toMatch(/… and 91 more/);
    // Numbers people read are rounded: whole milliseconds, two decimals.
    for (const s of snapshot.sessions) expect(Number.isInteger(s.remainingMs)).toBe(true);
  });
});

describe('publishSuspicion', () => {
  it('lives with the fleet recipes; tenure/dashboard still re-exports it for one release', () => {
    expect(dashboardEntry.publishSuspicion).toBe(publishSuspicion);
    expect(dashboardEntry.SUSPICION_PREFIX).toBe('suspicion/');
  });
});

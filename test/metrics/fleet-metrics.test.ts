/**
 * The fleet's metrics (src/dashboard/fleet-metrics.ts): what the dashboard shows, computed from
 * the read model, on the memory store with real sessions. A crashed process is a session whose
 * store is cut off (no keepalive, no revoke reaches the store), so its lease expires on the store's
 * own schedule, as after a SIGKILL.
 */
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { FleetMetrics } from '../../src/dashboard/fleet-metrics.js';
import { FleetFollower } from '../../src/inspect/follow.js';
import { instrument } from '../../src/metrics/index.js';
import { Election } from '../../src/recipes/coordination/election.js';
import { Mutex } from '../../src/recipes/coordination/mutex.js';
import { Session } from '../../src/recipes/coordination/session.js';
import { Membership } from '../../src/recipes/fleet/membership.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import { eventually, sleep } from '../helpers/async.js';
import { cuttable } from '../shards/cuttable.js';

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** A follower of `store` with the fleet metrics in a new registry. */
async function follow(store: MemoryStore, o: { maxLabelValues?: number; maxMembers?: number } = {}) {
  const metrics = instrument({ registry: new Registry(), maxLabelValues: o.maxLabelValues });
  const follower = new FleetFollower(metrics.store(store), { refreshMs: 50 });
  follower.on('error', () => undefined);
  await follower.start();
  const fleet = new FleetMetrics(follower, metrics, { maxMembers: o.maxMembers });
  closers.push(
    () => follower.close(),
    () => fleet.close(),
  );
  /** The value of one sample, by metric name and labels (undefined: no such series). */
  const value = async (name: string, labels: Record<string, string> = {}) => {
    const metric = metrics.registry.getSingleMetric(name);
    if (!metric) throw new Error(`no metric ${name}`);
    const data = await metric.get();
    const sample = data.values.find(
      (v) =>
        ((v as { metricName?: string }).metricName ?? name) === name &&
        Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x) &&
        Object.keys(v.labels).length === Object.keys(labels).length,
    );
    return sample?.value;
  };
  return { metrics, follower, fleet, value, text: () => metrics.registry.metrics() };
}

async function session(store: MemoryStore, ttlMs = 600) {
  const s = await Session.create(store, { ttlMs });
  closers.push(() => s.close());
  return s;
}

describe('FleetMetrics', () => {
  it('counts a crashed leader as leaderless once it misses its heartbeats, and its failover as expired', async () => {
    const store = new MemoryStore();
    closers.push(() => store.close());
    const { value, text } = await follow(store);
    const crashing = cuttable(store);
    const a = await Session.create(crashing.store, { ttlMs: 600 });
    a.on('keepaliveError', () => undefined);
    const b = await session(store);
    await new Election(a, 'cron').campaign('a');
    const next = new Election(b, 'cron').campaign('b');
    next.catch(() => undefined); // awaited below; a failed test must not leave it unhandled
    await eventually(async () => (await value('tenure_election_candidates', { election: 'cron' })) === 2);
    expect(await value('tenure_election_leader', { election: 'cron', member: 'a' })).toBe(1);
    // A healthy leader is never counted leaderless (the negative control of the check below).
    for (let i = 0; i < 10; i++) {
      expect(await value('tenure_election_leaderless_seconds', { election: 'cron' })).toBe(0);
      await sleep(60);
    }
    expect(await value('tenure_election_ttl_seconds', { election: 'cron' })).toBeCloseTo(0.6, 1);
    crashing.cut();
    // Before its lease expires, the leader is seen gone: two thirds of its ttl without a renewal.
    let leaderless = 0;
    await eventually(async () => {
      leaderless = (await value('tenure_election_leaderless_seconds', { election: 'cron' })) ?? 0;
      return leaderless > 0;
    });
    expect(leaderless).toBeGreaterThan(0.4);
    await next;
    await eventually(
      async () => (await value('tenure_election_leader', { election: 'cron', member: 'b' })) === 1,
    );
    expect(await value('tenure_election_leader', { election: 'cron', member: 'a' })).toBeUndefined();
    expect(await value('tenure_election_leaderless_seconds', { election: 'cron' })).toBe(0);
    await eventually(async () =>
      /^tenure_failover_seconds_count\{election="cron",departure="expired"\} 1$/m.test(await text()),
    );
    expect(await text()).not.toMatch(/departure="let-go"\} 1$/m);
    // A crash failover takes about a ttl (0.6 s) after the last renewal.
    expect(await value('tenure_election_last_failover_seconds', { election: 'cron' })).toBeGreaterThan(0.3);
    await eventually(
      async () => (await value('tenure_sessions_ended_total', { departure: 'expired' })) === 1,
    );
    expect(await value('tenure_sessions_ended_total', { departure: 'let-go' })).toBe(0);
    await a.close().catch(() => undefined);
  });

  it('keeps counting an election whose only candidate crashed as leaderless, until a new one leads', async () => {
    const store = new MemoryStore();
    closers.push(() => store.close());
    const { value } = await follow(store);
    const crashing = cuttable(store);
    const a = await Session.create(crashing.store, { ttlMs: 600 });
    a.on('keepaliveError', () => undefined);
    await new Election(a, 'cron').campaign('a');
    await eventually(
      async () => (await value('tenure_election_ttl_seconds', { election: 'cron' })) !== undefined,
    );
    crashing.cut();
    // Its key goes with its lease; the election stays, without candidates and without a leader.
    await eventually(async () => (await value('tenure_election_candidates', { election: 'cron' })) === 0);
    await eventually(
      async () => ((await value('tenure_election_leaderless_seconds', { election: 'cron' })) ?? 0) > 1.2,
    );
    expect(await value('tenure_election_leader', { election: 'cron', member: 'a' })).toBeUndefined();
    const b = await session(store);
    await new Election(b, 'cron').campaign('b');
    await eventually(
      async () => (await value('tenure_election_leaderless_seconds', { election: 'cron' })) === 0,
    );
    expect(await value('tenure_election_candidates', { election: 'cron' })).toBe(1);
    await a.close().catch(() => undefined);
  });

  it('counts a resignation as a let-go failover and a closed session as let-go, not lost', async () => {
    const store = new MemoryStore();
    closers.push(() => store.close());
    const { value, text } = await follow(store);
    const a = await session(store);
    const b = await session(store);
    const first = await new Election(a, 'cron').campaign('a');
    const next = new Election(b, 'cron').campaign('b');
    next.catch(() => undefined);
    await eventually(async () => (await value('tenure_election_candidates', { election: 'cron' })) === 2);
    await first.resign();
    await next;
    await eventually(async () =>
      /^tenure_failover_seconds_count\{election="cron",departure="let-go"\} 1$/m.test(await text()),
    );
    await a.close();
    await eventually(async () => (await value('tenure_sessions_ended_total', { departure: 'let-go' })) === 1);
    expect(await value('tenure_sessions_ended_total', { departure: 'expired' })).toBe(0);
  });

  it('times lock waits and holds as the store shows them, and the queue length', async () => {
    const store = new MemoryStore();
    closers.push(() => store.close());
    const { value, text } = await follow(store);
    const a = await session(store);
    const b = await session(store);
    const held = await new Mutex(a, 'invoices').lock();
    const waiting = new Mutex(b, 'invoices').lock();
    await eventually(
      async () => (await value('tenure_lock_queue_length', { lock: 'invoices', kind: 'mutex' })) === 1,
    );
    expect(await value('tenure_lock_holders', { lock: 'invoices', kind: 'mutex' })).toBe(1);
    await sleep(300);
    await held.unlock();
    const second = await waiting;
    await eventually(
      async () => (await value('tenure_lock_queue_length', { lock: 'invoices', kind: 'mutex' })) === 0,
    );
    await second.unlock();
    await eventually(async () =>
      /^tenure_fleet_lock_hold_seconds_count\{lock="invoices",kind="mutex"\} 2$/m.test(await text()),
    );
    const out = await text();
    expect(out).toMatch(/^tenure_fleet_lock_wait_seconds_count\{lock="invoices",kind="mutex"\} 2$/m);
    // b waited about 300 ms; a not at all: one wait in the 0.25 s bucket's complement.
    expect(out).toMatch(
      /^tenure_fleet_lock_wait_seconds_bucket\{le="0.1",lock="invoices",kind="mutex"\} 1$/m,
    );
    expect(out).toMatch(/^tenure_fleet_lock_wait_seconds_bucket\{le="1",lock="invoices",kind="mutex"\} 2$/m);
    expect(out).toMatch(
      /^tenure_fleet_lock_hold_seconds_bucket\{le="0.1",lock="invoices",kind="mutex"\} 1$/m,
    );
  });

  it('reports members per group and gives departed members no series', async () => {
    const store = new MemoryStore();
    closers.push(() => store.close());
    const { value } = await follow(store);
    const membership = await Membership.open(store, 'web');
    closers.push(() => membership.close());
    const a = await session(store);
    const b = await session(store);
    await membership.join(a, { id: 'a' });
    await membership.join(b, { id: 'b' });
    await eventually(async () => (await value('tenure_group_members', { group: 'web' })) === 2);
    await eventually(
      async () => (await value('tenure_member_suspicion', { group: 'web', member: 'b' })) !== undefined,
    );
    await b.close();
    await eventually(async () => (await value('tenure_group_members', { group: 'web' })) === 1);
    expect(await value('tenure_member_suspicion', { group: 'web', member: 'b' })).toBeUndefined();
    expect(await value('tenure_member_suspicion', { group: 'web', member: 'a' })).toBeDefined();
  });

  it('caps name labels: names beyond the cap are _other; under the cap each keeps its own series', async () => {
    const store = new MemoryStore();
    closers.push(() => store.close());
    const { value, text } = await follow(store, { maxLabelValues: 2, maxMembers: 1 });
    const a = await session(store);
    const locks = [];
    for (const name of ['l1', 'l2', 'l3', 'l4']) locks.push(await new Mutex(a, name).lock());
    await eventually(
      async () => (await value('tenure_lock_holders', { lock: '_other', kind: 'mutex' })) !== undefined,
    );
    const out = await text();
    expect(out).toMatch(/^tenure_lock_holders\{lock="l1",kind="mutex"\} 1$/m);
    expect(out).toMatch(/^tenure_lock_holders\{lock="l2",kind="mutex"\} 1$/m);
    expect(out).not.toMatch(/lock="l3"/);
    expect(out).not.toMatch(/lock="l4"/);
    for (const l of locks) await l.unlock();
    // One member admitted; the second is _other until the first leaves.
    const membership = await Membership.open(store, 'web');
    closers.push(() => membership.close());
    const b = await session(store);
    const c = await session(store);
    await membership.join(b, { id: 'b' });
    await eventually(
      async () => (await value('tenure_member_suspicion', { group: 'web', member: 'b' })) !== undefined,
    );
    await membership.join(c, { id: 'c' });
    await eventually(
      async () => (await value('tenure_member_suspicion', { group: 'web', member: '_other' })) !== undefined,
    );
    expect(await value('tenure_member_labels', { what: 'overflowed' })).toBe(1);
    await b.close();
    await eventually(
      async () => (await value('tenure_member_suspicion', { group: 'web', member: 'c' })) !== undefined,
    );
  });

  it('counts failed store operations by error code', async () => {
    const store = new MemoryStore();
    const metrics = instrument({ registry: new Registry() });
    const timed = metrics.store(store);
    await timed.put('k', 'v');
    await store.close();
    await expect(timed.get('k')).rejects.toMatchObject({ code: 'TENURE_CLOSED' });
    const out = await metrics.registry.metrics();
    expect(out).toMatch(/^tenure_store_errors_total\{op="get",backend="memory",code="TENURE_CLOSED"\} 1$/m);
    expect(out).not.toMatch(/^tenure_store_errors_total\{op="put"/m);
    expect(out).toMatch(
      /^tenure_store_operation_seconds_count\{op="put",backend="memory",outcome="ok"\} 1$/m,
    );
  });
});

/**
 * One definition of a failover's duration (src/inspect/failover.ts): from the fault to the new
 * leader acting. The demo measures it as the injector of the fault; FleetView (the dashboard and
 * `tenure watch`) as an observer of the store. Here both watch the same handovers and must agree.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetView, type FleetEvent } from '../../src/dashboard/fleet-view.js';
import { estimateFaultAt, failoverMs } from '../../src/inspect/failover.js';
import { Election } from '../../src/recipes/coordination/election.js';
import { Session } from '../../src/recipes/coordination/session.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import { EtcdStore } from '../../src/store/etcd/index.js';
import type { Store } from '../../src/store/types.js';
import { EtcdCluster } from '../helpers/etcd-cluster.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The next leader event of `view`. */
function nextLeaderEvent(view: FleetView): Promise<FleetEvent> {
  return new Promise((resolve) => {
    const on = (e: FleetEvent) => {
      if (e.kind !== 'leader') return;
      view.off('event', on);
      resolve(e);
    };
    view.on('event', on);
  });
}

/**
 * A store that can be cut off, as if its client crashed: from then on no call it makes reaches
 * the store (no keepalive, no revoke), so its lease expires on the store's own schedule.
 */
function cuttable(store: Store): { store: Store; cut: () => void } {
  let cut = false;
  const proxy = new Proxy(store, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target) as unknown;
      if (typeof v !== 'function') return v;
      if (cut && prop !== 'close') return () => new Promise(() => undefined); // never answered
      return (v as (...a: unknown[]) => unknown).bind(target);
    },
  });
  return { store: proxy, cut: () => (cut = true) };
}

describe('failover time: one definition', () => {
  it('is from the fault to the new leader acting, never negative, in whole milliseconds', () => {
    expect(failoverMs(1000.2, 1910.7)).toBe(911);
    expect(failoverMs(1000, 999)).toBe(0);
  });

  it('a store observer dates the fault at the last renewal of an expired lease, or the last sight of a leader that let go', () => {
    expect(estimateFaultAt({ lastRenewedAt: 100, lastSeenLeadingAt: 900, departure: 'expired' })).toBe(100);
    expect(estimateFaultAt({ lastRenewedAt: 100, lastSeenLeadingAt: 900, departure: 'let-go' })).toBe(900);
    expect(estimateFaultAt({ lastRenewedAt: undefined, lastSeenLeadingAt: 900, departure: 'expired' })).toBe(
      900,
    );
  });

  it('a graceful handover: FleetView and the injector agree (not a heartbeat interval apart)', async () => {
    const store = new MemoryStore();
    const view = new FleetView(store, { refreshMs: 50 });
    await view.start();
    // Heartbeats every 2 s: the leader's last one is a second old when it closes.
    const a = await Session.create(store, { ttlMs: 6000, keepAliveIntervalMs: 2000 });
    const b = await Session.create(store, { ttlMs: 6000, keepAliveIntervalMs: 2000 });
    try {
      await new Election(a, 'job').campaign('a');
      const second = new Election(b, 'job').campaign('b');
      await new Promise((resolve) => a.once('keepalive', resolve));
      await sleep(1000);
      const seen = nextLeaderEvent(view);
      const faultAt = performance.now();
      await a.close();
      await second;
      const injector = failoverMs(faultAt, performance.now());
      const observed = (await seen).failoverMs;
      expect(observed).toBeDefined();
      // The view's estimate is early by at most its refresh interval (plus scheduling).
      expect(Math.abs(observed! - injector)).toBeLessThanOrEqual(view.refreshMs + 50);
    } finally {
      view.close();
      await b.close();
      await store.close();
    }
  });
});

/**
 * A crash measured by its injector and by FleetView, on each backend: the view dates the fault at
 * the last renewal it could see, at most one heartbeat interval (plus its refresh) before the
 * crash. etcd reports a lease's time left in whole seconds, so the view cannot see each renewal
 * there; it must still not count from the lease's first sighting (what it did: 3.6 s for a 2 s
 * failover of a leader that had led for 3.5 s, and more the longer it had led).
 */
describe.each([
  ['memory', 1000],
  ['etcd', 2000],
] as const)('failover time of a crash on %s', (backend, ttlMs) => {
  let cluster: EtcdCluster | undefined;
  let open: () => Store;
  beforeAll(async () => {
    if (backend === 'etcd') {
      cluster = await EtcdCluster.start({ size: 1 });
      open = () => new EtcdStore({ endpoints: cluster!.endpoints });
    } else {
      const shared = new MemoryStore();
      open = () => shared;
    }
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('FleetView and the injector agree within one heartbeat interval, however long the leader led', async () => {
    const observer = open();
    const { store, cut } = cuttable(open());
    const view = new FleetView(observer, { refreshMs: 50 });
    await view.start();
    const a = await Session.create(store, { ttlMs });
    const b = await Session.create(observer, { ttlMs });
    try {
      await new Election(a, 'job').campaign('a');
      const second = new Election(b, 'job').campaign('b');
      // Lead for a while (longer than the ttl), then crash just after a heartbeat.
      await sleep(ttlMs * 1.5);
      await new Promise((resolve) => a.once('keepalive', resolve));
      await sleep(50);
      const seen = nextLeaderEvent(view);
      const faultAt = performance.now();
      cut();
      await second;
      const injector = failoverMs(faultAt, performance.now());
      const observed = (await seen).failoverMs;
      expect(injector).toBeGreaterThan(ttlMs / 2);
      expect(observed).toBeDefined();
      expect(observed!).toBeGreaterThanOrEqual(injector - view.refreshMs - 50);
      expect(observed!).toBeLessThanOrEqual(injector + a.keepAliveIntervalMs + view.refreshMs + 50);
    } finally {
      view.close();
      await b.close();
      await observer.close();
      await store.close();
    }
  });
});

/**
 * The dashboard's history in real headless Chromium (Debian's, through playwright-core),
 * asserted on the rendered DOM: a leadership timeline with each failover's duration (a crash and
 * a resignation, told apart), failover durations and lock waits charted by uPlot (served by the
 * dashboard itself), phi sparklines, a departed member shown as departed, slot moves per
 * membership change, a timeline whose lock churn is folded and whose kinds can be filtered,
 * colours that follow a member across sections and reloads, and a page that keeps showing the
 * fleet, and says so, while the store is unreachable.
 */
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDashboard } from '../../src/dashboard/server.js';
import { TenureError } from '../../src/errors.js';
import { Election } from '../../src/recipes/coordination/election.js';
import { Mutex } from '../../src/recipes/coordination/mutex.js';
import { Session } from '../../src/recipes/coordination/session.js';
import type { HeartbeatMesh } from '../../src/recipes/fleet/heartbeat-mesh.js';
import { Membership } from '../../src/recipes/fleet/membership.js';
import { ShardManager } from '../../src/recipes/fleet/shards.js';
import { publishSuspicion } from '../../src/recipes/fleet/suspicion.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import type { Store } from '../../src/store/types.js';
import { eventually, sleep } from '../helpers/async.js';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';

let launched: TestBrowser | undefined;
let browser: BrowserContext;
const closers: (() => unknown)[] = [];

beforeAll(async () => {
  launched = await launchBrowser();
  browser = launched.context;
});

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

afterAll(async () => {
  await launched?.close();
});

/**
 * A store proxy that can be made unreachable and reachable again: while down every call fails
 * with TENURE_UNAVAILABLE, and the watches open when it went down fail too (as a broken
 * connection's would).
 */
function switchable(store: Store): { store: Store; down(): void; up(): void } {
  let down = false;
  const unavailable = () => new TenureError('TENURE_UNAVAILABLE', 'the store is down (test)');
  const watches = new Set<AbortController>();
  const watch = (key: string, options: Parameters<Store['watch']>[1] = {}) => {
    if (down)
      return {
        [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(unavailable()) }),
      } as ReturnType<Store['watch']>;
    const ac = new AbortController();
    options.signal?.addEventListener('abort', () => ac.abort(options.signal!.reason), { once: true });
    watches.add(ac);
    const inner = store.watch(key, { ...options, signal: ac.signal });
    return (async function* () {
      try {
        for await (const batch of inner) yield batch;
      } catch (err) {
        if (down) throw unavailable();
        throw err;
      } finally {
        watches.delete(ac);
      }
      if (down) throw unavailable();
    })();
  };
  const proxy = new Proxy(store, {
    get(target, prop) {
      if (prop === 'watch') return watch;
      const v = Reflect.get(target, prop, target) as unknown;
      if (typeof v !== 'function') return v;
      if (prop === 'close' || prop === Symbol.asyncDispose)
        return (v as (...a: unknown[]) => unknown).bind(target);
      // Checked at each call: a wrapper may keep the function it got before the store went down.
      return (...args: unknown[]) =>
        down ? Promise.reject(unavailable()) : (v as (...a: unknown[]) => unknown).apply(target, args);
    },
  });
  return {
    store: proxy,
    down: () => {
      down = true;
      for (const ac of watches) ac.abort(unavailable());
    },
    up: () => (down = false),
  };
}

/** A heartbeat mesh stand-in whose phi for each peer the test sets. */
function fakeMesh(phi: Map<string, number>): HeartbeatMesh {
  return { peers: () => [...phi].map(([id, suspicion]) => ({ id, suspicion })) } as unknown as HeartbeatMesh;
}

async function open(url: string): Promise<{ page: Page; refused: string[] }> {
  const page = await browser.newPage();
  closers.push(() => page.close());
  const refused: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy|Failed to load/i.test(m.text())) refused.push(m.text());
  });
  page.on('pageerror', (err) => refused.push(err.message));
  await page.goto(url);
  return { page, refused };
}

describe('dashboard history', () => {
  it('draws leadership, failovers, phi, departures, slot moves and lock waits, with stable colours', async () => {
    const store = new MemoryStore();
    closers.push(() => store.close());
    const dashboard = await startDashboard(store, { port: 0, title: 'history', refreshMs: 100 });
    closers.push(() => dashboard.close());
    // a's process "crashes": its store is cut off, so its lease expires on the store's schedule.
    const crashing = switchable(store);
    const a = await Session.create(crashing.store, { ttlMs: 600 });
    a.on('keepaliveError', () => undefined);
    const b = await Session.create(store, { ttlMs: 600 });
    const c = await Session.create(store, { ttlMs: 600 });
    closers.push(
      () => c.close(),
      () => b.close(),
      () => a.close().catch(() => undefined),
    );
    const webA = await Membership.open(crashing.store, 'web');
    const webB = await Membership.open(store, 'web');
    closers.push(
      () => webB.close(),
      () => webA.close().catch(() => undefined),
    );
    const memberA = await webA.join(a, { id: 'node-a' });
    const memberB = await webB.join(b, { id: 'node-b' });
    const shardsA = await ShardManager.start(webA, memberA, { slotCount: 16 });
    shardsA.on('storeError', () => undefined);
    const shardsB = await ShardManager.start(webB, memberB, { slotCount: 16 });
    closers.push(
      () => shardsB.close(),
      () => shardsA.close().catch(() => undefined),
    );
    // node-b's peers see its phi rise and fall: a sparkline of several points.
    const phiOfB = new Map([['node-b', 0.5]]);
    publishSuspicion(a, fakeMesh(phiOfB), { group: 'web', id: 'node-a', intervalMs: 50 });

    await new Election(a, 'cron').campaign('node-a');
    const second = new Election(b, 'cron').campaign('node-b');
    second.catch(() => undefined);
    // Lock churn on 'jobs', with node-c waiting behind node-b once.
    for (let i = 0; i < 4; i++) {
      const held = await new Mutex(b, 'jobs', { owner: 'node-b' }).lock();
      const waiting = new Mutex(c, 'jobs', { owner: 'node-c' }).lock();
      await sleep(60);
      await held.unlock();
      await (await waiting).unlock();
    }
    for (const phi of [1.5, 3, 6, 2, 0.8]) {
      phiOfB.set('node-b', phi);
      await sleep(120);
    }

    const { page, refused } = await open(dashboard.url);
    await expect
      .poll(() => page.getByTestId('leader-cron').textContent(), { timeout: 10_000 })
      .toBe('node-a');
    await expect.poll(() => page.locator('[data-phi="node-b"]').getAttribute('data-points')).not.toBe('0');
    expect(
      Number(await page.locator('[data-phi="node-b"]').getAttribute('data-points')),
    ).toBeGreaterThanOrEqual(4);
    await expect.poll(() => page.locator('[data-phi="node-b"] canvas').count()).toBe(1);

    // The crash: node-b takes over once node-a's lease expires; node-a departs; its slots move.
    crashing.down();
    const led = await second;
    await expect
      .poll(() => page.getByTestId('leader-cron').textContent(), { timeout: 10_000 })
      .toBe('node-b');
    // Then a graceful handover: node-b resigns, node-c (a candidate) takes over.
    const third = new Election(c, 'cron').campaign('node-c');
    await eventually(async () => (await new Election(c, 'cron').leader())?.value === 'node-b');
    await sleep(200);
    await led.resign();
    await third;

    const timeline = page.locator('[data-timeline="cron"]');
    await expect.poll(() => timeline.locator('[data-term]').count(), { timeout: 10_000 }).toBe(3);
    const leaders = await timeline
      .locator('[data-term]')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-leader')));
    expect(leaders).toEqual(['node-a', 'node-b', 'node-c']);
    // The first term has no failover before it; the crash took about a ttl, the resignation far less.
    expect(await timeline.locator('[data-term]').first().getAttribute('data-failover-ms')).toBeNull();
    const crashMs = Number(await timeline.locator('[data-leader="node-b"]').getAttribute('data-failover-ms'));
    const gracefulMs = Number(
      await timeline.locator('[data-leader="node-c"]').getAttribute('data-failover-ms'),
    );
    expect(crashMs).toBeGreaterThan(300);
    expect(gracefulMs).toBeLessThan(crashMs);
    await expect.poll(() => page.locator('[data-failover="cron"][data-departure="expired"]').count()).toBe(1);
    await expect.poll(() => page.locator('[data-failover="cron"][data-departure="let-go"]').count()).toBe(1);
    expect(await page.locator('#failover-chart').getAttribute('data-points')).toBe('2');
    expect(await page.locator('#failover-chart canvas').count()).toBeGreaterThan(0);

    // node-a departed: listed as such, not forgotten; its slots moved, after it left.
    const departed = page.locator('[data-member="node-a"][data-state="departed"]');
    await expect.poll(() => departed.count(), { timeout: 10_000 }).toBe(1);
    expect(await departed.textContent()).toContain('departed');
    await expect
      .poll(() => page.locator('[data-slotmove="web"]').first().textContent(), { timeout: 10_000 })
      .toContain('node-a left');
    expect(await page.locator('#slotmove-chart canvas').count()).toBeGreaterThan(0);

    // Lock waits: eight acquisitions of 'jobs' seen, drawn by bucket.
    await expect.poll(() => page.locator('[data-lockwait="jobs"] td').nth(1).textContent()).toBe('8');
    expect(await page.locator('#lockwait-chart canvas').count()).toBeGreaterThan(0);

    // The timeline folds the lock churn into one line; unfolded, each handover is a line; filtered, none.
    const churn = page.locator('#events [data-event="lock-churn"]');
    await expect.poll(() => churn.count()).toBeGreaterThan(0);
    expect(Number(await churn.first().getAttribute('data-count'))).toBeGreaterThanOrEqual(2);
    expect(await page.locator('#events [data-event="lock"]').count()).toBe(0);
    await page.locator('#fold-locks').uncheck();
    expect(await page.locator('#events [data-event="lock"]').count()).toBeGreaterThanOrEqual(8);
    expect(await churn.count()).toBe(0);
    await page.locator('#timeline-filters input[data-kind="lock"]').uncheck();
    expect(await page.locator('#events [data-event^="lock"], #events [data-event="unlock"]').count()).toBe(0);
    expect(await page.locator('#events [data-event="leader"]').count()).toBeGreaterThanOrEqual(3);

    // One colour per member, in every section, and the same after a reload.
    const colours = async () =>
      page
        .locator('.chip[data-owner="node-b"]')
        .evaluateAll((els) => [...new Set(els.map((e) => e.getAttribute('style')))]);
    const before = await colours();
    expect(before).toHaveLength(1);
    expect(before[0]).not.toBe(
      await page.locator('.chip[data-owner="node-c"]').first().getAttribute('style'),
    );
    await page.reload();
    await expect
      .poll(() => page.getByTestId('leader-cron').textContent(), { timeout: 10_000 })
      .toBe('node-c');
    expect(await colours()).toEqual(before);
    expect(refused).toEqual([]);
  }, 60_000);

  it('keeps showing the fleet while the store is unreachable, says so, and recovers', async () => {
    const base = new MemoryStore();
    closers.push(() => base.close());
    const reach = switchable(base);
    const dashboard = await startDashboard(reach.store, { port: 0, title: 'outage', refreshMs: 100 });
    closers.push(() => dashboard.close());
    const s = await Session.create(base, { ttlMs: 5000 });
    closers.push(() => s.close());
    await new Election(s, 'cron').campaign('node-a');
    const { page } = await open(dashboard.url);
    await expect
      .poll(() => page.getByTestId('leader-cron').textContent(), { timeout: 10_000 })
      .toBe('node-a');
    expect(await page.locator('#stale').isHidden()).toBe(true);

    reach.down();
    await expect.poll(() => page.locator('#stale').isVisible(), { timeout: 10_000 }).toBe(true);
    expect(await page.locator('#stale').textContent()).toMatch(
      /the store is unreachable: showing the fleet as last read at .+; retrying/,
    );
    expect(await page.locator('#status').textContent()).toContain('the store is down (test)');
    // The last data read is still there.
    expect(await page.getByTestId('leader-cron').textContent()).toBe('node-a');

    reach.up();
    await expect.poll(() => page.locator('#status').textContent(), { timeout: 10_000 }).toBe('live');
    expect(await page.locator('#stale').isHidden()).toBe(true);
  }, 30_000);
});

/**
 * The dashboard's Models view: the pure comparison on a synthetic snapshot (failovers beside the
 * failover model, slot balance beside a quota-exact table, published phi), then live: a dashboard
 * over a SQLite store sees a leader change and serves it at /api/models, and /models renders it
 * in a real browser under its own Content-Security-Policy.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FleetSnapshot } from '../../src/dashboard/fleet-view.js';
import { MODELS_PAGE_CSP } from '../../src/dashboard/models-page.js';
import { modelsView } from '../../src/dashboard/models-view.js';
import { startDashboard } from '../../src/dashboard/server.js';
import { failoverTime } from '../../src/models/index.js';
import { Election } from '../../src/recipes/coordination/election.js';
import { Session } from '../../src/recipes/coordination/session.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { launchBrowser } from '../helpers/browser.js';
import { tempDir } from '../helpers/tmp.js';

function snapshot(part: Partial<FleetSnapshot>): FleetSnapshot {
  return {
    revision: 1,
    sessions: [],
    elections: [],
    locks: [],
    members: [],
    slots: [],
    skipped: [],
    skippedCount: 0,
    events: [],
    ...part,
  } as FleetSnapshot;
}

describe('Models view', () => {
  it('compares failovers, slot balance and phi with the models', () => {
    const predicted = failoverTime({ stop: 'sigkill', ttlMs: 1000, store: 'sqlite' });
    const view = modelsView(
      snapshot({
        sessions: [{ lease: '1', keys: 1, remainingMs: 987 }],
        elections: [
          {
            name: 'billing',
            leader: undefined,
            term: undefined,
            candidates: [],
            history: [
              { term: 5, value: 'a', since: 0 },
              { term: 9, value: 'b', since: 1, failoverMs: 850 },
              { term: 12, value: 'c', since: 2, failoverMs: predicted.maxMs + 500 },
            ],
          },
        ],
        slots: [
          {
            name: 'web',
            owners: ['a', 'a', 'a', 'b', 'b', null],
            planned: ['a', 'a', 'b', 'b', 'c', 'c'],
            epoch: 3,
          },
        ],
        members: [
          {
            group: 'web',
            id: 'a',
            value: {},
            address: undefined,
            zone: undefined,
            lease: '1',
            suspicion: 0,
            phi: 9,
            phiObservers: 2,
            phiThreshold: 8,
          },
        ],
      }),
      { backend: 'sqlite', ttlMs: 1000 },
    );
    expect(view.failovers).toEqual([
      {
        election: 'billing',
        measuredMs: [850, predicted.maxMs + 500],
        ttlMs: 1000,
        ttlSource: 'option',
        predicted: {
          minMs: predicted.minMs,
          p50Ms: predicted.p50Ms,
          p99Ms: predicted.p99Ms,
          maxMs: predicted.maxMs,
        },
        aboveRange: 1,
      },
    ]);
    expect(view.slots).toEqual([
      {
        group: 'web',
        slotCount: 6,
        members: 3,
        heldPeakToAverage: 3 / 2.5,
        plannedPeakToAverage: 1,
        expectedPeakToAverage: 1,
        misplaced: 3,
      },
    ]);
    expect(view.suspicion).toEqual([
      { group: 'web', member: 'a', phi: 9, threshold: 8, lateChance: 1e-9, suspected: true },
    ]);
    // Without the ttl option it is estimated from the longest time left seen; unknown stores get no model.
    const estimated = modelsView(
      snapshot({
        sessions: [
          { lease: '1', keys: 1, remainingMs: 987.2 },
          { lease: '2', keys: 1, remainingMs: 400 },
        ],
        elections: [{ name: 'x', leader: undefined, term: undefined, candidates: [], history: [] }],
      }),
      { backend: 'sqlite' },
    );
    expect(estimated.failovers[0]).toMatchObject({ ttlMs: 988, ttlSource: 'estimated', aboveRange: 0 });
    expect(estimated.failovers[0]!.predicted!.maxMs).toBeCloseTo(
      failoverTime({ stop: 'sigkill', ttlMs: 988 }).maxMs,
      9,
    );
    const unknown = modelsView(
      snapshot({
        elections: [{ name: 'x', leader: undefined, term: undefined, candidates: [], history: [] }],
      }),
      { backend: 'redis' },
    );
    expect(unknown.failovers[0]).toMatchObject({ ttlSource: 'unknown', predicted: undefined, aboveRange: 0 });
  });

  it('live: /api/models shows a leader change, /models renders it under its own policy', async () => {
    const tmp = tempDir('tenure-models-dashboard-');
    const store = new SqliteStore({ path: join(tmp.dir, 'store.db') });
    const dashboard = await startDashboard(store, { port: 0 });
    const a = await Session.create(store, { ttlMs: 2000 });
    const b = await Session.create(store, { ttlMs: 2000 });
    const browser = await launchBrowser();
    try {
      const first = await new Election(a, 'billing').campaign('node-a');
      const next = new Election(b, 'billing').campaign('node-b');
      const base = dashboard.url.replace(/\/$/, '');
      const models = async () =>
        (await (await fetch(`${base}/api/models`)).json()) as ReturnType<typeof modelsView>;
      await expect.poll(async () => (await models()).failovers.length, { timeout: 10_000 }).toBe(1);
      await first.resign();
      await next;
      await expect
        .poll(async () => (await models()).failovers[0]!.measuredMs.length, { timeout: 10_000 })
        .toBe(1);
      const view = await models();
      expect(view.failovers[0]!.ttlSource).toBe('estimated');
      expect(view.failovers[0]!.ttlMs).toBeLessThanOrEqual(2000);
      expect(view.failovers[0]!.predicted).toBeDefined();

      const res = await fetch(`${base}/models`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-security-policy')).toBe(MODELS_PAGE_CSP);
      const page = await browser.context.newPage();
      const refused: string[] = [];
      page.on('console', (m) => {
        if (/Content Security Policy/i.test(m.text())) refused.push(m.text());
      });
      page.on('pageerror', (err) => refused.push(err.message));
      await page.goto(`${base}/models`);
      await expect
        .poll(() => page.locator('#failovers').textContent(), { timeout: 10_000 })
        .toContain('billing');
      expect(await page.locator('#failovers').textContent()).toContain('estimated');
      expect(refused).toEqual([]);
    } finally {
      await browser.close();
      await a.close();
      await b.close();
      await dashboard.close();
      await store.close();
      tmp.cleanup();
    }
  });
});

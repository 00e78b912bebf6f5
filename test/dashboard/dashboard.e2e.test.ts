/**
 * The dashboard in real headless Chromium (Debian's, through playwright-core): a leader change
 * made through the library appears on the page, live over SSE. Also the access rules: no
 * non-loopback bind without a token, and the token is enforced.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboard, type Dashboard } from '../../src/dashboard/server.js';
import { Election } from '../../src/recipes/coordination/election.js';
import { Mutex } from '../../src/recipes/coordination/mutex.js';
import { Session } from '../../src/recipes/coordination/session.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { codeOf } from '../helpers/async.js';
import { CHROMIUM, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { tempDir } from '../helpers/tmp.js';

const RESULTS = join(import.meta.dirname, '../../test-results');

let tmp: ReturnType<typeof tempDir>;
let store: SqliteStore;
let launched: TestBrowser | undefined;
let browser: BrowserContext;

beforeAll(async () => {
  tmp = tempDir('tenure-dashboard-');
  store = new SqliteStore({ path: join(tmp.dir, 'store.db') });
  launched = await launchBrowser();
  browser = launched.context;
});

afterAll(async () => {
  await launched?.close();
  await store?.close();
  tmp?.cleanup();
});

describe('dashboard', () => {
  it('shows a leader change made through the library, live', async () => {
    expect(existsSync(CHROMIUM)).toBe(true);
    const dashboard: Dashboard = await startDashboard(store, { port: 0, title: 'e2e' });
    const a = await Session.create(store, { ttlMs: 2000 });
    const b = await Session.create(store, { ttlMs: 2000 });
    try {
      const first = await new Election(a, 'billing').campaign('node-a');
      await store.put(`members/web/node-a`, '{}', { lease: a.lease });
      const lock = await new Mutex(b, 'invoices', { owner: 'node-b' }).lock();
      const page = await browser.newPage();
      // The page runs under the server's Content-Security-Policy: nothing of it may be refused.
      const refused: string[] = [];
      page.on('console', (m) => {
        if (/Content Security Policy/i.test(m.text())) refused.push(m.text());
      });
      page.on('pageerror', (err) => refused.push(err.message));
      await page.goto(dashboard.url);
      const leader = page.getByTestId('leader-billing');
      const term = page.getByTestId('term-billing');
      await expect.poll(() => leader.textContent(), { timeout: 10_000 }).toBe('node-a');
      expect(Number(await term.textContent())).toBe(first.term);
      await expect.poll(() => page.locator('[data-lock="invoices"]').textContent()).toContain('node-b');
      await expect.poll(() => page.locator('[data-member="node-a"]').count()).toBe(1);

      // The change: node-a resigns, node-b (already a candidate) takes over.
      const campaign = new Election(b, 'billing').campaign('node-b');
      await first.resign();
      const second = await campaign;
      await expect.poll(() => leader.textContent(), { timeout: 10_000 }).toBe('node-b');
      expect(Number(await term.textContent())).toBe(second.term);
      await expect
        .poll(() => page.locator('#events').textContent())
        .toContain(`node-b leads in term ${second.term}`);
      expect(await page.locator('#status').textContent()).toBe('live');
      expect(refused).toEqual([]);

      mkdirSync(RESULTS, { recursive: true });
      await page.screenshot({ path: join(RESULTS, 'dashboard.png'), fullPage: true });
      const metrics = await (await fetch(new URL('/metrics', dashboard.url))).text();
      expect(metrics).toMatch(
        new RegExp(`^tenure_election_term\\{election="billing"\\} ${second.term}$`, 'm'),
      );
      await page.close();
      await lock.unlock();
      await second.resign();
    } finally {
      await a.close();
      await b.close();
      await dashboard.close();
    }
  });

  it('shows its own error when it cannot read the store, instead of "connecting…"', async () => {
    let failing = true;
    const broken = new Proxy(store, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (prop === 'txn')
          return (...args: Parameters<SqliteStore['txn']>) =>
            failing ? Promise.reject(new Error('the store refused the read')) : target.txn(...args);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const dashboard = await startDashboard(broken, { port: 0, title: 'etcd://app:s3cret@127.0.0.1:2379' });
    try {
      const page = await browser.newPage();
      await page.goto(dashboard.url);
      await expect
        .poll(() => page.locator('#status').textContent(), { timeout: 10_000 })
        .toBe('store error: the store refused the read');
      expect(await page.title()).not.toContain('s3cret');
      expect(await page.locator('#title').textContent()).toBe('etcd://app:***@127.0.0.1:2379');
      failing = false;
      await expect.poll(() => page.locator('#status').textContent(), { timeout: 10_000 }).toBe('live');
      await page.close();
    } finally {
      await dashboard.close();
    }
  });

  it('refuses to bind beyond loopback without a token, and enforces a token', async () => {
    expect(await codeOf(startDashboard(store, { host: '0.0.0.0', port: 0 }))).toBe('TENURE_INVALID_ARGUMENT');
    const dashboard = await startDashboard(store, { port: 0, token: 's3cret-s3cret-s3cret' });
    try {
      const base = `http://127.0.0.1:${dashboard.port}`;
      expect((await fetch(`${base}/`)).status).toBe(401);
      expect((await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(
        401,
      );
      expect(
        (await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer s3cret-s3cret-s3cret' } }))
          .status,
      ).toBe(200);
      expect((await fetch(dashboard.url)).status).toBe(200);
    } finally {
      await dashboard.close();
    }
    const open = await startDashboard(store, { port: 0 });
    try {
      // DNS rebinding: a foreign Host header is refused when there is no token.
      // (fetch cannot set Host, so node:http does.)
      const status = (host: string) =>
        new Promise<number | undefined>((resolve, reject) => {
          request({ host: '127.0.0.1', port: open.port, path: '/', headers: { host } }, (res) => {
            res.resume();
            resolve(res.statusCode);
          })
            .on('error', reject)
            .end();
        });
      expect(await status('evil.example')).toBe(403);
      expect(await status(`localhost:${open.port}`)).toBe(200);
    } finally {
      await open.close();
    }
  });
});

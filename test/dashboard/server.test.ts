/**
 * The dashboard's HTTP server without a browser: security headers on every response, `/events`
 * sending changes only, a cap on clients, a stalled client disconnected with its memory bounded,
 * its own failures reported (503, and an error in the stream), and the token's minimum length.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { startDashboard, type Dashboard, type DashboardOptions } from '../../src/dashboard/server.js';
import { TenureError } from '../../src/errors.js';
import { Election } from '../../src/recipes/coordination/election.js';
import { Session } from '../../src/recipes/coordination/session.js';
import { MemoryStore } from '../../src/store/memory/index.js';
import type { Store } from '../../src/store/types.js';
import { codeOf, eventually, sleep } from '../helpers/async.js';
import { putMany } from '../helpers/fill.js';

const closers: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function serve(store: Store, options: DashboardOptions = {}): Promise<Dashboard> {
  const dashboard = await startDashboard(store, { port: 0, ...options });
  closers.push(() => dashboard.close());
  return dashboard;
}

/** An open `/events` stream: its status, headers and the `data:` frames received so far. */
function events(port: number): Promise<{
  status: number | undefined;
  headers: Record<string, unknown>;
  frames: string[];
  close: () => void;
}> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/events' }, (res) => {
      const frames: string[] = [];
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          for (const line of block.split('\n')) if (line.startsWith('data: ')) frames.push(line.slice(6));
        }
      });
      res.on('error', () => undefined);
      resolve({ status: res.statusCode, headers: res.headers, frames, close: () => req.destroy() });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('dashboard server', () => {
  it('sends security headers on every response, and a CSP that names the page script by hash', async () => {
    const store = new MemoryStore();
    closers.push(() => store.close());
    const dashboard = await serve(store);
    const base = `http://127.0.0.1:${dashboard.port}`;
    for (const path of ['/', '/api/snapshot', '/metrics', '/nope', '/assets/uplot.js']) {
      const res = await fetch(base + path);
      await res.arrayBuffer();
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toMatch(/default-src 'none'/);
      expect(csp).toMatch(/script-src 'self' 'sha256-[A-Za-z0-9+/=]+'/);
      expect(csp).toMatch(/frame-ancestors 'none'/);
      expect(csp).not.toMatch(/unsafe-inline/);
    }
    const stream = await events(dashboard.port);
    expect(stream.headers['x-frame-options']).toBe('DENY');
    expect(stream.headers['content-security-policy']).toMatch(/connect-src 'self'/);
    stream.close();
  });

  it('/events sends a snapshot, then nothing while nothing changes, then one frame per change', async () => {
    const store = new MemoryStore();
    closers.push(() => store.close());
    await store.put('election/billing/k1', 'node-a');
    const dashboard = await serve(store);
    // Keys are followed by one watch; only leases are looked up on a timer, once a second.
    expect(dashboard.view.refreshMs).toBe(1000);
    const stream = await events(dashboard.port);
    closers.push(() => stream.close());
    await eventually(() => stream.frames.length === 1);
    // Two lease looks of an unchanged store: no frame.
    await sleep(2000);
    expect(stream.frames).toHaveLength(1);
    await store.put('election/billing/k2', 'node-b');
    await eventually(() => stream.frames.length === 2);
    await sleep(1000);
    expect(stream.frames).toHaveLength(2);
    const last = JSON.parse(stream.frames[1]!) as { elections: { candidates: unknown[] }[] };
    expect(last.elections[0]!.candidates).toHaveLength(2);
  });

  it('caps the number of /events clients: 503 beyond, counted', async () => {
    const store = new MemoryStore();
    closers.push(() => store.close());
    const dashboard = await serve(store, { maxClients: 2 });
    const a = await events(dashboard.port);
    const b = await events(dashboard.port);
    closers.push(
      () => a.close(),
      () => b.close(),
    );
    const c = await events(dashboard.port);
    expect([a.status, b.status, c.status]).toEqual([200, 200, 503]);
    expect(dashboard.stats()).toMatchObject({ clients: 2, clientsRefused: 1 });
    const metrics = await (await fetch(`http://127.0.0.1:${dashboard.port}/metrics`)).text();
    expect(metrics).toMatch(/^tenure_dashboard_events\{what="clients_refused"\} 1$/m);
    a.close();
    await eventually(() => dashboard.stats().clients === 1);
    const d = await events(dashboard.port);
    closers.push(() => d.close());
    expect(d.status).toBe(200);
  });

  it('disconnects a client that stops reading, holding at most one frame for it meanwhile', async () => {
    const store = new MemoryStore();
    closers.push(() => store.close());
    // A large fleet, so that every frame is large (about 200 KB).
    await putMany(store, 2000, (i) => ({
      key: `mutex/job-${i}/k`,
      value: `host-${i}.example:${1000 + (i % 100)}`,
    }));
    const stallTimeoutMs = 1500;
    const dashboard = await serve(store, { stallTimeoutMs });
    // A raw client with a 4 KiB receive buffer that sends its request and never reads.
    const stalled: ChildProcess = spawn(
      'python3',
      [
        '-c',
        [
          'import socket, sys, time',
          's = socket.socket()',
          's.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)',
          `s.connect(("127.0.0.1", ${dashboard.port}))`,
          `s.sendall(b"GET /events HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\n\\r\\n")`,
          'print("sent", flush=True)',
          'time.sleep(60)',
        ].join('\n'),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    closers.push(() => stalled.kill('SIGKILL'));
    await new Promise<void>((resolve) => stalled.stdout!.once('data', () => resolve()));
    await eventually(() => dashboard.stats().clients === 1);
    const frameBytes = (await (await fetch(`http://127.0.0.1:${dashboard.port}/api/snapshot`)).text()).length;
    expect(frameBytes).toBeGreaterThan(100_000);
    // The fleet changes every 50 ms: a frame per change for a client that reads.
    let maxBuffered = 0;
    const t0 = performance.now();
    for (let i = 0; dashboard.stats().clients > 0; i++) {
      expect(performance.now() - t0).toBeLessThan(stallTimeoutMs + 5000);
      await store.put(`mutex/job-${i % 2000}/k`, `host-${i}.example:1`);
      await sleep(50);
      maxBuffered = Math.max(maxBuffered, dashboard.stats().bufferedBytes);
    }
    const stats = dashboard.stats();
    expect(stats.clientsDropped).toBe(1);
    expect(stats.framesSkipped).toBeGreaterThan(0);
    // Never more than the one frame it had not taken (and the stream's first lines).
    expect(maxBuffered).toBeLessThanOrEqual(frameBytes + 1024);
    expect(stats.bufferedBytes).toBe(0);
    // A client that reads is not disturbed by it.
    const reader = await events(dashboard.port);
    closers.push(() => reader.close());
    await eventually(() => reader.frames.length === 1);
  });

  it('a client that pauses, then reads again, is skipped meanwhile and then gets the latest state', async () => {
    const store = new MemoryStore();
    closers.push(() => store.close());
    await putMany(store, 2000, (i) => ({
      key: `mutex/job-${i}/k`,
      value: `host-${i}.example:${1000 + (i % 100)}`,
    }));
    const dashboard = await serve(store, { stallTimeoutMs: 5000 });
    // Reads nothing for 1.5 s (a 4 KiB receive buffer), then everything until 1.5 s of quiet;
    // prints the revision of each frame it got.
    const slow: ChildProcess = spawn(
      'python3',
      [
        '-c',
        [
          'import json, socket, time',
          's = socket.socket()',
          's.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)',
          `s.connect(("127.0.0.1", ${dashboard.port}))`,
          `s.sendall(b"GET /events HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\n\\r\\n")`,
          'print("sent", flush=True)',
          'time.sleep(1.5)',
          's.settimeout(1.5)',
          'data = b""',
          'try:',
          '    while True:',
          '        chunk = s.recv(65536)',
          '        if not chunk: break',
          '        data += chunk',
          'except socket.timeout:',
          '    pass',
          'revs = [json.loads(l[6:])["revision"] for l in data.decode().split("\\n") if l.startswith("data: {")]',
          'print(json.dumps(revs), flush=True)',
        ].join('\n'),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    closers.push(() => slow.kill('SIGKILL'));
    const lines: string[] = [];
    slow.stdout!.setEncoding('utf8');
    let out = '';
    slow.stdout!.on('data', (d: string) => {
      out += d;
      lines.splice(0, lines.length, ...out.split('\n').slice(0, -1));
    });
    await eventually(() => lines.length === 1);
    let last = 0;
    for (let i = 0; i < 20; i++) {
      last = await store.put(`mutex/job-${i}/k`, `changed-${i}`);
      await sleep(50);
    }
    await eventually(() => lines.length === 2, 10_000);
    const revisions = JSON.parse(lines[1]!) as number[];
    expect(revisions.at(-1)).toBe(last);
    expect(revisions.length).toBeLessThan(21);
    const stats = dashboard.stats();
    expect(stats.framesSkipped).toBeGreaterThan(0);
    expect(stats.clientsDropped).toBe(0);
  });

  it('reports its own failure to read the store: 503 from /api/snapshot, the error in /events', async () => {
    const store = new MemoryStore();
    closers.push(() => store.close());
    let failing = true;
    const broken: Store = new Proxy(store, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (prop === 'txn')
          return (...args: Parameters<Store['txn']>) =>
            failing
              ? Promise.reject(new Error('store down at etcd://app:s3cret@10.0.0.1:2379'))
              : target.txn(...args);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const dashboard = await serve(broken, { title: 'etcd://app:s3cret@10.0.0.1:2379' });
    const res = await fetch(`http://127.0.0.1:${dashboard.port}/api/snapshot`);
    expect(res.status).toBe(503);
    const body = await res.text();
    expect(body).not.toContain('s3cret');
    expect(JSON.parse(body)).toMatchObject({
      title: 'etcd://app:***@10.0.0.1:2379',
      error: 'store down at etcd://app:***@10.0.0.1:2379',
    });
    const stream = await events(dashboard.port);
    closers.push(() => stream.close());
    await eventually(() => stream.frames.length >= 1);
    expect(JSON.parse(stream.frames[0]!)).toMatchObject({ error: expect.stringMatching(/store down/) });
    failing = false;
    await eventually(
      async () => (await fetch(`http://127.0.0.1:${dashboard.port}/api/snapshot`)).status === 200,
    );
    await eventually(() => stream.frames.some((f) => (JSON.parse(f) as { error: unknown }).error === null));
  });

  it('stays failed through an outage: lease looks that cannot reach the store do not make it live again', async () => {
    const store = new MemoryStore();
    closers.push(() => store.close());
    const session = await Session.create(store, { ttlMs: 5000 });
    closers.push(() => session.close());
    await new Election(session, 'cron').campaign('node-a');
    let down = false;
    // Every call is checked when made (the dashboard's timed store keeps the functions it got).
    const flaky: Store = new Proxy(store, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target) as unknown;
        if (typeof v !== 'function' || prop === 'close' || prop === 'watch')
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        return (...args: unknown[]) =>
          down
            ? Promise.reject(new TenureError('TENURE_UNAVAILABLE', 'down'))
            : (v as (...a: unknown[]) => unknown).apply(target, args);
      },
    });
    const dashboard = await serve(flaky, { refreshMs: 20 });
    await eventually(() => dashboard.view.ready);
    down = true;
    // The watch still runs (a stalled connection can look like that): only the lease looks fail.
    await eventually(() => dashboard.view.failure !== undefined);
    for (let i = 0; i < 10; i++) {
      await sleep(30);
      expect(dashboard.view.failure).toBeDefined();
      expect((await fetch(`http://127.0.0.1:${dashboard.port}/api/snapshot`)).status).toBe(503);
    }
    // The last snapshot is kept: the leader's session is not reported gone.
    expect(dashboard.view.snapshot().sessions).toHaveLength(1);
    expect(dashboard.view.snapshot().sessions[0]!.remainingMs).toBeGreaterThan(0);
    down = false;
    await eventually(() => dashboard.view.failure === undefined);
  });

  it('refuses an access token shorter than 16 characters', async () => {
    const store = new MemoryStore();
    closers.push(() => store.close());
    expect(await codeOf(startDashboard(store, { port: 0, token: 's3cret' }))).toBe('TENURE_INVALID_ARGUMENT');
    await serve(store, { token: '0123456789abcdef' });
  });
});

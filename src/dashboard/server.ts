/**
 * The dashboard's HTTP server (node:http): the page at `/`, a Server-Sent Events stream of
 * snapshots at `/events`, JSON at `/api/snapshot`, and Prometheus metrics at `/metrics`.
 *
 * It binds 127.0.0.1 by default and refuses any other address unless an access token is set;
 * with a token every request must carry it (`Authorization: Bearer …` or `?token=…`). Without a
 * token it also refuses requests whose Host header is not a loopback name, so that a web page the
 * user visits cannot reach it through DNS rebinding.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { TenureError, invalidArgument } from '../errors.js';
import { instrument, type Instrumentation } from '../metrics/index.js';
import type { Store } from '../store/types.js';
import { FleetView, type FleetSnapshot } from './fleet-view.js';
import { PAGE } from './page.js';

/** Options of {@link startDashboard}. */
export interface DashboardOptions {
  /** Address to bind. Anything but loopback requires `token`. @default '127.0.0.1' */
  host?: string;
  /** Port; 0 picks a free one. @default 4646 */
  port?: number;
  /** Access token every request must present. @default none (loopback only) */
  token?: string;
  /** Title shown on the page. @default 'tenure' */
  title?: string;
  /** Metrics to serve at /metrics. @default instrument() on a new registry, fed by the view */
  metrics?: Instrumentation;
  /** Extra facts merged into each snapshot sent to the page (the demo adds its own). */
  extra?: () => Record<string, unknown>;
}

/** A running dashboard. */
export interface Dashboard {
  /** The page's URL (with the token, when one is set). */
  readonly url: string;
  readonly port: number;
  readonly view: FleetView;
  readonly metrics: Instrumentation;
  /** Stops serving and watching (the store stays open). Idempotent. */
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function hostName(header: string | undefined): string {
  if (!header) return '';
  if (header.startsWith('[')) return header.slice(1, header.indexOf(']'));
  return header.replace(/:\d+$/, '');
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Serves the dashboard of the fleet in `store`.
 * @throws TENURE_INVALID_ARGUMENT when asked to bind a non-loopback address without a token.
 */
export async function startDashboard(store: Store, options: DashboardOptions = {}): Promise<Dashboard> {
  const host = options.host ?? '127.0.0.1';
  const token = options.token === '' ? undefined : options.token;
  if (!isLoopback(host) && token === undefined)
    throw invalidArgument(
      'host',
      `${host} is not a loopback address: set an access token (--token or TENURE_DASHBOARD_TOKEN) to serve the dashboard beyond this machine`,
    );
  const metrics = options.metrics ?? instrument({ registry: new Registry() });
  const view = new FleetView(metrics.store(store));
  const clients = new Set<ServerResponse>();
  const payload = (s: FleetSnapshot) =>
    JSON.stringify({ title: options.title ?? 'tenure', ...s, ...(options.extra?.() ?? {}) });
  view.on('event', (e) => {
    if (e.kind === 'slots' && e.moved !== undefined) metrics.slotsMoved(e.name, e.moved);
  });
  view.on('change', (s) => {
    for (const e of s.elections) metrics.leaderSeen(e.name, e.leader?.revision);
    if (clients.size === 0) return;
    const data = `data: ${payload(s)}\n\n`;
    for (const res of clients) if (!res.writableEnded) res.write(data);
  });
  view.on('error', () => undefined);
  await view.start();

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://dashboard');
    if (token !== undefined) {
      const auth = req.headers.authorization;
      const given = auth?.startsWith('Bearer ') ? auth.slice(7) : (url.searchParams.get('token') ?? '');
      if (!sameSecret(given, token)) {
        res.writeHead(401, { 'content-type': 'text/plain' }).end('access token required\n');
        return;
      }
    } else if (!isLoopback(hostName(req.headers.host))) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('loopback host names only\n');
      return;
    }
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    switch (url.pathname) {
      case '/':
        res
          .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
          .end(PAGE);
        return;
      case '/api/snapshot':
        res.writeHead(200, { 'content-type': 'application/json' }).end(payload(view.snapshot()));
        return;
      case '/events':
        res.writeHead(200, {
          'content-type': 'text/event-stream',
          'cache-control': 'no-store',
          connection: 'keep-alive',
        });
        res.write(`retry: 1000\ndata: ${payload(view.snapshot())}\n\n`);
        clients.add(res);
        req.on('close', () => clients.delete(res));
        return;
      case '/metrics':
        res
          .writeHead(200, { 'content-type': metrics.registry.contentType })
          .end(await metrics.registry.metrics());
        return;
      default:
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`${String(err)}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      view.close();
      reject(
        new TenureError(
          'TENURE_UNAVAILABLE',
          `cannot serve the dashboard on ${host}:${options.port ?? 4646}: ${err.code ?? err.message} (choose another --port)`,
          { cause: err },
        ),
      );
    });
    server.listen(options.port ?? 4646, host, resolve);
  });
  const port = (server.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shown}:${port}/${token === undefined ? '' : `?token=${encodeURIComponent(token)}`}`,
    port,
    view,
    metrics,
    close() {
      closing ??= new Promise<void>((resolve) => {
        view.close();
        for (const res of clients) res.end();
        clients.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

export {
  publishSuspicion,
  SUSPICION_PREFIX,
  type PublishedSuspicion,
  type PublishSuspicionOptions,
} from './suspicion.js';

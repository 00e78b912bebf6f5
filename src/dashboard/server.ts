/**
 * The dashboard's HTTP server (node:http): the page at `/`, a Server-Sent Events stream of
 * snapshots at `/events`, JSON at `/api/snapshot`, and Prometheus metrics at `/metrics`.
 *
 * It binds 127.0.0.1 by default and refuses any other address unless an access token is set;
 * with a token every request must carry it (`Authorization: Bearer …` or `?token=…`). Without a
 * token it also refuses requests whose Host header is not a loopback name, so that a web page the
 * user visits cannot reach it through DNS rebinding. Every response forbids framing, sniffing
 * and referrers, and the page runs under a Content-Security-Policy that allows only its own
 * script and style (by hash) and connections to this server.
 *
 * `/events` sends a snapshot when a client connects and then only when the snapshot changed.
 * A client that does not keep up is skipped (frames are not queued for it: it gets the latest
 * snapshot once it has taken the previous one) and disconnected when it has not taken a frame
 * for `stallTimeoutMs` or holds more than `maxBufferedBytes` unsent; at most `maxClients` are
 * served at once (503 beyond). {@link Dashboard.stats} counts all of it.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Gauge, Registry } from 'prom-client';
import { clockOption, type Clock, type Timer } from '../clock.js';
import { TenureError, invalidArgument } from '../errors.js';
import { instrument, type Instrumentation } from '../metrics/index.js';
import { redactUrl } from '../store/redact-url.js';
import type { Store } from '../store/types.js';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { FleetMetrics, LOCK_BUCKETS, type FleetMetricsOptions } from './fleet-metrics.js';
import { FleetHistory } from './history.js';
import { FleetView, type FleetSnapshot } from './fleet-view.js';
import { ASSET_PATHS, PAGE, PAGE_SCRIPT_HASH, PAGE_STYLE_HASH } from './page.js';
import { MODELS_PAGE, MODELS_PAGE_CSP } from './models-page.js';
import { modelsView } from './models-view.js';

/** Options of {@link startDashboard}. */
export interface DashboardOptions {
  /** Address to bind. Anything but loopback requires `token`. @default '127.0.0.1' */
  host?: string;
  /** Port; 0 picks a free one. @default 4646 */
  port?: number;
  /**
   * Access token every request must present: at least {@link MIN_TOKEN_LENGTH} characters.
   * @default none (loopback only)
   */
  token?: string;
  /** Title shown on the page (credentials in a URL in it are redacted). @default 'tenure' */
  title?: string;
  /**
   * Most `/events` clients served at once; one more is answered 503.
   * @default 64 — a team's browsers and a few scrapers; each client costs a socket and its frames.
   */
  maxClients?: number;
  /**
   * Unsent bytes one `/events` client may hold before it is disconnected.
   * @default 4 MiB — a few full snapshots of a large fleet.
   */
  maxBufferedBytes?: number;
  /**
   * How long an `/events` client may leave a frame untaken (its socket not drained) before it
   * is disconnected. It is skipped meanwhile, so it costs at most one frame of memory.
   * @default 10000 — a browser tab that is merely busy drains well within it.
   */
  stallTimeoutMs?: number;
  /** Metrics to serve at /metrics. @default instrument() on a new registry, fed by the view */
  metrics?: Instrumentation;
  /**
   * How often the view asks the store for the time each lease has left (FleetFollower's
   * `refreshMs`): the resolution of lease-based suspicion and of `election_leaderless_seconds`.
   * @default 1000 — keep it below a third of the fleet's ttl.
   */
  refreshMs?: number;
  /**
   * Distinct member values in the fleet metrics' `member` and `owner` labels.
   * @default 100 (see FleetMetricsOptions.maxMembers)
   */
  maxMembers?: FleetMetricsOptions['maxMembers'];
  /** Extra facts merged into each snapshot sent to the page (the demo adds its own). */
  extra?: () => Record<string, unknown>;
  /**
   * The clock `stallTimeoutMs` is measured and swept on (a ManualClock drives it in a test).
   * @default systemClock
   */
  clock?: Clock;
}

/** A running dashboard. */
export interface Dashboard {
  /** The page's URL (with the token, when one is set). */
  readonly url: string;
  readonly port: number;
  readonly view: FleetView;
  readonly metrics: Instrumentation;
  /** What `/events` did so far. */
  stats(): DashboardStats;
  /** Stops serving and watching (the store stays open). Idempotent. */
  close(): Promise<void>;
}

/** Counters of the dashboard's `/events` stream. */
export interface DashboardStats {
  /** Clients connected now. */
  readonly clients: number;
  /** Frames written to clients. */
  readonly framesSent: number;
  /** Frames not written to a client because it had not taken the previous one. */
  readonly framesSkipped: number;
  /** Clients disconnected for being too slow (stalled, or too much unsent). */
  readonly clientsDropped: number;
  /** Connections answered 503 because `maxClients` were connected. */
  readonly clientsRefused: number;
  /** Unsent bytes held for all clients now. */
  readonly bufferedBytes: number;
}

/** Shortest access token accepted: 16 characters (e.g. `openssl rand -hex 16` gives 32). */
export const MIN_TOKEN_LENGTH = 16;

/** Defaults of the `/events` bounds in {@link DashboardOptions}. */
export const DASHBOARD_DEFAULTS = Object.freeze({
  maxClients: 64,
  maxBufferedBytes: 4 * 1024 * 1024,
  stallTimeoutMs: 10_000,
});

/** Headers on every response: no framing, no sniffing, no referrer, only the page's own code. */
const SECURITY_HEADERS = Object.freeze({
  'content-security-policy': [
    "default-src 'none'",
    `script-src 'self' '${PAGE_SCRIPT_HASH}'`,
    `style-src 'self' '${PAGE_STYLE_HASH}'`,
    "connect-src 'self'",
    "img-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; '),
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
});

/**
 * The charting library's files, read once from the installed package (no CDN: the page works
 * without the internet, and its code is the version this package was tested with).
 */
let assets: Map<string, { type: string; body: Buffer }> | undefined;
function chartAssets(): Map<string, { type: string; body: Buffer }> {
  if (assets) return assets;
  const resolve = createRequire(import.meta.url).resolve;
  assets = new Map([
    [
      ASSET_PATHS.script,
      { type: 'text/javascript; charset=utf-8', body: readFileSync(resolve('uplot/dist/uPlot.iife.min.js')) },
    ],
    [
      ASSET_PATHS.style,
      { type: 'text/css; charset=utf-8', body: readFileSync(resolve('uplot/dist/uPlot.min.css')) },
    ],
  ]);
  return assets;
}

/** An `/events` client. */
interface EventClient {
  readonly res: ServerResponse;
  /** The time (on the clock option) since which a write has waited for 'drain'; undefined when drained. */
  blockedSince: number | undefined;
  /** The frame last written to it: a client is sent a frame only if it differs. */
  sent: string;
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
  if (token !== undefined && (typeof token !== 'string' || token.length < MIN_TOKEN_LENGTH))
    throw invalidArgument(
      'token',
      `must be at least ${MIN_TOKEN_LENGTH} characters (got ${typeof token === 'string' ? token.length : typeof token}): a short token can be guessed; make one with \`openssl rand -hex 16\``,
    );
  const maxClients = options.maxClients ?? DASHBOARD_DEFAULTS.maxClients;
  const maxBufferedBytes = options.maxBufferedBytes ?? DASHBOARD_DEFAULTS.maxBufferedBytes;
  const stallTimeoutMs = options.stallTimeoutMs ?? DASHBOARD_DEFAULTS.stallTimeoutMs;
  const clock = clockOption(options.clock);
  for (const [name, value] of [
    ['maxClients', maxClients],
    ['maxBufferedBytes', maxBufferedBytes],
    ['stallTimeoutMs', stallTimeoutMs],
    ['refreshMs', options.refreshMs ?? 1000],
  ] as const)
    if (!Number.isSafeInteger(value) || value < 1)
      throw invalidArgument(`options.${name}`, `must be a positive integer, got ${String(value)}`);
  if (!isLoopback(host) && token === undefined)
    throw invalidArgument(
      'host',
      `${host} is not a loopback address: set an access token (--token or TENURE_DASHBOARD_TOKEN) to serve the dashboard beyond this machine`,
    );
  const metrics = options.metrics ?? instrument({ registry: new Registry() });
  const view = new FleetView(metrics.store(store), {
    ...(options.refreshMs === undefined ? {} : { refreshMs: options.refreshMs }),
  });
  // The fleet's metrics, unless the registry already has them (a second dashboard on it).
  const fleetMetrics =
    metrics.registry.getSingleMetric('tenure_election_leader') === undefined
      ? new FleetMetrics(view, metrics, { maxMembers: options.maxMembers })
      : undefined;
  const history = new FleetHistory(view);
  /** What the page draws beside the snapshot: the history and the lock wait distribution. */
  const past = () => ({
    history: history.view(),
    // Only while the store cannot be read: when the data shown was read.
    ...(view.failure === undefined ? {} : { lastReadAt: history.readAt ?? null }),
    lockBuckets: LOCK_BUCKETS,
    lockWaits: fleetMetrics?.lockWaits() ?? [],
  });
  const title = redactUrl(options.title ?? 'tenure');
  /** Why the view cannot read the store, as shown to people: one line, credentials redacted. */
  const failure = () => {
    const f = view.failure;
    if (f === undefined) return null;
    const message = f.error instanceof Error ? f.error.message : String(f.error);
    return redactUrl(message.replace(/\s*\n\s*/g, ' '));
  };
  /** The whole state, as /api/snapshot serves it. */
  const payload = () =>
    JSON.stringify({
      title,
      error: failure(),
      ...(view.ready ? view.snapshot() : {}),
      ...past(),
      ...(options.extra?.() ?? {}),
    });
  /**
   * What the page is sent: the snapshot without the sessions' remaining ttls (the page does not
   * show them, and they change on every read), so that an unchanged fleet sends nothing.
   */
  const frame = () => {
    const { sessions: _sessions, ...shown } = view.ready ? view.snapshot() : ({} as Partial<FleetSnapshot>);
    return `data: ${JSON.stringify({ title, error: failure(), ...shown, ...past(), ...(options.extra?.() ?? {}) })}\n\n`;
  };
  const clients = new Set<EventClient>();
  const counts = { framesSent: 0, framesSkipped: 0, clientsDropped: 0, clientsRefused: 0 };
  let latest = '';
  const drop = (c: EventClient) => {
    if (!clients.delete(c)) return;
    counts.clientsDropped++;
    c.res.destroy();
  };
  /** Writes `data` to `c` unless it has it already, or is still taking an earlier frame. */
  const send = (c: EventClient, data: string) => {
    if (c.res.writableEnded || c.res.destroyed || c.sent === data) return;
    if (c.blockedSince !== undefined) {
      counts.framesSkipped++;
      return;
    }
    counts.framesSent++;
    c.sent = data;
    if (c.res.write(data)) return;
    if (c.res.writableLength > maxBufferedBytes) return drop(c);
    c.blockedSince = clock.now();
    c.res.once('drain', () => {
      c.blockedSince = undefined;
      // What it missed meanwhile: the latest frame (each frame is the whole state).
      send(c, latest);
    });
  };
  const broadcast = () => {
    latest = frame();
    for (const c of clients) send(c, latest);
  };
  // Disconnects clients that have not taken a frame for stallTimeoutMs.
  const sweepEveryMs = Math.max(10, Math.min(1000, Math.floor(stallTimeoutMs / 4)));
  let sweeper: Timer | undefined;
  const sweep = () => {
    const now = clock.now();
    for (const c of clients)
      if (c.blockedSince !== undefined && now - c.blockedSince > stallTimeoutMs) drop(c);
    sweeper = clock.setTimeout(sweep, sweepEveryMs).unref();
  };
  const stopSweeping = () => {
    if (sweeper !== undefined) clock.clearTimeout(sweeper);
    sweeper = undefined;
  };
  sweeper = clock.setTimeout(sweep, sweepEveryMs).unref();
  view.on('change', () => {
    if (clients.size > 0) broadcast();
  });
  view.on('error', () => {
    // Each error may change what the page must say (a failed watch is reported before the read
    // that fails with it): a frame goes out only if it differs from the one a client has.
    if (clients.size > 0) broadcast();
  });
  await view.start();

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://dashboard');
    // The charting library is public code, holds nothing of the fleet: served without the token,
    // so that the page's <script> and <link> (which cannot send it) load.
    const asset = req.method === 'GET' ? chartAssets().get(url.pathname) : undefined;
    if (asset) {
      res
        .writeHead(200, { 'content-type': asset.type, 'cache-control': 'public, max-age=3600' })
        .end(asset.body);
      return;
    }
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
        // A store that cannot be read is the server's failure, not a snapshot: 503, with why.
        res
          .writeHead(view.ready && view.failure === undefined ? 200 : 503, {
            'content-type': 'application/json',
            'cache-control': 'no-store',
          })
          .end(payload());
        return;
      case '/events': {
        if (clients.size >= maxClients) {
          counts.clientsRefused++;
          res
            .writeHead(503, { 'content-type': 'text/plain', 'retry-after': '10' })
            .end(`too many event streams (${maxClients}); try again later\n`);
          return;
        }
        res.writeHead(200, {
          'content-type': 'text/event-stream',
          'cache-control': 'no-store',
          connection: 'keep-alive',
        });
        res.write('retry: 1000\n\n');
        const client: EventClient = { res, blockedSince: undefined, sent: '' };
        clients.add(client);
        req.on('close', () => clients.delete(client));
        latest = frame();
        send(client, latest);
        return;
      }
      case '/favicon.ico':
        res.writeHead(204).end();
        return;
      case '/models':
        res.setHeader('content-security-policy', MODELS_PAGE_CSP);
        res
          .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
          .end(MODELS_PAGE);
        return;
      case '/api/models':
        res
          .writeHead(view.ready && view.failure === undefined ? 200 : 503, {
            'content-type': 'application/json',
            'cache-control': 'no-store',
          })
          .end(
            JSON.stringify(
              view.ready
                ? modelsView(view.snapshot(), { backend: store.capabilities.backend })
                : { error: failure() },
            ),
          );
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
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`${redactUrl(String(err))}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      view.close();
      fleetMetrics?.close();
      history.close();
      stopSweeping();
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
  const stats = (): DashboardStats => {
    let bufferedBytes = 0;
    for (const c of clients) bufferedBytes += c.res.writableLength;
    return { clients: clients.size, ...counts, bufferedBytes };
  };
  // The same counters at /metrics, unless the registry already has them (a second dashboard).
  const ownsGauge = metrics.registry.getSingleMetric('tenure_dashboard_events') === undefined;
  if (ownsGauge)
    new Gauge({
      name: 'tenure_dashboard_events',
      help: 'The dashboard /events stream: clients now, frames sent and skipped, clients dropped (too slow) and refused (too many), bytes held unsent',
      labelNames: ['what'],
      registers: [metrics.registry],
      collect() {
        const s = stats();
        this.set({ what: 'clients' }, s.clients);
        this.set({ what: 'frames_sent' }, s.framesSent);
        this.set({ what: 'frames_skipped' }, s.framesSkipped);
        this.set({ what: 'clients_dropped' }, s.clientsDropped);
        this.set({ what: 'clients_refused' }, s.clientsRefused);
        this.set({ what: 'buffered_bytes' }, s.bufferedBytes);
      },
    });
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shown}:${port}/${token === undefined ? '' : `?token=${encodeURIComponent(token)}`}`,
    port,
    view,
    metrics,
    stats,
    close() {
      closing ??= new Promise<void>((resolve) => {
        view.close();
        fleetMetrics?.close();
        history.close();
        stopSweeping();
        if (ownsGauge) metrics.registry.removeSingleMetric('tenure_dashboard_events');
        for (const c of clients) c.res.end();
        clients.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/**
 * Publishing suspicion is a write of the fleet recipes (src/recipes/fleet/suspicion.ts): re-exported
 * here for one release.
 * @deprecated import `publishSuspicion` from `tenure` instead.
 */
export {
  publishSuspicion,
  SUSPICION_PREFIX,
  type PublishedSuspicion,
  type PublishSuspicionOptions,
} from '../recipes/fleet/suspicion.js';

export { FleetView, type FleetViewOptions } from './fleet-view.js';
export {
  FleetMetrics,
  FLEET_METRICS_DEFAULTS,
  FLEET_METRIC_NAMES,
  LOCK_BUCKETS,
  type FleetMetricsOptions,
  type LockWaitDistribution,
} from './fleet-metrics.js';
export {
  FleetFollower,
  FLEET_FOLLOWER_DEFAULTS,
  type FleetFollowerOptions,
  type LeaseAge,
  type SessionEnd,
} from '../inspect/follow.js';
export type {
  ElectionView,
  EntryView,
  FleetEvent,
  FleetSnapshot,
  LockView,
  MemberView,
  SessionView,
  SkippedKey,
  SlotMapView,
  TermView,
} from '../inspect/model.js';
export { SKIPPED_LIST_LIMIT } from '../inspect/model.js';

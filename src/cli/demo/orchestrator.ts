/**
 * `tenure demo`: starts a fleet of worker processes on an embedded SQLite store in a temporary
 * directory (or on `--store`), injects faults on a schedule, and prints what happened:
 *
 * 1. SIGKILL of the leader: the next candidate leads once the dead leader's lease expires.
 * 2. SIGSTOP of a lock holder between its read and its write, for longer than its ttl, then
 *    SIGCONT: another worker takes the lock, and the woken worker's late write is refused by the
 *    fenced counter.
 * 3. A graceful stop (SIGTERM) of the leader: its session is closed, the lease revoked, and the
 *    next candidate leads within one watch delivery.
 * 4. A new member joins: the ShardManager moves it its share of slots, and only that.
 *
 * Every worker is a member of the demo's group and owns slots through a ShardManager; each
 * membership change above (the killed leader, the paused holder whose lease expires and who
 * rejoins after SIGCONT, the stopped leader, the newcomer) is measured against the ideal: slots
 * moved (read from the store's slot keys before and after) against the fewest any assignment
 * could move, and the time until every slot is held by its new owner. Every owner writes its
 * slots to a per-slot fenced resource, whose log the slot safety check audits.
 *
 * The pieces: protocol.ts (the typed messages between this process and the workers), fleet.ts
 * (the worker processes and their state), faults.ts (the fault list and its scheduler),
 * event-log.ts (the record of the run, from which report.ts and the checks in verdict.ts and
 * liveness.ts are computed), narration.ts (what is said while it runs).
 *
 * Failover times are measured on this process's monotonic clock, from the fault to the
 * new leader acting (its own report that its campaign resolved: the one definition in
 * inspect/failover.ts that the dashboard and `tenure watch` use too), or to the store showing
 * every slot held by its new owner.
 *
 * The verdict has safety checks (verdict.ts: nothing bad happened) and liveness checks
 * (liveness.ts: every worker started, a new leader after every leader fault, lock cycles and
 * fenced writes in every phase, every slot reassigned, the run on time), each bound derived from
 * the ttl and the store's expiry bound: a run where nothing happens fails.
 */
import { redactUrl } from '../../store/redact-url.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isTenureError } from '../../errors.js';
import { startDashboard, type Dashboard } from '../../dashboard/server.js';
import { FAILOVER_DEFINITION } from '../../inspect/failover.js';
import type { Store, StoreCapabilities } from '../../store/types.js';
import { openCliStore } from '../store-url.js';
import { UsageError } from '../usage-error.js';
import { EventLog, failovers, faults, slotChanges } from './event-log.js';
import { DEFAULT_FAULTS, expectedOf, runFaults, validateFaults, type FaultStep } from './faults.js';
import { FencedCounter } from './fenced-counter.js';
import { FencedSlots } from './fenced-slots.js';
import { Fleet } from './fleet.js';
import { demoBounds, type DemoBounds } from './liveness.js';
import { narrator } from './narration.js';
import { buildReport, formatReport, GLOSSARY } from './report.js';

export { formatReport, GLOSSARY, type DemoReport, type Failover, type SlotChange } from './report.js';

/** Options of {@link runDemo}. */
export interface DemoOptions {
  workers: number;
  durationMs: number;
  /** Store URL; default a SQLite file in a temporary directory. */
  store?: string;
  dashboard: boolean;
  port: number;
  json: boolean;
  /**
   * Session ttl of the workers. @default 1000, raised to the store's minimum lease ttl
   * (`capabilities.minTtlMs`: 2000 on etcd) and rounded up to its granularity.
   */
  ttlMs?: number;
  /** The faults to inject. @default {@link DEFAULT_FAULTS} */
  faults?: readonly FaultStep[];
  /** Where the narration and the report go. @default process.stdout */
  out?: { write(text: string): unknown };
}

/** Shortest run that leaves room for the four faults: 8 ttls (the pause alone lasts 2.5). */
export const MIN_DURATION_TTLS = 8;
/** ... and never below this. */
export const MIN_DURATION_MS = 8000;
/** A one-second ttl: failovers in about a second, on a store that allows it (SQLite). */
const TTL_MS = 1000;
const HOLD_MS = 150;
/** Heartbeat mesh interval: fast enough to suspect a dead peer within the demo's one-second ttl. */
const HEARTBEAT_MS = 100;

/** Runs the demo; resolves with the exit code (0 when every safety and liveness check passed). */
export async function runDemo(o: DemoOptions): Promise<number> {
  const tStart = performance.now();
  const out = o.out ?? process.stdout;
  if (o.durationMs < MIN_DURATION_MS)
    throw new UsageError(`--duration must be at least ${MIN_DURATION_MS / 1000}s to fit the four faults`);
  if (o.workers < 3)
    throw new UsageError(
      '--workers must be at least 3: the first fault kills a worker, and each later one needs two left',
    );
  if (o.workers > 50) throw new UsageError('--workers must be at most 50');
  if (o.store?.startsWith('memory:'))
    throw new UsageError(
      'the demo runs workers as separate processes, which cannot share a memory: store; use sqlite: or etcd:',
    );
  const steps = o.faults ?? DEFAULT_FAULTS;
  validateFaults(steps);
  const dir = mkdtempSync(join(tmpdir(), 'tenure-demo-'));
  const storeUrl = o.store ?? `sqlite://${join(dir, 'store.db')}`;
  const counterPath = join(dir, 'counter.db');
  const slotsPath = join(dir, 'slots.db');
  let store: Store | undefined;
  let dashboard: Dashboard | undefined;
  let fleet: Fleet | undefined;
  const cleanup = async () => {
    await fleet?.close();
    await dashboard?.close();
    await store?.close();
  };
  const onInterrupt = () => {
    process.stderr.write('tenure demo: interrupted, stopping the workers\n');
    void cleanup().then(() => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.once('SIGINT', onInterrupt);
  try {
    store = await openCliStore(storeUrl, { create: true });
    const { ttlMs, note: ttlNote } = chooseTtl(o.ttlMs, store.capabilities);
    const minDurationMs = Math.max(MIN_DURATION_MS, MIN_DURATION_TTLS * ttlMs);
    if (o.durationMs < minDurationMs)
      throw new UsageError(
        `--duration must be at least ${minDurationMs / 1000}s with a ${ttlMs / 1000}s ttl (${MIN_DURATION_TTLS} ttls, to fit the four faults): raise --duration or lower --ttl`,
      );
    const bounds = demoBounds({
      ttlMs,
      expiryBoundMs: store.capabilities.expiryBoundMs,
      durationMs: o.durationMs,
    });
    const counter = new FencedCounter(counterPath);
    const slotResource = new FencedSlots(slotsPath);
    const log = new EventLog();
    fleet = new Fleet(log, fileURLToPath(new URL('./worker.js', import.meta.url)), (id) => ({
      id,
      store: storeUrl,
      counterPath,
      slotsPath,
      ttlMs,
      holdMs: HOLD_MS,
      heartbeatMs: HEARTBEAT_MS,
    }));
    const t0 = performance.now();
    const say = (line: string) => {
      if (!o.json) out.write(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${line}\n`);
    };
    const narrate = narrator(fleet);
    log.listen((entry) => {
      const line = narrate(entry);
      if (line !== undefined) say(line);
    });
    if (o.dashboard) {
      dashboard = await serveDashboard(store, storeUrl, o.port, fleet, counter, ttlMs);
      // The workers' heartbeat latencies, which no store observer can see, at /metrics.
      const keepalive = dashboard.metrics.keepalive;
      log.listen((entry) => {
        if (entry.kind === 'event' && entry.event.ev === 'keepalive')
          keepalive.observe(entry.event.ms / 1000);
      });
    }
    if (!o.json) out.write(header(o, storeUrl, ttlMs, ttlNote, bounds, store, dashboard));

    log.record({ kind: 'phase', name: 'before the faults' }, t0);
    for (let i = 0; i < o.workers; i++) fleet.start();
    await runFaults(steps, { fleet, store, bounds, ttlMs, durationMs: o.durationMs, t0, say });

    const endAt = performance.now();
    say('stopping the fleet');
    await cleanup();
    const audits = { counter: counter.audit(), slots: slotResource.audit() };
    counter.close();
    slotResource.close();
    const elapsedMs = Math.round(performance.now() - tStart);
    const report = buildReport(
      log.entries,
      { ...audits, bounds, expected: expectedOf(steps), endAt, elapsedMs, durationMs: o.durationMs },
      { store: redactUrl(storeUrl), workers: o.workers, ttlMs, ttlNote, dashboard: dashboard?.url },
    );
    out.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    for (const w of fleet.workers.values())
      if (w.stderr.trim() !== '' && !report.ok) process.stderr.write(`--- ${w.id} stderr ---\n${w.stderr}\n`);
    return report.ok ? 0 : 1;
  } finally {
    process.off('SIGINT', onInterrupt);
    await cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The lines printed before the run: the settings, the bounds, the dashboard, the glossary. */
function header(
  o: DemoOptions,
  storeUrl: string,
  ttlMs: number,
  ttlNote: string,
  bounds: DemoBounds,
  store: Store,
  dashboard: Dashboard | undefined,
): string {
  return (
    `tenure demo: ${o.workers} workers on ${storeUrl}, for ${o.durationMs / 1000} s\n` +
    `session ttl ${ttlMs} ms: ${ttlNote}\n` +
    `bounds: a new leader within ${bounds.failoverMs} ms of a fault (ttl + the store's expiry bound ${store.capabilities.expiryBoundMs} ms + ${bounds.slackMs} ms slack), ` +
    `slots reassigned within ${bounds.slotsMs} ms, the run over within ${bounds.runMs / 1000} s\n` +
    (dashboard
      ? `dashboard: ${dashboard.url}  (metrics: ${dashboard.url.replace(/\/(\?.*)?$/, '/metrics$1')})\n`
      : '') +
    GLOSSARY.map((line) => `  ${line}\n`).join('')
  );
}

/** Serves the dashboard on `port` (any free port if that one is taken), with the demo's own rows. */
async function serveDashboard(
  store: Store,
  storeUrl: string,
  port: number,
  fleet: Fleet,
  counter: FencedCounter,
  ttlMs: number,
): Promise<Dashboard> {
  const log = fleet.log.entries;
  const extra = () => ({
    demo: {
      'workers running': fleet.alive().join(', '),
      'counter writes': log.filter((e) => e.kind === 'event' && e.event.ev === 'write').length,
      'stale writes rejected': counter.audit().rejected,
      faults: faults(log).join('; ') || 'none yet',
      [`failovers (${FAILOVER_DEFINITION})`]:
        failovers(log)
          .map((f) => `${f.cause}: ${f.ms ?? '?'} ms`)
          .join('; ') || 'none yet',
      'slot moves':
        slotChanges(log)
          .map((c) => `${c.cause}: ${c.moved} (ideal ${c.ideal}) in ${c.ms ?? '?'} ms`)
          .join('; ') || 'none yet',
    },
  });
  // Leases looked up five times a ttl: a crashed leader shows as leaderless in /metrics (two
  // heartbeats missed) well before its lease expires.
  const opts = { title: `tenure demo (${storeUrl})`, extra, refreshMs: Math.max(50, Math.round(ttlMs / 5)) };
  try {
    return await startDashboard(store, { ...opts, port });
  } catch (err) {
    if (!isTenureError(err, 'TENURE_UNAVAILABLE')) throw err;
    return await startDashboard(store, { ...opts, port: 0 });
  }
}

/** The workers' ttl and why: `--ttl` if the store accepts it, else the default raised to the store's minimum. */
export function chooseTtl(
  requestedMs: number | undefined,
  caps: Pick<StoreCapabilities, 'backend' | 'minTtlMs' | 'maxTtlMs' | 'ttlGranularityMs'>,
): { ttlMs: number; note: string } {
  const s = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);
  const granted = (ms: number) => Math.ceil(ms / caps.ttlGranularityMs) * caps.ttlGranularityMs;
  if (requestedMs !== undefined) {
    if (requestedMs < caps.minTtlMs)
      throw new UsageError(
        `--ttl ${s(requestedMs)} is below the ${caps.backend} store's minimum lease ttl: use --ttl ${s(caps.minTtlMs)} or more`,
      );
    if (requestedMs > caps.maxTtlMs)
      throw new UsageError(
        `--ttl ${s(requestedMs)} is above the ${caps.backend} store's maximum lease ttl ${s(caps.maxTtlMs)}`,
      );
    const ttlMs = granted(requestedMs);
    return {
      ttlMs,
      note:
        ttlMs === requestedMs
          ? 'as --ttl asked'
          : `--ttl ${s(requestedMs)} rounded up to the ${caps.backend} store's granularity of ${s(caps.ttlGranularityMs)}`,
    };
  }
  const ttlMs = granted(Math.max(TTL_MS, caps.minTtlMs));
  return {
    ttlMs,
    note:
      ttlMs === TTL_MS
        ? `the default; the ${caps.backend} store accepts ${s(caps.minTtlMs)} or more (--ttl)`
        : `the ${caps.backend} store's minimum lease ttl, above the default ${s(TTL_MS)} (--ttl to change)`,
  };
}

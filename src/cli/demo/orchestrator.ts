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
 * 4. A new member joins: the leader moves it its share of slots, and only that.
 *
 * Failover times are measured here, on this process's monotonic clock, from the fault to the
 * new leader's own report.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { isTenureError } from '../../errors.js';
import { startDashboard, type Dashboard } from '../../dashboard/server.js';
import type { Store } from '../../store/types.js';
import { openCliStore } from '../store-url.js';
import { UsageError } from '../usage-error.js';
import { FencedCounter, type CounterAudit } from './fenced-counter.js';
import {
  checkCounterExact,
  checkOneLeaderPerTerm,
  checkTermsIncrease,
  type Check,
  type LeaderClaim,
} from './verdict.js';
import { DEMO_ELECTION } from './names.js';
import type { WorkerConfig } from './worker.js';

/** Options of {@link runDemo}. */
export interface DemoOptions {
  workers: number;
  durationMs: number;
  /** Store URL; default a SQLite file in a temporary directory. */
  store?: string;
  dashboard: boolean;
  port: number;
  json: boolean;
  /** Session ttl of the workers. @default 1000 */
  ttlMs?: number;
}

/** Shortest run that leaves room for the four faults. */
export const MIN_DURATION_MS = 8000;
const TTL_MS = 1000;
const HOLD_MS = 150;

/** A JSON line from a worker. */
interface WorkerEvent {
  readonly worker: string;
  readonly ev: string;
  readonly term?: number;
  readonly token?: number;
  readonly value?: number;
  readonly accepted?: boolean;
  readonly members?: string[];
  readonly moved?: number;
  readonly ideal?: number;
  readonly modulo?: number;
  readonly message?: string;
}

/** A measured leader change. */
export interface Failover {
  readonly cause: string;
  readonly from: string;
  readonly fromTerm: number;
  readonly to: string | undefined;
  readonly toTerm: number | undefined;
  /** From the fault to the new leader's report, on the orchestrator's monotonic clock. */
  readonly ms: number | undefined;
}

/** What the demo reports. */
export interface DemoReport {
  readonly store: string;
  readonly workers: number;
  readonly durationMs: number;
  readonly ttlMs: number;
  readonly failovers: Failover[];
  readonly faults: string[];
  readonly lockCycles: number;
  readonly staleWritesRejected: number;
  readonly counter: CounterAudit;
  readonly slotChanges: { members: string[]; moved: number; ideal: number; modulo: number }[];
  readonly checks: Check[];
  readonly ok: boolean;
  readonly dashboard: string | undefined;
}

class Worker {
  readonly id: string;
  readonly proc: ChildProcess;
  readonly exited: Promise<void>;
  stderr = '';
  alive = true;

  constructor(id: string, script: string, config: WorkerConfig, bus: EventEmitter) {
    this.id = id;
    this.proc = spawn(process.execPath, [script, JSON.stringify(config)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc.stderr!.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4000)));
    createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      try {
        bus.emit('event', JSON.parse(line) as WorkerEvent);
      } catch {
        // not a report line
      }
    });
    this.exited = new Promise((resolve) =>
      this.proc.once('exit', () => {
        this.alive = false;
        bus.emit('exit', this.id);
        resolve();
      }),
    );
  }

  signal(s: NodeJS.Signals): void {
    if (this.alive) this.proc.kill(s);
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

/** Runs the demo; resolves with the exit code (0 when every safety check passed). */
export async function runDemo(o: DemoOptions): Promise<number> {
  if (o.durationMs < MIN_DURATION_MS)
    throw new UsageError(`--duration must be at least ${MIN_DURATION_MS / 1000}s to fit the four faults`);
  if (o.workers < 2)
    throw new UsageError('--workers must be at least 2: a failover needs a second candidate');
  if (o.workers > 50) throw new UsageError('--workers must be at most 50');
  if (o.store?.startsWith('memory:'))
    throw new UsageError(
      'the demo runs workers as separate processes, which cannot share a memory: store; use sqlite: or etcd:',
    );
  const ttlMs = o.ttlMs ?? TTL_MS;
  const dir = mkdtempSync(join(tmpdir(), 'tenure-demo-'));
  const storeUrl = o.store ?? `sqlite://${join(dir, 'store.db')}`;
  const counterPath = join(dir, 'counter.db');
  let store: Store | undefined;
  let dashboard: Dashboard | undefined;
  const workers = new Map<string, Worker>();
  const cleanup = async () => {
    for (const w of workers.values()) {
      w.signal('SIGCONT');
      w.signal('SIGTERM');
    }
    const all = Promise.all([...workers.values()].map((w) => w.exited));
    const timer = setTimeout(() => workers.forEach((w) => w.signal('SIGKILL')), 5000);
    await all;
    clearTimeout(timer);
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
    store = await openCliStore(storeUrl);
    const counter = new FencedCounter(counterPath);
    const script = fileURLToPath(new URL('./worker.js', import.meta.url));
    const bus = new EventEmitter();
    bus.setMaxListeners(100);
    const t0 = performance.now();
    const log = (line: string) => {
      if (!o.json)
        process.stdout.write(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${line}\n`);
    };

    // What the workers report.
    const claims: LeaderClaim[] = [];
    const leading = new Map<string, number>();
    const slotChanges: DemoReport['slotChanges'] = [];
    const faults: string[] = [];
    const failovers: Failover[] = [];
    let writes = 0;
    bus.on('event', (e: WorkerEvent) => {
      if (e.ev === 'leader' && e.term !== undefined) {
        claims.push({ worker: e.worker, term: e.term });
        leading.set(e.worker, e.term);
        log(`${e.worker} leads (term ${e.term})`);
      } else if (e.ev === 'leader-end' || e.ev === 'session-lost' || e.ev === 'stopped') {
        leading.delete(e.worker);
        if (e.ev === 'session-lost') log(`${e.worker}: session lost, rejoining with a new one`);
      } else if (e.ev === 'write') {
        writes++;
        if (!e.accepted)
          log(`${e.worker}: stale write with fencing token ${e.token} REJECTED by the counter`);
      } else if (e.ev === 'slots') {
        slotChanges.push({
          members: e.members ?? [],
          moved: e.moved ?? 0,
          ideal: e.ideal ?? 0,
          modulo: e.modulo ?? 0,
        });
        log(`slots rebalanced over ${e.members?.join(', ')}: ${e.moved} moved (ideal ${e.ideal})`);
      } else if (e.ev === 'error') {
        log(`${e.worker}: ${e.message}`);
      }
    });
    bus.on('exit', (id: string) => leading.delete(id));
    const currentLeader = () => {
      let best: [string, number] | undefined;
      for (const [w, t] of leading) if (workers.get(w)?.alive && (!best || t > best[1])) best = [w, t];
      return best;
    };
    const next = (pred: (e: WorkerEvent) => boolean, timeoutMs: number) =>
      new Promise<WorkerEvent | undefined>((resolve) => {
        const on = (e: WorkerEvent) => {
          if (!pred(e)) return;
          done(e);
        };
        const timer = setTimeout(() => done(undefined), timeoutMs);
        function done(e: WorkerEvent | undefined) {
          clearTimeout(timer);
          bus.off('event', on);
          resolve(e);
        }
        bus.on('event', on);
      });
    let seq = 0;
    const start = () => {
      const id = `w${++seq}`;
      workers.set(
        id,
        new Worker(id, script, { id, store: storeUrl, counterPath, ttlMs, holdMs: HOLD_MS }, bus),
      );
      return id;
    };
    // The leader according to the store (not to the workers' reports, which can lag behind a
    // leadership change), so that the fault hits the real leader.
    const election = store!;
    const waitLeader = async (): Promise<[string, number] | undefined> => {
      for (let i = 0; i < 100; i++) {
        const { kvs } = await election.range(`election/${DEMO_ELECTION}/`);
        const first = [...kvs].sort((a, b) => a.createRevision - b.createRevision)[0];
        const id = first && Buffer.from(first.value).toString();
        if (first && id && workers.get(id)?.alive && leading.get(id) === first.createRevision)
          return [id, first.createRevision];
        await sleep(50);
      }
      return undefined;
    };
    const measureFailover = async (cause: string, from: string, fromTerm: number, act: () => void) => {
      const at = performance.now();
      const nextLeader = next(
        (e) => e.ev === 'leader' && e.worker !== from && (e.term ?? 0) > fromTerm,
        ttlMs * 6,
      );
      act();
      const e = await nextLeader;
      const ms = e ? Math.round(performance.now() - at) : undefined;
      failovers.push({ cause, from, fromTerm, to: e?.worker, toTerm: e?.term, ms });
      log(
        e
          ? `failover after ${cause}: ${e.worker} leads term ${e.term} after ${ms} ms`
          : `no new leader after ${cause}`,
      );
    };

    if (o.dashboard) {
      const extra = () => ({
        demo: {
          'workers running': [...workers.values()]
            .filter((w) => w.alive)
            .map((w) => w.id)
            .join(', '),
          'counter writes': writes,
          'stale writes rejected': counter.audit().rejected,
          faults: faults.join('; ') || 'none yet',
          failovers: failovers.map((f) => `${f.cause}: ${f.ms ?? '?'} ms`).join('; ') || 'none yet',
        },
      });
      const opts = { title: `tenure demo (${storeUrl})`, extra };
      try {
        dashboard = await startDashboard(store, { ...opts, port: o.port });
      } catch (err) {
        if (!isTenureError(err, 'TENURE_UNAVAILABLE')) throw err;
        dashboard = await startDashboard(store, { ...opts, port: 0 });
      }
    }
    if (!o.json) {
      process.stdout.write(
        `tenure demo: ${o.workers} workers on ${storeUrl}, session ttl ${ttlMs} ms, for ${o.durationMs / 1000} s\n` +
          (dashboard
            ? `dashboard: ${dashboard.url}  (metrics: ${dashboard.url.replace(/\/(\?.*)?$/, '/metrics$1')})\n`
            : ''),
      );
    }
    for (let i = 0; i < o.workers; i++) start();
    const at = (fraction: number) => sleep(t0 + o.durationMs * fraction - performance.now());

    // Let the whole fleet join (node start-up takes a while on a busy machine) before the faults.
    const joinedIds = new Set<string>();
    const allJoined = new Promise<void>((resolve) => {
      const on = (e: WorkerEvent) => {
        if (e.ev === 'session') joinedIds.add(e.worker);
        if (joinedIds.size >= o.workers) {
          bus.off('event', on);
          resolve();
        }
      };
      bus.on('event', on);
    });
    await Promise.race([allJoined, sleep(10_000)]);
    await sleep(300);

    // 1. SIGKILL of the leader.
    await at(0.15);
    const first = await waitLeader();
    if (first) {
      faults.push(`SIGKILL of leader ${first[0]}`);
      log(`fault: SIGKILL of the leader ${first[0]} (term ${first[1]})`);
      await measureFailover(`SIGKILL of leader ${first[0]}`, first[0], first[1], () =>
        workers.get(first[0])!.signal('SIGKILL'),
      );
    }

    // 2. SIGSTOP of a lock holder between its read and its write, for longer than its ttl.
    await at(0.35);
    const leaderId = currentLeader()?.[0];
    const read =
      (await next((e) => e.ev === 'read' && e.accepted === true && e.worker !== leaderId, 3000)) ??
      (await next((e) => e.ev === 'read' && e.accepted === true, 3000));
    if (read) {
      const victim = workers.get(read.worker)!;
      const pauseMs = Math.round(ttlMs * 2.5);
      victim.signal('SIGSTOP');
      const wasLeader = leading.get(victim.id);
      faults.push(`SIGSTOP of lock holder ${victim.id} for ${pauseMs} ms`);
      log(
        `fault: SIGSTOP of ${victim.id}, holding the lock with fencing token ${read.token}, for ${pauseMs} ms (ttl ${ttlMs} ms)`,
      );
      const stoppedAt = performance.now();
      const taken = next((e) => e.ev === 'lock' && e.worker !== victim.id, pauseMs);
      const leaderChange =
        wasLeader !== undefined
          ? measureFailover(`SIGSTOP of leader ${victim.id}`, victim.id, wasLeader, () => undefined)
          : Promise.resolve();
      const takenBy = await taken;
      if (takenBy)
        log(
          `${takenBy.worker} took the lock (fencing token ${takenBy.token}) ${Math.round(performance.now() - stoppedAt)} ms after the pause began`,
        );
      await sleep(stoppedAt + pauseMs - performance.now());
      const stale = next((e) => e.ev === 'write' && e.worker === victim.id, 3000);
      victim.signal('SIGCONT');
      log(`SIGCONT to ${victim.id}`);
      const late = await stale;
      if (late)
        faults.push(
          `${victim.id}'s late write (token ${late.token}) ${late.accepted ? 'ACCEPTED' : 'rejected'}`,
        );
      await leaderChange;
    }

    // 3. Graceful stop of the leader.
    await at(0.62);
    const leader = await waitLeader();
    if (leader) {
      faults.push(`graceful stop of leader ${leader[0]}`);
      log(`fault: SIGTERM (graceful stop) of the leader ${leader[0]} (term ${leader[1]})`);
      await measureFailover(`graceful stop of leader ${leader[0]}`, leader[0], leader[1], () =>
        workers.get(leader[0])!.signal('SIGTERM'),
      );
    }

    // 4. A new member joins.
    await at(0.75);
    const joined = start();
    faults.push(`${joined} joined`);
    log(`fault: new member ${joined} joins`);
    await next((e) => e.ev === 'slots' && (e.members ?? []).includes(joined), 5000);

    await at(1);
    log('stopping the fleet');
    await cleanup();
    const audit = counter.audit();
    counter.close();
    const checks = [checkOneLeaderPerTerm(claims), checkTermsIncrease(claims), checkCounterExact(audit)];
    const report: DemoReport = {
      store: storeUrl,
      workers: o.workers,
      durationMs: o.durationMs,
      ttlMs,
      failovers,
      faults,
      lockCycles: audit.accepted,
      staleWritesRejected: audit.rejected,
      counter: audit,
      slotChanges,
      checks,
      ok: checks.every((c) => c.ok),
      dashboard: dashboard?.url,
    };
    process.stdout.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    for (const w of workers.values())
      if (w.stderr.trim() !== '' && !report.ok) process.stderr.write(`--- ${w.id} stderr ---\n${w.stderr}\n`);
    return report.ok ? 0 : 1;
  } finally {
    process.off('SIGINT', onInterrupt);
    await cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The report as text. */
export function formatReport(r: DemoReport): string {
  const lines = [
    '',
    `REPORT  ${r.workers} workers, ${r.durationMs / 1000} s, session ttl ${r.ttlMs} ms, store ${r.store}`,
    '',
    'Failovers (fault → new leader acting, measured by the orchestrator)',
  ];
  for (const f of r.failovers)
    lines.push(
      `  ${f.cause.padEnd(30)} term ${f.fromTerm} → ` +
        (f.to ? `${f.to} in term ${f.toTerm}: ${f.ms} ms` : 'no new leader in time'),
    );
  if (r.failovers.length === 0) lines.push('  none');
  lines.push('', 'Faults injected', ...r.faults.map((f) => `  ${f}`), '');
  lines.push(
    `Lock cycles: ${r.lockCycles} fenced increments; stale writes rejected by fencing: ${r.staleWritesRejected}`,
  );
  lines.push('', `Slots moved vs ideal (64 slots; what slot mod n would move)`);
  for (const s of r.slotChanges)
    lines.push(
      `  members ${s.members.join(',').padEnd(20)} moved ${String(s.moved).padStart(2)}, ideal ${String(s.ideal).padStart(2)}  (mod n: ${s.modulo})`,
    );
  if (r.slotChanges.length === 0) lines.push('  no membership change seen');
  lines.push('', 'Safety checks');
  for (const c of r.checks) lines.push(`  ${c.ok ? 'PASS' : 'FAIL'}  ${c.name}: ${c.detail}`);
  lines.push('', `Verdict: ${r.ok ? 'PASS, every safety check held' : 'FAIL'}`, '');
  return lines.join('\n');
}

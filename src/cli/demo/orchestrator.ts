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
 * Failover times are measured here, on this process's monotonic clock, from the fault to the
 * new leader's own report, or to the store showing every slot held by its new owner.
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
import { FencedSlots, type SlotAudit } from './fenced-slots.js';
import {
  checkCounterExact,
  checkNoSlotDoubleOwned,
  checkOneLeaderPerTerm,
  checkTermsIncrease,
  type Check,
  type LeaderClaim,
} from './verdict.js';
import { DEMO_ELECTION } from './names.js';
import { DEMO_SLOT_COUNT, idealMoves, moduloMoves, readSlots, settledOver, type SlotState } from './slots.js';
import type { WorkerConfig } from './worker.js';
import { sleep } from '../../sleep.js';

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
/** Heartbeat mesh interval: fast enough to suspect a dead peer within the demo's one-second ttl. */
const HEARTBEAT_MS = 100;

/** A JSON line from a worker. */
interface WorkerEvent {
  readonly worker: string;
  readonly ev: string;
  readonly term?: number;
  readonly token?: number;
  readonly value?: number;
  readonly accepted?: boolean;
  readonly peer?: string;
  readonly phi?: number;
  readonly slot?: number;
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

/** A membership change and how the slots followed it. */
export interface SlotChange {
  readonly cause: string;
  /** The members after the change, sorted. */
  readonly members: string[];
  /** Slots whose holder changed, from the store's slot keys before and after. */
  readonly moved: number;
  /** The fewest slots any assignment meeting every member's quota could move. */
  readonly ideal: number;
  /** What a naive `slot mod n` placement would move. */
  readonly modulo: number;
  /** From the change (fault, or the newcomer's join) until every slot was held by its new owner. */
  readonly ms: number | undefined;
  /** From the fault to the heartbeat mesh's first suspicion of the departed member (advisory). */
  readonly suspectedMs?: number;
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
  readonly slotCount: number;
  readonly slotChanges: SlotChange[];
  readonly slots: SlotAudit;
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
  /** Set once the orchestrator has told it to end (SIGTERM, SIGKILL): any other exit is a crash. */
  told = false;

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
      this.proc.once('exit', (code, signal) => {
        this.alive = false;
        bus.emit('exit', this.id, this.told ? undefined : `exit code ${code ?? signal}`);
        resolve();
      }),
    );
  }

  signal(s: NodeJS.Signals): void {
    if (s === 'SIGTERM' || s === 'SIGKILL') this.told = true;
    if (this.alive) this.proc.kill(s);
  }
}

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
  const slotsPath = join(dir, 'slots.db');
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
    store = await openCliStore(storeUrl, { create: true });
    const counter = new FencedCounter(counterPath);
    const slotResource = new FencedSlots(slotsPath);
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
    const slotChanges: SlotChange[] = [];
    const suspected = new Map<string, number>(); // peer → when first suspected (orchestrator clock)
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
      } else if (e.ev === 'suspect' && e.peer !== undefined) {
        if (!suspected.has(e.peer)) {
          suspected.set(e.peer, performance.now());
          log(`heartbeat mesh: ${e.worker} suspects ${e.peer} (phi ${e.phi?.toFixed(1)}; advisory)`);
        }
      } else if (e.ev === 'recover' && e.peer !== undefined) {
        suspected.delete(e.peer);
      } else if (e.ev === 'slot-write' && !e.accepted) {
        log(`${e.worker}: stale write to slot ${e.slot} with token ${e.token} REJECTED by the slot resource`);
      } else if (e.ev === 'error') {
        log(`${e.worker}: ${e.message}`);
      }
    });
    // A worker that ends without being told to is a crash: logged with its last words, and the
    // report fails (the faults above are the only ones the demo means to inject).
    const crashes: string[] = [];
    bus.on('exit', (id: string, crash: string | undefined) => {
      leading.delete(id);
      if (crash === undefined) return;
      const last = workers.get(id)?.stderr.trim().split('\n').at(-1) ?? '';
      crashes.push(`${id}: ${crash}${last ? `: ${last}` : ''}`);
      log(`${id} CRASHED (${crash})${last ? `: ${last}` : ''}`);
    });
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
        new Worker(
          id,
          script,
          { id, store: storeUrl, counterPath, slotsPath, ttlMs, holdMs: HOLD_MS, heartbeatMs: HEARTBEAT_MS },
          bus,
        ),
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

    const alive = () => [...workers.values()].filter((w) => w.alive).map((w) => w.id);
    // Polls the store (every 20 ms) until the table is over `members` and every slot is held by
    // its planned owner.
    const waitSettled = async (members: readonly string[], timeoutMs: number) => {
      const until = performance.now() + timeoutMs;
      for (;;) {
        const state = await readSlots(store!);
        if (settledOver(state, members)) return { state, at: performance.now() };
        if (performance.now() > until) return { state, at: undefined };
        await sleep(20);
      }
    };
    /**
     * Measures one membership change from `before` to `after` members: `act` makes it and may
     * return when to start the clock (default: when it ran); `departed` is the member whose
     * heartbeats stop, for the mesh's time to suspicion.
     */
    const measureSlots = async (
      cause: string,
      members: { before: readonly string[]; after: readonly string[] },
      act: () => void | Promise<number | undefined>,
      departed?: string,
    ) => {
      const after = members.after;
      const before: SlotState = (await waitSettled(members.before, 3000)).state;
      if (departed) suspected.delete(departed);
      let from = performance.now();
      const started = await act();
      if (typeof started === 'number') from = started;
      const { state, at } = await waitSettled(after, ttlMs * 6);
      const prior = before.holders.filter((h): h is string => h !== undefined);
      const change: SlotChange = {
        cause,
        members: [...after].sort(),
        moved: state.holders.filter((h, i) => h !== before.holders[i]).length,
        ideal: idealMoves(prior, after),
        modulo: moduloMoves([...new Set(prior)], after, DEMO_SLOT_COUNT),
        ms: at === undefined ? undefined : Math.round(at - from),
        suspectedMs:
          departed !== undefined && suspected.has(departed)
            ? Math.max(0, Math.round(suspected.get(departed)! - from))
            : undefined,
      };
      slotChanges.push(change);
      log(
        at === undefined
          ? `slots after ${cause}: not all held by their new owners within ${ttlMs * 6} ms`
          : `slots after ${cause}: ${change.moved} of ${DEMO_SLOT_COUNT} moved (ideal ${change.ideal}), all held again after ${change.ms} ms`,
      );
      return change;
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
          'slot moves':
            slotChanges
              .map((c) => `${c.cause}: ${c.moved} (ideal ${c.ideal}) in ${c.ms ?? '?'} ms`)
              .join('; ') || 'none yet',
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

    // Let the whole fleet join (node start-up takes a while on a busy machine) and the slots
    // settle over it before the faults.
    const joinedIds = new Set<string>();
    const joinedEvent = (e: WorkerEvent) => {
      if (e.ev === 'member') joinedIds.add(e.worker);
    };
    bus.on('event', joinedEvent);
    const until = performance.now() + 10_000;
    while (joinedIds.size < o.workers && performance.now() < until) await sleep(20);
    bus.off('event', joinedEvent);
    const initial = await waitSettled(alive(), 5000);
    log(
      initial.at === undefined
        ? `slots not settled over ${alive().join(', ')} after start-up`
        : `${DEMO_SLOT_COUNT} slots held by ${alive().join(', ')}`,
    );

    // 1. SIGKILL of the leader (a member like the others: its slots wait for its lease).
    await at(0.15);
    const first = await waitLeader();
    if (first) {
      faults.push(`SIGKILL of leader ${first[0]}`);
      log(`fault: SIGKILL of the leader ${first[0]} (term ${first[1]})`);
      let failover: Promise<void> = Promise.resolve();
      await measureSlots(
        `SIGKILL of leader ${first[0]}`,
        { before: alive(), after: alive().filter((id) => id !== first[0]) },
        () => {
          failover = measureFailover(`SIGKILL of leader ${first[0]}`, first[0], first[1], () =>
            workers.get(first[0])!.signal('SIGKILL'),
          );
        },
        first[0],
      );
      await failover;
    }

    // 2. SIGSTOP of a lock holder between its read and its write, for longer than its ttl.
    await at(0.35);
    await waitSettled(alive(), 3000);
    const leaderId = currentLeader()?.[0];
    const read =
      (await next((e) => e.ev === 'read' && e.accepted === true && e.worker !== leaderId, 3000)) ??
      (await next((e) => e.ev === 'read' && e.accepted === true, 3000));
    if (read) {
      const victim = workers.get(read.worker)!;
      const pauseMs = Math.round(ttlMs * 2.5);
      const wasLeader = leading.get(victim.id);
      faults.push(`SIGSTOP of lock holder ${victim.id} for ${pauseMs} ms`);
      log(
        `fault: SIGSTOP of ${victim.id}, holding the lock with fencing token ${read.token}, for ${pauseMs} ms (ttl ${ttlMs} ms)`,
      );
      const stoppedAt = performance.now();
      const taken = next((e) => e.ev === 'lock' && e.worker !== victim.id, pauseMs);
      let leaderChange: Promise<void> = Promise.resolve();
      // Its lease expires while it sleeps: it leaves the group and its slots move.
      const leaving = measureSlots(
        `SIGSTOP of ${victim.id} (lease expired)`,
        { before: alive(), after: alive().filter((id) => id !== victim.id) },
        () => {
          victim.signal('SIGSTOP');
          if (wasLeader !== undefined)
            leaderChange = measureFailover(
              `SIGSTOP of leader ${victim.id}`,
              victim.id,
              wasLeader,
              () => undefined,
            );
        },
        victim.id,
      );
      const takenBy = await taken;
      if (takenBy)
        log(
          `${takenBy.worker} took the lock (fencing token ${takenBy.token}) ${Math.round(performance.now() - stoppedAt)} ms after the pause began`,
        );
      await leaving;
      await sleep(stoppedAt + pauseMs - performance.now());
      const stale = next((e) => e.ev === 'write' && e.worker === victim.id, 3000);
      // Woken, it finds its session lost and rejoins with a new one: its quota moves back.
      const rejoined = next((e) => e.ev === 'member' && e.worker === victim.id, ttlMs * 6);
      const others = alive().filter((id) => id !== victim.id);
      const members = { before: others, after: alive() };
      const rejoining = measureSlots(`${victim.id} rejoined after SIGCONT`, members, async () => {
        victim.signal('SIGCONT');
        log(
          `SIGCONT to ${victim.id} (its own mesh heard nothing while stopped: it briefly suspects everyone)`,
        );
        return (await rejoined) ? performance.now() : undefined;
      });
      const late = await stale;
      if (late)
        faults.push(
          `${victim.id}'s late write (token ${late.token}) ${late.accepted ? 'ACCEPTED' : 'rejected'}`,
        );
      await rejoining;
      await leaderChange;
    }

    // 3. Graceful stop of the leader: it hands its slots over, then closes its session.
    await at(0.62);
    const leader = await waitLeader();
    if (leader) {
      faults.push(`graceful stop of leader ${leader[0]}`);
      log(`fault: SIGTERM (graceful stop) of the leader ${leader[0]} (term ${leader[1]})`);
      let failover: Promise<void> = Promise.resolve();
      await measureSlots(
        `graceful stop of leader ${leader[0]}`,
        { before: alive(), after: alive().filter((id) => id !== leader[0]) },
        () => {
          failover = measureFailover(`graceful stop of leader ${leader[0]}`, leader[0], leader[1], () =>
            workers.get(leader[0])!.signal('SIGTERM'),
          );
        },
      );
      await failover;
    }

    // 4. A new member joins: timed from its join, not from its process's start-up.
    await at(0.75);
    let joined = '';
    const members = { before: alive(), after: [...alive(), `w${seq + 1}`] };
    await measureSlots(`w${seq + 1} joined`, members, async () => {
      const member = next((e) => e.ev === 'member' && e.worker === joined, 10_000);
      joined = start();
      faults.push(`${joined} joined`);
      log(`fault: new member ${joined} joins`);
      return (await member) ? performance.now() : undefined;
    });

    await at(1);
    log('stopping the fleet');
    await cleanup();
    const audit = counter.audit();
    counter.close();
    const slotAudit = slotResource.audit();
    slotResource.close();
    const checks = [
      checkOneLeaderPerTerm(claims),
      checkTermsIncrease(claims),
      checkCounterExact(audit),
      checkNoSlotDoubleOwned(slotAudit),
      {
        name: 'no worker crashed',
        ok: crashes.length === 0,
        detail: crashes.length === 0 ? 'every worker ran until told to stop' : crashes.join('; '),
      },
    ];
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
      slotCount: DEMO_SLOT_COUNT,
      slotChanges,
      slots: slotAudit,
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
  lines.push(
    '',
    `Slots (ShardManager, ${r.slotCount} slots): moved vs ideal per membership change, and time until every slot`,
    `is held by its new owner (what slot mod n would move; when the heartbeat mesh first suspected the departed member)`,
  );
  for (const c of r.slotChanges)
    lines.push(
      `  ${c.cause.padEnd(34)} → ${c.members.join(',').padEnd(15)} moved ${String(c.moved).padStart(2)}, ideal ${String(c.ideal).padStart(2)}` +
        `, ${c.ms === undefined ? 'not reassigned in time' : `reassigned in ${c.ms} ms`}` +
        `  (mod n: ${c.modulo}${c.suspectedMs === undefined ? '' : `; suspected after ${c.suspectedMs} ms`})`,
    );
  if (r.slotChanges.length === 0) lines.push('  no membership change measured');
  lines.push(
    `Slot writes: ${r.slots.takes} fenced takes, ${r.slots.writes} fenced writes; stale slot writes rejected ${r.slots.staleRejected}, accepted ${r.slots.staleAccepted}`,
  );
  lines.push('', 'Safety checks');
  for (const c of r.checks) lines.push(`  ${c.ok ? 'PASS' : 'FAIL'}  ${c.name}: ${c.detail}`);
  lines.push('', `Verdict: ${r.ok ? 'PASS, every safety check held' : 'FAIL'}`, '');
  return lines.join('\n');
}

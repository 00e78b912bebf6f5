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
 * new leader acting (its own report that its campaign resolved: the one definition in
 * inspect/failover.ts that the dashboard and `tenure watch` use too), or to the store showing
 * every slot held by its new owner.
 *
 * The verdict has safety checks (verdict.ts: nothing bad happened) and liveness checks
 * (liveness.ts: every worker started, a new leader after every leader fault, lock cycles and
 * fenced writes in every phase, every slot reassigned, the run on time), each bound derived from
 * the ttl and the store's expiry bound: a run where nothing happens fails.
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
import { FAILOVER_DEFINITION, failoverMs } from '../../inspect/failover.js';
import type { Store, StoreCapabilities } from '../../store/types.js';
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
import {
  checkEndedOnTime,
  checkNewLeaderAfterEveryFault,
  checkProgressInEveryPhase,
  checkSlotsReassigned,
  checkWorkersStarted,
  demoBounds,
  STOP_GRACE_MS,
  type DemoBounds,
  type PhaseProgress,
} from './liveness.js';
import { DEMO_ELECTION } from './names.js';
import { describeElection, electionPrefix } from '../../recipes/election-layout.js';
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
  /**
   * Session ttl of the workers. @default 1000, raised to the store's minimum lease ttl
   * (`capabilities.minTtlMs`: 2000 on etcd) and rounded up to its granularity.
   */
  ttlMs?: number;
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
  readonly highest?: number;
  readonly count?: number;
}

/** A measured leader change. */
export interface Failover {
  readonly cause: string;
  readonly from: string;
  readonly fromTerm: number;
  readonly to: string | undefined;
  readonly toTerm: number | undefined;
  /**
   * From the fault to the new leader acting (its campaign resolved, as it reported), on the
   * orchestrator's monotonic clock (inspect/failover.ts); undefined: none within the bound.
   */
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
  /** Why this ttl: the default, the store's minimum, or --ttl. */
  readonly ttlNote: string;
  /** The whole run, on the orchestrator's monotonic clock, from the command's start to the report. */
  readonly elapsedMs: number;
  /** What the liveness checks held the run to. */
  readonly bounds: DemoBounds;
  readonly failovers: Failover[];
  readonly faults: string[];
  /** Leaderships claimed (campaigns resolved), over the whole run. */
  readonly leaderships: number;
  /** Lock cycles and fenced slot writes between faults. */
  readonly phases: PhaseProgress[];
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
  const tStart = performance.now();
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
  const dir = mkdtempSync(join(tmpdir(), 'tenure-demo-'));
  const storeUrl = o.store ?? `sqlite://${join(dir, 'store.db')}`;
  const counterPath = join(dir, 'counter.db');
  const slotsPath = join(dir, 'slots.db');
  let ttlMs = TTL_MS;
  let store: Store | undefined;
  let dashboard: Dashboard | undefined;
  const workers = new Map<string, Worker>();
  const cleanup = async () => {
    for (const w of workers.values()) {
      w.signal('SIGCONT');
      w.signal('SIGTERM');
    }
    const all = Promise.all([...workers.values()].map((w) => w.exited));
    const timer = setTimeout(() => workers.forEach((w) => w.signal('SIGKILL')), STOP_GRACE_MS);
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
    const chosen = chooseTtl(o.ttlMs, store.capabilities);
    ttlMs = chosen.ttlMs;
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
    // Whether each worker joined the group, and its last error: the start-up check.
    const starts = new Map<string, { joined: boolean; lastError?: string }>();
    // When each accepted lock cycle and fenced slot write arrived, for the progress per phase.
    const cycleTimes: number[] = [];
    const slotWriteTimes: { at: number; count: number }[] = [];
    // Why a worker's write can be stale and refused, which is the fencing doing its job.
    const pausedIds = new Set<string>();
    const staleReason = (id: string) =>
      workers.get(id)?.told
        ? `expected: ${id} is stopping, and its session closed (releasing its lock and slots) mid-cycle`
        : pausedIds.has(id)
          ? `expected: ${id} was paused past its lease, and others moved on`
          : `expected: ${id}'s session ended before its write`;
    bus.on('event', (e: WorkerEvent) => {
      if (e.ev === 'member') {
        const start = starts.get(e.worker);
        if (start) start.joined = true;
      }
      if (e.ev === 'leader' && e.term !== undefined) {
        claims.push({ worker: e.worker, term: e.term });
        leading.set(e.worker, e.term);
        log(`${e.worker} leads (term ${e.term})`);
      } else if (e.ev === 'leader-end' || e.ev === 'session-lost' || e.ev === 'stopped') {
        leading.delete(e.worker);
        if (e.ev === 'session-lost') log(`${e.worker}: session lost, rejoining with a new one`);
      } else if (e.ev === 'write') {
        writes++;
        if (e.accepted) cycleTimes.push(performance.now());
        else
          log(
            `${e.worker}: late write with fencing token ${e.token} refused by the counter, which has seen token ${e.highest ?? '?'} (${staleReason(e.worker)})`,
          );
      } else if (e.ev === 'slot-writes' && e.count !== undefined) {
        slotWriteTimes.push({ at: performance.now(), count: e.count });
      } else if (e.ev === 'suspect' && e.peer !== undefined) {
        if (!suspected.has(e.peer)) {
          suspected.set(e.peer, performance.now());
          log(`heartbeat mesh: ${e.worker} suspects ${e.peer} (phi ${e.phi?.toFixed(1)}; advisory)`);
        }
      } else if (e.ev === 'recover' && e.peer !== undefined) {
        suspected.delete(e.peer);
      } else if (e.ev === 'slot-write' && !e.accepted) {
        log(
          `${e.worker}: late write to slot ${e.slot} with token ${e.token} refused by the slot resource (${staleReason(e.worker)})`,
        );
      } else if (e.ev === 'error') {
        // A worker that cannot start repeats its error every 200 ms: log each message once.
        const start = starts.get(e.worker);
        const repeated = start !== undefined && !start.joined && start.lastError === e.message;
        if (start) start.lastError = e.message;
        if (!repeated) log(`${e.worker}: ${e.message}`);
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
      const start = starts.get(id);
      if (start && !start.joined) start.lastError ??= `ended (${crash}) before joining`;
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
      starts.set(id, { joined: false });
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
        const { kvs } = await election.range(electionPrefix(DEMO_ELECTION));
        const { leader } = describeElection(DEMO_ELECTION, kvs);
        const id = leader?.owner;
        if (leader && id && workers.get(id)?.alive && leading.get(id) === leader.token)
          return [id, leader.token];
        await sleep(50);
      }
      return undefined;
    };
    const measureFailover = async (cause: string, from: string, fromTerm: number, act: () => void) => {
      const faultAt = performance.now();
      const nextLeader = next(
        (e) => e.ev === 'leader' && e.worker !== from && (e.term ?? 0) > fromTerm,
        bounds.failoverMs,
      );
      act();
      const e = await nextLeader;
      const ms = e ? failoverMs(faultAt, performance.now()) : undefined;
      failovers.push({ cause, from, fromTerm, to: e?.worker, toTerm: e?.term, ms });
      log(
        e
          ? `failover after ${cause}: ${e.worker} leads term ${e.term} after ${ms} ms`
          : `no new leader within ${bounds.failoverMs} ms after ${cause}`,
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
      const { state, at } = await waitSettled(after, bounds.slotsMs);
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
          ? `slots after ${cause}: not all held by their new owners within ${bounds.slotsMs} ms`
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
          [`failovers (${FAILOVER_DEFINITION})`]:
            failovers.map((f) => `${f.cause}: ${f.ms ?? '?'} ms`).join('; ') || 'none yet',
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
        `tenure demo: ${o.workers} workers on ${storeUrl}, for ${o.durationMs / 1000} s\n` +
          `session ttl ${ttlMs} ms: ${chosen.note}\n` +
          `bounds: a new leader within ${bounds.failoverMs} ms of a fault (ttl + the store's expiry bound ${store.capabilities.expiryBoundMs} ms + ${bounds.slackMs} ms slack), ` +
          `slots reassigned within ${bounds.slotsMs} ms, the run over within ${bounds.runMs / 1000} s\n` +
          (dashboard
            ? `dashboard: ${dashboard.url}  (metrics: ${dashboard.url.replace(/\/(\?.*)?$/, '/metrics$1')})\n`
            : '') +
          GLOSSARY.map((line) => `  ${line}\n`).join(''),
      );
    }
    for (let i = 0; i < o.workers; i++) start();
    const at = (fraction: number) => sleep(t0 + o.durationMs * fraction - performance.now());

    // Progress per phase: a phase runs from one fault to the next. Before each fault, wait (at
    // most a failover bound) for the current phase to show a lock cycle and a fenced slot write,
    // so that a phase is not empty merely because the schedule was tight; the check still fails
    // if none came.
    const phaseMarks: { name: string; at: number }[] = [{ name: 'before the faults', at: t0 }];
    const progressSince = (from: number, to = Infinity) => ({
      lockCycles: cycleTimes.filter((t) => t >= from && t < to).length,
      slotWrites: slotWriteTimes.filter((w) => w.at >= from && w.at < to).reduce((n, w) => n + w.count, 0),
    });
    const nextPhase = async (name: string) => {
      const from = phaseMarks.at(-1)!.at;
      const until = performance.now() + bounds.failoverMs;
      for (;;) {
        const p = progressSince(from);
        if ((p.lockCycles > 0 && p.slotWrites > 0) || performance.now() > until) break;
        await sleep(20);
      }
      phaseMarks.push({ name, at: performance.now() });
    };

    // Let the whole fleet join (node start-up takes a while on a busy machine) and the slots
    // settle over it before the faults.
    const joinedBy = performance.now() + bounds.startMs;
    const joinedCount = () => [...starts.values()].filter((w) => w.joined).length;
    const waitingToJoin = () => [...starts].some(([id, w]) => !w.joined && workers.get(id)?.alive);
    while (waitingToJoin() && performance.now() < joinedBy) await sleep(20);
    // Each fault needs a worker to hit and one to take over. Without them the fault is skipped
    // (the liveness checks then count it missing) rather than waited out to its bounds.
    const canFault = (what: string) => {
      const running = alive().filter((id) => starts.get(id)?.joined).length;
      if (running >= 2) return true;
      log(`only ${running} worker${running === 1 ? '' : 's'} running: no ${what}`);
      return false;
    };
    const fleetStarted = joinedCount() >= 2;
    if (!fleetStarted) log(`only ${joinedCount()} of ${o.workers} workers joined: no fault to inject`);
    else {
      const initial = await waitSettled(alive(), 5000);
      log(
        initial.at === undefined
          ? `slots not settled over ${alive().join(', ')} after start-up`
          : `${DEMO_SLOT_COUNT} slots held by ${alive().join(', ')}`,
      );
    }
    // Faults aimed at the leader (SIGKILL, graceful stop; the paused lock holder may be the leader
    // too), and membership changes (the killed leader, the paused holder leaving and rejoining,
    // the stopped leader, the newcomer), that the schedule makes.
    const leaderFaults = 2;
    const membershipChanges = 5;

    // 1. SIGKILL of the leader (a member like the others: its slots wait for its lease).
    if (fleetStarted) await at(0.15);
    const first = fleetStarted && canFault('SIGKILL of the leader') ? await waitLeader() : undefined;
    if (first) {
      await nextPhase('after SIGKILL of the leader');
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
    let pausing = false;
    if (fleetStarted) {
      await at(0.35);
      await waitSettled(alive(), 3000);
      pausing = canFault('SIGSTOP of a lock holder');
      if (pausing) await nextPhase('after SIGSTOP of a lock holder');
    }
    const leaderId = currentLeader()?.[0];
    const read = pausing
      ? ((await next((e) => e.ev === 'read' && e.accepted === true && e.worker !== leaderId, 3000)) ??
        (await next((e) => e.ev === 'read' && e.accepted === true, 3000)))
      : undefined;
    if (read) {
      const victim = workers.get(read.worker)!;
      pausedIds.add(victim.id);
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
      const rejoined = next((e) => e.ev === 'member' && e.worker === victim.id, bounds.slotsMs);
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
          `${victim.id}'s late write (token ${late.token}) ${late.accepted ? 'ACCEPTED: a safety failure' : 'refused by fencing, as it should be'}`,
        );
      await rejoining;
      await leaderChange;
    }

    // 3. Graceful stop of the leader: it hands its slots over, then closes its session.
    if (fleetStarted) await at(0.62);
    const leader = fleetStarted && canFault('graceful stop of the leader') ? await waitLeader() : undefined;
    if (leader) {
      await nextPhase('after the graceful stop');
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
    if (fleetStarted) {
      await at(0.75);
      await nextPhase('after the join');
      let joined = '';
      const members = { before: alive(), after: [...alive(), `w${seq + 1}`] };
      await measureSlots(`w${seq + 1} joined`, members, async () => {
        const member = next((e) => e.ev === 'member' && e.worker === joined, bounds.startMs);
        joined = start();
        faults.push(`${joined} joined`);
        log(`fault: new member ${joined} joins`);
        return (await member) ? performance.now() : undefined;
      });
      await at(1);
    }

    const endAt = performance.now();
    log('stopping the fleet');
    await cleanup();
    const audit = counter.audit();
    counter.close();
    const slotAudit = slotResource.audit();
    slotResource.close();
    const phases: PhaseProgress[] = phaseMarks.map((p, i) => ({
      name: p.name,
      ...progressSince(p.at, phaseMarks[i + 1]?.at ?? endAt),
    }));
    const elapsedMs = Math.round(performance.now() - tStart);
    const checks: Check[] = [
      checkOneLeaderPerTerm(claims),
      checkTermsIncrease(claims),
      checkCounterExact(audit),
      checkNoSlotDoubleOwned(slotAudit),
      checkWorkersStarted(
        [...starts].map(([worker, s]) => ({ worker, joined: s.joined, lastError: s.lastError })),
      ),
      {
        name: 'no worker crashed',
        kind: 'liveness',
        ok: crashes.length === 0,
        detail: crashes.length === 0 ? 'every worker ran until told to stop' : crashes.join('; '),
      },
      checkNewLeaderAfterEveryFault(failovers, leaderFaults, bounds.failoverMs),
      checkProgressInEveryPhase(phases),
      checkSlotsReassigned(slotChanges, membershipChanges, bounds.slotsMs),
      checkEndedOnTime(elapsedMs, o.durationMs, bounds.marginMs),
    ];
    const report: DemoReport = {
      store: storeUrl,
      workers: o.workers,
      durationMs: o.durationMs,
      ttlMs,
      ttlNote: chosen.note,
      elapsedMs,
      bounds,
      failovers,
      faults,
      leaderships: claims.length,
      phases,
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

/** What the demo's output speaks of, for a newcomer: one line each. */
export const GLOSSARY: readonly string[] = [
  'fencing token: a number that rises with every new lock holder; the resource refuses a write with a token lower than one it has seen, so a paused or late holder does no harm',
  'term: the fencing token of a leadership; every new leader has a higher one',
  `failover: ${FAILOVER_DEFINITION}, on this process's clock`,
  "phi: how surprised the heartbeat mesh is by a peer's silence (phi accrual); above 8 it suspects the peer, advisory only: ownership moves on lease expiry",
  "ideal moves: the fewest slots any assignment could move for a membership change (the departed member's share, or the newcomer's quota)",
  'late write refused: a worker wrote after losing its lock or slot (paused, or stopping mid-cycle); fencing refusing it is the expected, safe outcome',
];

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

/** The report as text. */
export function formatReport(r: DemoReport): string {
  const lines = [
    '',
    `REPORT  ${r.workers} workers, ${r.durationMs / 1000} s (ran ${(r.elapsedMs / 1000).toFixed(1)} s), session ttl ${r.ttlMs} ms: ${r.ttlNote}; store ${r.store}`,
    '',
    `Failovers (${FAILOVER_DEFINITION}; bound ${r.bounds.failoverMs} ms)`,
  ];
  for (const f of r.failovers)
    lines.push(
      `  ${f.cause.padEnd(30)} term ${f.fromTerm} → ` +
        (f.to ? `${f.to} in term ${f.toTerm}: ${f.ms} ms` : `no new leader within ${r.bounds.failoverMs} ms`),
    );
  if (r.failovers.length === 0) lines.push('  none');
  lines.push('', 'Faults injected', ...(r.faults.length ? r.faults.map((f) => `  ${f}`) : ['  none']), '');
  lines.push(
    `Lock cycles: ${r.lockCycles} fenced increments; late writes refused by fencing (expected, see above): ${r.staleWritesRejected}`,
    `Leaderships: ${r.leaderships}`,
    'Work per phase (lock cycles, fenced slot writes):',
    ...r.phases.map(
      (p) =>
        `  ${p.name.padEnd(32)} ${String(p.lockCycles).padStart(4)} cycles, ${String(p.slotWrites).padStart(5)} slot writes`,
    ),
  );
  lines.push(
    '',
    `Slots (ShardManager, ${r.slotCount} slots): moved vs ideal per membership change, and time until every slot`,
    `is held by its new owner (bound ${r.bounds.slotsMs} ms; what slot mod n would move; when the heartbeat mesh first suspected the departed member)`,
  );
  for (const c of r.slotChanges)
    lines.push(
      `  ${c.cause.padEnd(34)} → ${c.members.join(',').padEnd(15)} moved ${String(c.moved).padStart(2)}, ideal ${String(c.ideal).padStart(2)}` +
        `, ${c.ms === undefined ? 'not reassigned in time' : `reassigned in ${c.ms} ms`}` +
        `  (mod n: ${c.modulo}${c.suspectedMs === undefined ? '' : `; suspected after ${c.suspectedMs} ms`})`,
    );
  if (r.slotChanges.length === 0) lines.push('  no membership change measured');
  lines.push(
    `Slot writes: ${r.slots.takes} fenced takes, ${r.slots.writes} fenced writes; late slot writes refused ${r.slots.staleRejected}, accepted ${r.slots.staleAccepted}`,
  );
  for (const [kind, title] of [
    ['safety', 'Safety checks (nothing bad happened)'],
    ['liveness', 'Liveness checks (good things happened, in time)'],
  ] as const) {
    lines.push('', title);
    for (const c of r.checks.filter((x) => x.kind === kind))
      lines.push(`  ${c.ok ? 'PASS' : 'FAIL'}  ${c.name}: ${c.detail}`);
  }
  const failed = r.checks.filter((c) => !c.ok).map((c) => c.name);
  lines.push(
    '',
    `Verdict: ${r.ok ? 'PASS, every safety and liveness check held' : `FAIL (${failed.join('; ')})`}`,
    '',
  );
  return lines.join('\n');
}

/**
 * The demo's faults as data, and the small scheduler that injects them into a {@link Fleet} and
 * measures what followed (failovers, slot moves), recording everything in the run's event log.
 *
 * - `kill-leader`: SIGKILL of the leader (a member like the others: its slots wait for its lease).
 * - `pause-lock-holder`: SIGSTOP of a lock holder between its read and its write, for longer than
 *   its ttl, then SIGCONT: another worker takes the lock, the woken worker's late write is refused
 *   by the fenced counter, and it rejoins with a new session.
 * - `stop-leader`: a graceful stop of the leader: it hands its slots over, then closes its session.
 * - `join`: a new member joins, timed from its join, not from its process's start-up.
 */
import { failoverMs } from '../../inspect/failover.js';
import type { Store } from '../../store/types.js';
import { sleep } from '../../sleep.js';
import { progressBetween, type SlotChange } from './event-log.js';
import type { Fleet } from './fleet.js';
import type { DemoBounds } from './liveness.js';
import type { WorkerEvent } from './protocol.js';
import { DEMO_SLOT_COUNT, idealMoves, moduloMoves, type SlotState } from './slots.js';
import { leaderReader, settledWaiter } from './store-reads.js';

/** One fault; `at` is when, as a fraction of `--duration` from the fleet's start. */
export type FaultStep =
  | { readonly at: number; readonly kind: 'kill-leader' }
  /** `pauseTtls`: how long the pause lasts, in session ttls (above 1, so the lease expires). */
  | { readonly at: number; readonly kind: 'pause-lock-holder'; readonly pauseTtls: number }
  | { readonly at: number; readonly kind: 'stop-leader' }
  | { readonly at: number; readonly kind: 'join' };

/** The demo's schedule. The run must last {@link MIN_DURATION_TTLS} ttls to fit it. */
export const DEFAULT_FAULTS: readonly FaultStep[] = [
  { at: 0.15, kind: 'kill-leader' },
  { at: 0.35, kind: 'pause-lock-holder', pauseTtls: 2.5 },
  { at: 0.62, kind: 'stop-leader' },
  { at: 0.75, kind: 'join' },
];

/**
 * Checks a fault list: each step's `at` within (0, 1) and after the one before (the scheduler
 * runs them in order), and a pause longer than one ttl (shorter, the lease would not expire and
 * the step would show nothing).
 * @throws TypeError naming the step and what is wrong with it
 */
export function validateFaults(steps: readonly FaultStep[]): void {
  let previous = 0;
  steps.forEach((step, i) => {
    const name = `fault step ${i} (${step.kind})`;
    if (!(step.at > previous && step.at < 1))
      throw new TypeError(`${name}: at must be above ${previous} and below 1, got ${step.at}`);
    if (step.kind === 'pause-lock-holder' && !(step.pauseTtls > 1))
      throw new TypeError(`${name}: pauseTtls must be above 1, got ${step.pauseTtls}`);
    previous = step.at;
  });
}

/**
 * What a fault list promises, for the liveness checks: faults aimed at the leader (the paused
 * holder may be the leader too, but need not be), and membership changes (the killed or stopped
 * leader leaving, the paused holder leaving and rejoining, the newcomer).
 */
export function expectedOf(steps: readonly FaultStep[]): { leaderFaults: number; membershipChanges: number } {
  const count = (kinds: readonly FaultStep['kind'][]) => steps.filter((s) => kinds.includes(s.kind)).length;
  return {
    leaderFaults: count(['kill-leader', 'stop-leader']),
    membershipChanges: count(['kill-leader', 'stop-leader', 'join']) + 2 * count(['pause-lock-holder']),
  };
}

/** What the scheduler works with. */
export interface FaultContext {
  readonly fleet: Fleet;
  readonly store: Store;
  readonly bounds: DemoBounds;
  readonly ttlMs: number;
  readonly durationMs: number;
  /** The fleet's start, on the monotonic clock: `at` counts from here. */
  readonly t0: number;
  /** Narrates one line. */
  readonly say: (line: string) => void;
}

/** Injects `steps` in order, each at its time, then waits for the end of the run. */
export async function runFaults(steps: readonly FaultStep[], ctx: FaultContext): Promise<void> {
  await new FaultScheduler(ctx).run(steps);
}

class FaultScheduler {
  readonly #c: FaultContext;
  readonly #fleet: Fleet;
  readonly waitLeader: () => Promise<[string, number] | undefined>;
  readonly waitSettled: ReturnType<typeof settledWaiter>;

  constructor(ctx: FaultContext) {
    this.#c = ctx;
    this.#fleet = ctx.fleet;
    this.waitLeader = leaderReader(ctx.store, ctx.fleet.workers, ctx.fleet.leading);
    this.waitSettled = settledWaiter(ctx.store);
  }

  async run(steps: readonly FaultStep[]): Promise<void> {
    const { fleet, bounds, say } = this.#c;
    // Let the whole fleet join (node start-up takes a while on a busy machine) and the slots
    // settle over it before the faults.
    const joinedBy = performance.now() + bounds.startMs;
    const waitingToJoin = () => [...fleet.workers.values()].some((w) => !w.joined && w.alive);
    while (waitingToJoin() && performance.now() < joinedBy) await sleep(20);
    if (fleet.joinedCount() < 2) {
      say(`only ${fleet.joinedCount()} of ${fleet.workers.size} workers joined: no fault to inject`);
      return;
    }
    const initial = await this.waitSettled(fleet.alive(), 5000);
    say(
      initial.at === undefined
        ? `slots not settled over ${fleet.alive().join(', ')} after start-up`
        : `${DEMO_SLOT_COUNT} slots held by ${fleet.alive().join(', ')}`,
    );
    for (const step of steps) {
      await this.at(step.at);
      if (step.kind === 'kill-leader') await this.leaderFault('kill');
      else if (step.kind === 'pause-lock-holder') await this.pauseLockHolder(step.pauseTtls);
      else if (step.kind === 'stop-leader') await this.leaderFault('stop');
      else await this.join();
    }
    await this.at(1);
  }

  /** Sleeps until `fraction` of the run. */
  at(fraction: number): Promise<void> {
    return sleep(this.#c.t0 + this.#c.durationMs * fraction - performance.now());
  }

  /**
   * Each fault needs a worker to hit and one to take over. Without them the fault is skipped
   * (the liveness checks then count it missing) rather than waited out to its bounds.
   */
  canFault(what: string): boolean {
    const running = this.#fleet.running().length;
    if (running >= 2) return true;
    this.#c.say(`only ${running} worker${running === 1 ? '' : 's'} running: no ${what}`);
    return false;
  }

  /**
   * Progress per phase: a phase runs from one fault to the next. Before each fault, wait (at most
   * a failover bound) for the current phase to show a lock cycle and a fenced slot write, so that
   * a phase is not empty merely because the schedule was tight; the check still fails if none came.
   */
  async nextPhase(name: string): Promise<void> {
    const log = this.#fleet.log;
    const from = log.entries.findLast((e) => e.kind === 'phase')?.at ?? this.#c.t0;
    const until = performance.now() + this.#c.bounds.failoverMs;
    for (;;) {
      const p = progressBetween(log.entries, from);
      if ((p.lockCycles > 0 && p.slotWrites > 0) || performance.now() > until) break;
      await sleep(20);
    }
    log.record({ kind: 'phase', name });
  }

  /** SIGKILL (`kill`) or graceful stop (`stop`) of the leader the store names. */
  async leaderFault(cmd: 'kill' | 'stop'): Promise<void> {
    const { fleet, say } = this.#c;
    const what = cmd === 'kill' ? 'SIGKILL of the leader' : 'graceful stop of the leader';
    const leader = this.canFault(what) ? await this.waitLeader() : undefined;
    if (!leader) return;
    const [id, term] = leader;
    const cause = cmd === 'kill' ? `SIGKILL of leader ${id}` : `graceful stop of leader ${id}`;
    await this.nextPhase(cmd === 'kill' ? 'after SIGKILL of the leader' : 'after the graceful stop');
    fleet.log.record({ kind: 'fault', text: cause });
    say(
      cmd === 'kill'
        ? `fault: SIGKILL of the leader ${id} (term ${term})`
        : `fault: SIGTERM (graceful stop) of the leader ${id} (term ${term})`,
    );
    let failover: Promise<void> = Promise.resolve();
    await this.measureSlots(
      cause,
      { before: fleet.alive(), after: fleet.alive().filter((w) => w !== id) },
      () => {
        failover = this.measureFailover(cause, id, term, () => fleet.command(id, cmd));
      },
      // A crashed member's heartbeats stop: the mesh's time to suspicion is worth reporting.
      cmd === 'kill' ? id : undefined,
    );
    await failover;
  }

  /** SIGSTOP of a lock holder between its read and its write, for `pauseTtls` ttls. */
  async pauseLockHolder(pauseTtls: number): Promise<void> {
    const { fleet, bounds, ttlMs, say } = this.#c;
    const log = fleet.log;
    await this.waitSettled(fleet.alive(), 3000);
    if (!this.canFault('SIGSTOP of a lock holder')) return;
    await this.nextPhase('after SIGSTOP of a lock holder');
    const leaderId = fleet.currentLeader()?.[0];
    const isRead = (e: WorkerEvent): e is Extract<WorkerEvent, { ev: 'read' }> =>
      e.ev === 'read' && e.accepted;
    const read =
      (await log.next(
        (e, w): e is Extract<WorkerEvent, { ev: 'read' }> => isRead(e) && w !== leaderId,
        3000,
      )) ?? (await log.next(isRead, 3000));
    if (!read) return;
    const victim = fleet.workers.get(read.worker)!;
    const pauseMs = Math.round(ttlMs * pauseTtls);
    const wasLeader = fleet.leading.get(victim.id);
    log.record({ kind: 'fault', text: `SIGSTOP of lock holder ${victim.id} for ${pauseMs} ms` });
    say(
      `fault: SIGSTOP of ${victim.id}, holding the lock with fencing token ${read.event.token}, for ${pauseMs} ms (ttl ${ttlMs} ms)`,
    );
    const stoppedAt = performance.now();
    const taken = log.next(
      (e, w): e is Extract<WorkerEvent, { ev: 'lock' }> => e.ev === 'lock' && w !== victim.id,
      pauseMs,
    );
    let leaderChange: Promise<void> = Promise.resolve();
    // Its lease expires while it sleeps: it leaves the group and its slots move.
    const leaving = this.measureSlots(
      `SIGSTOP of ${victim.id} (lease expired)`,
      { before: fleet.alive(), after: fleet.alive().filter((id) => id !== victim.id) },
      () => {
        fleet.command(victim.id, 'pause');
        if (wasLeader !== undefined)
          leaderChange = this.measureFailover(
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
      say(
        `${takenBy.worker} took the lock (fencing token ${takenBy.event.token}) ${Math.round(performance.now() - stoppedAt)} ms after the pause began`,
      );
    await leaving;
    await sleep(stoppedAt + pauseMs - performance.now());
    const stale = log.next(
      (e, w): e is Extract<WorkerEvent, { ev: 'write' }> => e.ev === 'write' && w === victim.id,
      3000,
    );
    // Woken, it finds its session lost and rejoins with a new one: its quota moves back.
    const rejoined = log.next((e, w) => e.ev === 'member' && w === victim.id, bounds.slotsMs);
    const others = fleet.alive().filter((id) => id !== victim.id);
    const rejoining = this.measureSlots(
      `${victim.id} rejoined after SIGCONT`,
      { before: others, after: fleet.alive() },
      async () => {
        fleet.command(victim.id, 'resume');
        say(
          `SIGCONT to ${victim.id} (its own mesh heard nothing while stopped: it briefly suspects everyone)`,
        );
        return (await rejoined) ? performance.now() : undefined;
      },
    );
    const late = await stale;
    if (late)
      log.record({
        kind: 'fault',
        text: `${victim.id}'s late write (token ${late.event.token}) ${late.event.accepted ? 'ACCEPTED: a safety failure' : 'refused by fencing, as it should be'}`,
      });
    await rejoining;
    await leaderChange;
  }

  /** A new member joins: timed from its join, not from its process's start-up. */
  async join(): Promise<void> {
    const { fleet, bounds, say } = this.#c;
    await this.nextPhase('after the join');
    const id = fleet.nextId;
    const members = { before: fleet.alive(), after: [...fleet.alive(), id] };
    await this.measureSlots(`${id} joined`, members, async () => {
      const member = fleet.log.next((e, w) => e.ev === 'member' && w === id, bounds.startMs);
      fleet.start();
      fleet.log.record({ kind: 'fault', text: `${id} joined` });
      say(`fault: new member ${id} joins`);
      return (await member) ? performance.now() : undefined;
    });
  }

  /** Acts, then waits (up to the failover bound) for a new leader in a higher term than `fromTerm`. */
  async measureFailover(cause: string, from: string, fromTerm: number, act: () => void): Promise<void> {
    const { fleet, bounds, say } = this.#c;
    const faultAt = performance.now();
    const nextLeader = fleet.log.next(
      (e, w): e is Extract<WorkerEvent, { ev: 'leader' }> =>
        e.ev === 'leader' && w !== from && e.term > fromTerm,
      bounds.failoverMs,
    );
    act();
    const e = await nextLeader;
    const ms = e ? failoverMs(faultAt, performance.now()) : undefined;
    fleet.log.record({
      kind: 'failover',
      failover: { cause, from, fromTerm, to: e?.worker, toTerm: e?.event.term, ms },
    });
    say(
      e
        ? `failover after ${cause}: ${e.worker} leads term ${e.event.term} after ${ms} ms`
        : `no new leader within ${bounds.failoverMs} ms after ${cause}`,
    );
  }

  /**
   * Measures one membership change from `before` to `after` members: `act` makes it and may
   * return when to start the clock (default: when it ran); `departed` is the member whose
   * heartbeats stop, for the mesh's time to suspicion.
   */
  async measureSlots(
    cause: string,
    members: { before: readonly string[]; after: readonly string[] },
    act: () => void | Promise<number | undefined>,
    departed?: string,
  ): Promise<SlotChange> {
    const { fleet, bounds, say } = this.#c;
    const after = members.after;
    const before: SlotState = (await this.waitSettled(members.before, 3000)).state;
    if (departed) fleet.suspected.delete(departed);
    let from = performance.now();
    const started = await act();
    if (typeof started === 'number') from = started;
    const { state, at } = await this.waitSettled(after, bounds.slotsMs);
    const prior = before.holders.filter((h): h is string => h !== undefined);
    const suspectedAt = departed === undefined ? undefined : fleet.suspected.get(departed);
    const change: SlotChange = {
      cause,
      members: [...after].sort(),
      moved: state.holders.filter((h, i) => h !== before.holders[i]).length,
      ideal: idealMoves(prior, after),
      modulo: moduloMoves([...new Set(prior)], after, DEMO_SLOT_COUNT),
      ms: at === undefined ? undefined : Math.round(at - from),
      suspectedMs: suspectedAt === undefined ? undefined : Math.max(0, Math.round(suspectedAt - from)),
    };
    fleet.log.record({ kind: 'slot-change', change });
    say(
      at === undefined
        ? `slots after ${cause}: not all held by their new owners within ${bounds.slotsMs} ms`
        : `slots after ${cause}: ${change.moved} of ${DEMO_SLOT_COUNT} moved (ideal ${change.ideal}), all held again after ${change.ms} ms`,
    );
    return change;
  }
}

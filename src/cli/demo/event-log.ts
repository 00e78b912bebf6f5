/**
 * The demo's record of a run: every worker event as it arrived, and every step the orchestrator
 * took (a worker spawned or exited, a fault injected, a phase begun, a failover or slot change
 * measured), each stamped with the orchestrator's monotonic clock. The report and the checks
 * (verdict.ts, liveness.ts) are pure functions of this log, so they can be tested on a synthetic
 * log without a single process.
 */
import type { PhaseProgress, WorkerStart } from './liveness.js';
import type { WorkerEvent } from './protocol.js';
import type { LeaderClaim } from './verdict.js';

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

/** One entry of the log; `at` is the orchestrator's `performance.now()` when it was recorded. */
export type LogEntry = { readonly at: number } & (
  | { readonly kind: 'event'; readonly worker: string; readonly event: WorkerEvent }
  /** A line from a worker that did not parse: reported, not trusted. */
  | { readonly kind: 'invalid'; readonly worker: string; readonly line: string; readonly reason: string }
  | { readonly kind: 'spawned'; readonly worker: string }
  /** A worker's process ended; `crash` when it was not told to (its exit code or signal), with its last stderr line. */
  | { readonly kind: 'exited'; readonly worker: string; readonly crash?: string; readonly lastWords?: string }
  | { readonly kind: 'fault'; readonly text: string }
  /** A phase of the run begins (the first one with the fleet). */
  | { readonly kind: 'phase'; readonly name: string }
  | { readonly kind: 'failover'; readonly failover: Failover }
  | { readonly kind: 'slot-change'; readonly change: SlotChange }
);

/** An append-only log of one run, with listeners for what is appended. */
export class EventLog {
  readonly entries: LogEntry[] = [];
  readonly #listeners = new Set<(entry: LogEntry) => void>();

  /** Appends `entry` stamped now (or at `at`), and tells every listener. */
  record(entry: DistributiveOmit<LogEntry, 'at'>, at = performance.now()): LogEntry {
    const stamped = { ...entry, at } as LogEntry;
    this.entries.push(stamped);
    for (const listener of this.#listeners) listener(stamped);
    return stamped;
  }

  /** Calls `listener` for every entry appended from now on; returns a function that stops it. */
  listen(listener: (entry: LogEntry) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The next worker event that `pred` accepts, or undefined after `timeoutMs`. */
  next<E extends WorkerEvent>(
    pred: (event: WorkerEvent, worker: string) => event is E,
    timeoutMs: number,
  ): Promise<{ worker: string; event: E } | undefined>;
  next(
    pred: (event: WorkerEvent, worker: string) => boolean,
    timeoutMs: number,
  ): Promise<{ worker: string; event: WorkerEvent } | undefined>;
  next(
    pred: (event: WorkerEvent, worker: string) => boolean,
    timeoutMs: number,
  ): Promise<{ worker: string; event: WorkerEvent } | undefined> {
    return new Promise((resolve) => {
      const stop = this.listen((e) => {
        if (e.kind === 'event' && pred(e.event, e.worker)) done({ worker: e.worker, event: e.event });
      });
      const timer = setTimeout(() => done(undefined), timeoutMs);
      function done(found: { worker: string; event: WorkerEvent } | undefined) {
        clearTimeout(timer);
        stop();
        resolve(found);
      }
    });
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** The worker events of a log, with who sent them and when they arrived. */
function* events(log: readonly LogEntry[]): Generator<{ at: number; worker: string; event: WorkerEvent }> {
  for (const e of log) if (e.kind === 'event') yield e;
}

/** Every leadership claimed, in the order reported. */
export function leaderClaims(log: readonly LogEntry[]): LeaderClaim[] {
  const claims: LeaderClaim[] = [];
  for (const { worker, event } of events(log))
    if (event.ev === 'leader') claims.push({ worker, term: event.term });
  return claims;
}

/** How each spawned worker's start went: joined the group, or its last error. */
export function workerStarts(log: readonly LogEntry[]): WorkerStart[] {
  const starts = new Map<string, { joined: boolean; lastError?: string }>();
  for (const e of log) {
    if (e.kind === 'spawned') starts.set(e.worker, { joined: false });
    const start = 'worker' in e ? starts.get(e.worker) : undefined;
    if (!start) continue;
    if (e.kind === 'event' && e.event.ev === 'member') start.joined = true;
    if (e.kind === 'event' && e.event.ev === 'error') start.lastError = e.event.message;
    if (e.kind === 'exited' && e.crash !== undefined && !start.joined)
      start.lastError ??= `ended (${e.crash}) before joining`;
  }
  return [...starts].map(([worker, s]) => ({ worker, joined: s.joined, lastError: s.lastError }));
}

/** The workers that ended without being told to, with why. */
export function crashes(log: readonly LogEntry[]): string[] {
  return log.flatMap((e) =>
    e.kind === 'exited' && e.crash !== undefined
      ? [`${e.worker}: ${e.crash}${e.lastWords ? `: ${e.lastWords}` : ''}`]
      : [],
  );
}

/** Lock cycles (accepted counter writes) and accepted fenced slot writes that arrived in [from, to). */
export function progressBetween(
  log: readonly LogEntry[],
  from: number,
  to = Infinity,
): Omit<PhaseProgress, 'name'> {
  let lockCycles = 0;
  let slotWrites = 0;
  for (const { at, event } of events(log)) {
    if (at < from || at >= to) continue;
    if (event.ev === 'write' && event.accepted) lockCycles++;
    if (event.ev === 'slot-writes') slotWrites += event.count;
  }
  return { lockCycles, slotWrites };
}

/** The work done in each phase, a phase running from its mark to the next (the last to `endAt`). */
export function phases(log: readonly LogEntry[], endAt: number): PhaseProgress[] {
  const marks = log.filter((e) => e.kind === 'phase');
  return marks.map((m, i) => ({ name: m.name, ...progressBetween(log, m.at, marks[i + 1]?.at ?? endAt) }));
}

export const faults = (log: readonly LogEntry[]): string[] =>
  log.flatMap((e) => (e.kind === 'fault' ? [e.text] : []));
export const failovers = (log: readonly LogEntry[]): Failover[] =>
  log.flatMap((e) => (e.kind === 'failover' ? [e.failover] : []));
export const slotChanges = (log: readonly LogEntry[]): SlotChange[] =>
  log.flatMap((e) => (e.kind === 'slot-change' ? [e.change] : []));
/** Lines from workers that did not parse. */
export const invalidMessages = (log: readonly LogEntry[]): string[] =>
  log.flatMap((e) => (e.kind === 'invalid' ? [`${e.worker}: ${e.reason}`] : []));

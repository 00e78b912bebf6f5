/**
 * The demo's liveness checks: that things happened, and in time. The safety checks
 * (verdict.ts) hold trivially on a run where nothing happens, so a demo whose workers never got a
 * session would pass them; these fail it. Each bound is derived from the session ttl and the
 * store's own expiry bound, and printed with the report, so a reader can see what was promised.
 * Kept apart from the orchestrator so that each has a negative control in the tests.
 */
import type { Check } from './verdict.js';

/** What the demo's timing promises rest on. */
export interface BoundsInput {
  /** The workers' session ttl. */
  readonly ttlMs: number;
  /** The store's `capabilities.expiryBoundMs`: how late after its ttl a lease may expire. */
  readonly expiryBoundMs: number;
  /** `--duration`. */
  readonly durationMs: number;
}

/** The bounds the liveness checks hold the run to. */
export interface DemoBounds {
  /**
   * Allowance on top of the store's promises for the rest of the path: a watch delivery, the new
   * leader's campaign resolving, the report crossing a pipe, on a machine shared with others.
   */
  readonly slackMs: number;
  /**
   * From a fault to a new leader acting: a crashed leader's lease outlives its last heartbeat by
   * at most ttl + the store's expiry bound, then its successor's campaign resolves on the next
   * watch delivery (slack). A graceful stop or a resignation is much faster, under the same bound.
   */
  readonly failoverMs: number;
  /**
   * From a membership change to every slot held by its new owner: the departed member's lease
   * expiry (as for a failover), then the ShardManager's plan and the takes (one more slack).
   */
  readonly slotsMs: number;
  /** For every worker to start and join (node start-up, a session, the membership key). */
  readonly startMs: number;
  /** Beyond `--duration`: stopping the fleet (workers get SIGKILL 5 s after SIGTERM) and a ttl. */
  readonly marginMs: number;
  /** The whole run: `--duration` + margin. */
  readonly runMs: number;
}

/** Slack for delivery and scheduling on a shared machine. */
const SLACK_MS = 1000;
/** Workers' start-up allowance: node start-up of several processes on two busy cores. */
const START_MS = 10_000;
/** The orchestrator sends SIGKILL to workers still running this long after SIGTERM. */
export const STOP_GRACE_MS = 5000;

/** The bounds for a run with these settings. */
export function demoBounds(o: BoundsInput): DemoBounds {
  const failoverMs = o.ttlMs + o.expiryBoundMs + SLACK_MS;
  const marginMs = STOP_GRACE_MS + o.ttlMs;
  return {
    slackMs: SLACK_MS,
    failoverMs,
    slotsMs: failoverMs + SLACK_MS,
    startMs: START_MS,
    marginMs,
    runMs: o.durationMs + marginMs,
  };
}

/** A measured interval after a fault (undefined: it did not complete within its bound). */
export interface Measured {
  readonly cause: string;
  readonly ms: number | undefined;
}

/** How one worker's start went. */
export interface WorkerStart {
  readonly worker: string;
  /** It joined the demo's group (it had a session, a membership key, its loops running). */
  readonly joined: boolean;
  /** The last error it reported, if any. */
  readonly lastError?: string;
}

const liveness = (name: string, ok: boolean, detail: string): Check => ({
  name,
  ok,
  detail,
  kind: 'liveness',
});

/** Every worker started: each one joined the group within the start-up bound. */
export function checkWorkersStarted(starts: readonly WorkerStart[]): Check {
  const failed = starts.filter((s) => !s.joined);
  return liveness(
    'every worker started',
    starts.length > 0 && failed.length === 0,
    starts.length === 0
      ? 'no worker was started'
      : failed.length === 0
        ? `${starts.length} of ${starts.length} joined the group`
        : `${failed.length} of ${starts.length} never joined: ` +
          failed.map((s) => `${s.worker}: ${s.lastError ?? 'no error reported'}`).join('; '),
  );
}

/**
 * Every fault aimed at the leader was injected and followed by a new leader within `boundMs`.
 * `expected` is how many leader faults the schedule has: one not injected (there was no
 * leader to hit) counts as missing.
 */
export function checkNewLeaderAfterEveryFault(
  failovers: readonly Measured[],
  expected: number,
  boundMs: number,
): Check {
  const bad = failovers
    .filter((f) => f.ms === undefined || f.ms > boundMs)
    .map((f) =>
      f.ms === undefined
        ? `${f.cause}: no new leader within ${boundMs} ms`
        : `${f.cause}: new leader after ${f.ms} ms`,
    );
  const injected = failovers.length;
  if (injected < expected)
    bad.unshift(`${injected} of ${expected} leader faults injected (no leader, or no second worker, to hit)`);
  return liveness(
    'a new leader after every fault',
    bad.length === 0,
    bad.length === 0
      ? `${injected} leader faults, each followed by a new leader within ${boundMs} ms (ttl + the store's expiry bound + slack)`
      : `${bad.join('; ')} (bound ${boundMs} ms)`,
  );
}

/** Lock cycles and fenced writes between two faults. */
export interface PhaseProgress {
  readonly name: string;
  /** Counter increments accepted by the fenced counter. */
  readonly lockCycles: number;
  /** Slot writes accepted by the per-slot fenced resource. */
  readonly slotWrites: number;
}

/** In every phase of the run (before the faults, and after each), the fleet did work. */
export function checkProgressInEveryPhase(phases: readonly PhaseProgress[]): Check {
  const idle = phases.filter((p) => p.lockCycles === 0 || p.slotWrites === 0);
  return liveness(
    'lock cycles and fenced writes in every phase',
    phases.length > 0 && idle.length === 0,
    phases.length === 0
      ? 'no phase ran'
      : idle.length === 0
        ? phases.map((p) => `${p.name}: ${p.lockCycles} cycles, ${p.slotWrites} slot writes`).join('; ')
        : idle
            .map((p) => `${p.name}: ${p.lockCycles} lock cycles, ${p.slotWrites} fenced slot writes`)
            .join('; '),
  );
}

/** Every membership change was followed by every slot held by its new owner within `boundMs`. */
export function checkSlotsReassigned(changes: readonly Measured[], expected: number, boundMs: number): Check {
  const bad = changes
    .filter((c) => c.ms === undefined || c.ms > boundMs)
    .map((c) => (c.ms === undefined ? `${c.cause}: not settled` : `${c.cause}: ${c.ms} ms`));
  if (changes.length < expected) bad.unshift(`${changes.length} of ${expected} membership changes made`);
  return liveness(
    'every slot reassigned in time',
    bad.length === 0,
    bad.length === 0
      ? `${changes.length} membership changes, each settled within ${boundMs} ms`
      : `${bad.join('; ')} (bound ${boundMs} ms)`,
  );
}

/** The run, stopping the fleet included, ended within `--duration` plus the margin. */
export function checkEndedOnTime(elapsedMs: number, durationMs: number, marginMs: number): Check {
  const ok = elapsedMs <= durationMs + marginMs;
  return liveness(
    'the run ended on time',
    ok,
    `${(elapsedMs / 1000).toFixed(1)} s for --duration ${durationMs / 1000} s (margin ${marginMs / 1000} s: stopping the fleet, one ttl)`,
  );
}

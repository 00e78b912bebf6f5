/**
 * The demo's safety checks (its liveness checks are in liveness.ts), kept apart from the orchestrator so that each has a negative
 * control in the tests (a run that must fail if the check works), and {@link checkRun}: every
 * check of a run, from its recorded event log (event-log.ts).
 */
import type { CounterAudit } from './fenced-counter.js';
import type { SlotAudit } from './fenced-slots.js';
import {
  crashes,
  failovers,
  leaderClaims,
  phases,
  slotChanges,
  workerStarts,
  type LogEntry,
} from './event-log.js';
import {
  checkEndedOnTime,
  checkNewLeaderAfterEveryFault,
  checkProgressInEveryPhase,
  checkSlotsReassigned,
  checkWorkersStarted,
  type DemoBounds,
} from './liveness.js';

/** A worker's claim to lead, as it reported it. */
export interface LeaderClaim {
  readonly worker: string;
  readonly term: number;
}

/** One check's outcome. */
export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
  /** Safety: nothing bad happened (these hold on a run where nothing happens). Liveness: good things did happen, in time (liveness.ts). */
  readonly kind: 'safety' | 'liveness';
}

/** Never two leaders in one term. */
export function checkOneLeaderPerTerm(claims: readonly LeaderClaim[]): Check {
  const byTerm = new Map<number, Set<string>>();
  for (const c of claims) {
    const set = byTerm.get(c.term) ?? new Set();
    set.add(c.worker);
    byTerm.set(c.term, set);
  }
  const bad = [...byTerm].filter(([, ws]) => ws.size > 1);
  return {
    name: 'never two leaders in one term',
    kind: 'safety',
    ok: bad.length === 0,
    detail:
      bad.length === 0
        ? `${claims.length} leaderships, ${byTerm.size} distinct terms`
        : bad.map(([t, ws]) => `term ${t} claimed by ${[...ws].join(' and ')}`).join('; '),
  };
}

/** Each new leader's term is above every earlier one (terms are fencing tokens). */
export function checkTermsIncrease(claims: readonly LeaderClaim[]): Check {
  const bad: string[] = [];
  let highest = 0;
  for (const c of claims) {
    if (c.term <= highest) bad.push(`${c.worker} claimed term ${c.term} after term ${highest}`);
    highest = Math.max(highest, c.term);
  }
  return {
    name: 'terms strictly increase',
    kind: 'safety',
    ok: bad.length === 0,
    detail: bad.length === 0 ? `highest term ${highest}` : bad.join('; '),
  };
}

/** The counter equals the number of accepted increments, none of them lost. */
export function checkCounterExact(audit: CounterAudit): Check {
  const ok = audit.value === audit.accepted && audit.lostUpdates === 0;
  return {
    name: 'counter exact',
    kind: 'safety',
    ok,
    detail: ok
      ? `${audit.value} = ${audit.accepted} accepted increments, no lost update`
      : `counter is ${audit.value} after ${audit.accepted} accepted increments (${audit.lostUpdates} lost updates)`,
  };
}

/**
 * No slot ever had two owners acting on it: every take at the per-slot resource came with a
 * higher token than the one before, no stale write was accepted, and every stale write came from
 * an owner that had itself stopped owning the slot by then (its slot signal aborted or its session
 * deadline passed: a paused process waking up), never from one that still believed it owned it.
 */
export function checkNoSlotDoubleOwned(audit: SlotAudit): Check {
  const ok = audit.refusedTakes === 0 && audit.staleAccepted === 0 && audit.liveDoubleOwners === 0;
  const counts =
    `${audit.takes} takes, ${audit.writes} fenced writes; stale slot writes rejected ${audit.staleRejected}, ` +
    `accepted ${audit.staleAccepted}`;
  return {
    name: 'no slot ever double-owned',
    kind: 'safety',
    ok,
    detail: ok
      ? `${counts}, none by a writer that still owned its slot`
      : `${counts}; ${audit.refusedTakes} takes out of order, ${audit.liveDoubleOwners} writes by a second live owner: ${audit.examples.join('; ')}`,
  };
}

/** What a run's verdict rests on besides its event log. */
export interface RunFacts {
  /** The fenced counter's and the slot resource's own audits, read after the fleet stopped. */
  readonly counter: CounterAudit;
  readonly slots: SlotAudit;
  readonly bounds: DemoBounds;
  /** What the fault list promised (faults.ts `expectedOf`). */
  readonly expected: { readonly leaderFaults: number; readonly membershipChanges: number };
  /** When the fleet was told to stop, on the orchestrator's clock: the last phase's end. */
  readonly endAt: number;
  readonly elapsedMs: number;
  readonly durationMs: number;
}

/** Every safety and liveness check of a run, from its recorded event log. */
export function checkRun(log: readonly LogEntry[], facts: RunFacts): Check[] {
  const crashed = crashes(log);
  return [
    checkOneLeaderPerTerm(leaderClaims(log)),
    checkTermsIncrease(leaderClaims(log)),
    checkCounterExact(facts.counter),
    checkNoSlotDoubleOwned(facts.slots),
    checkWorkersStarted(workerStarts(log)),
    {
      name: 'no worker crashed',
      kind: 'liveness',
      ok: crashed.length === 0,
      detail: crashed.length === 0 ? 'every worker ran until told to stop' : crashed.join('; '),
    },
    checkNewLeaderAfterEveryFault(failovers(log), facts.expected.leaderFaults, facts.bounds.failoverMs),
    checkProgressInEveryPhase(phases(log, facts.endAt)),
    checkSlotsReassigned(slotChanges(log), facts.expected.membershipChanges, facts.bounds.slotsMs),
    checkEndedOnTime(facts.elapsedMs, facts.durationMs, facts.bounds.marginMs),
  ];
}

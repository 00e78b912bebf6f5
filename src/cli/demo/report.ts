/**
 * The demo's report: built from the run's event log and the resources' audits, as JSON or as
 * text for a newcomer.
 */
import { FAILOVER_DEFINITION } from '../../inspect/failover.js';
import type { CounterAudit } from './fenced-counter.js';
import type { SlotAudit } from './fenced-slots.js';
import {
  failovers,
  faults,
  invalidMessages,
  leaderClaims,
  phases,
  slotChanges,
  type Failover,
  type LogEntry,
  type SlotChange,
} from './event-log.js';
import type { DemoBounds, PhaseProgress } from './liveness.js';
import { DEMO_SLOT_COUNT } from './slots.js';
import { checkRun, type Check, type RunFacts } from './verdict.js';
import { redactUrl } from '../../store/redact-url.js';

export type { Failover, SlotChange } from './event-log.js';

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
  /** Worker reports that did not parse (protocol.ts), ignored: normally none. */
  readonly invalidMessages: string[];
  readonly checks: Check[];
  readonly ok: boolean;
  readonly dashboard: string | undefined;
}

/** The run's settings, as the report states them. */
export interface RunSettings {
  readonly store: string;
  readonly workers: number;
  readonly ttlMs: number;
  readonly ttlNote: string;
  readonly dashboard: string | undefined;
}

/** The report of a run, from its event log and the facts its checks rest on. */
export function buildReport(log: readonly LogEntry[], facts: RunFacts, settings: RunSettings): DemoReport {
  const checks = checkRun(log, facts);
  return {
    // What users see never carries their secrets: a store URL may hold a password.
    store: redactUrl(settings.store),
    workers: settings.workers,
    durationMs: facts.durationMs,
    ttlMs: settings.ttlMs,
    ttlNote: settings.ttlNote,
    elapsedMs: facts.elapsedMs,
    bounds: facts.bounds,
    failovers: failovers(log),
    faults: faults(log),
    leaderships: leaderClaims(log).length,
    phases: phases(log, facts.endAt),
    lockCycles: facts.counter.accepted,
    staleWritesRejected: facts.counter.rejected,
    counter: facts.counter,
    slotCount: DEMO_SLOT_COUNT,
    slotChanges: slotChanges(log),
    slots: facts.slots,
    invalidMessages: invalidMessages(log),
    checks,
    ok: checks.every((c) => c.ok),
    dashboard: settings.dashboard,
  };
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
  if (r.invalidMessages.length > 0)
    lines.push(
      `Worker reports that did not parse, ignored: ${r.invalidMessages.length} (${r.invalidMessages[0]}, ...)`,
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

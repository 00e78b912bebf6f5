/**
 * The dashboard's Models view: live measurements of the fleet beside what tenure/models predicts
 * for them (docs/models.md).
 *
 * - **Failovers**: each election's measured failovers (the read model's estimate: from the old
 *   leader's last renewal seen, so an upper bound by up to one keepalive interval) beside the
 *   failover model's range, p50 and p99 for a crash on this store, with the ttl given or estimated
 *   as the longest time left seen on any session (a lease just renewed has its whole ttl left).
 * - **Slots**: each slot map's slots per member, held and planned, peak over average, beside the
 *   slot table's expected ⌈S/n⌉/(S/n).
 * - **Suspicion**: each member's published phi beside its peers' threshold, with what they mean
 *   under the detector's model: a live member is that late with probability 10^−phi.
 *
 * Pure: a function of one snapshot and a few facts about the store.
 */
import type { FleetSnapshot } from '../inspect/model.js';
import { failoverTime, FAILOVER_STORE_PROFILES, type FailoverStore } from '../models/index.js';

/** Facts the view needs beyond the snapshot. */
export interface ModelsViewOptions {
  /** The store's backend (`store.capabilities.backend`); unknown ones get no failover model. */
  backend: string;
  /** The sessions' ttl, ms. @default estimated from the snapshot's sessions */
  ttlMs?: number;
}

/** One election's failovers, measured and predicted. */
export interface FailoverComparison {
  election: string;
  /** Failovers this view measured (ms), oldest first. */
  measuredMs: number[];
  /** The ttl the prediction used, and where it came from. */
  ttlMs: number | undefined;
  ttlSource: 'option' | 'estimated' | 'unknown';
  /** The failover model for a crash (SIGKILL) on this store; undefined without a ttl or a known backend. */
  predicted: { minMs: number; p50Ms: number; p99Ms: number; maxMs: number } | undefined;
  /** Measured failovers above the predicted maximum (the read model's estimate may add up to a keepalive interval). */
  aboveRange: number;
}

/** One slot map's balance. */
export interface SlotBalance {
  group: string;
  slotCount: number;
  /** Members holding or planned to hold slots. */
  members: number;
  /** Most slots held by one member over the average (null when no slot is held). */
  heldPeakToAverage: number | null;
  /** The same for the committed table (null without a table). */
  plannedPeakToAverage: number | null;
  /** What a quota-exact slot table gives: ⌈S/n⌉ / (S/n). */
  expectedPeakToAverage: number;
  /** Slots whose holder is not the planned owner (moving, or not yet taken). */
  misplaced: number;
}

/** One member's published suspicion. */
export interface SuspicionReading {
  group: string;
  member: string;
  phi: number;
  threshold: number | undefined;
  /** Under the detector's model, the chance that a live member is this late: 10^−phi. */
  lateChance: number;
  suspected: boolean;
}

/** Everything the Models view shows. */
export interface ModelsView {
  failovers: FailoverComparison[];
  slots: SlotBalance[];
  suspicion: SuspicionReading[];
}

function peakToAverage(owners: readonly (string | null)[]): { ratio: number | null; members: Set<string> } {
  const counts = new Map<string, number>();
  for (const o of owners) if (o !== null) counts.set(o, (counts.get(o) ?? 0) + 1);
  if (counts.size === 0) return { ratio: null, members: new Set() };
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  let max = 0;
  for (const c of counts.values()) max = Math.max(max, c);
  return { ratio: max / (total / counts.size), members: new Set(counts.keys()) };
}

/**
 * The Models view of one snapshot.
 * @example
 * ```ts
 * modelsView(view.snapshot(), { backend: store.capabilities.backend }).failovers;
 * ```
 */
export function modelsView(snapshot: FleetSnapshot, options: ModelsViewOptions): ModelsView {
  const remaining = snapshot.sessions
    .map((s) => s.remainingMs)
    .filter((ms): ms is number => ms !== undefined);
  const estimated = remaining.length > 0 ? Math.ceil(Math.max(...remaining)) : undefined;
  const ttlMs = options.ttlMs ?? estimated;
  const ttlSource =
    options.ttlMs !== undefined ? 'option' : estimated !== undefined ? 'estimated' : 'unknown';
  const known = Object.keys(FAILOVER_STORE_PROFILES).includes(options.backend);
  let predicted: FailoverComparison['predicted'];
  if (known && ttlMs !== undefined && ttlMs >= 3) {
    const p = failoverTime({ stop: 'sigkill', ttlMs, store: options.backend as FailoverStore });
    predicted = { minMs: p.minMs, p50Ms: p.p50Ms, p99Ms: p.p99Ms, maxMs: p.maxMs };
  }
  const failovers = snapshot.elections.map((e) => {
    const measuredMs = e.history.map((t) => t.failoverMs).filter((ms): ms is number => ms !== undefined);
    return {
      election: e.name,
      measuredMs,
      ttlMs,
      ttlSource,
      predicted,
      aboveRange: predicted === undefined ? 0 : measuredMs.filter((ms) => ms > predicted.maxMs).length,
    } satisfies FailoverComparison;
  });
  const slots = snapshot.slots.map((m) => {
    const held = peakToAverage(m.owners);
    const planned = peakToAverage(m.planned);
    const members = new Set([...held.members, ...planned.members]).size;
    const s = m.owners.length;
    return {
      group: m.name,
      slotCount: s,
      members,
      heldPeakToAverage: held.ratio,
      plannedPeakToAverage: planned.ratio,
      expectedPeakToAverage: members === 0 || s === 0 ? 1 : Math.ceil(s / members) / (s / members),
      misplaced: m.planned.some((p) => p !== null) ? m.owners.filter((o, i) => o !== m.planned[i]).length : 0,
    } satisfies SlotBalance;
  });
  const suspicion = snapshot.members
    .filter((m) => m.phi !== undefined)
    .map((m) => ({
      group: m.group,
      member: m.id,
      phi: m.phi!,
      threshold: m.phiThreshold,
      lateChance: 10 ** -m.phi!,
      suspected: m.phiThreshold !== undefined && m.phi! >= m.phiThreshold,
    }));
  return { failovers, slots, suspicion };
}

/**
 * One definition of a failover's duration, for everything that shows one: the demo's report, the
 * dashboard and `tenure watch` (both through FleetView).
 *
 * **Failover time: from the fault to the new leader acting.** The fault is the moment the old
 * leader stopped acting as leader (it crashed, froze, resigned, or closed its session). The new
 * leader is *acting* once its campaign has resolved: `Election.campaign()` returned its Leadership
 * (for `tenure elect`, the moment its command may start with `TENURE_TERM` set). That is the
 * earliest moment it can do a leader's work, and the moment the store shows its key first in the
 * election (its campaign resolves on the watch delivery of its predecessor's deletion). Not the
 * new leader's first fenced write: that depends on what the leader does, and a store observer
 * cannot see it.
 *
 * Observers differ only in what evidence they have of the two instants:
 * - an observer that injects the fault (the demo) knows its instant exactly, and hears the new
 *   leader report its campaign resolving (one pipe hop after it did);
 * - an observer of the store alone (FleetView) sees the new leader acting when its key heads the
 *   election (within one watch delivery) and estimates the fault with {@link estimateFaultAt}.
 *
 * This module is pure: no I/O, no clock of its own; instants are on one monotonic clock
 * (`performance.now()` of the observer), never another machine's.
 */

/** What a store observer knows of a leader that has just been replaced. */
export interface DepartedLeader {
  /** When the observer last saw the old leader's lease renewed (undefined: never saw it renewed). */
  readonly lastRenewedAt: number | undefined;
  /** When the observer last saw the old leader still leading (its key first in the election). */
  readonly lastSeenLeadingAt: number;
  /**
   * How the old leader went. `expired`: its lease ran out (it crashed, froze or lost the store),
   * so it stopped acting at some point after its last renewal. `let-go`: it resigned, or closed
   * its session (its lease was revoked before it was due), so it acted until it let go.
   */
  readonly departure: 'expired' | 'let-go';
}

/**
 * The fault's instant, as well as a store observer can tell: for an expired lease, its last
 * renewal seen (the holder was alive then; the estimate is early by at most one heartbeat
 * interval, ttl/3 by default, plus the observer's refresh interval); for a leader that let go, the
 * last moment it was seen leading (early by at most the observer's refresh interval). Either way
 * the failover time computed from it is an upper bound, close to what the injector measures.
 */
export function estimateFaultAt(d: DepartedLeader): number {
  return d.departure === 'expired' && d.lastRenewedAt !== undefined ? d.lastRenewedAt : d.lastSeenLeadingAt;
}

/**
 * Failover time in whole milliseconds: from `faultAt` to `actingAt` (the new leader's campaign
 * resolved, as the observer saw it), never negative (an observer can see the new leader before
 * it hears of the fault it injected only through scheduling noise).
 */
export function failoverMs(faultAt: number, actingAt: number): number {
  return Math.max(0, Math.round(actingAt - faultAt));
}

/** What a store observer's estimate counts from, by departure, for its event text. */
export const FAULT_ESTIMATE: Readonly<Record<DepartedLeader['departure'], string>> = Object.freeze({
  expired: 'from its last heartbeat seen; the crash came up to one heartbeat interval later',
  'let-go': 'from when it let go',
});

/** The definition in one line, for reports and help texts. */
export const FAILOVER_DEFINITION = 'from the fault to the new leader acting (its campaign resolved)';

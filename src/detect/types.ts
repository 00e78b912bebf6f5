/** What every failure detector of tenure/detect offers, so that callers can swap them. */

/**
 * A failure detector for one monitored peer: fed the arrival of each heartbeat, it answers how
 * suspicious the silence since the last one is.
 *
 * Detectors are advisory: they read local timing only and can be wrong both ways (a paused or
 * overloaded process looks dead; a process cut off from the store but not from its peers looks
 * alive). Use them to route around slow peers and to show health, never to decide who owns
 * something: that is what leases are for (see {@link index!HeartbeatMesh}).
 */
export interface FailureDetector {
  /** Records a heartbeat arriving now (on the detector's clock). */
  heartbeat(): void;
  /**
   * The suspicion level now: 0 before the first heartbeat, then growing with silence. Its scale is
   * the detector's own (phi for {@link PhiAccrualDetector}, elapsed/timeout for
   * {@link FixedTimeoutDetector}); compare it with {@link FailureDetector.threshold}.
   */
  suspicion(): number;
  /** The suspicion level at and above which the peer is considered unavailable. */
  readonly threshold: number;
  /** True while `suspicion() < threshold` (always true before the first heartbeat). */
  isAvailable(): boolean;
  /** The clock time of the last heartbeat, or undefined before the first. */
  readonly lastHeartbeatAt: number | undefined;
}

/** Creates one detector per monitored peer. */
export type FailureDetectorFactory = () => FailureDetector;

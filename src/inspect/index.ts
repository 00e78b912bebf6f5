/**
 * inspect/: the read model of a whole store, for every reader (the CLI, the dashboard, the demo,
 * tests): {@link inspectStore} reads it once, {@link FleetFollower} keeps it current from one
 * watch. Built only from the recipes' layouts' describe(); it imports store/ and recipes/, and
 * nothing above it (see docs/architecture.md).
 */
export * from './model.js';
export { inspectStore, readKeys } from './read.js';
export {
  FleetFollower,
  FLEET_FOLLOWER_DEFAULTS,
  type FleetFollowerOptions,
  type LeaseAge,
  type SessionEnd,
} from './follow.js';
export { LeaseTracker } from './leases.js';
export { estimateFaultAt, failoverMs, FAULT_ESTIMATE, FAILOVER_DEFINITION } from './failover.js';

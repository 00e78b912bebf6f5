/**
 * tenure/models: models of failure, pure functions with no I/O. Each predicts, from a
 * configuration, what users otherwise learn in production, and each is checked against
 * simulation or measurement (test/models/, bench/models.ts). Formulas and assumptions:
 * docs/models.md.
 *
 * - availability: k-of-n quorum availability (binomial, and a Markov model with repair), downtime
 *   per year, SQLite on one host against 3 and 5 etcd members;
 * - failover: the distribution of "leader gone → new leader acting" for SIGKILL and graceful stop;
 * - detection: false suspicions per member-hour and detection time of the phi accrual and
 *   fixed-timeout detectors, and the threshold for a target false-suspicion rate;
 * - placement: peak/average load and keys moved for each hashing algorithm, ring points needed;
 * - contention: M/G/1 lock waits and one lock's throughput bound.
 *
 * Bad input throws a TenureError with code TENURE_INVALID_ARGUMENT naming the argument.
 * @example
 * ```ts
 * import { quorumAvailability } from 'tenure/models';
 * quorumAvailability({ members: 3, memberAvailability: 0.999 }).downtimeMinutesPerYear;
 * ```
 * @packageDocumentation
 */
export {
  quorumAvailability,
  markovAvailability,
  memberAvailability,
  compareDeployments,
  MINUTES_PER_YEAR,
  type QuorumAvailabilityInput,
  type MarkovAvailabilityInput,
  type AvailabilityPrediction,
  type DeploymentAvailability,
} from './availability.js';
export {
  failoverTime,
  failoverCdf,
  FAILOVER_STORE_PROFILES,
  type FailoverInput,
  type FailoverPrediction,
  type FailoverStore,
} from './failover.js';
export {
  detectionModel,
  thresholdFor,
  type InterArrival,
  type DetectorModel,
  type DetectionInput,
  type DetectionPrediction,
  type ThresholdChoice,
} from './detection.js';
export {
  placementModel,
  pointsPerNodeFor,
  PLACEMENT_ALGORITHMS,
  type PlacementAlgorithm,
  type PlacementInput,
  type PlacementPrediction,
} from './placement.js';
export {
  contentionModel,
  lockThroughputBound,
  type HoldTime,
  type ContentionInput,
  type ContentionPrediction,
} from './contention.js';

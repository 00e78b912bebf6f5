/**
 * tenure/detect: failure detectors, pure (no I/O, an injectable clock).
 *
 * - {@link PhiAccrualDetector}: phi accrual (Hayashibara et al. 2004) with Akka's defaults.
 * - {@link FixedTimeoutDetector}: suspect after a fixed silence.
 *
 * Suspicion is advisory: route around suspected peers and show it on dashboards, but decide
 * ownership only by lease expiry (see the recipes' ShardManager).
 * @packageDocumentation
 */
export type { FailureDetector, FailureDetectorFactory } from './types.js';
export { PhiAccrualDetector, PHI_ACCRUAL_DEFAULTS, type PhiAccrualOptions } from './phi-accrual.js';
export { FixedTimeoutDetector, FIXED_TIMEOUT_DEFAULTS, type FixedTimeoutOptions } from './fixed-timeout.js';
export { phiOfDeviation, logNormalTail } from './normal.js';

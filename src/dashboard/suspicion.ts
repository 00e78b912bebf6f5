/**
 * Published suspicion moved to the fleet recipes (src/recipes/fleet/suspicion.ts): publishing is a
 * write, and the dashboard only reads. Kept here for one release.
 * @deprecated import `publishSuspicion` from `tenure` (or the recipes) instead.
 */
export {
  /** @deprecated import from `tenure` instead; removed in the next release. */
  publishSuspicion,
  SUSPICION_PREFIX,
  type PublishSuspicionOptions,
  type PublishedSuspicion,
} from '../recipes/fleet/suspicion.js';

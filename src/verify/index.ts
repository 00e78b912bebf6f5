/**
 * `tenure/verify`: histories of operations and the checkers that prove or refute them.
 *
 * - {@link History}: invoke / ok / fail / info events, JSON lines in and out (docs/verify.md).
 * - {@link checkLinearizability}: the Store's key-value operations, key by key, with the minimal
 *   failing window of a violation ({@link renderTimelineSvg} draws it).
 * - {@link checkLocks}, {@link checkElections}, {@link checkSemaphores}, {@link checkRWLocks},
 *   {@link checkShards}, {@link checkSessions}: the recipes' safety rules.
 * - {@link simulate}: a deterministic simulation of every recipe under faults, one seed at a time
 *   ({@link renderSimulation} prints a failing seed's replay and schedule).
 */
export {
  History,
  monotonicNow,
  type EventType,
  type HistoryEvent,
  type Operation,
  type OperationStatus,
  type ProcessId,
} from './history.js';
export { KV_OPERATIONS, type KvOp, type KvState } from './kv-model.js';
export {
  checkLinearizability,
  LINEARIZABILITY_DEFAULTS,
  renderWindowText,
  type LinearizabilityOptions,
  type LinearizabilityResult,
  type LinearizabilityViolation,
  type WindowOperation,
} from './linearizability.js';
export { renderTimelineSvg, type TimelineSvgOptions } from './timeline-svg.js';
export {
  checkElections,
  checkLocks,
  checkRWLocks,
  checkSemaphores,
  checkSessions,
  checkShards,
  type RecipeCheckOptions,
  type RecipeCheckResult,
  type RecipeRule,
  type RecipeViolation,
} from './recipes.js';
export {
  RecordingStore,
  keyValueOperations,
  type KeyValueOperations,
  type RecordingStoreOptions,
} from './recorder.js';
export {
  REGISTER_WORKLOAD_DEFAULTS,
  runRegisterWorkload,
  seededRandom,
  type RegisterWorkloadOptions,
  type RegisterWorkloadStats,
} from './workload.js';
export { BREAKAGES, breakStore, type Breakage } from './broken-store.js';
export {
  SIMULATION_DEFAULTS,
  SIMULATION_RECIPES,
  SIMULATION_VARIANTS,
  VARIANT_RECIPE,
  renderSimulation,
  simulate,
  type SimulationOptions,
  type SimulationRecipe,
  type SimulationResult,
  type SimulationVariant,
} from './simulation.js';

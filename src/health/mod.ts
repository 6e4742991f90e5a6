/**
 * Fleet health: a state (`ok`, `degraded`, `down`, `idle`, `unknown`) with reasons for every
 * device, miner, rig and the fleet, per-algorithm totals, and the thresholds that decide them
 * (fleet defaults, per-rig and per-profile overrides in `health.json`). The CLI, the API, the
 * metrics, the event stream, the dashboard and the alert engine all read this one model.
 *
 * @example
 * ```ts
 * import { DEFAULT_THRESHOLDS } from "../protocol/mod.ts";
 * import { HealthTracker } from "./mod.ts";
 * const tracker = new HealthTracker({ thresholds: () => DEFAULT_THRESHOLDS });
 * const health = tracker.evaluate([
 *   { id: "a".repeat(32), name: "rig1", online: false, offlineReason: "timeout", updatedAt: null, miners: [] },
 * ]);
 * console.log(health.rigs[0].state, health.rigs[0].reasons[0].message); // down rig offline (timeout)
 * ```
 * @module
 */
export {
  algorithmOf,
  algorithmTotals,
  emptyHealthCounts,
  type Expected,
  fleetStateOf,
  formatDuration,
  HealthTracker,
  type HealthTrackerOptions,
  type RigInput,
  worse,
} from "./tracker.ts";
export {
  emptyHealthConfig,
  HealthConfigStore,
  parseThresholdPairs,
  resolveThresholds,
  THRESHOLD_KEYS,
  ThresholdError,
  type ThresholdScope,
  type ThresholdSubject,
  validateOverride,
} from "./config.ts";
export { formatHashrate } from "./format.ts";

/**
 * Where the alert engine's files live under a node's home.
 * @module
 */
import { join } from "node:path";
import type { NodePaths } from "../store/mod.ts";

/** The alert engine's files. */
export interface AlertFiles {
  /** Engine state (data home). */
  state: string;
  /** Delivery status per channel (data home). */
  deliveries: string;
  /** Channels, with their secrets (data home, 0600). */
  channels: string;
  /** Rule changes (config home). */
  rules: string;
  /** Silences (config home). */
  silences: string;
  /** Acknowledgements (config home). */
  acks: string;
  /** Health thresholds (config home). */
  health: string;
}

/** The alert engine's files for a node home. */
export function alertFiles(paths: Pick<NodePaths, "configDir" | "dataDir">): AlertFiles {
  return {
    state: join(paths.dataDir, "alerts", "state.json"),
    deliveries: join(paths.dataDir, "alerts", "deliveries.json"),
    channels: join(paths.dataDir, "alert_channels.json"),
    rules: join(paths.configDir, "alert_rules.json"),
    silences: join(paths.configDir, "alert_silences.json"),
    acks: join(paths.configDir, "alert_acks.json"),
    health: join(paths.configDir, "health.json"),
  };
}

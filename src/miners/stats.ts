/**
 * The normalized miner statistics every adapter maps to (hashrates in H/s; `null` where the miner
 * has not measured a window yet, as XMRig reports right after start).
 * @module
 */
import type { MinerStats } from "../protocol/mod.ts";

/** What an adapter reads from a miner (merged into {@link MinerStats}). */
export type AdapterStats =
  & Partial<
    Pick<
      MinerStats,
      | "hashrate"
      | "shares"
      | "pool"
      | "algorithm"
      | "difficulty"
      | "paused"
      | "version"
      | "threads"
      | "devices"
    >
  >
  & {
    /** Uptime reported by the miner itself, in seconds. */
    minerUptime?: number;
  };

const clip = (v: string | null, max: number): string | null =>
  v !== null && v.length > max ? v.slice(0, max - 1) + "…" : v;

/**
 * Stats within {@link MinerStatsSchema}'s bounds: what a miner reports (its version, pool, error
 * texts, device names) is cut to fit, so the stats a worker sends always validate.
 */
export function clampStats(s: MinerStats): MinerStats {
  return {
    ...s,
    pool: clip(s.pool, 300),
    algorithm: clip(s.algorithm, 64),
    version: clip(s.version, 64),
    lastError: clip(s.lastError, 2000),
    threads: s.threads.slice(0, 1024),
    devices: s.devices.slice(0, 64).map((d) => ({ ...d, name: clip(d.name, 128) })),
    restartLog: s.restartLog.slice(-50).map((r) => ({ ...r, reason: clip(r.reason, 500)! })),
  };
}

/** Zero-valued stats for a miner that has not reported anything. */
export function emptyStats(
  name: string,
  type: MinerStats["type"],
  profileId: string | null,
): MinerStats {
  return {
    name,
    type,
    profileId,
    state: "stopped",
    pid: null,
    hashrate: { now: null, avg60: null, avg15m: null },
    shares: { accepted: 0, rejected: 0 },
    pool: null,
    algorithm: null,
    difficulty: null,
    uptime: 0,
    paused: false,
    version: null,
    threads: [],
    devices: [],
    restarts: 0,
    restartLog: [],
    startedAt: null,
    lastError: null,
  };
}

export { formatHashrate } from "../health/mod.ts";

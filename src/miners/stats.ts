/**
 * The normalized miner statistics every adapter maps to (hashrates in H/s; `null` where the miner
 * has not measured a window yet, as XMRig reports right after start).
 * @module
 */
import { z } from "zod";
import { MinerTypeSchema } from "./profiles.ts";

/** Lifecycle states of a supervised miner. */
export const MinerStateSchema = z.enum([
  "starting",
  "running",
  "paused",
  "restarting",
  "stopping",
  "stopped",
  "failed",
]);
/** A miner state. */
export type MinerState = z.infer<typeof MinerStateSchema>;

const Rate = z.number().nonnegative().nullable();

/** One restart, with its reason. */
export const RestartSchema = z.object({ at: z.string().max(40), reason: z.string().max(500) });
/** A restart record. */
export type Restart = z.infer<typeof RestartSchema>;

/** Normalized stats of one miner. */
// Bounded: stats also arrive from remote workers, whose strings are never trusted.
export const MinerStatsSchema = z.object({
  name: z.string().max(64),
  type: MinerTypeSchema,
  profileId: z.string().max(64).nullable(),
  state: MinerStateSchema,
  pid: z.number().int().nullable(),
  hashrate: z.object({ now: Rate, avg60: Rate, avg15m: Rate }),
  shares: z.object({
    accepted: z.number().int().nonnegative(),
    rejected: z.number().int().nonnegative(),
  }),
  pool: z.string().max(300).nullable(),
  algorithm: z.string().max(64).nullable(),
  difficulty: z.number().nonnegative().nullable(),
  /** Seconds since the current process started. */
  uptime: z.number().nonnegative(),
  paused: z.boolean(),
  version: z.string().max(64).nullable(),
  threads: z.array(z.object({ hashrate: Rate })).max(1024),
  devices: z.array(z.object({
    name: z.string().max(128).nullable(),
    hashrate: Rate,
    temp: z.number().nullable(),
    fan: z.number().nullable(),
  })).max(64),
  restarts: z.number().int().nonnegative(),
  restartLog: z.array(RestartSchema).max(50),
  startedAt: z.string().max(40).nullable(),
  lastError: z.string().max(2000).nullable(),
});
/** Normalized stats. */
export type MinerStats = z.infer<typeof MinerStatsSchema>;

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

/** Formats H/s with a unit (e.g. `1.23 kH/s`). */
export function formatHashrate(hs: number | null | undefined): string {
  if (hs === null || hs === undefined) return "-";
  const units = ["H/s", "kH/s", "MH/s", "GH/s", "TH/s", "PH/s"];
  let v = hs;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(v >= 100 || i === 0 ? (i === 0 ? 1 : 0) : 2)} ${units[i]}`;
}

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
export const RestartSchema = z.object({ at: z.string(), reason: z.string() });
/** A restart record. */
export type Restart = z.infer<typeof RestartSchema>;

/** Normalized stats of one miner. */
export const MinerStatsSchema = z.object({
  name: z.string(),
  type: MinerTypeSchema,
  profileId: z.string().nullable(),
  state: MinerStateSchema,
  pid: z.number().int().nullable(),
  hashrate: z.object({ now: Rate, avg60: Rate, avg15m: Rate }),
  shares: z.object({
    accepted: z.number().int().nonnegative(),
    rejected: z.number().int().nonnegative(),
  }),
  pool: z.string().nullable(),
  algorithm: z.string().nullable(),
  difficulty: z.number().nonnegative().nullable(),
  /** Seconds since the current process started. */
  uptime: z.number().nonnegative(),
  paused: z.boolean(),
  version: z.string().nullable(),
  threads: z.array(z.object({ hashrate: Rate })),
  devices: z.array(z.object({
    name: z.string().nullable(),
    hashrate: Rate,
    temp: z.number().nullable(),
    fan: z.number().nullable(),
  })),
  restarts: z.number().int().nonnegative(),
  restartLog: z.array(RestartSchema),
  startedAt: z.string().nullable(),
  lastError: z.string().nullable(),
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

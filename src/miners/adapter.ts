/**
 * The adapter interface every miner type implements.
 * @module
 */
import { MinerCliError } from "../errors/mod.ts";
import type { Profile } from "./profiles.ts";
import type { AdapterStats } from "./stats.ts";
import { type MinerType } from "../protocol/mod.ts";

/** Everything an adapter needs to launch and talk to one miner process. */
export interface LaunchContext {
  /** Resolved executable. */
  binary: string;
  /** Private working directory of this miner (config files go here, mode 0700). */
  workDir: string;
  /** A free 127.0.0.1 port for the miner's API. */
  apiPort: number;
  /** Random token for the miner's API. */
  apiToken: string;
  /** Worker name (used as XMRig rig-id when the profile sets none). */
  minerName: string;
  /** Logical CPU count of this machine (for `threads: auto`). */
  cpuThreads: number;
  /** This node's farm stratum endpoint (`pool: farm`), when it has one. */
  farmUrl?: string | null;
  /** Free memory in bytes (null when unknown): picks RandomX light mode for farm miners. */
  freeMemoryBytes?: number | null;
}

/** Raised by an adapter when the miner's API cannot be read. */
export class MinerApiError extends MinerCliError {
  /** Creates the error. */
  constructor(message: string) {
    super(message, { status: 502, code: "miner_api" });
    this.name = "MinerApiError";
  }
}

/** Parses console lines for miners whose stats come from their output. */
export interface LineParser {
  /** Feeds one console line (ANSI codes included). */
  line(text: string): void;
  /** Stats gathered so far. */
  stats(): AdapterStats;
}

/** One miner type. */
export interface MinerAdapter {
  /** Miner type. */
  readonly type: MinerType;
  /** The executable name of this type's real miner (null for custom miners). */
  readonly defaultBinary: string | null;
  /** Executable name looked up in the miners dir and PATH (without `.exe`). */
  binaryName(profile: Profile): string;
  /** Writes any config file and returns the argv after the binary. */
  prepare(profile: Profile, ctx: LaunchContext): Promise<string[]>;
  /** Reads stats from the miner's API (throws {@link MinerApiError} when it does not answer). */
  readStats?(ctx: LaunchContext, signal: AbortSignal): Promise<AdapterStats>;
  /** Creates a console parser (custom miners). */
  lineParser?(profile: Profile): LineParser;
  /** Pauses mining through the miner's API. */
  pause?(ctx: LaunchContext): Promise<void>;
  /** Resumes mining. */
  resume?(ctx: LaunchContext): Promise<void>;
  /** Extracts a version from `--version` output. */
  parseVersion(output: string): string | null;
}

/** A generic `x.y.z` version finder. */
export function findVersion(output: string): string | null {
  return /(\d+\.\d+(?:\.\d+)?(?:[-+][0-9A-Za-z.-]+)?)/.exec(output)?.[1] ?? null;
}

/**
 * What every command receives.
 * @module
 */
import type { NodePaths } from "../store/mod.ts";
import type { Output } from "./format.ts";
import type { Parsed } from "./spec.ts";

/** Per-invocation context. */
export interface CliContext {
  /** Resolved state locations. */
  paths: NodePaths;
  /** The `--home` (or `MINER_CLI_HOME`) directory, absolute; undefined for the XDG defaults. */
  home?: string;
  /** Output streams. */
  io: Output;
  /** Resolves when the process is asked to stop (SIGINT/SIGTERM). */
  stopSignal: AbortSignal;
}

/** A command implementation, given its parsed arguments: returns the exit code. */
export type CommandFn = (ctx: CliContext, p: Parsed) => Promise<number>;

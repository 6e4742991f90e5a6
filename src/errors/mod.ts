/**
 * The base of every error miner-cli raises on purpose: it carries the HTTP status and the stable
 * code the API answers with, and a message written for the person who will read it (what went
 * wrong and what to do). Anything else reaching the API is a bug and answers 500.
 *
 * @example
 * ```ts
 * import { MinerCliError } from "./mod.ts";
 * class ThingNotFoundError extends MinerCliError {
 *   constructor(ref: string) {
 *     super(`no thing matches ${ref}: see \`miner-cli thing list\``, { status: 404, code: "not_found" });
 *     this.name = "ThingNotFoundError";
 *   }
 * }
 * const e = new ThingNotFoundError("x");
 * [e.status, e.code]; // [404, "not_found"]
 * ```
 * @module
 */

/** HTTP statuses miner-cli errors map to. */
export type ErrorStatus =
  | 400
  | 401
  | 403
  | 404
  | 409
  | 413
  | 415
  | 421
  | 422
  | 500
  | 502
  | 503
  | 504
  | 507;

/** Status and code of a {@link MinerCliError}. */
export interface ErrorKind {
  /** HTTP status (400 for the caller's mistakes, 502/504 for a peer's, 500 for ours). */
  status: ErrorStatus;
  /** Stable, machine-readable code (`not_found`, `peer_offline`, ...). */
  code: string;
  /** The error that caused this one. */
  cause?: unknown;
}

/** An error with an HTTP status and a stable code. */
export class MinerCliError extends Error {
  /** HTTP status. */
  readonly status: ErrorStatus;
  /** Stable code. */
  readonly code: string;

  /** Creates the error. */
  constructor(message: string, kind: ErrorKind) {
    super(message, kind.cause === undefined ? undefined : { cause: kind.cause });
    this.status = kind.status;
    this.code = kind.code;
    this.name = "MinerCliError";
  }
}

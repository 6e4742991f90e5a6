/**
 * How a request's outcome counts in a peer's score: a timeout (a request deadline, or a dial or
 * handshake that timed out) scores as `timeout`, anything else that failed as `failure`.
 * @module
 */
import type { RequestOutcome } from "../peers/mod.ts";
import { RequestTimeoutError } from "./session.ts";

/** The outcome a failed request or dial scores as. */
export function failureOutcome(err: unknown): Exclude<RequestOutcome, "success"> {
  const timedOut = err instanceof RequestTimeoutError ||
    (err instanceof Error && /timed out/.test(err.message));
  return timedOut ? "timeout" : "failure";
}

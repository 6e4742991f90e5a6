/**
 * Peer reliability score bookkeeping (seed: Sprint 4 metrics).
 * @module
 */

/** The outcome of one request to a peer. */
export type RequestOutcome = "success" | "failure" | "timeout";

/** Score adjustment per outcome: success +1, failure −5, timeout −3. */
export const SCORE_DELTA: Readonly<Record<RequestOutcome, number>> = {
  success: 1,
  failure: -5,
  timeout: -3,
};

/** Score given to a newly added peer. */
export const DEFAULT_SCORE = 50;

/** Returns the score after one outcome, clamped to 0–100. */
export function nextScore(score: number, outcome: RequestOutcome): number {
  return Math.min(100, Math.max(0, score + SCORE_DELTA[outcome]));
}

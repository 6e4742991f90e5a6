/**
 * Exponential backoff with jitter, for anything that retries: reconnecting links, restarting
 * miners, redelivering alerts.
 *
 * @example
 * ```ts
 * import { backoffDelay } from "./mod.ts";
 * backoffDelay(0, { baseMs: 1000, random: () => 0 }); // 1000
 * backoffDelay(3, { baseMs: 1000, maxMs: 5000, random: () => 0 }); // 5000
 * ```
 * @module
 */

/** Options for {@link backoffDelay}. */
export interface BackoffOptions {
  /** First delay (default 500 ms). */
  baseMs?: number;
  /** Cap (default 30 s). */
  maxMs?: number;
  /** Fraction of the delay randomized (default 0.5: delay × [0.5, 1]). */
  jitter?: number;
  /** Random source in [0, 1). */
  random?: () => number;
}

/** Delay before reconnect attempt number `attempt` (0-based): min(max, base·2^attempt), jittered. */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const base = options.baseMs ?? 500;
  const max = options.maxMs ?? 30_000;
  const jitter = options.jitter ?? 0.5;
  const random = options.random ?? Math.random;
  const raw = Math.min(max, base * 2 ** Math.min(attempt, 30));
  return Math.round(raw * (1 - jitter * random()));
}

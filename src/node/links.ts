/**
 * Persistent links: an outbound connection kept up by reconnecting with exponential backoff and
 * jitter (`node serve --connect`), as js-libp2p's reconnect queue does.
 * @module
 */
import { backoffDelay } from "../backoff/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { PeerSession } from "./session.ts";

/** A reconnecting outbound link. */
export interface MaintainedLink {
  /** The current session, if connected. */
  readonly session: PeerSession | null;
  /** Stops reconnecting and closes the session. */
  stop(): void;
}

/** Options for {@link maintainLink}. */
export interface LinkOptions {
  /** Where it goes (for the log). */
  address: string;
  /** First reconnect delay (default 500 ms). */
  baseDelayMs?: number;
  /** Reconnect delay cap (default 8 s: a healed link is back within ~10 s). */
  maxDelayMs?: number;
  /** Logger. */
  logger: Logger;
  /**
   * Whether a failed dial reached the other node (it listens: busy, or just restarted). Such a
   * failure retries within {@link REACHED_MAX_DELAY_MS} instead of a backoff that grew while the
   * node was away (after a controller restart, the rigs whose handshake failed late in the storm
   * waited out 4-8 s after the storm was over).
   */
  reached?: (err: unknown) => boolean;
  /** Called once, when the link is stopped. */
  onStop?: () => void;
}

/** Longest delay before redialing a node that answered (jittered: 1-2 s). */
export const REACHED_MAX_DELAY_MS = 2_000;

/**
 * The delay before redial number `attempt` (0-based): the usual backoff (default 0.5 s doubling
 * to 8 s, jittered), capped at {@link REACHED_MAX_DELAY_MS} when the failed dial `reached` the node.
 *
 * @example
 * ```ts ignore
 * linkRetryDelay(6, { reached: true }); // 1000-2000
 * ```
 */
export function linkRetryDelay(
  attempt: number,
  options: { reached?: boolean; baseMs?: number; maxMs?: number; random?: () => number } = {},
): number {
  const maxMs = options.maxMs ?? 8_000;
  return backoffDelay(attempt, {
    baseMs: options.baseMs ?? 500,
    maxMs: options.reached ? Math.min(maxMs, REACHED_MAX_DELAY_MS) : maxMs,
    random: options.random,
  });
}

/** Keeps `dial()`'s session up: redials when it closes or fails, backing off, until stopped. */
export function maintainLink(
  dial: () => Promise<PeerSession>,
  options: LinkOptions,
): MaintainedLink {
  let stopped = false;
  let current: PeerSession | null = null;
  let wake: (() => void) | null = null;
  const link: MaintainedLink = {
    get session() {
      return current;
    },
    stop: () => {
      if (stopped) return;
      stopped = true;
      current?.close("link stopped");
      current = null;
      wake?.();
      options.onStop?.();
    },
  };
  (async () => {
    let attempt = 0;
    while (!stopped) {
      let reached = false;
      try {
        const s = await dial();
        if (stopped) {
          s.close("link stopped");
          break;
        }
        current = s;
        attempt = 0;
        await new Promise<void>((r) => s.onClose(() => r()));
        current = null;
      } catch (err) {
        options.logger.warn("connect_failed", {
          address: options.address,
          reason: (err as Error).message,
          attempt,
        });
        reached = options.reached?.(err) ?? false;
      }
      if (stopped) break;
      const delay = linkRetryDelay(attempt++, {
        reached,
        baseMs: options.baseDelayMs,
        maxMs: options.maxDelayMs,
      });
      options.logger.debug("reconnect_scheduled", { address: options.address, delayMs: delay });
      await new Promise<void>((r) => {
        const t = setTimeout(r, delay);
        wake = () => {
          clearTimeout(t);
          r();
        };
      });
      wake = null;
    }
  })();
  return link;
}

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
 * The first redial after the other node ended the session itself, saying it was going away (a
 * controller stopping or restarting), waits this long, jittered to 1-2 s (capped by the link's
 * `maxDelayMs`). A restarted controller listens again after 1.5-3 s here: the usual first redial
 * (0.25-0.5 s) made 10,000 rigs dial it two or three times each meanwhile, every refused dial an
 * error built and thrown away (a CPU profile of a rig host in a restart: a sixth of its time).
 */
export const LEFT_DELAY_MS = 2_000;

/**
 * The delay before redial number `attempt` (0-based): the usual backoff (default 0.5 s doubling
 * to 8 s, jittered), capped at {@link REACHED_MAX_DELAY_MS} when the failed dial `reached` the node,
 * and at least {@link LEFT_DELAY_MS} (jittered) when the node `left`: it ended the session saying it
 * was going away.
 *
 * @example
 * ```ts ignore
 * linkRetryDelay(6, { reached: true }); // 1000-2000
 * ```
 */
export function linkRetryDelay(
  attempt: number,
  options: {
    reached?: boolean;
    left?: boolean;
    baseMs?: number;
    maxMs?: number;
    random?: () => number;
  } = {},
): number {
  const maxMs = options.maxMs ?? 8_000;
  const random = options.random ?? Math.random;
  const usual = backoffDelay(attempt, {
    baseMs: options.baseMs ?? 500,
    maxMs: options.reached ? Math.min(maxMs, REACHED_MAX_DELAY_MS) : maxMs,
    random,
  });
  if (!options.left) return usual;
  return Math.max(usual, backoffDelay(0, { baseMs: Math.min(maxMs, LEFT_DELAY_MS), random }));
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
      let left = false;
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
        left = s.endedBy === "peer";
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
        left,
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

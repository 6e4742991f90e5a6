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
  /** Called once, when the link is stopped. */
  onStop?: () => void;
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
      }
      if (stopped) break;
      const delay = backoffDelay(attempt++, {
        baseMs: options.baseDelayMs ?? 500,
        maxMs: options.maxDelayMs ?? 8_000,
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

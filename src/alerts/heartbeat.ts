/**
 * The dead man's switch: while the node is healthy, a URL is requested every interval (a GET,
 * as healthchecks.io, Uptime Kuma's push monitors and Cronitor expect), so an outside monitor
 * notices when the controller dies: the one alert a dead node cannot send itself.
 * @module
 */
import { type Logger, silentLogger } from "../log/mod.ts";

/** Options for {@link startHeartbeat}. */
export interface HeartbeatOptions {
  /** How often (default 60 s). */
  intervalMs?: number;
  /** Whether the node is healthy now (no request when not). */
  healthy: () => boolean;
  /** Request timeout (default 10 s). */
  timeoutMs?: number;
  /** Logger. */
  logger?: Logger;
}

/** What the heartbeat did last. */
export interface HeartbeatStatus {
  /** Last successful request (ms since epoch; null: none yet). */
  lastOk: number | null;
  /** Last error. */
  lastError: string | null;
  /** Requests sent. */
  sent: number;
}

/** A running heartbeat. */
export interface Heartbeat {
  /** What it did last. */
  status(): HeartbeatStatus;
  /** Stops it. */
  stop(): void;
}

/**
 * Requests `url` now and every interval while `healthy()`.
 *
 * @example
 * ```ts
 * import { startHeartbeat } from "./heartbeat.ts";
 * const hb = startHeartbeat("http://127.0.0.1:1/ping", { healthy: () => false });
 * hb.stop();
 * ```
 */
export function startHeartbeat(url: string, options: HeartbeatOptions): Heartbeat {
  const logger = options.logger ?? silentLogger;
  const status: HeartbeatStatus = { lastOk: null, lastError: null, sent: 0 };
  let busy = false;
  const beat = async () => {
    if (busy || !options.healthy()) return;
    busy = true;
    status.sent++;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs ?? 10_000) });
      await res.body?.cancel();
      if (!res.ok) throw new Error(`answered ${res.status}`);
      status.lastOk = Date.now();
      status.lastError = null;
    } catch (err) {
      status.lastError = (err as Error).message.slice(0, 300);
      logger.warn("heartbeat_failed", {
        url: url.replace(/\/\/[^/@]*@/, "//***@"),
        error: status.lastError,
      });
    } finally {
      busy = false;
    }
  };
  void beat();
  const timer = setInterval(() => void beat(), options.intervalMs ?? 60_000);
  return { status: () => ({ ...status }), stop: () => clearInterval(timer) };
}

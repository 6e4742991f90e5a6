/**
 * Refused connections, logged without letting a flood fill the log: at most 20 lines per 10 s,
 * then one summary line at the end of the window with how many were refused meanwhile.
 * @module
 */
import type { Logger } from "../log/mod.ts";

/** A rate-limited log of refused connections. */
export class RefusalLog {
  #windowStart = 0;
  #lines = 0;
  #suppressed = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Refusals since start. */
  count = 0;

  /** Creates the log. */
  constructor(
    readonly logger: Logger,
    readonly options: { lines?: number; windowMs?: number } = {},
  ) {}

  /** Counts one refusal, and logs it unless the window's lines are used up. */
  note(reason: string, remote: string): void {
    this.count++;
    const windowMs = this.options.windowMs ?? 10_000;
    const now = Date.now();
    if (now - this.#windowStart >= windowMs) {
      this.#windowStart = now;
      this.#lines = 0;
    }
    if (this.#lines < (this.options.lines ?? 20)) {
      this.#lines++;
      this.logger.warn("connection_refused", { remote, reason, count: this.count });
      return;
    }
    this.#suppressed++;
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.logger.warn("connection_refused", {
        reason: "many connections refused (log lines suppressed)",
        suppressed: this.#suppressed,
        lastReason: reason,
        count: this.count,
      });
      this.#suppressed = 0;
    }, Math.max(0, this.#windowStart + windowMs - now));
    Deno.unrefTimer(this.#timer as unknown as number);
  }

  /** Drops a pending summary. */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

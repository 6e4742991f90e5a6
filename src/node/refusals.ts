/**
 * Refused connections (and failed handshakes), logged without letting a flood fill the log: at
 * most one line per window (10 s): the first after a quiet window is logged at once, with its
 * reason; the ones after it in the window become one summary line at the window's end, with their
 * count.
 * @module
 */
import type { Logger } from "../log/mod.ts";

/** Options for {@link RefusalLog}. */
export interface RefusalLogOptions {
  /** One line per this many ms at most (default 10 s). */
  windowMs?: number;
  /** The log event (default `connection_refused`). */
  event?: string;
  /** What the summary counts (default `connection(s) refused`). */
  noun?: string;
}

/** A rate-limited log of refused connections (or of another kind of failure, by `event`). */
export class RefusalLog {
  #lastLine = -Infinity;
  #suppressed = 0;
  #lastReason = "";
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Refusals since start. */
  count = 0;
  /** Lines written (for tests). */
  lines = 0;

  /** Creates the log. */
  constructor(
    readonly logger: Logger,
    readonly options: RefusalLogOptions = {},
  ) {}

  /** Counts one refusal, and logs it unless a line was written in this window. */
  note(reason: string, remote: string): void {
    this.count++;
    const windowMs = this.options.windowMs ?? 10_000;
    const now = Date.now();
    if (this.#timer === undefined && now - this.#lastLine >= windowMs) {
      this.#lastLine = now;
      this.lines++;
      this.logger.warn(this.options.event ?? "connection_refused", {
        remote,
        reason,
        count: this.count,
      });
      return;
    }
    this.#suppressed++;
    this.#lastReason = reason;
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#lastLine = Date.now();
      this.lines++;
      this.logger.warn(this.options.event ?? "connection_refused", {
        reason: `${this.#suppressed} more ${this.options.noun ?? "connection(s) refused"} in ${
          windowMs >= 1000 ? `${Math.round(windowMs / 1000)} s` : `${windowMs} ms`
        }`,
        suppressed: this.#suppressed,
        lastReason: this.#lastReason,
        count: this.count,
      });
      this.#suppressed = 0;
    }, Math.max(0, this.#lastLine + windowMs - now));
    Deno.unrefTimer(this.#timer as unknown as number);
  }

  /** Drops a pending summary. */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

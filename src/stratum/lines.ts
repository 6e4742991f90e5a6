/**
 * Newline-delimited JSON over a TCP (or TLS) socket, as stratum speaks it, with bounds: a line
 * longer than `maxLineBytes` or that is not a JSON object ends the connection, since a peer that
 * sends one is broken or hostile.
 * @module
 */
import type { Socket } from "node:net";

/** Options for {@link JsonLines}. */
export interface JsonLinesOptions {
  /** Longest line accepted (default 16 KiB). */
  maxLineBytes?: number;
  /** Called with each parsed object. */
  onMessage(message: Record<string, unknown>): void;
  /** Called once when the socket closed, with why. */
  onClose(reason: string): void;
}

/** Answers waiting in the socket for a peer that does not read them, at most (bytes). */
const MAX_UNREAD = 1024 * 1024;

/** One stratum connection's framing. */
export class JsonLines {
  readonly #socket: Socket;
  readonly #opts: JsonLinesOptions;
  #buffer = "";
  #closed = false;
  #reported = false;

  /** Wraps `socket` (already connected or connecting). */
  constructor(socket: Socket, options: JsonLinesOptions) {
    this.#socket = socket;
    this.#opts = options;
    const max = options.maxLineBytes ?? 16_384;
    socket.setEncoding("utf8");
    socket.setNoDelay(true);
    socket.on("data", (chunk: string) => {
      if (this.#closed) return;
      this.#buffer += chunk;
      let nl: number;
      while ((nl = this.#buffer.indexOf("\n")) >= 0) {
        const line = this.#buffer.slice(0, nl).trim();
        this.#buffer = this.#buffer.slice(nl + 1);
        if (line.length > max) return this.close(`line longer than ${max} bytes`);
        if (!line) continue;
        let parsed: unknown;
        try {
          parsed = JSON.parse(line);
        } catch {
          return this.close("a line that is not JSON");
        }
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
          return this.close("a line that is not a JSON object");
        }
        try {
          options.onMessage(parsed as Record<string, unknown>);
        } catch (err) {
          return this.close(`handler failed: ${(err as Error).message}`);
        }
        if (this.#closed) return;
      }
      if (this.#buffer.length > max) this.close(`line longer than ${max} bytes`);
    });
    socket.on("error", (err: Error) => this.#finish(err.message));
    socket.on("close", () => this.#finish("connection closed"));
  }

  /** Remote address. */
  get remoteAddress(): string {
    return this.#socket.remoteAddress ?? "unknown";
  }

  /** Whether the connection is closed. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** Sends one object as a line (dropped when closed). */
  send(message: unknown): void {
    if (this.#closed) return;
    // A peer that sends but never reads its answers is not let pile them up here.
    if (this.#socket.writableLength > MAX_UNREAD) return this.close("not reading its answers");
    this.#socket.write(JSON.stringify(message) + "\n");
  }

  /** Ends the connection. */
  close(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.destroy();
    this.#finish(reason);
  }

  #finish(reason: string): void {
    this.#closed = true;
    this.#buffer = "";
    if (this.#reported) return;
    this.#reported = true;
    this.#opts.onClose(reason);
  }
}

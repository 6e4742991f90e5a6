/**
 * A bounded queue drained into a Server-Sent Events stream, with keep-alive comments and a clean
 * end when the client leaves or the server shuts down.
 * @module
 */
import type { SSEStreamingApi } from "hono/streaming";

/** One SSE message. */
export interface SseMessage {
  /** Event name. */
  event: string;
  /** Data (one line of JSON). */
  data: string;
  /** Event ID. */
  id?: string;
}

/** Messages waiting to be written to one client; overflow is counted, not buffered. */
export class SseQueue {
  readonly #items: SseMessage[] = [];
  #dropped = 0;
  #wake: (() => void) | null = null;
  #closed = false;

  /** Creates a queue holding at most `limit` messages. */
  constructor(readonly limit = 10_000) {}

  /** Queues a message (dropped, and counted, when the client is too slow). */
  push(msg: SseMessage): void {
    if (this.#closed) return;
    if (this.#items.length >= this.limit) this.#dropped++;
    else this.#items.push(msg);
    this.#wake?.();
  }

  /** Ends the stream after the queued messages. */
  close(): void {
    this.#closed = true;
    this.#wake?.();
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Writes messages as they come until closed or the client leaves. */
  async drain(stream: SSEStreamingApi, options: { keepAliveMs?: number } = {}): Promise<void> {
    const keepAliveMs = options.keepAliveMs ?? 15_000;
    stream.onAbort(() => this.close());
    while (!stream.aborted) {
      while (this.#items.length && !stream.aborted) await stream.writeSSE(this.#items.shift()!);
      if (this.#dropped) {
        await stream.writeSSE({
          event: "dropped",
          data: JSON.stringify({ messages: this.#dropped }),
        });
        this.#dropped = 0;
      }
      if (this.#closed) break;
      if (this.#items.length || this.#dropped) continue; // arrived while writing
      let timer: ReturnType<typeof setTimeout> | undefined;
      const idle = await new Promise<boolean>((res) => {
        this.#wake = () => res(false);
        timer = setTimeout(() => res(true), keepAliveMs);
      });
      clearTimeout(timer);
      this.#wake = null;
      if (idle && !this.#closed) await stream.write(": keep-alive\n\n");
    }
  }
}

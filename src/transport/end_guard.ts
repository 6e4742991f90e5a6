/**
 * `npm:ws` ends streams a second time while a connection closes: the socket, when the peer's FIN
 * arrives after it ended the socket itself (`socketOnEnd`, `socketOnClose`), and its frame
 * receiver, which ends itself on the close frame and is ended again by `socketOnEnd` and by
 * `socketOnClose`. Node's streams answer an `end()` on a finished or destroyed stream by building
 * an `ERR_STREAM_ALREADY_FINISHED` error that nobody reads, and in Deno building it captures a
 * stack trace. With only the socket guarded, the receiver's two were still 8.5 % of a listener's
 * CPU in the handshake benchmark (a CPU profile; each side of each closed connection builds them).
 * A bare `end()` on a stream already finished or destroyed is a no-op here instead; every other
 * call is unchanged.
 * @module
 */

/** What the guard needs of a writable stream (a socket, `ws`'s receiver). */
export interface EndableStream {
  /** Node's `Writable.end`. */
  end(...args: unknown[]): unknown;
  /** Whether everything written was flushed after `end()`. */
  readonly writableFinished: boolean;
  /** Whether the stream was destroyed. */
  readonly destroyed: boolean;
}

/**
 * Makes a bare second `end()` on `stream` a no-op (see the module doc).
 *
 * @example
 * ```ts ignore
 * guardSecondEnd(socket);
 * guardSecondEnd(ws._receiver);
 * ```
 */
export function guardSecondEnd(stream: EndableStream): void {
  const end = stream.end;
  stream.end = function (this: EndableStream, ...args: unknown[]) {
    if (args.length === 0 && (this.writableFinished || this.destroyed)) return this;
    return end.apply(this, args);
  };
}

/**
 * Guards the frame receiver of a `ws` WebSocket (`_receiver`, a `Writable` inside `ws` 8, the
 * version `deno.lock` pins) when it has one; any other shape is left alone.
 */
export function guardReceiverEnd(ws: unknown): void {
  const r = (ws as { _receiver?: unknown })._receiver as Partial<EndableStream> | undefined;
  if (r && typeof r.end === "function" && "writableFinished" in r) {
    guardSecondEnd(r as EndableStream);
  }
}

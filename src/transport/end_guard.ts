/**
 * `npm:ws` ends a socket a second time when the peer's FIN arrives after it ended the socket
 * itself (`socketOnEnd`, `socketOnClose`). Node's streams answer an `end()` on a finished or
 * destroyed stream by building an `ERR_STREAM_ALREADY_FINISHED` error that nobody reads, and in
 * Deno building it captures a stack trace: three per closed connection, ~10 % of a server's CPU
 * while connections come and go (a reconnect storm, the handshake benchmark). A bare `end()` on a
 * socket already finished or destroyed is a no-op here instead; every other call is unchanged.
 * @module
 */
import type { Socket } from "node:net";

/** Makes a bare second `end()` on `socket` a no-op (see the module doc). */
export function guardSecondEnd(socket: Socket): void {
  const end = socket.end;
  socket.end = function (this: Socket, ...args: unknown[]) {
    if (args.length === 0 && (this.writableFinished || this.destroyed)) return this;
    return (end as (...a: unknown[]) => Socket).apply(this, args);
  } as Socket["end"];
}

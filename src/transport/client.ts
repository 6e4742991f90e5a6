/**
 * The dialing side, on `npm:ws`: Deno's built-in WebSocket client leaves Nagle's algorithm on
 * and stalls ~40 ms per message of 1–32 KB on this machine; `ws` sets TCP_NODELAY.
 * @module
 */
// @ts-types="npm:@types/ws@8.18.1"
import WebSocket from "ws";
import { MAX_NOISE_MESSAGE } from "./noise.ts";
import { adaptWebSocket, type FrameSocket, type WebSocketLike } from "./socket.ts";

/** The connection attempt failed. */
export class DialError extends Error {
  /** Creates the error. */
  constructor(readonly url: string, detail: string) {
    super(`cannot connect to ${url}: ${detail}`);
    this.name = "DialError";
  }
}

/** Options for {@link dialSocket}. */
export interface DialOptions {
  /** Connection timeout (default 10 s). */
  timeoutMs?: number;
  /** Extra CA certificate (PEM) to trust for wss. */
  ca?: string;
  /** Abort signal. */
  signal?: AbortSignal;
}

/** Opens a WebSocket to `url` and returns it as a {@link FrameSocket}. */
export function dialSocket(url: string, options: DialOptions = {}): Promise<FrameSocket> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    let settled = false;
    const ws = new WebSocket(url, {
      perMessageDeflate: false,
      maxPayload: MAX_NOISE_MESSAGE,
      handshakeTimeout: timeoutMs,
      ...(options.ca ? { ca: options.ca } : {}),
    });
    const timer = setTimeout(() => fail("timed out"), timeoutMs);
    const onAbort = () => fail("aborted");
    options.signal?.addEventListener("abort", onAbort, { once: true });
    function fail(detail: string) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      try {
        ws.terminate();
      } catch { /* already closed */ }
      reject(new DialError(url, detail));
    }
    ws.once(
      "error",
      (err: Error & { code?: string }) =>
        fail(err.code ? `${err.code} ${err.message}` : err.message),
    );
    ws.once(
      "unexpected-response",
      (_req: unknown, res: { statusCode?: number }) =>
        fail(`HTTP ${res.statusCode} instead of a WebSocket upgrade`),
    );
    ws.once("open", () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      const u = new URL(url);
      resolve(adaptWebSocket(ws as unknown as WebSocketLike, `${u.hostname}:${u.port}`));
    });
  });
}

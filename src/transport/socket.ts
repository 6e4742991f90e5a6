/**
 * A minimal binary-frame socket over either Deno's server-side WebSocket or `npm:ws` (client).
 * @module
 */

/** What the transport needs from a WebSocket. */
export interface FrameSocket {
  /** Sends one binary frame. */
  send(frame: Uint8Array): void;
  /** Closes the socket. */
  close(code?: number, reason?: string): void;
  /** Bytes queued but not yet sent. */
  readonly bufferedAmount: number;
  /** Peer address as `host:port`. */
  readonly remoteAddress: string;
  /** Called for each binary frame. */
  onframe: ((frame: Uint8Array) => void) | null;
  /** Called for frames the transport never accepts (text frames). */
  oninvalid: ((reason: string) => void) | null;
  /** Called once when the socket closes. */
  onclose: ((code: number, reason: string) => void) | null;
}

/** The subset of the WHATWG WebSocket API both Deno and `ws` provide. */
export interface WebSocketLike {
  binaryType: string;
  readonly bufferedAmount: number;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

/** Wraps a WebSocket (already open or opening) as a {@link FrameSocket}. */
export function adaptWebSocket(
  ws: WebSocketLike,
  remoteAddress: string,
  binaryType = "arraybuffer",
): FrameSocket {
  ws.binaryType = binaryType;
  let closed = false;
  const fs: FrameSocket = {
    send(frame) {
      if (closed || ws.readyState !== 1) return;
      ws.send(frame);
    },
    close(code = 1000, reason = "") {
      if (closed) return;
      try {
        ws.close(code, reason.slice(0, 120));
      } catch {
        ws.close();
      }
    },
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
    remoteAddress,
    onframe: null,
    oninvalid: null,
    onclose: null,
  };
  ws.onmessage = (ev) => {
    if (closed) return;
    const d = ev.data;
    if (d instanceof ArrayBuffer) fs.onframe?.(new Uint8Array(d));
    else if (ArrayBuffer.isView(d)) {
      fs.onframe?.(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    } else fs.oninvalid?.("text frame");
  };
  ws.onerror = () => {};
  ws.onclose = (ev) => {
    if (closed) return;
    closed = true;
    fs.onclose?.(ev.code, ev.reason);
  };
  return fs;
}

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
  /**
   * Whether {@link send} copies the frame before returning, so the caller may reuse its buffer
   * at once. When false, the buffer may be reused only once {@link bufferedAmount} is 0 after
   * the send (nothing of it still queued).
   */
  readonly copiesOnSend: boolean;
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

/** Options for {@link adaptWebSocket}. */
export interface AdaptOptions {
  /** `binaryType` to set (default `"arraybuffer"`; `npm:ws` hands frames over without a copy as `"nodebuffer"`). */
  binaryType?: string;
  /**
   * Whether the socket's `send()` copies the data (Deno's WebSocket does, as WHATWG WebSocket
   * requires; `npm:ws` writes the caller's buffer to the socket). Default false.
   */
  copiesOnSend?: boolean;
}

/** Wraps a WebSocket (already open or opening) as a {@link FrameSocket}. */
export function adaptWebSocket(
  ws: WebSocketLike,
  remoteAddress: string,
  options: AdaptOptions = {},
): FrameSocket {
  ws.binaryType = options.binaryType ?? "arraybuffer";
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
    copiesOnSend: options.copiesOnSend ?? false,
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

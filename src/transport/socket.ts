/**
 * A minimal binary-frame socket over either Deno's server-side WebSocket or `npm:ws` (client).
 * @module
 */

const MAX_FRAME_TEXT = 65535;

/** What the transport needs from a WebSocket. */
export interface FrameSocket {
  /** Sends one binary frame. */
  send(frame: Uint8Array): void;
  /** Closes the socket (WebSocket close handshake). */
  close(code?: number, reason?: string): void;
  /** Tears the connection down at once, without a close handshake. */
  terminate(): void;
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
  /**
   * Called for frames the transport never accepts: text frames (`protocol_error`) and frames
   * over the size limit, refused from their header by the WebSocket layer (`oversize`).
   */
  oninvalid: ((reason: string, code?: "protocol_error" | "oversize") => void) | null;
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
  /** Destroys the connection at once (default: {@link FrameSocket.close}). */
  terminate?: () => void;
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
    terminate() {
      if (closed) return;
      if (options.terminate) options.terminate();
      else fs.close(1006);
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
  ws.onerror = (ev) => {
    // npm:ws refuses a frame over maxPayload from its header (and closes with 1009).
    const err = (ev as { error?: { code?: string; message?: string } }).error;
    if (err?.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") {
      fs.oninvalid?.(`frame exceeds ${MAX_FRAME_TEXT} bytes (${err.message})`, "oversize");
      // Not one more byte of it is read: the connection goes now (ws would drain the rest).
      fs.terminate();
    }
  };
  ws.onclose = (ev) => {
    if (closed) return;
    closed = true;
    fs.onclose?.(ev.code, ev.reason);
  };
  return fs;
}

/**
 * The dialing side, on `npm:ws`: Deno's built-in WebSocket client leaves Nagle's algorithm on
 * and stalls ~40 ms per message of 1–32 KB on this machine; `ws` sets TCP_NODELAY.
 * @module
 */
import net from "node:net";
import tls from "node:tls";
import { guardReceiverEnd, guardSecondEnd } from "./end_guard.ts";
import { MinerCliError } from "../errors/mod.ts";
// @ts-types="npm:@types/ws@8.18.1"
import type WebSocketType from "ws";
import { MAX_NOISE_MESSAGE } from "./noise.ts";
import { adaptWebSocket, type FrameSocket, type WebSocketLike } from "./socket.ts";

/** The connection attempt failed. */
export class DialError extends MinerCliError {
  /** Creates the error. */
  constructor(
    readonly url: string,
    detail: string,
    /** Whether the TCP connection was made (the node listens; the upgrade failed or was late). */
    readonly connected = false,
  ) {
    super(`cannot connect to ${url}: ${detail}`, { status: 502, code: "peer_unreachable" });
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
  /** Local address to dial from (a multi-homed rig; tests use other loopback addresses). */
  localAddress?: string;
  /**
   * Time for the TCP (and TLS) connection alone. When set, `timeoutMs` counts from the connection
   * instead of from the start: a persistent link retrying into a busy listener (its SYNs dropped
   * and sent again while the backlog is full) does not spend the upgrade's time waiting to be let
   * in, and so does not give up halfway through a handshake the listener has begun.
   */
  connectTimeoutMs?: number;
}

let wsModule: Promise<typeof WebSocketType> | undefined;

/** Loads `ws` on first use: it pulls in Node's http/net/tls layers, which a node that only listens never needs. */
function loadWs(): Promise<typeof WebSocketType> {
  // @ts-types="npm:@types/ws@8.18.1"
  return wsModule ??= import("ws").then((m) => m.default);
}

/** Opens a WebSocket to `url` and returns it as a {@link FrameSocket}. */
export async function dialSocket(url: string, options: DialOptions = {}): Promise<FrameSocket> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const connectTimeoutMs = options.connectTimeoutMs;
  const WebSocket = await loadWs();
  // A persistent link over plain TCP connects first, on its own: an attempt that finds nobody
  // listening (a controller restarting, 10,000 rigs redialing it) fails without building the
  // HTTP request and WebSocket for it, at about half the CPU.
  const early = connectTimeoutMs !== undefined && url.startsWith("ws:")
    ? await connectTcp(url, {
      timeoutMs: connectTimeoutMs,
      localAddress: options.localAddress,
      signal: options.signal,
    })
    : null;
  return await new Promise((resolve, reject) => {
    let settled = false;
    const ws = new WebSocket(url, {
      perMessageDeflate: false,
      maxPayload: MAX_NOISE_MESSAGE,
      // RFC 6455 masking keeps attacker-chosen bytes off the wire (against proxy cache
      // poisoning). Every byte this client sends after the upgrade is Noise output (ephemeral
      // keys and ChaCha20-Poly1305 ciphertext under keys no third party knows), which nobody
      // can choose or predict, so a zero mask gives up nothing and saves masking every byte in JS.
      generateMask: (mask: Uint8Array) => mask.fill(0),
      handshakeTimeout: timeoutMs + (connectTimeoutMs ?? 0),
      ...(options.ca ? { ca: options.ca } : {}),
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      ...(early
        ? { createConnection: (() => early) as unknown as typeof net.createConnection }
        : connectTimeoutMs === undefined
        ? {}
        : {
          // wss: ws calls it with one options object (the shape of its own tlsConnect)
          createConnection: tlsConnectThen(connected) as unknown as typeof net.createConnection,
        }),
    });
    let tcpUp = early !== null;
    let timer = connectTimeoutMs === undefined || early
      ? setTimeout(() => fail("timed out"), timeoutMs)
      : setTimeout(() => fail("timed out connecting"), connectTimeoutMs);
    function connected() {
      if (settled) return;
      tcpUp = true;
      clearTimeout(timer);
      timer = setTimeout(() => fail("timed out"), timeoutMs);
    }
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
      reject(new DialError(url, detail, tcpUp));
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
    ws.once("upgrade", (res: { socket?: import("node:net").Socket }) => {
      if (res.socket) guardSecondEnd(res.socket);
    });
    ws.once("open", () => {
      guardReceiverEnd(ws);
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      const u = new URL(url);
      // "nodebuffer" hands frames over without the copy "arraybuffer" makes.
      resolve(
        adaptWebSocket(ws as unknown as WebSocketLike, `${u.hostname}:${u.port}`, {
          binaryType: "nodebuffer",
          terminate: () => ws.terminate(),
        }),
      );
    });
  });
}

/** A TCP connection to a `ws:` URL's host and port, within `timeoutMs`. */
function connectTcp(
  url: string,
  options: { timeoutMs: number; localAddress?: string; signal?: AbortSignal },
): Promise<net.Socket> {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, "");
  return new Promise((resolve, reject) => {
    const socket = net.connect({
      host,
      port: Number(u.port || 80),
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    });
    const done = (err: Error | null) => {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      socket.off("error", onError);
      if (!err) return resolve(socket);
      socket.destroy();
      reject(err);
    };
    const onError = (err: Error & { code?: string }) =>
      done(new DialError(url, err.code ? `${err.code} ${err.message}` : err.message));
    const onAbort = () => done(new DialError(url, "aborted"));
    const timer = setTimeout(
      () => done(new DialError(url, "timed out connecting")),
      options.timeoutMs,
    );
    options.signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("error", onError);
    socket.once("connect", () => done(null));
  });
}

/**
 * The TLS connection `ws` would open (as its own `tlsConnect` does), calling `onConnect` once the
 * TCP connection is up (or, if that is all the socket reports, its TLS handshake is done).
 */
function tlsConnectThen(onConnect: () => void) {
  return (options: tls.ConnectionOptions & { host?: string; path?: string }) => {
    // `path` is the request's path here, not a socket's
    const o = { ...options, path: undefined } as tls.ConnectionOptions & { host?: string };
    if (!o.servername && o.servername !== "") {
      o.servername = net.isIP(o.host ?? "") ? "" : o.host;
    }
    const socket = tls.connect(o);
    // whichever comes first
    let fired = false;
    const once = () => {
      if (fired) return;
      fired = true;
      onConnect();
    };
    socket.once("connect", once);
    socket.once("secureConnect", once);
    return socket;
  };
}

/**
 * The listening side: `Deno.serve` with a WebSocket endpoint (optionally TLS).
 * @module
 */
import { adaptWebSocket, type FrameSocket, type WebSocketLike } from "./socket.ts";

/** Options for {@link startTransportServer}. */
export interface TransportServerOptions {
  /** Interface to bind (default `0.0.0.0`). */
  hostname?: string;
  /** TCP port (0 picks a free one). */
  port: number;
  /** WebSocket path (default `/ws`). */
  path?: string;
  /** PEM certificate and key for wss. */
  tls?: { cert: string; key: string };
  /** Maximum simultaneous connections, handshakes in flight included (default 1024). */
  maxConnections?: number;
  /** Called for each upgraded socket. */
  onSocket(socket: FrameSocket): void;
  /** Called when a connection is refused before upgrade (limit reached, bad request). */
  onRefused?(reason: string, remoteAddress: string): void;
  /** Handles non-WebSocket requests (default: 404). */
  fallback?(request: Request): Response | Promise<Response>;
}

/** A running transport server. */
export interface TransportServer {
  /** Bound hostname. */
  readonly hostname: string;
  /** Bound port. */
  readonly port: number;
  /** `ws://` or `wss://` URL of the endpoint. */
  readonly url: string;
  /** Open sockets (including handshakes in flight). */
  readonly connections: number;
  /** Closes every socket and stops listening. */
  close(): Promise<void>;
}

/** Starts listening. */
export function startTransportServer(options: TransportServerOptions): TransportServer {
  const path = options.path ?? "/ws";
  const max = options.maxConnections ?? 1024;
  const sockets = new Set<FrameSocket>();
  const handler = (
    req: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ): Response | Promise<Response> => {
    const remote = `${info.remoteAddr.hostname}:${info.remoteAddr.port}`;
    const url = new URL(req.url);
    if (url.pathname !== path) {
      return options.fallback
        ? options.fallback(req)
        : new Response("not found\n", { status: 404 });
    }
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      options.onRefused?.("not a WebSocket upgrade", remote);
      return new Response("miner-cli peer endpoint: WebSocket upgrade required\n", { status: 426 });
    }
    if (sockets.size >= max) {
      options.onRefused?.(`connection limit (${max}) reached`, remote);
      return new Response("too many connections\n", { status: 503 });
    }
    let upgraded: { socket: WebSocket; response: Response };
    try {
      upgraded = Deno.upgradeWebSocket(req, { idleTimeout: 0 });
    } catch (err) {
      options.onRefused?.(`bad WebSocket upgrade: ${(err as Error).message}`, remote);
      return new Response("bad WebSocket upgrade request\n", { status: 400 });
    }
    const { socket, response } = upgraded;
    const fs = adaptWebSocket(socket as unknown as WebSocketLike, remote, { copiesOnSend: true });
    sockets.add(fs);
    // Track lifetime regardless of which layer owns onclose later.
    socket.addEventListener("close", () => sockets.delete(fs));
    options.onSocket(fs);
    return response;
  };
  const tls = options.tls;
  const server = Deno.serve({
    hostname: options.hostname ?? "0.0.0.0",
    port: options.port,
    ...(tls ? { cert: tls.cert, key: tls.key } : {}),
    onListen: () => {},
  }, handler);
  const addr = server.addr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  return {
    hostname: addr.hostname,
    port: addr.port,
    url: `${tls ? "wss" : "ws"}://${host}:${addr.port}${path}`,
    get connections() {
      return sockets.size;
    },
    async close() {
      for (const s of sockets) s.close(1001, "server shutting down");
      sockets.clear();
      await server.shutdown();
    },
  };
}

/**
 * The listening side: `node:http` (or `node:https`) with an `npm:ws` WebSocket endpoint.
 *
 * Nothing a stranger sends before authenticating can cost more than a bounded amount of memory or
 * a slot that honest peers need:
 * - frames larger than one Noise message are refused from their header, before a byte of them is
 *   buffered (`maxPayload`; Deno's own `upgradeWebSocket` buffers frames of up to 64 MiB first);
 * - a connection that has not authenticated within the handshake timeout is torn down at once
 *   (the TCP socket is destroyed; no close handshake is waited for), and so is one that has not
 *   even sent its HTTP upgrade by then;
 * - connections still in handshake are limited per source address and in total, and counted apart
 *   from established (authenticated) ones, so unauthenticated sockets never take an established
 *   peer's slot.
 * @module
 */
import type { IncomingMessage, Server } from "node:http";
import type { Socket } from "node:net";
// @ts-types="npm:@types/ws@8.18.1"
import type { WebSocket as WsSocket, WebSocketServer as WsServerType } from "ws";
import { guardReceiverEnd, guardSecondEnd } from "./end_guard.ts";
import { MAX_NOISE_MESSAGE } from "./noise.ts";
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
  /** Most established (authenticated) connections (default 1024). */
  maxConnections?: number;
  /** Most connections still in handshake, from all addresses (default 256). */
  maxHandshakes?: number;
  /** Most connections still in handshake from one source address (default 16). */
  maxHandshakesPerAddress?: number;
  /** A connection not established within this long is destroyed (default 10 s). */
  handshakeTimeoutMs?: number;
  /**
   * The listen backlog: connections the kernel completes and queues until the process accepts
   * them (default 4,096; Linux caps it at `net.core.somaxconn`). Past it the kernel drops SYNs,
   * and each dropped one costs its dialer a resend after 1 s, 3 s, 7 s: in a reconnect storm of
   * 10,000 rigs the usual 511 left hundreds of rigs waiting out whole connect timeouts.
   */
  backlog?: number;
  /** Largest WebSocket message accepted, checked from the frame header (default 65,535). */
  maxFrameBytes?: number;
  /** Called for each upgraded socket; call `admission.establish()` once it has authenticated. */
  onSocket(socket: FrameSocket, admission: ConnectionAdmission): void;
  /** Called when a connection is refused or torn down before it was established. */
  onRefused?(reason: string, remoteAddress: string): void;
  /** Called when the listener failed after it was listening (out of file descriptors...). */
  onListenError?(err: Error): void;
  /** Called when the listener listens again after such a failure. */
  onRelisten?(attempts: number): void;
  /**
   * The stall watchdog's timing (see {@link TransportServer.watchStall}): how often it looks
   * (default 2,500 ms), how long without an accept before it probes (5,000 ms), and how long a
   * probe waits for any accept (2,000 ms).
   */
  stallWatch?: { everyMs?: number; idleMs?: number; probeMs?: number };
}

/** Moves an authenticated connection from the handshake slots to the established ones. */
export interface ConnectionAdmission {
  /**
   * Marks the connection established. Returns false (and the caller must close it) when the
   * established connections are at their limit.
   */
  establish(): boolean;
}

/** Live connection counts. */
export interface TransportCounts {
  /** Authenticated connections. */
  established: number;
  /** Connections still in handshake (TCP accepted, not yet authenticated). */
  handshaking: number;
  /** Connections refused or torn down before they were established, since start. */
  refused: number;
}

/** A running transport server. */
export interface TransportServer {
  /** Bound hostname. */
  readonly hostname: string;
  /** Bound port. */
  readonly port: number;
  /** `ws://` or `wss://` URL of the endpoint. */
  readonly url: string;
  /** Open connections (established and in handshake). */
  readonly connections: number;
  /** Live counts. */
  counts(): TransportCounts;
  /**
   * For `ms`, checks that the listener still accepts and listens again if it stalled (called
   * after the node ran short of file descriptors).
   */
  watchStall(ms: number): void;
  /**
   * Stops listening and leaves the open connections be: a node shutting down stops taking
   * connections before it tells its peers it is going, so the ones that redial at once are
   * refused by the kernel, not queued and reset later.
   */
  stopAccepting(): void;
  /** Stops listening (if it still does) and closes every socket. */
  close(): Promise<void>;
}

type Conn = {
  address: string;
  established: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
  socket: Socket;
  ws?: WsSocket;
};

/** `::ffff:10.0.0.1` → `10.0.0.1`, so v4 peers on a dual-stack socket count as one address. */
function plainAddress(a: string | undefined): string {
  if (!a) return "unknown";
  return a.startsWith("::ffff:") ? a.slice(7) : a;
}

let modules:
  | Promise<{
    http: typeof import("node:http");
    https: typeof import("node:https");
    net: typeof import("node:net");
    WebSocketServer: typeof WsServerType;
  }>
  | undefined;

/** Loads the Node layers on first use. */
function loadModules(): NonNullable<typeof modules> {
  return modules ??= Promise.all([
    import("node:http"),
    import("node:https"),
    import("node:net"),
    // @ts-types="npm:@types/ws@8.18.1"
    import("ws"),
  ]).then(([http, https, net, ws]) => ({
    http: http.default ?? http,
    https: https.default ?? https,
    net: net.default ?? net,
    WebSocketServer: ws.WebSocketServer,
  }));
}

/**
 * Starts listening.
 *
 * @example
 * ```ts
 * import { startTransportServer } from "./server.ts";
 * const server = await startTransportServer({
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   onSocket: (socket, admission) => {
 *     // run the Noise handshake, then:
 *     if (!admission.establish()) socket.close(1013, "try again later");
 *   },
 * });
 * await server.close();
 * ```
 */
export async function startTransportServer(
  options: TransportServerOptions,
): Promise<TransportServer> {
  const { http, https, net, WebSocketServer } = await loadModules();
  const path = options.path ?? "/ws";
  const maxEstablished = options.maxConnections ?? 1024;
  const maxHandshakes = options.maxHandshakes ?? 256;
  const perAddress = options.maxHandshakesPerAddress ?? 16;
  const timeoutMs = options.handshakeTimeoutMs ?? 10_000;
  const backlog = options.backlog ?? 4096;
  const conns = new Map<string, Conn>(); // by "address:port" (the same for the TCP and TLS sockets)
  const pendingByAddress = new Map<string, number>();
  let pending = 0;
  let established = 0;
  let refused = 0;
  const refuse = (reason: string, address: string) => {
    refused++;
    options.onRefused?.(reason, address);
  };
  const keyOf = (s: Socket) => `${plainAddress(s.remoteAddress)}:${s.remotePort}`;
  const leavePending = (c: Conn) => {
    if (c.established) return;
    clearTimeout(c.timer);
    pending--;
    const n = (pendingByAddress.get(c.address) ?? 1) - 1;
    if (n <= 0) pendingByAddress.delete(c.address);
    else pendingByAddress.set(c.address, n);
  };

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxFrameBytes ?? MAX_NOISE_MESSAGE,
    perMessageDeflate: false,
    clientTracking: false,
  });

  // A malformed upgrade (no Sec-WebSocket-Key, bad version...): refused, counted, answered 400.
  wss.on("wsClientError", (err: Error, socket: Socket) => {
    refuse(`bad WebSocket upgrade: ${err.message}`, plainAddress(socket.remoteAddress));
    const body = `bad WebSocket upgrade request: ${err.message}\n`;
    socket.end(
      `HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
    );
    socket.destroySoon?.();
  });

  // Connections the listener itself opened to check that it still accepts (see the watchdog).
  const probes = new Set<number>();
  let lastAccept = Date.now();
  const onConnection = (socket: Socket) => {
    lastAccept = Date.now();
    guardSecondEnd(socket);
    if (socket.remotePort !== undefined && probes.delete(socket.remotePort)) {
      socket.destroy();
      return;
    }
    const address = plainAddress(socket.remoteAddress);
    const fromHere = pendingByAddress.get(address) ?? 0;
    if (fromHere >= perAddress || pending >= maxHandshakes) {
      refuse(
        fromHere >= perAddress
          ? `${perAddress} connections from ${address} already in handshake`
          : `${maxHandshakes} connections already in handshake`,
        address,
      );
      socket.destroy();
      return;
    }
    pending++;
    pendingByAddress.set(address, fromHere + 1);
    const key = keyOf(socket);
    const c: Conn = { address, established: false, timer: undefined, socket };
    c.timer = setTimeout(() => {
      if (c.established) return;
      if (!c.ws) {
        refuse("no WebSocket upgrade within the handshake timeout", address);
        socket.destroy();
        return;
      }
      // Upgraded: the channel's own deadline ends the handshake (and counts it); this is the
      // backstop that frees the slot even if a close handshake is left unanswered.
      c.timer = setTimeout(() => c.ws?.terminate(), 1000);
    }, timeoutMs);
    conns.set(key, c);
    socket.once("close", () => {
      conns.delete(key);
      if (c.established) established--;
      else leavePending(c);
    });
    socket.on("error", () => {});
  };

  const onRequest = (req: IncomingMessage, res: import("node:http").ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://x");
    const body = url.pathname === path
      ? "miner-cli peer endpoint: WebSocket upgrade required\n"
      : "not found\n";
    if (url.pathname === path) {
      refuse("not a WebSocket upgrade", plainAddress(req.socket.remoteAddress));
    }
    res.writeHead(url.pathname === path ? 426 : 404, {
      "content-type": "text/plain",
      "content-length": String(body.length),
      connection: "close",
    });
    res.end(body);
  };

  const onUpgrade = (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const c = conns.get(keyOf(socket));
    const address = plainAddress(socket.remoteAddress);
    const url = new URL(req.url ?? "/", "http://x");
    if (!c || url.pathname !== path) {
      socket.end(
        "HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 10\r\n\r\nnot found\n",
      );
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      c.ws = ws;
      guardReceiverEnd(ws);
      const fs = adaptWebSocket(ws as unknown as WebSocketLike, `${address}:${socket.remotePort}`, {
        binaryType: "nodebuffer",
        terminate: () => ws.terminate(),
      });
      options.onSocket(fs, {
        establish() {
          if (c.established) return true;
          if (established >= maxEstablished) {
            refuse(
              `connection limit (${maxEstablished}) reached: raise --max-connections, or the open-file limit (ulimit -n, LimitNOFILE) it follows`,
              address,
            );
            return false;
          }
          leavePending(c);
          c.established = true;
          established++;
          return true;
        },
      });
    });
  };

  const server: Server = options.tls
    ? https.createServer({ cert: options.tls.cert, key: options.tls.key }, onRequest)
    : http.createServer(onRequest);
  // A socket that never sends its request is the same threat as one that never handshakes.
  server.headersTimeout = timeoutMs;
  server.requestTimeout = timeoutMs;
  server.on("connection", onConnection);
  server.on("upgrade", onUpgrade);
  server.on("clientError", (_err: Error, socket: Socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.hostname ?? "0.0.0.0", backlog, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address() as { address: string; port: number };
  // Out of file descriptors, the listener can stop accepting (an accept error closes it): listen
  // again on the same port, with backoff, until it works, so the node outlives the shortage and
  // keeps the connections it has.
  let closing = false;
  let relistening = false;
  const relisten = (attempt: number) => {
    if (closing || relistening) return;
    relistening = true;
    setTimeout(() => {
      relistening = false;
      if (closing || server.listening) return;
      server.once("error", () => relisten(attempt + 1));
      server.listen(
        addr.port,
        options.hostname ?? "0.0.0.0",
        backlog,
        () => options.onRelisten?.(attempt + 1),
      );
    }, Math.min(10_000, 250 * 2 ** attempt));
  };
  server.on("error", (err: Error) => {
    if (closing) return;
    options.onListenError?.(err);
    try {
      server.close();
    } catch { /* not listening */ }
    relisten(0);
  });
  // Out of descriptors, an accept loop can stall while its socket still listens. After a shortage
  // was seen (see `watchStall`), when nothing was accepted for 5 s, the listener connects to
  // itself; when nothing at all is accepted within 2 s of that probe, it stalled, and it listens
  // again. (Never outside a shortage: a busy node is slow to accept, not stalled.)
  let watchUntil = 0;
  let probing = false;
  const { everyMs = 2500, idleMs = 5000, probeMs = 2000 } = options.stallWatch ?? {};
  const watchdog = setInterval(() => {
    if (closing) return;
    if (!server.listening) return relisten(0);
    if (Date.now() > watchUntil) return;
    if (Date.now() - lastAccept < idleMs || probing) return;
    // Any connection accepted since the probe was sent (the probe itself may be accepted before
    // its own connect event) shows the listener alive. A process descheduled past the deadline
    // runs its timers before the accepts it missed: it gets a second deadline (a stalled
    // listener stays stalled). A probe this process could not open proves nothing.
    const sentAt = Date.now();
    const probe = net.connect({
      host: addr.address === "0.0.0.0" ? "127.0.0.1" : addr.address,
      port: addr.port,
    });
    let local: number | undefined;
    probe.on("connect", () => {
      local = probe.localPort;
      if (local !== undefined) probes.add(local);
    });
    const verdict = (deadline: number, late: boolean) => {
      if (lastAccept < sentAt && !late && Date.now() - deadline > probeMs / 2) {
        timer = setTimeout(() => verdict(Date.now() + probeMs, true), probeMs);
        return;
      }
      probing = false;
      probe.destroy();
      if (local !== undefined) probes.delete(local);
      if (lastAccept < sentAt && !closing) {
        options.onListenError?.(new Error("the listener stopped accepting connections"));
        try {
          server.close();
        } catch { /* not listening */ }
        relisten(0);
      }
    };
    const deadline = sentAt + probeMs;
    let timer = setTimeout(() => verdict(deadline, false), probeMs);
    probing = true;
    probe.on("error", () => {
      clearTimeout(timer);
      probing = false;
      if (local !== undefined) probes.delete(local);
    });
  }, everyMs);
  // Resolves once the listener is closed and every connection has ended.
  let listenerClosed: Promise<void> | undefined;
  const stopAccepting = () => {
    if (listenerClosed) return;
    closing = true;
    clearInterval(watchdog);
    listenerClosed = new Promise<void>((r) => server.close(() => r()));
  };
  const hostname = addr.address;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return {
    hostname,
    port: addr.port,
    url: `${options.tls ? "wss" : "ws"}://${host}:${addr.port}${path}`,
    get connections() {
      return pending + established;
    },
    counts: () => ({ established, handshaking: pending, refused }),
    watchStall(ms: number) {
      watchUntil = Math.max(watchUntil, Date.now() + ms);
    },
    stopAccepting,
    async close() {
      stopAccepting();
      for (const c of conns.values()) {
        clearTimeout(c.timer);
        if (c.ws) c.ws.close(1001, "server shutting down");
        c.socket.destroy();
      }
      conns.clear();
      await listenerClosed;
    },
  };
}

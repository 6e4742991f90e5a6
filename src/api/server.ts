/**
 * Serving the API: `Deno.serve` on a loopback address by default; a non-loopback address needs
 * TLS unless explicitly allowed.
 * @module
 */
import { MinerCliError } from "../errors/mod.ts";
import { isLoopback } from "../netaddr/mod.ts";
import type { OpenAPIHono } from "@hono/zod-openapi";

/** Options for {@link startApiServer}. */
export interface ApiServerOptions {
  /** Interface (default 127.0.0.1). */
  hostname?: string;
  /** Port (0 = free port). */
  port: number;
  /** TLS certificate and key (PEM). */
  tls?: { cert: string; key: string };
  /** Allow plain HTTP on a non-loopback address. */
  insecure?: boolean;
  /** Called when the server had stopped accepting (out of file descriptors) and serves again. */
  onRestart?: (attempts: number) => void;
  /** Host names requests may use besides IP addresses and localhost (`--api-host`). */
  allowedHosts?: string[];
}

/** A running API server. */
export interface ApiServer {
  /** Base URL (`http://127.0.0.1:9090`). */
  readonly url: string;
  /** Bound port. */
  readonly port: number;
  /** Stops the server. */
  close(): Promise<void>;
}

/** Refused configuration. */
export class ApiConfigError extends MinerCliError {
  /** Creates the error. */
  constructor(message: string) {
    super(message, { status: 400, code: "bad_config" });
    this.name = "ApiConfigError";
  }
}

/** Starts serving `app`. */
export function startApiServer(app: OpenAPIHono, options: ApiServerOptions): ApiServer {
  const hostname = options.hostname ?? "127.0.0.1";
  if (!isLoopback(hostname) && !options.tls && !options.insecure) {
    throw new ApiConfigError(
      `refusing to serve the API on non-loopback address ${hostname} without TLS: give --api-tls-cert/--api-tls-key, or --insecure-api to accept plain HTTP`,
    );
  }
  const serve = (port: number) =>
    Deno.serve({
      hostname,
      port,
      onListen: () => {},
      ...(options.tls ? { cert: options.tls.cert, key: options.tls.key } : {}),
    }, app.fetch);
  let server = serve(options.port);
  const port = server.addr.port;
  let closing = false;
  // Deno's server stops accepting for good when accept fails (out of file descriptors): serve
  // again on the same port, with backoff, until it works, so the API outlives the shortage.
  const watch = (s: Deno.HttpServer) => {
    s.finished.catch(() => {}).then(async () => {
      for (let attempt = 0; !closing; attempt++) {
        await new Promise((r) => setTimeout(r, Math.min(10_000, 250 * 2 ** attempt)));
        if (closing) return;
        try {
          server = serve(port);
          options.onRestart?.(attempt + 1);
          watch(server);
          return;
        } catch { /* still short of descriptors, or the port is taken: try again */ }
      }
    });
  };
  watch(server);
  const host = server.addr.hostname.includes(":")
    ? `[${server.addr.hostname}]`
    : server.addr.hostname;
  return {
    url: `${options.tls ? "https" : "http"}://${host}:${port}`,
    port,
    close: () => {
      closing = true;
      return server.shutdown();
    },
  };
}

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
  const server = Deno.serve({
    hostname,
    port: options.port,
    onListen: () => {},
    ...(options.tls ? { cert: options.tls.cert, key: options.tls.key } : {}),
  }, app.fetch);
  const host = server.addr.hostname.includes(":")
    ? `[${server.addr.hostname}]`
    : server.addr.hostname;
  return {
    url: `${options.tls ? "https" : "http"}://${host}:${server.addr.port}`,
    port: server.addr.port,
    close: () => server.shutdown(),
  };
}

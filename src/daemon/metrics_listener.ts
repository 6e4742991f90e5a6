/**
 * `--metrics-listen`: Prometheus `/metrics` without auth, on a loopback address only, for a local
 * scraper. Other Host names are refused (a web page rebinding its name to 127.0.0.1).
 * @module
 */
import type { MetricsSnapshot } from "../api/mod.ts";
import { isLoopbackHost } from "../netaddr/mod.ts";

/** A running metrics listener. */
export interface MetricsListener {
  /** `http://HOST:PORT/metrics`. */
  url: string;
  /** Stops it. */
  close(): Promise<void>;
}

/** Serves `/metrics` from `snapshot` on `hostname:port`. */
export async function startMetricsListener(
  listen: { hostname: string; port: number },
  snapshot: () => MetricsSnapshot,
): Promise<MetricsListener> {
  const { renderMetrics } = await import("../api/mod.ts");
  const server = Deno.serve(
    { hostname: listen.hostname, port: listen.port, onListen: () => {} },
    (req) => {
      if (!isLoopbackHost(req.headers.get("host") ?? "")) {
        return new Response("forbidden: Host must be a loopback address\n", { status: 403 });
      }
      return new URL(req.url).pathname === "/metrics"
        ? new Response(renderMetrics(snapshot()), {
          headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
        })
        : new Response("not found: GET /metrics\n", { status: 404 });
    },
  );
  return {
    url: `http://${listen.hostname}:${(server.addr as Deno.NetAddr).port}/metrics`,
    close: () => server.shutdown().catch(() => {}),
  };
}

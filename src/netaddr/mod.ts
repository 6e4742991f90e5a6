/**
 * Small facts about network addresses that several layers check: whether a listen address is
 * loopback (the API needs TLS otherwise; `--metrics-listen` must be), and whether an HTTP `Host`
 * header names a loopback address.
 *
 * @example
 * ```ts
 * import { isLoopback, isLoopbackHost } from "./mod.ts";
 * isLoopback("127.0.0.1"); // true
 * isLoopback("0.0.0.0"); // false
 * isLoopbackHost("localhost:9100"); // true
 * isLoopbackHost("evil.example:9100"); // false
 * ```
 * @module
 */

/** Whether a hostname or IP literal is loopback (`localhost`, `127.0.0.0/8`, `::1`). */
export function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "::1" || hostname === "[::1]" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/** Whether an HTTP `Host` header (`name[:port]`) names a loopback address. */
export function isLoopbackHost(host: string): boolean {
  const m = /^(\[[^\]]+\]|[^:]+)(?::\d{1,5})?$/.exec(host);
  return m !== null && isLoopback(m[1]);
}

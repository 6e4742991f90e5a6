/**
 * The flags main.ts runs with from source (`deno task cli`): shared by the service unit written
 * for a source checkout, the benchmarks and the tests, so they cannot drift apart.
 * @module
 */

/** Permissions of `deno task cli`. */
export const DEV_PERMISSION_FLAGS: readonly string[] = [
  "--allow-read",
  "--allow-write",
  "--allow-net",
  "--allow-env",
  "--allow-sys",
  "--allow-run",
];

/**
 * Runtime flags of a node process: a 1 MB young generation (saves ~10 MB of RSS), and the UDP
 * sockets of LAN discovery (`Deno.listenDatagram` is unstable in Deno 2.9).
 */
export const NODE_RUNTIME_FLAGS: readonly string[] = [
  "--v8-flags=--max-semi-space-size=1",
  "--unstable-net",
];

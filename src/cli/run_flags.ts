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
 * Runtime flags of a node process: a 1 MB young generation (saves ~10 MB of RSS); an old
 * generation let grow to twice what survived its last collection before the next one (V8 allows
 * up to four times: a controller of 10,000 rigs with ~220 MB live sat at 650–830 MB, with this
 * 480–510 MB, see docs/performance.md); and the UDP sockets of LAN discovery
 * (`Deno.listenDatagram` is unstable in Deno 2.9).
 */
export const NODE_RUNTIME_FLAGS: readonly string[] = [
  "--v8-flags=--max-semi-space-size=1,--heap-growing-percent=100",
  "--unstable-net",
];

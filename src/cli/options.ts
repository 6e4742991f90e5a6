/**
 * Option lists several commands share (data only: the command table in `commands.ts` and
 * `service install`, which checks the `node serve` flags it is given, both use them).
 * @module
 */
import type { OptionDef } from "./spec.ts";

/** An option with a value (`--name VALUE`). */
export const valueOption = (
  name: string,
  value: string,
  description: string,
  extra: Partial<OptionDef> = {},
): OptionDef => ({ name, type: "string", value, description, ...extra });
/** A flag (`--name`). */
export const flagOption = (
  name: string,
  description: string,
  extra: Partial<OptionDef> = {},
): OptionDef => ({ name, type: "boolean", description, ...extra });
const s = valueOption;
const b = flagOption;

/** `--api URL`: which running node to ask. */
export const API_OPTION: OptionDef = s(
  "api",
  "URL",
  "the node's API (default: the one this home's node serve wrote, else MINER_CLI_API)",
);

/** How `remote` commands reach workers. */
export const ROUTE_OPTIONS: readonly OptionDef[] = [
  b("direct", "dial the workers from this process even when this home's node runs"),
  API_OPTION,
];

/** `node serve` (and `simulate`, and `service install -- ...`). */
export const SERVE_OPTIONS: readonly OptionDef[] = [
  s("listen", "HOST:PORT", "peer endpoint (all interfaces; port 0 picks a free one)", {
    default: ":9091",
  }),
  s("path", "PATH", "WebSocket path", { default: "/ws" }),
  s("tls-cert", "FILE", "PEM certificate, to serve wss:// (with --tls-key)"),
  s("tls-key", "FILE", "PEM key for --tls-cert"),
  s("connect", "HOST:PORT", "keep an outbound link to that node (repeatable; reconnects)", {
    multiple: true,
  }),
  s("max-connections", "N", "established peer connections", {
    default: "open-file limit - 384; on a worker at most 1024",
  }),
  s("refusal-log-interval", "D", "refused connections, failed handshakes: one log line per D", {
    default: "10s",
  }),
  s("max-handshakes", "N", "connections still in handshake, from all addresses", {
    default: "256",
  }),
  s("max-handshakes-per-address", "N", "connections still in handshake from one address", {
    default: "16",
  }),
  s("ping-interval", "D", "keepalive ping interval", { default: "5s" }),
  s("idle-timeout", "D", "drop a connection (and mark its peer offline) after this much silence", {
    default: "12s",
  }),
  s("handshake-timeout", "D", "handshake deadline (the TCP connection goes after it)", {
    default: "10s",
  }),
  s("rate-limit", "N", "control messages per second per connection (0: unlimited)", {
    default: "50",
  }),
  s("rate-burst", "N", "token-bucket burst", { default: "100" }),
  s("max-message", "BYTES", "largest control message", { default: "1048576" }),
  s(
    "api-listen",
    "HOST:PORT",
    "REST API and dashboard (non-loopback needs TLS or --insecure-api)",
    {
      default: "127.0.0.1:9090",
    },
  ),
  s("api-tls-cert", "FILE", "PEM certificate, to serve the API over HTTPS"),
  s("api-tls-key", "FILE", "PEM key for --api-tls-cert"),
  b("insecure-api", "allow plain HTTP on a non-loopback --api-listen"),
  s("api-host", "NAME", "a DNS name the API answers to (repeatable; IPs and localhost always)", {
    multiple: true,
  }),
  b("no-api", "serve no API"),
  s("poll-interval", "D", "miner stats poll interval", { default: "5s" }),
  s("stop-grace", "D", "SIGTERM to SIGKILL grace when stopping a miner", { default: "5s" }),
  s("restart-backoff", "D", "first watchdog restart delay (doubles)", { default: "1s" }),
  s("restart-backoff-max", "D", "watchdog restart delay cap", { default: "60s" }),
  s("hang-timeout", "D", "restart a miner whose API does not answer for this long", {
    default: "60s",
  }),
  s("stall-timeout", "D", "restart a miner at 0 H/s (or below its minimum) for this long", {
    default: "120s",
  }),
  s("log-lines", "N", "console lines kept per miner", { default: "1000" }),
  s("history-interval", "D", "hashrate sampling interval (0: no history)", { default: "10s" }),
  s("history-retention", "D", "history rollup retention", { default: "30d" }),
  s("metrics-listen", "127.0.0.1:PORT", "also serve Prometheus /metrics without auth (loopback)"),
  s("fleet-poll", "D", "controllers: background fleet poll (0: on demand)", { default: "10s" }),
  s("stats-push", "D", "workers: push stats on links to controllers every D (0: when asked)", {
    default: "10s",
  }),
  s("stratum-listen", "HOST:PORT|off", "workers: where pool-farm miners connect (stratum)", {
    default: "127.0.0.1:3333",
  }),
  s("stratum-max-miners", "N", "workers: most miners at once on the stratum endpoint", {
    default: "256",
  }),
  s("stratum-tls-cert", "FILE", "PEM certificate: miners connect with stratum+ssl"),
  s("stratum-tls-key", "FILE", "PEM key for --stratum-tls-cert"),
  s("health-interval", "D", "how often health and alert rules are evaluated", { default: "5s" }),
  s("alert-group-wait", "D", "alerts of one rule that fire together become one message", {
    default: "10s",
  }),
  s("alert-repeat", "D", "repeat a firing, unacknowledged alert this often", { default: "4h" }),
  s(
    "heartbeat-url",
    "URL",
    "dead man's switch: GET this URL every --heartbeat-interval while healthy",
  ),
  s("heartbeat-interval", "D", "dead man's switch interval", { default: "60s" }),
  b("discover", "LAN discovery: beacon on UDP and list other nodes as pending (never trusted)"),
  s("discover-port", "N", "discovery UDP port", { default: "10000" }),
  s("discover-broadcast", "ADDR[:PORT]", "where beacons go (repeatable)", {
    multiple: true,
    default: "255.255.255.255",
  }),
  s("discover-interval", "D", "beacon interval", { default: "3s" }),
  b("auto-controller", "controllers: enroll discovered workers that prove the join secret"),
  s("join-secret-file", "FILE", "the farm's join secret (mode 0600, 22+ characters)"),
];

/** What a bundle is built from (`bundle create`, `remote deploy`). */
export const BUNDLE_OPTIONS: readonly OptionDef[] = [
  s("profile", "ID", "a profile to bundle (repeatable)", { multiple: true }),
  s("miner", "TYPE|PATH", "the installed miner of TYPE, or a miner directory or binary"),
  s("type", "TYPE", "miner type of --miner PATH (xmrig, tt-miner, custom)"),
  s("version", "V", "version of --miner PATH (default: its --version)"),
  s("name", "NAME", "bundle name (default: the profile's or miner type's)"),
];

/** A profile's fields (`profile add`, `profile edit`). */
export const PROFILE_OPTIONS: readonly OptionDef[] = [
  s("name", "NAME", "profile name"),
  s("type", "TYPE", "miner type: xmrig, tt-miner or custom"),
  s(
    "pool",
    "URL",
    "stratum+tcp://HOST:PORT, stratum+ssl://HOST:PORT, HOST:PORT, or farm: the node's stratum endpoint, with the controller's work (xmrig: repeatable)",
    {
      multiple: true,
    },
  ),
  s("user", "WALLET", "wallet or pool user"),
  s("pass", "X", "pool password", { default: "x" }),
  s("algo", "ALGO", "algorithm (required for tt-miner)"),
  s("coin", "COIN", "coin"),
  b("tls", "xmrig: TLS to the pool"),
  s("rig-id", "ID", "xmrig: rig id"),
  s("threads", "N|auto", "xmrig: CPU threads"),
  s("donate-level", "N", "xmrig: donate level", { default: "1" }),
  s(
    "randomx-mode",
    "auto|fast|light",
    "xmrig: RandomX mode (unset with --pool farm: light below 2.5 GB free)",
  ),
  b("no-huge-pages", "xmrig: no huge pages"),
  b("opencl", "xmrig: OpenCL backend"),
  b("cuda", "xmrig: CUDA backend"),
  s("command", "BIN", "custom: binary name (miners dir, PATH) or absolute path"),
  s("arg", "ARG", "extra argument, one argv entry each (repeatable; may start with -)", {
    multiple: true,
    dashValue: true,
  }),
  s("hashrate-pattern", "RE", "custom: regex whose group 1 is the hashrate (group 2: its unit)"),
  s("hashrate-unit", "UNIT", "custom: H/s, kH/s, MH/s or GH/s", { default: "H/s" }),
  s("accepted-pattern", "RE", "custom: regex matched once per accepted share"),
  s("rejected-pattern", "RE", "custom: regex matched once per rejected share"),
  b("autostart", "start it when the node starts"),
  b("no-autostart", "do not start it when the node starts"),
  s("min-hashrate", "H", "watchdog: restart when below H H/s for --stall-seconds"),
  s("stall-seconds", "S", "watchdog: how long a stall lasts before a restart", {
    default: "120",
  }),
  s("expected-hashrate", "H", "health: what it should make (H/s); below 80 % for 5 min alerts"),
  s("file", "FILE", "the whole profile {name, minerType, config, ...} as JSON"),
];

/** Selecting discovered nodes (`peer approve`, `peer reject`). */
export const PENDING_OPTIONS: readonly OptionDef[] = [
  s("all-matching", "ROLE", "every pending node of ROLE (controller, worker, dual)"),
  API_OPTION,
];

/** `--user` / `--system` for `service` commands. */
export const SERVICE_SCOPE_OPTIONS: readonly OptionDef[] = [
  b("user", "a user unit in ~/.config/systemd/user (the default)"),
  b("system", "a system unit in /etc/systemd/system (as root; with --run-as USER)"),
];

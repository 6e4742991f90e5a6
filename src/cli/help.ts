/**
 * Command reference (also printed by `miner-cli help`).
 * @module
 */

/** One documented command. */
export interface CommandHelp {
  /** Usage line. */
  usage: string;
  /** One-line summary. */
  summary: string;
  /** Option descriptions. */
  options?: [string, string][];
}

/** Every command, keyed by its words. */
export const HELP: Record<string, CommandHelp> = {
  "node init": {
    usage:
      "miner-cli node init --name NAME [--role controller|worker|dual] [--lat L --lon L] [--force]",
    summary: "Create this node's identity (X25519 keypair, node ID, name, role).",
    options: [
      ["--name NAME", "1-64 chars: letters, digits, space, - or _; alphanumeric at both ends"],
      ["--role ROLE", "controller, worker or dual (default dual)"],
      ["--lat/--lon", "optional location, used for geo distance in peer optimal"],
      ["--force", "replace an existing identity"],
    ],
  },
  "node info": {
    usage: "miner-cli node info [--json]",
    summary: "Show this node's identity, auth mode and state directories.",
  },
  "node set": {
    usage: "miner-cli node set [--name NAME] [--lat L --lon L]",
    summary: "Rename the node or set its location.",
  },
  "node reset": {
    usage: "miner-cli node reset --force",
    summary: "Delete this node's identity (node.json and private.key).",
  },
  "node pair-code": {
    usage: "miner-cli node pair-code [--ttl 10m] [--for controller|peer] [--json]",
    summary:
      "Print a one-time pairing code (this node's ID + a secret) for a controller's `peer add --code`.",
    options: [
      ["--ttl D", "how long the code is valid (default 10m)"],
      [
        "--for controller|peer",
        "controller (default): the redeemer may control this node; peer: it registers with no grant",
      ],
    ],
  },
  "node policy": {
    usage: "miner-cli node policy [show] | set KEY VALUE",
    summary:
      "Show or change what controllers granted control may still not do here (worker policy).",
    options: [
      ["remote-custom allow|deny", "may controllers start custom miners here (default deny)"],
      ["deploy-miners allow|deny", "may controllers deploy miner binaries here (default allow)"],
      [
        "allowed-binaries any|SHA256,...",
        "only miner bundles whose executables have these SHA-256s (default any)",
      ],
    ],
  },
  "node serve": {
    usage:
      "miner-cli node serve [--listen HOST:PORT] [--path /ws] [--tls-cert F --tls-key F] [--connect HOST:PORT]...",
    summary: "Run the node: accept Noise-encrypted peer connections on a WebSocket endpoint.",
    options: [
      [
        "--listen HOST:PORT",
        "listen address (default :9091, all interfaces; port 0 picks a free port)",
      ],
      ["--path /ws", "WebSocket path"],
      ["--tls-cert/--tls-key", "PEM files to serve wss://"],
      [
        "--connect HOST:PORT",
        "keep an outbound connection to that node (repeatable; reconnects with backoff)",
      ],
      ["--max-connections N", "established (authenticated) peer connections (default 1024)"],
      [
        "--max-handshakes N / --max-handshakes-per-address N",
        "connections still in handshake, in all and from one source address (256 / 16)",
      ],
      ["--ping-interval D", "keepalive ping interval (default 30s)"],
      ["--idle-timeout D", "drop a connection after this much silence (default 40s)"],
      ["--handshake-timeout D", "handshake deadline (default 10s)"],
      ["--rate-limit N", "control messages per second per connection (default 50; 0 = unlimited)"],
      ["--rate-burst N", "token-bucket burst (default 100)"],
      ["--max-message BYTES", "largest control message (default 1048576)"],
      [
        "--api-listen HOST:PORT",
        "REST API (default 127.0.0.1:9090); non-loopback needs TLS or --insecure-api",
      ],
      ["--api-tls-cert/--api-tls-key", "PEM files to serve the API over HTTPS"],
      [
        "--api-host NAME",
        "a DNS name the API answers to (repeatable); IP addresses and localhost always work, other Host headers get 421",
      ],
      ["--no-api", "do not serve the API"],
      ["--poll-interval D", "miner stats poll interval (default 5s)"],
      ["--stop-grace D", "SIGTERM to SIGKILL grace when stopping a miner (default 5s)"],
      [
        "--restart-backoff D / --restart-backoff-max D",
        "watchdog restart delay, doubling up to the cap (1s / 60s)",
      ],
      ["--hang-timeout D", "restart a miner whose API does not answer for this long (default 60s)"],
      [
        "--stall-timeout D",
        "restart a miner at 0 H/s (or below its profile minimum) for this long (default 120s)",
      ],
      ["--log-lines N", "console lines kept per miner (default 1000)"],
      [
        "--history-interval D / --history-retention D",
        "hashrate sampling (10s; 0 disables) and rollup retention (30d)",
      ],
      [
        "--fleet-poll D",
        "controllers: background fleet poll behind /remote/stats, /metrics and the dashboard (10s; 0: on demand)",
      ],
      [
        "--metrics-listen 127.0.0.1:PORT",
        "also serve Prometheus /metrics without auth (loopback only)",
      ],
      [
        "--discover",
        "LAN discovery: beacon every 3s on UDP broadcast and list other nodes as pending (never trusted until approved)",
      ],
      ["--discover-port N", "discovery UDP port (default 10000)"],
      [
        "--discover-broadcast ADDR[:PORT]",
        "where beacons go (repeatable; default 255.255.255.255; give the LAN's broadcast address when there is no default route)",
      ],
      ["--discover-interval D", "beacon interval (default 3s)"],
      [
        "--auto-controller",
        "controllers: enroll discovered workers that prove the --join-secret-file secret in the handshake",
      ],
      [
        "--join-secret-file F",
        "the farm's join secret (mode 0600, 22+ chars): workers accept controllers that prove it",
      ],
      ["--json", "print the listening line as JSON"],
    ],
  },
  "peer add": {
    usage:
      "miner-cli peer add --address HOST:PORT [--name NAME] [--code CODE] [--lat L --lon L] [--hops N]",
    summary:
      "Connect, run the handshake, pin the peer's key and store it. With --code, pair using a one-time code.",
  },
  "peer list": {
    usage: "miner-cli peer list [--json] [--no-probe] [--timeout 3s]",
    summary: "List registered peers with online state (probed now), ping, score and last seen.",
  },
  "peer remove": {
    usage: "miner-cli peer remove <peer>",
    summary: "Remove a peer from the registry.",
  },
  "peer set": {
    usage: "miner-cli peer set <peer> [--name N] [--address A] [--lat L --lon L] [--hops N]",
    summary: "Change a registered peer's name, address, location or hop count.",
  },
  "peer ping": {
    usage: "miner-cli peer ping <peer> [--count N] [--timeout 5s] [--interval 200ms] [--json]",
    summary:
      "Measure round-trip time over the encrypted channel; updates ping, last seen and score.",
  },
  "peer allow": {
    usage: "miner-cli peer allow <node-id|public-key>... [--control]",
    summary: "Allow a node to connect to this one (allowlist auth mode).",
    options: [[
      "--control",
      "also let it control this node (start, stop, deploy) once it registers",
    ]],
  },
  "peer grant": {
    usage: "miner-cli peer grant <peer> control|read",
    summary:
      "Let a peer control this node (control: start, stop, deploy, and read) or read its stats and logs (read).",
  },
  "peer ungrant": {
    usage: "miner-cli peer ungrant <peer> control|read",
    summary: "Take a grant back (the next request is refused).",
  },
  "peer revoke": {
    usage: "miner-cli peer revoke <node-id|public-key|peer>",
    summary: "Remove a node from the allowlist and the registry.",
  },
  "peer auth-mode": {
    usage: "miner-cli peer auth-mode [open|allowlist]",
    summary:
      "Show or set who may connect: allowlist (default: registered or allowed peers only) or open.",
  },
  "peer optimal": {
    usage: "miner-cli peer optimal [--count N] [--json]",
    summary:
      "Best peers by normalized ping, hops, geo distance and score (k-d tree nearest neighbours).",
  },
  "peer pending": {
    usage: "miner-cli peer pending [--json] [--api URL]",
    summary:
      "Nodes discovered on the LAN (`node serve --discover`), not trusted until approved; also approved nodes still waiting for a handshake.",
  },
  "peer approve": {
    usage:
      "miner-cli peer approve <node-id>... | --all-matching ROLE [--control|--no-control] [--json] [--api URL]",
    summary:
      "Approve discovered nodes: allow their ID and, on a controller or dual node, dial them; the peer is registered (address stored, key pinned) only once the Noise handshake proves the ID. Exit 2 when some are still waiting for the other side to approve this node.",
    options: [[
      "--control / --no-control",
      "let the approved nodes control this one (default: yes on a worker, no on controller and dual nodes)",
    ]],
  },
  "peer reject": {
    usage: "miner-cli peer reject <node-id>... | --all-matching ROLE [--undo] [--json] [--api URL]",
    summary:
      "Reject discovered nodes: they leave the pending list and their beacons are ignored (kept across restarts); --undo forgets a rejection.",
  },
  start: {
    usage: "miner-cli start <profile> [--api URL] [--json]",
    summary: "Start a miner from a profile on the running local node.",
  },
  stop: {
    usage: "miner-cli stop <miner> [--api URL]",
    summary: "Stop a local miner (it stays stopped across node restarts).",
  },
  status: {
    usage: "miner-cli status [--json] [--api URL]",
    summary: "Local miners: state, hashrate, shares, pool, uptime, restarts. JSON: {miners:[...]}",
  },
  logs: {
    usage: "miner-cli logs <miner> [--lines N] [--follow] [--json]",
    summary: "Print a local miner's console; --follow streams new lines until Ctrl+C.",
  },
  pause: { usage: "miner-cli pause <miner>", summary: "Pause a miner through its API (XMRig)." },
  resume: { usage: "miner-cli resume <miner>", summary: "Resume a paused miner." },
  stdin: {
    usage: "miner-cli stdin <miner> <text> [--no-newline]",
    summary: "Send text to a miner's stdin (XMRig hotkeys: h, p, r, s).",
  },
  "miners list": {
    usage: "miner-cli miners list [--json]",
    summary: "Installed miner binaries (miners dir, then PATH) with their --version.",
  },
  "profile add": {
    usage:
      "miner-cli profile add --type xmrig|tt-miner|custom --name NAME [config flags] | --file profile.json",
    summary: "Create a mining profile (validated for its miner type).",
    options: [
      [
        "--pool URL",
        "stratum+tcp://HOST:PORT, stratum+ssl://HOST:PORT or HOST:PORT (xmrig: repeatable)",
      ],
      ["--user WALLET", "wallet / pool user"],
      ["--pass X", "pool password (default x)"],
      ["--algo A / --coin C", "algorithm (required for tt-miner) / coin"],
      ["--tls, --rig-id ID", "xmrig pool options"],
      ["--threads N|auto", "xmrig CPU threads"],
      ["--donate-level N", "xmrig donate level (default 1)"],
      ["--no-huge-pages, --opencl, --cuda", "xmrig backends"],
      ["--command BIN", "custom: binary name (miners dir / PATH) or absolute path"],
      ["--arg ARG", "extra argument, one argv entry each (repeatable; no shell metacharacters)"],
      [
        "--hashrate-pattern RE",
        "custom: regex whose group 1 is the hashrate (group 2 may be the unit)",
      ],
      ["--hashrate-unit U", "custom: H/s, kH/s, MH/s or GH/s"],
      ["--accepted-pattern RE / --rejected-pattern RE", "custom: share line patterns"],
      ["--autostart", "start when the node starts"],
      ["--min-hashrate H, --stall-seconds S", "watchdog: restart when below H H/s for S seconds"],
      ["--file F", "read the whole profile {name, minerType, config, ...} from JSON"],
    ],
  },
  "profile list": { usage: "miner-cli profile list [--json]", summary: "List mining profiles." },
  "profile show": {
    usage: "miner-cli profile show <profile>",
    summary: "Show one profile as JSON.",
  },
  "profile edit": {
    usage: "miner-cli profile edit <profile> [same flags as add] | --file F",
    summary: "Change a profile (re-validated as a whole).",
  },
  "profile remove": { usage: "miner-cli profile remove <profile>", summary: "Delete a profile." },
  "remote status": {
    usage: "miner-cli remote status [peer] [--json] [--timeout 10s] [--concurrency 64] [--direct]",
    summary:
      "Fleet status from every worker peer (or one): miners, hashrate, shares; exit 0 all answered, 2 some offline, 1 error.",
  },
  "remote start": {
    usage: "miner-cli remote start <peer> --profile ID [--type TYPE] [--direct]",
    summary: "Start a miner on a worker (sends this node's copy of the profile when it has one).",
  },
  "remote stop": {
    usage: "miner-cli remote stop <peer> [miner] [--direct]",
    summary: "Stop one miner on a worker, or all of them.",
  },
  "remote logs": {
    usage: "miner-cli remote logs <peer> <miner> [--lines N] [--follow] [--json] [--direct]",
    summary: "A worker's miner console over the encrypted link; --follow streams until Ctrl+C.",
  },
  "remote deploy": {
    usage:
      "miner-cli remote deploy <peer>... --profile ID | --miner TYPE|PATH [--type T] [--version V] | --bundle FILE [--password-file F] [--json] [--timeout S]",
    summary:
      "Stream a profile, a miner (the installed one of TYPE, or PATH) or a bundle file to workers, with a progress bar; SHA-256 verified end to end.",
  },
  "bundle create": {
    usage:
      "miner-cli bundle create --profile ID... | --miner TYPE|PATH [--type T] [--version V] [--profile ID] [--name N] [--password-file F] -o FILE [--json]",
    summary:
      "Build a deployment bundle (tar + manifest); with --password-file it is encrypted at rest (Argon2id + XChaCha20-Poly1305).",
  },
  "bundle inspect": {
    usage: "miner-cli bundle inspect FILE [--password-file F] [--json]",
    summary: "Show a bundle's manifest: type, name, version, files with sizes, modes and SHA-256.",
  },
  simulate: {
    usage: "miner-cli simulate [--count N] [--preset cpu-low|cpu-high|gpu] [node serve flags]",
    summary: "Run a node with emulated miners (no rig needed), e.g. to try the dashboard.",
  },
  "service install": {
    usage:
      "miner-cli service install [--user|--system] [--run-as USER] [--unit-dir DIR] [--no-enable] [--print] [-- node serve flags]",
    summary:
      "Write a hardened systemd unit that runs `node serve` for this node's home, and enable it.",
    options: [
      ["--user", "a user unit in ~/.config/systemd/user (default)"],
      ["--system", "a system unit in /etc/systemd/system (run as root; --run-as USER)"],
      ["--unit-dir DIR", "write the unit there instead"],
      ["--no-enable", "only write the unit"],
      ["--print", "print the unit and write nothing"],
    ],
  },
  "service uninstall": {
    usage: "miner-cli service uninstall [--user|--system] [--unit-dir DIR] [--no-enable]",
    summary: "Stop, disable and remove the unit.",
  },
  "service status": {
    usage: "miner-cli service status [--user|--system] [--json]",
    summary: "Show the unit's state (exit 0 when active).",
  },
  completions: {
    usage: "miner-cli completions bash|zsh|fish",
    summary:
      "Print a shell completion script (bash: ~/.local/share/bash-completion/completions/miner-cli; fish: ~/.config/fish/completions/miner-cli.fish; zsh: a directory on $fpath as _miner-cli).",
  },
  help: { usage: "miner-cli help [command]", summary: "Show help for all commands or one." },
};

/** Global usage text. */
export function globalHelp(): string {
  const lines = [
    "miner-cli — fleet manager for crypto-mining rigs",
    "",
    "usage: miner-cli [--home DIR] <command> [options]",
    "",
    "global options:",
    "  --home DIR     keep all config and data under DIR (also MINER_CLI_HOME)",
    "  --version      print the version",
    "  --help         show help",
    "",
    "commands:",
  ];
  const width = Math.max(...Object.keys(HELP).map((k) => k.length));
  for (const [name, h] of Object.entries(HELP)) {
    if (!name.startsWith("__")) lines.push(`  ${name.padEnd(width)}  ${h.summary}`);
  }
  lines.push("", "run `miner-cli help <command>` for a command's options");
  return lines.join("\n");
}

/** Help for one command. */
export function commandHelp(name: string): string | undefined {
  const h = HELP[name];
  if (!h) return undefined;
  const lines = [`usage: ${h.usage}`, "", h.summary];
  if (h.options?.length) {
    lines.push("", "options:");
    const w = Math.max(...h.options.map(([o]) => o.length));
    for (const [o, d] of h.options) lines.push(`  ${o.padEnd(w)}  ${d}`);
  }
  return lines.join("\n");
}

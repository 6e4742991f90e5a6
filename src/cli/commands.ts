/**
 * The command table: every command with its arguments, options (and their defaults), summary and
 * implementation. The parser, `help`, the shell completions and README's command reference are
 * all derived from it, so they cannot drift apart (a test checks README against it).
 * @module
 */
import type { CommandFn } from "./context.ts";
import { bundleCreate, bundleInspect } from "./bundle_commands.ts";
import {
  alertsAck,
  alertsChannelsAdd,
  alertsChannelsList,
  alertsChannelsRemove,
  alertsChannelsTest,
  alertsHistory,
  alertsList,
  alertsRulesList,
  alertsRulesSet,
  alertsSilence,
  alertsUnsilence,
  healthSet,
  healthThresholds,
  healthUnset,
} from "./alert_commands.ts";
import {
  minerLogs,
  minerPauseResume,
  minersList,
  minerStart,
  minerStatus,
  minerStdin,
  minerStop,
} from "./miner_commands.ts";
import {
  emulateMiner,
  nodeInfo,
  nodeInit,
  nodePairCode,
  nodePolicy,
  nodeReset,
  nodeServe,
  nodeSet,
  simulate,
} from "./node_commands.ts";
import {
  API_OPTION,
  BUNDLE_OPTIONS,
  flagOption,
  PENDING_OPTIONS,
  PROFILE_OPTIONS,
  ROUTE_OPTIONS,
  SERVE_OPTIONS,
  SERVICE_SCOPE_OPTIONS,
  valueOption,
} from "./options.ts";
import {
  peerAdd,
  peerAllow,
  peerApprove,
  peerAuthMode,
  peerGrant,
  peerList,
  peerOptimal,
  peerPending,
  peerPing,
  peerReject,
  peerRemove,
  peerRevoke,
  peerSet,
  peerTag,
} from "./peer_commands.ts";
import {
  profileAdd,
  profileAssign,
  profileAssignments,
  profileEdit,
  profileList,
  profileRemove,
  profileShow,
  profileUnassign,
} from "./profile_commands.ts";
import {
  remoteDeploy,
  remoteLogs,
  remoteStart,
  remoteStatus,
  remoteStop,
} from "./remote_commands.ts";
import { serviceInstall, serviceStatus, serviceUninstall } from "./service_commands.ts";
import {
  stratumSet,
  stratumShares,
  stratumStatus,
  stratumUpstreamAdd,
  stratumUpstreamList,
  stratumUpstreamRemove,
} from "./stratum_commands.ts";
import type { CommandSpec } from "./spec.ts";

/** A command: its spec and what runs it. */
export interface Command extends CommandSpec {
  /** The implementation (`help` and `completions` are answered by the dispatcher). */
  run?: CommandFn;
  /** Positional arguments allowed, [min, max] (default: any). */
  arity?: readonly [number, number];
  /** Touches no home (no permission check at start). */
  homeless?: boolean;
  /** Takes its arguments unparsed (`positionals` holds them all). */
  raw?: boolean;
}

const s = valueOption;
const b = flagOption;
const LAT_LON = [
  s("lat", "L", "latitude, with --lon (used for geo distance)", { dashValue: true }),
  s("lon", "L", "longitude, with --lat (west is negative: --lon -74.01)", { dashValue: true }),
];
const MANY = 1_000_000;

/** Command groups, in the order help lists them. */
export const GROUPS: Record<string, string> = {
  node: "this node: identity, pairing, policy, running it",
  peer: "the peers it knows and who may do what here",
  remote: "drive workers over the encrypted mesh (controller or dual node)",
  alerts: "alerts: what fires, silences, acknowledgements, rules, channels",
  health: "the health model's thresholds (fleet defaults, per rig, per profile)",
  stratum: "the farm's stratum proxy: upstreams, nonce ranges, shares (controller)",
  profile: "mining profiles",
  miners: "miner binaries on this node",
  bundle: "deployment bundles",
  service: "run the node as a systemd service",
};

/** Every command. */
export const COMMANDS: readonly Command[] = [
  // ---- node
  {
    name: "node init",
    summary: "create this node's identity (X25519 keypair, node ID, name, role) and API token",
    options: [
      s("name", "NAME", "1-64 chars: letters, digits, space, - or _", { required: true }),
      s("role", "ROLE", "controller, worker or dual", { default: "dual" }),
      ...LAT_LON,
      b("force", "replace an existing identity (its peers will no longer recognise it)"),
    ],
    arity: [0, 0],
    run: nodeInit,
  },
  {
    name: "node info",
    summary: "this node's identity, auth mode, who controls it, its policy and state directories",
    options: [b("token", "print the API token alone on the last line")],
    arity: [0, 0],
    run: nodeInfo,
  },
  {
    name: "node set",
    summary: "rename the node or set its location",
    options: [s("name", "NAME", "new name"), ...LAT_LON],
    arity: [0, 0],
    run: nodeSet,
  },
  {
    name: "node reset",
    summary: "delete this node's identity (node.json and private.key)",
    options: [b("force", "confirm")],
    arity: [0, 0],
    run: nodeReset,
  },
  {
    name: "node pair-code",
    summary: "print a one-time pairing code for a controller's `peer add --code`",
    options: [
      s("ttl", "D", "how long the code is valid", { default: "10m" }),
      s("for", "WHO", "controller: the redeemer may control this node; peer: no grant", {
        default: "controller",
      }),
    ],
    arity: [0, 0],
    run: nodePairCode,
  },
  {
    name: "node policy",
    args: "[show] | set KEY VALUE",
    summary: "what controllers granted control may still not do here (worker policy)",
    details: [
      "keys: remote-custom allow|deny (default deny): may controllers start custom miners here;",
      "deploy-miners allow|deny (default allow); allowed-binaries any|SHA256,... (default any)",
    ],
    options: [],
    arity: [0, 3],
    run: nodePolicy,
  },
  {
    name: "node serve",
    summary: "run the node: peer endpoint, miners (worker/dual), fleet monitor, history, REST API",
    options: SERVE_OPTIONS,
    details: ["--json prints the listening line as JSON"],
    arity: [0, 0],
    run: nodeServe,
  },
  {
    name: "simulate",
    summary: "a node with emulated miners (no rig needed), e.g. to try the dashboard",
    options: [
      s("count", "N", "emulated miners", { default: "1" }),
      s("preset", "PRESET", "cpu-low, cpu-high or gpu", { default: "cpu-low" }),
      s("name", "NAME", "node name when it creates the identity", { default: "sim" }),
      ...SERVE_OPTIONS,
    ],
    arity: [0, 0],
    run: simulate,
  },
  // ---- peer
  {
    name: "peer add",
    summary:
      "connect, handshake, pin the peer's key and store it (--code: pair with a one-time code)",
    options: [
      s(
        "address",
        "HOST:PORT",
        "where it listens: HOST:PORT, [IPv6]:PORT or ws(s)://HOST:PORT/path",
        { required: true },
      ),
      s("name", "NAME", "local name (default: the name it announces)"),
      s("code", "CODE", "a pairing code from `node pair-code` on that node"),
      ...LAT_LON,
      s("hops", "N", "network hops", { default: "1" }),
      s("timeout", "D", "connect and handshake timeout", { default: "10s" }),
    ],
    arity: [0, 0],
    run: peerAdd,
  },
  {
    name: "peer list",
    summary:
      "registered peers: online (the running node's live view, else probed now), what they may do here, ping, score, last seen",
    options: [
      ...ROUTE_OPTIONS,
      b("no-probe", "do not probe them"),
      s("timeout", "D", "probe timeout", { default: "3s" }),
      s("concurrency", "N", "peers probed at once", { default: "64" }),
    ],
    arity: [0, 0],
    run: peerList,
  },
  {
    name: "peer remove",
    args: "<peer>",
    summary: "forget a peer (an allowlisted one registers again when it connects; see peer revoke)",
    options: [],
    arity: [1, 1],
    run: peerRemove,
  },
  {
    name: "peer set",
    args: "<peer>",
    summary: "change a peer's name, address, location, hops or tags",
    options: [
      s("name", "NAME", "new name"),
      s("address", "HOST:PORT", "new address"),
      ...LAT_LON,
      s("hops", "N", "network hops"),
      s("tags", "T,T", "the rig's tags (comma-separated; empty clears), used by alert rules"),
    ],
    arity: [1, 1],
    run: peerSet,
  },
  {
    name: "peer tag",
    args: "<peer> <tags>",
    summary:
      'set a rig\'s tags (comma-separated; "" clears them): alert rules and the dashboard filter by them',
    options: [],
    arity: [2, 2],
    run: peerTag,
  },
  {
    name: "peer ping",
    args: "<peer>",
    summary: "round-trip time over the encrypted channel; updates ping, last seen and score",
    options: [
      s("count", "N", "pings", { short: "c", default: "4" }),
      s("timeout", "D", "per-ping and dial timeout", { default: "5s" }),
      s("interval", "D", "pause between pings", { default: "200ms" }),
    ],
    arity: [1, 1],
    run: peerPing,
  },
  {
    name: "peer allow",
    args: "<node-id|public-key>...",
    summary: "let nodes connect here (allowlist auth mode)",
    options: [
      b("control", "also let them control this node (start, stop, deploy) once they register"),
    ],
    arity: [1, MANY],
    run: peerAllow,
  },
  {
    name: "peer grant",
    args: "<peer> control|read",
    summary:
      "let a peer control this node (start, stop, deploy; and read) or read its stats and logs",
    options: [],
    arity: [2, 2],
    run: peerGrant(false),
  },
  {
    name: "peer ungrant",
    args: "<peer> control|read",
    summary: "take a grant back (the next request is refused)",
    options: [],
    arity: [2, 2],
    run: peerGrant(true),
  },
  {
    name: "peer revoke",
    args: "<node-id|public-key|peer>",
    summary: "off the allowlist and out of the registry; a running node drops its session in 2 s",
    options: [],
    arity: [1, 1],
    run: peerRevoke,
  },
  {
    name: "peer auth-mode",
    args: "[open|allowlist]",
    summary: "show or set who may connect: allowlist (registered or allowed peers only) or open",
    options: [],
    arity: [0, 1],
    run: peerAuthMode,
  },
  {
    name: "peer optimal",
    summary: "best peers by ping, hops, geo distance and score (k-d tree nearest neighbours)",
    options: [s("count", "N", "how many", { short: "n", default: "1" })],
    arity: [0, 0],
    run: peerOptimal,
  },
  {
    name: "peer pending",
    summary: "nodes discovered on the LAN (node serve --discover), untrusted; approvals waiting",
    options: [API_OPTION],
    arity: [0, 0],
    run: peerPending,
  },
  {
    name: "peer approve",
    args: "<node-id>... | --all-matching ROLE",
    summary:
      "approve discovered nodes (see LAN discovery); exit 2 while some wait for the other side",
    options: [
      ...PENDING_OPTIONS,
      b("control", "let them control this node (the default on a worker)"),
      b("no-control", "do not (the default on controller and dual nodes)"),
    ],
    run: peerApprove,
  },
  {
    name: "peer reject",
    args: "<node-id>... | --all-matching ROLE",
    summary: "drop discovered nodes and ignore their beacons (kept across restarts)",
    options: [...PENDING_OPTIONS, b("undo", "forget a rejection")],
    run: peerReject,
  },
  // ---- local miners
  {
    name: "start",
    args: "<profile>",
    summary: "start a miner from a profile on the running local node",
    options: [API_OPTION],
    arity: [1, 1],
    run: minerStart,
  },
  {
    name: "stop",
    args: "<miner>",
    summary: "stop a local miner (it stays stopped across node restarts)",
    options: [API_OPTION],
    arity: [1, 1],
    run: minerStop,
  },
  {
    name: "status",
    summary: "local miners: state, hashrate, shares, pool, uptime, restarts",
    options: [API_OPTION],
    arity: [0, 0],
    run: minerStatus,
  },
  {
    name: "logs",
    args: "<miner>",
    summary: "a local miner's console; --follow streams new lines until Ctrl+C",
    options: [
      API_OPTION,
      s("lines", "N", "the last N lines", { short: "n", default: "50" }),
      b("follow", "keep printing new lines", { short: "f" }),
    ],
    arity: [1, 1],
    run: minerLogs,
  },
  {
    name: "pause",
    args: "<miner>",
    summary: "pause a miner through its API (XMRig)",
    options: [API_OPTION],
    arity: [1, 1],
    run: minerPauseResume("pause"),
  },
  {
    name: "resume",
    args: "<miner>",
    summary: "resume a paused miner",
    options: [API_OPTION],
    arity: [1, 1],
    run: minerPauseResume("resume"),
  },
  {
    name: "stdin",
    args: "<miner> <text>",
    summary: "send text to a miner's stdin (XMRig hotkeys: h, p, r, s)",
    options: [API_OPTION, b("no-newline", "do not append a newline")],
    arity: [2, 2],
    run: minerStdin,
  },
  {
    name: "miners list",
    summary: "installed miner binaries (miners dir, then PATH) with their --version",
    options: [],
    arity: [0, 0],
    run: minersList,
  },
  // ---- profiles
  {
    name: "profile add",
    summary: "create a mining profile, validated for its miner type",
    details: [
      "xmrig needs --pool and --user; tt-miner --pool, --user and --algo; custom --command",
    ],
    options: PROFILE_OPTIONS,
    arity: [0, 0],
    run: profileAdd,
  },
  {
    name: "profile list",
    summary: "mining profiles",
    options: [],
    arity: [0, 0],
    run: profileList,
  },
  {
    name: "profile show",
    args: "<profile>",
    summary: "one profile as JSON (passwords masked)",
    options: [],
    arity: [1, 1],
    run: profileShow,
  },
  {
    name: "profile edit",
    args: "<profile>",
    summary: "change a profile (re-validated as a whole)",
    options: PROFILE_OPTIONS,
    arity: [1, 1],
    run: profileEdit,
  },
  {
    name: "profile assign",
    args: "<profile>",
    summary: "rigs with --tag run the profile: started now, and on rigs that get the tag later",
    options: [s("tag", "TAG", "the rigs' tag (see peer tag)", { required: true })],
    arity: [1, 1],
    run: profileAssign,
  },
  {
    name: "profile unassign",
    summary: "remove a tag's profile assignment (its miners keep running)",
    options: [s("tag", "TAG", "the tag", { required: true })],
    arity: [0, 0],
    run: profileUnassign,
  },
  {
    name: "profile assignments",
    summary: "each tag's profile and how its rollout went on each rig",
    options: [],
    arity: [0, 0],
    run: profileAssignments,
  },
  {
    name: "profile remove",
    args: "<profile>",
    summary: "delete a profile",
    options: [],
    arity: [1, 1],
    run: profileRemove,
  },
  // ---- stratum
  {
    name: "stratum status",
    summary:
      "the proxy: upstreams (state, latency, accepted/rejected, blocks), miners with their nonce range and shares, totals",
    options: [API_OPTION],
    arity: [0, 0],
    run: stratumStatus,
  },
  {
    name: "stratum shares",
    summary: "the share log: every share with its verdict, reason and what the upstream said",
    options: [
      API_OPTION,
      s("rig", "ID", "only this rig's (node ID)"),
      s("limit", "N", "how many, newest last", { default: "50" }),
    ],
    arity: [0, 0],
    run: stratumShares,
  },
  {
    name: "stratum upstream list",
    summary: "the pool set in failover order (passwords never shown) and the miners' difficulty",
    options: [API_OPTION],
    arity: [0, 0],
    run: stratumUpstreamList,
  },
  {
    name: "stratum upstream add",
    args: "<url>",
    summary:
      "add a pool (stratum+tcp://, stratum+ssl://) or a Monero daemon for solo mining (daemon+http://HOST:18081)",
    details: [
      "Upstreams are tried in order: miners work for the first one that is up, and move to the next",
      "within seconds when it fails. Credentials stay on this node (stratum.json, mode 0600).",
    ],
    options: [
      API_OPTION,
      s("user", "WALLET", "pool login, or the wallet a daemon's block reward goes to", {
        required: true,
      }),
      s("pass", "X", "pool password"),
      s("position", "N", "place in the failover order, from 0 (default: last)"),
    ],
    arity: [1, 1],
    run: stratumUpstreamAdd,
  },
  {
    name: "stratum upstream remove",
    args: "<url|index>",
    summary: "remove an upstream",
    options: [API_OPTION],
    arity: [1, 1],
    run: stratumUpstreamRemove,
  },
  {
    name: "stratum set",
    summary:
      "the difficulty miners are given (capped at the upstream's, so no block is missed) and the nonce ranges per blob",
    details: [
      "Each miner owns one value of the nonce's high byte: 256 miners per blob. With a daemon",
      "upstream the next miners get blobs with other extra nonces (up to 65,536 miners); a pool's",
      "job is one blob. --ranges below 256 moves to the next extra nonce sooner.",
    ],
    options: [
      API_OPTION,
      s("difficulty", "N", "the miners' difficulty", { default: "5000" }),
      s("ranges", "N", "nonce ranges per blob, 1-256", { default: "256" }),
    ],
    arity: [0, 0],
    run: stratumSet,
  },
  // ---- alerts
  {
    name: "alerts list",
    summary: "firing and pending alerts, the recently resolved, the silences in force",
    options: [],
    arity: [0, 0],
    run: alertsList,
  },
  {
    name: "alerts history",
    summary: "resolved alerts, newest first",
    options: [s("limit", "N", "how many", { default: "50" })],
    arity: [0, 0],
    run: alertsHistory,
  },
  {
    name: "alerts ack",
    args: "<alert|rig|all>",
    summary: "acknowledge firing alerts: no repeats until they resolve",
    options: [s("reason", "TEXT", "a note kept with the acknowledgement")],
    arity: [1, 1],
    run: alertsAck,
  },
  {
    name: "alerts silence",
    args: "[rig|rule]",
    summary: "hold back delivery for a rig and/or a rule for a while",
    options: [
      s("for", "D", "how long (1m to 90d)", { default: "1h" }),
      s("reason", "TEXT", "why (kept with the silence)", { required: true }),
      s("rig", "RIG", "the rig (name or ID)"),
      s("rule", "RULE", "the rule (e.g. hashrate_zero)"),
    ],
    arity: [0, 1],
    run: alertsSilence,
  },
  {
    name: "alerts unsilence",
    args: "<silence>",
    summary: "end a silence now",
    options: [],
    arity: [1, 1],
    run: alertsUnsilence,
  },
  {
    name: "alerts rules list",
    summary: "the rules: on/off, severity, for-duration, threshold, scope",
    options: [],
    arity: [0, 0],
    run: alertsRulesList,
  },
  {
    name: "alerts rules set",
    args: "<rule>",
    summary: "change a rule (its threshold is the health model's fleet default)",
    options: [
      s("enabled", "BOOL", "true or false"),
      s("severity", "S", "critical, warning or info"),
      s("for", "D", "how long the reason must hold before it fires"),
      s("threshold", "X", "the rule's threshold (see alerts rules list)"),
      s("rigs", "R,R", "only these rigs (empty: all)"),
      s("tags", "T,T", "only rigs with one of these tags (empty: all)"),
    ],
    arity: [1, 1],
    run: alertsRulesSet,
  },
  {
    name: "alerts channels list",
    summary: "channels (secrets masked) and their last delivery",
    options: [],
    arity: [0, 0],
    run: alertsChannelsList,
  },
  {
    name: "alerts channels add",
    args: "<name>",
    summary: "add a webhook, alertmanager, email, telegram, discord, ntfy or pushover channel",
    options: [
      s("type", "TYPE", "webhook, alertmanager, email, telegram, discord, ntfy, pushover", {
        required: true,
      }),
      s("url", "URL", "webhook, alertmanager (base URL), discord (webhook URL)"),
      s("secret-file", "FILE", "webhook HMAC key, SMTP password, telegram/ntfy/pushover token"),
      s("header", "NAME:VALUE", "webhook/alertmanager: extra header (repeatable)", {
        multiple: true,
      }),
      s("base-url", "URL", "telegram, ntfy, pushover: API base URL (self-hosted, tests)"),
      s("chat-id", "ID", "telegram: chat ID or @channel"),
      s("topic", "TOPIC", "ntfy: topic"),
      s("user-key", "KEY", "pushover: user key"),
      s("smtp-host", "HOST", "email: SMTP server"),
      s("smtp-port", "N", "email: SMTP port", { default: "587" }),
      s("smtp-security", "MODE", "email: starttls, tls or none", { default: "starttls" }),
      s("smtp-user", "USER", "email: SMTP user (password in --secret-file)"),
      s("ca-file", "FILE", "email: PEM CA to trust for a private mail server"),
      s("from", "ADDR", "email: sender"),
      s("to", "ADDR,ADDR", "email: recipients"),
      s("min-severity", "S", "only alerts at least this severe (critical, warning, info)", {
        default: "info",
      }),
      b("replace", "replace a channel of the same name"),
    ],
    arity: [1, 1],
    run: alertsChannelsAdd,
  },
  {
    name: "alerts channels remove",
    args: "<name>",
    summary: "remove a channel",
    options: [],
    arity: [1, 1],
    run: alertsChannelsRemove,
  },
  {
    name: "alerts channels test",
    args: "<name>",
    summary: "send a test message through a channel now; exit 1 when it fails",
    options: [],
    arity: [1, 1],
    run: alertsChannelsTest,
  },
  {
    name: "alerts test",
    args: "<channel>",
    summary: "the same as alerts channels test",
    options: [],
    arity: [1, 1],
    run: alertsChannelsTest,
  },
  // ---- health
  {
    name: "health thresholds",
    summary: "the health model's thresholds: fleet defaults and overrides",
    options: [],
    arity: [0, 0],
    run: healthThresholds,
  },
  {
    name: "health set",
    args: "<key=value>...",
    summary: "set thresholds for the fleet, a rig (--rig) or a profile (--profile)",
    options: [s("rig", "RIG", "only this rig"), s("profile", "PROFILE", "only this profile")],
    arity: [1, MANY],
    run: healthSet,
  },
  {
    name: "health unset",
    args: "<key>...",
    summary: "drop thresholds (back to the next level's value)",
    options: [s("rig", "RIG", "only this rig"), s("profile", "PROFILE", "only this profile")],
    arity: [1, MANY],
    run: healthUnset,
  },
  // ---- remote
  {
    name: "remote status",
    args: "[peer]",
    summary:
      "fleet health: state and reason per rig and miner, per-algorithm totals; exit 0 all ok, 2 down/degraded, 1 error",
    options: [
      ...ROUTE_OPTIONS,
      b("devices", "also every device: hashrate, temperature, fan, power, limit"),
      s("fail-on", "STATE", "exit 2 when a rig is down, or degraded too (down|degraded)", {
        default: "degraded",
      }),
      s("timeout", "D", "per-worker timeout", { default: "10s" }),
      s("concurrency", "N", "workers asked at once (direct dials)", { default: "64" }),
      b("fresh", "through the node: ask every rig now, pushing ones too"),
    ],
    arity: [0, 1],
    run: remoteStatus,
  },
  {
    name: "remote start",
    args: "[peer]",
    summary:
      "start a miner on a worker, or on every rig with --tag (this node's profile travels along)",
    options: [
      ...ROUTE_OPTIONS,
      s("profile", "ID", "profile ID or name", { required: true }),
      s("type", "TYPE", "miner type, when this node does not have the profile"),
      s("tag", "TAG", "every rig with this tag instead of <peer>"),
      s("timeout", "D", "how long the worker has to answer", { default: "30s" }),
    ],
    arity: [0, 1],
    run: remoteStart,
  },
  {
    name: "remote stop",
    args: "[peer] [miner]",
    summary: "stop one miner on a worker, or all of them; --tag: on every rig with the tag",
    options: [
      ...ROUTE_OPTIONS,
      s("tag", "TAG", "every rig with this tag instead of <peer>"),
      s("timeout", "D", "how long the worker has to answer each stop", { default: "30s" }),
    ],
    arity: [0, 2],
    run: remoteStop,
  },
  {
    name: "remote logs",
    args: "<peer> <miner>",
    summary: "a worker's miner console over the encrypted link; --follow streams until Ctrl+C",
    options: [
      ...ROUTE_OPTIONS,
      s("lines", "N", "the last N lines", { short: "n", default: "50" }),
      b("follow", "keep printing new lines", { short: "f" }),
      s("timeout", "D", "how long the worker has to answer", { default: "10s" }),
    ],
    arity: [2, 2],
    run: remoteLogs,
  },
  {
    name: "remote deploy",
    args: "[peer]...",
    summary: "stream a profile, a miner or a bundle file to workers; SHA-256 checked end to end",
    options: [
      s("tag", "TAG", "every rig with this tag instead of naming them"),
      ...ROUTE_OPTIONS,
      ...BUNDLE_OPTIONS,
      s("bundle", "FILE", "a bundle file (from bundle create)"),
      s("password-file", "FILE", "password of an encrypted --bundle"),
      s("timeout", "D", "give up when the worker acknowledges nothing for this long", {
        default: "60s",
      }),
    ],
    arity: [0, MANY],
    run: remoteDeploy,
  },
  // ---- bundles
  {
    name: "bundle create",
    summary: "build a deployment bundle (tar + manifest, 0600); --password-file encrypts it",
    options: [
      ...BUNDLE_OPTIONS,
      s("output", "FILE", "where to write it", { short: "o", required: true }),
      s("password-file", "FILE", "encrypt at rest (Argon2id + XChaCha20-Poly1305)"),
    ],
    arity: [0, 0],
    run: bundleCreate,
  },
  {
    name: "bundle inspect",
    args: "<file>",
    summary: "a bundle's manifest: type, name, version, files with sizes, modes and SHA-256",
    options: [s("password-file", "FILE", "password of an encrypted bundle")],
    arity: [1, 1],
    run: bundleInspect,
  },
  // ---- service
  {
    name: "service install",
    args: "[-- node serve flags]",
    summary: "write and enable a hardened systemd unit running `node serve` for this home",
    options: [
      ...SERVICE_SCOPE_OPTIONS,
      s("run-as", "USER", "the account the system unit runs as"),
      s("unit-dir", "DIR", "write the unit there instead"),
      b("no-enable", "only write the unit"),
      b("print", "print the unit and write nothing"),
    ],
    run: serviceInstall,
  },
  {
    name: "service uninstall",
    summary: "stop, disable and remove the unit",
    options: [
      ...SERVICE_SCOPE_OPTIONS,
      s("unit-dir", "DIR", "where the unit was written"),
      b("no-enable", "only remove the file"),
    ],
    arity: [0, 0],
    run: serviceUninstall,
  },
  {
    name: "service status",
    summary: "the unit's state (exit 0 when active)",
    options: SERVICE_SCOPE_OPTIONS,
    arity: [0, 0],
    run: serviceStatus,
  },
  // ---- the CLI itself (answered by the dispatcher, which knows the table)
  {
    name: "completions",
    args: "bash|zsh|fish",
    summary: "print a shell completion script",
    details: [
      "bash: ~/.local/share/bash-completion/completions/miner-cli; fish:",
      "~/.config/fish/completions/miner-cli.fish; zsh: a directory on $fpath, as _miner-cli",
    ],
    options: [],
    arity: [1, 1],
    noJson: true,
    homeless: true,
  },
  {
    name: "help",
    args: "[command]",
    summary: "help for every command, a group (help node) or one command",
    options: [],
    noJson: true,
    homeless: true,
  },
  {
    name: "__emulate-miner",
    args: "xmrig|tt-miner [args]",
    summary: "act as an emulated miner (used by simulate and the tests)",
    options: [],
    hidden: true,
    homeless: true,
    raw: true,
    run: emulateMiner,
  },
];

/** The command named by `words` exactly. */
export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}

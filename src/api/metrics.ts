/**
 * Prometheus text exposition (format 0.0.4) of a node: per-miner hashrate, shares, uptime and
 * restarts (local miners and, on controllers, every worker's miners from the last fleet poll),
 * per-peer online state, round trip and score, and the fleet total.
 * @module
 */
import type { PeerView } from "../protocol/mod.ts";
import type { FleetStatus as FleetStatusDoc } from "../protocol/mod.ts";
import { type MinerStats } from "../protocol/mod.ts";

/** What {@link renderMetrics} reads. */
export interface MetricsSnapshot {
  /** This node. */
  node: { id: string; name: string; role: string };
  /** Software version. */
  version: string;
  /** Seconds since the node started. */
  uptimeSeconds: number;
  /** This node's miners (empty on controllers). */
  localMiners: MinerStats[];
  /** The last fleet poll (null before the first). */
  fleet: FleetStatusDoc | null;
  /** Registered peers. */
  peers: PeerView[];
}

type Labels = Record<string, string>;

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

class Family {
  readonly samples: string[] = [];
  constructor(
    readonly name: string,
    readonly type: "gauge" | "counter",
    readonly help: string,
  ) {}
  add(labels: Labels, value: number): void {
    if (!Number.isFinite(value)) return;
    const l = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",");
    this.samples.push(`${this.name}${l ? `{${l}}` : ""} ${value}`);
  }
  render(): string {
    return `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} ${this.type}\n${
      this.samples.map((s) => s + "\n").join("")
    }`;
  }
}

/** Renders the snapshot as Prometheus text. */
export function renderMetrics(snap: MetricsSnapshot): string {
  const info = new Family("miner_cli_node_info", "gauge", "This node (value is always 1).");
  const up = new Family(
    "miner_cli_node_uptime_seconds",
    "gauge",
    "Seconds since the node started.",
  );
  const hashrate = new Family(
    "miner_cli_miner_hashrate_hashes_per_second",
    "gauge",
    "Current hashrate of a miner (H/s).",
  );
  const shares = new Family(
    "miner_cli_miner_shares_total",
    "counter",
    "Shares a miner submitted, by result.",
  );
  const uptime = new Family(
    "miner_cli_miner_uptime_seconds",
    "gauge",
    "Seconds since the miner process started.",
  );
  const restarts = new Family(
    "miner_cli_miner_restarts_total",
    "counter",
    "Watchdog restarts of a miner.",
  );
  const running = new Family(
    "miner_cli_miner_running",
    "gauge",
    "1 when the miner is running, 0 otherwise.",
  );
  const peerOnline = new Family(
    "miner_cli_peer_online",
    "gauge",
    "1 when the peer answered the last check, 0 when not, absent before the first check.",
  );
  const peerRtt = new Family(
    "miner_cli_peer_rtt_seconds",
    "gauge",
    "Last measured round trip to the peer.",
  );
  const peerScore = new Family(
    "miner_cli_peer_score",
    "gauge",
    "Reliability score of the peer (0-100).",
  );
  const peerSessions = new Family(
    "miner_cli_peer_sessions",
    "gauge",
    "Open sessions with the peer (1 for a connected persistent link).",
  );
  const fleetTotal = new Family(
    "miner_cli_fleet_hashrate_hashes_per_second",
    "gauge",
    "Total hashrate of the workers that answered the last fleet poll, plus this node's miners.",
  );
  const fleetNodes = new Family(
    "miner_cli_fleet_nodes",
    "gauge",
    "Worker nodes in the last fleet poll, by state.",
  );

  info.add(
    { id: snap.node.id, name: snap.node.name, role: snap.node.role, version: snap.version },
    1,
  );
  up.add({}, snap.uptimeSeconds);
  const addMiner = (nodeName: string, nodeId: string, m: MinerStats) => {
    const l = { node: nodeName, node_id: nodeId, miner: m.name, type: m.type };
    hashrate.add(l, m.hashrate.now ?? 0);
    shares.add({ ...l, result: "accepted" }, m.shares.accepted);
    shares.add({ ...l, result: "rejected" }, m.shares.rejected);
    uptime.add(l, m.uptime);
    restarts.add(l, m.restarts);
    running.add(l, m.state === "running" ? 1 : 0);
  };
  let total = 0;
  for (const m of snap.localMiners) {
    addMiner(snap.node.name, snap.node.id, m);
    total += m.hashrate.now ?? 0;
  }
  for (const row of snap.fleet?.peers ?? []) {
    for (const m of row.miners) addMiner(row.name, row.id, m);
  }
  total += snap.fleet?.totalHashrate ?? 0;
  for (const p of snap.peers) {
    const l = { peer: p.name, peer_id: p.id, role: p.role };
    if (p.online !== null) peerOnline.add(l, p.online ? 1 : 0);
    if (p.pingMs !== null) peerRtt.add(l, p.pingMs / 1000);
    peerScore.add(l, p.score);
    peerSessions.add(l, p.sessions);
  }
  fleetTotal.add({}, total);
  if (snap.fleet) {
    fleetNodes.add({ state: "online" }, snap.fleet.online);
    fleetNodes.add({ state: "offline" }, snap.fleet.offline);
  }
  return [
    info,
    up,
    hashrate,
    shares,
    uptime,
    restarts,
    running,
    peerOnline,
    peerRtt,
    peerScore,
    peerSessions,
    fleetTotal,
    fleetNodes,
  ].filter((f) => f.samples.length > 0).map((f) => f.render()).join("");
}

/**
 * Prometheus text exposition (format 0.0.4) of a node: per-miner hashrate, shares, uptime and
 * restarts (local miners and, on controllers, every worker's miners from the last fleet poll),
 * per-peer online state, round trip and score, and the fleet total.
 * @module
 */
import type {
  AlertsView,
  FleetHealth,
  FleetStatus as FleetStatusDoc,
  MinerStats,
  PeerView,
  StratumStatus,
} from "../protocol/mod.ts";
import { HEALTH_ORDER } from "../protocol/mod.ts";

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
  /** The last health evaluation (null: none yet). */
  health?: FleetHealth | null;
  /** Active alerts. */
  alerts?: AlertsView | null;
  /** Last successful dead man's switch request (ms since epoch), when one runs. */
  heartbeatOk?: number | null;
  /** Stats pushes taken from linked rigs since the node started. */
  fleetPushes?: number;
  /** The stratum proxy's status (controllers with a proxy). */
  stratum?: StratumStatus | null;
  /** The peer listener: connections now, and what happened to them since the node started. */
  mesh?: {
    established: number;
    handshaking: number;
    accepted: number;
    rejected: number;
    refused: number;
    handshakeFailures: number;
    protocolErrors: number;
    rateLimited: number;
  };
  /** The event loop's longest delay over the last 10–20 s (ms). */
  eventLoopLagMs?: number;
}

type Labels = Record<string, string>;

const NEEDS_ESCAPE = /[\\\n"]/;

function escapeLabel(v: string): string {
  if (!NEEDS_ESCAPE.test(v)) return v;
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/** `k="v",...` with the values escaped, in the labels' own order. */
function labelText(labels: Labels): string {
  let s = "";
  for (const k in labels) s += `${s ? "," : ""}${k}="${escapeLabel(labels[k])}"`;
  return s;
}

class Family {
  readonly samples: string[] = [];
  constructor(
    readonly name: string,
    readonly type: "gauge" | "counter",
    readonly help: string,
  ) {}
  add(labels: Labels, value: number): void {
    this.addText(labelText(labels), value);
  }
  /**
   * A sample whose label text ({@link labelText}) is already built: a rig's or peer's labels are
   * escaped once for all its series (a scrape of 10,000 rigs renders ~100,000 of them).
   */
  addText(labels: string, value: number): void {
    if (!Number.isFinite(value)) return;
    this.samples.push(labels ? `${this.name}{${labels}} ${value}\n` : `${this.name} ${value}\n`);
  }
  render(): string {
    return `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} ${this.type}\n${
      this.samples.join("")
    }`;
  }
}

/** `,state="…"` for each health state, in order. */
const STATE_LABELS = HEALTH_ORDER.map((st) => [st, `,state="${st}"`] as const);

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
    "Hashrate of one algorithm: this node's miners and the workers that answered (never summed across algorithms).",
  );
  const fleetExpected = new Family(
    "miner_cli_fleet_expected_hashrate_hashes_per_second",
    "gauge",
    "Expected hashrate of one algorithm (the miners whose expectation is known).",
  );
  const devTemp = new Family(
    "miner_cli_device_temperature_celsius",
    "gauge",
    "Temperature of a miner's device (GPU core or CPU package).",
  );
  const devFan = new Family(
    "miner_cli_device_fan_percent",
    "gauge",
    "Fan speed of a device, in percent.",
  );
  const devRpm = new Family("miner_cli_device_fan_rpm", "gauge", "Fan speed of a device, in RPM.");
  const devPower = new Family("miner_cli_device_power_watts", "gauge", "Board power of a device.");
  const devHash = new Family(
    "miner_cli_device_hashrate_hashes_per_second",
    "gauge",
    "Hashrate of one device (H/s).",
  );
  const rigHealth = new Family(
    "miner_cli_rig_health",
    "gauge",
    "1 for the rig's current health state (ok, degraded, down, idle, unknown), 0 for the others.",
  );
  const minerHealth = new Family(
    "miner_cli_miner_health",
    "gauge",
    "1 for the miner's current health state, 0 for the others.",
  );
  const fleetRigs = new Family("miner_cli_fleet_rigs", "gauge", "Rigs by health state.");
  const alertsActive = new Family(
    "miner_cli_alerts",
    "gauge",
    "Active alerts by state (firing, pending) and severity.",
  );
  const heartbeat = new Family(
    "miner_cli_heartbeat_last_success_timestamp_seconds",
    "gauge",
    "When the dead man's switch was last answered (Unix time).",
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
    hashrate.add({ ...l, algorithm: m.algorithm ?? "unknown" }, m.hashrate.now ?? 0);
    m.devices.forEach((d, i) => {
      const dl = { ...l, device: String(i), device_name: d.name ?? "", kind: d.kind ?? "gpu" };
      if (d.temp !== null) devTemp.add(dl, d.temp);
      if (d.fan !== null) devFan.add(dl, d.fan);
      if (d.fanRpm !== null && d.fanRpm !== undefined) devRpm.add(dl, d.fanRpm);
      if (d.power !== null && d.power !== undefined) devPower.add(dl, d.power);
      if (d.hashrate !== null) devHash.add(dl, d.hashrate);
    });
    shares.add({ ...l, result: "accepted" }, m.shares.accepted);
    shares.add({ ...l, result: "rejected" }, m.shares.rejected);
    uptime.add(l, m.uptime);
    restarts.add(l, m.restarts);
    running.add(l, m.state === "running" ? 1 : 0);
  };
  for (const m of snap.localMiners) addMiner(snap.node.name, snap.node.id, m);
  for (const row of snap.fleet?.peers ?? []) {
    for (const m of row.miners) addMiner(row.name, row.id, m);
  }
  for (const p of snap.peers) {
    const l = labelText({ peer: p.name, peer_id: p.id, role: p.role });
    if (p.online !== null) peerOnline.addText(l, p.online ? 1 : 0);
    if (p.pingMs !== null) peerRtt.addText(l, p.pingMs / 1000);
    peerScore.addText(l, p.score);
    peerSessions.addText(l, p.sessions);
  }
  for (const t of snap.health?.totals ?? []) {
    fleetTotal.add({ algorithm: t.algorithm }, t.hashrate);
    if (t.expected !== null) fleetExpected.add({ algorithm: t.algorithm }, t.expected);
  }
  if (snap.health) {
    for (const rig of snap.health.rigs) {
      const rl = labelText({ rig: rig.name, rig_id: rig.id });
      for (const [st, sl] of STATE_LABELS) rigHealth.addText(rl + sl, rig.state === st ? 1 : 0);
      for (const m of rig.miners) {
        const ml = labelText({ node: rig.name, node_id: rig.id, miner: m.name });
        for (const [st, sl] of STATE_LABELS) {
          minerHealth.addText(ml + sl, m.state === st ? 1 : 0);
        }
      }
    }
    for (const st of HEALTH_ORDER) fleetRigs.add({ state: st }, snap.health.counts[st] ?? 0);
  }
  if (snap.alerts) {
    for (const state of ["firing", "pending"] as const) {
      for (const severity of ["critical", "warning", "info"] as const) {
        alertsActive.add(
          { state, severity },
          snap.alerts[state].filter((a) => a.severity === severity).length,
        );
      }
    }
  }
  if (snap.heartbeatOk) heartbeat.add({}, Math.floor(snap.heartbeatOk / 1000));
  if (snap.fleet) {
    fleetNodes.add({ state: "online" }, snap.fleet.online);
    fleetNodes.add({ state: "offline" }, snap.fleet.offline);
  }
  const pushes = new Family(
    "miner_cli_fleet_stats_pushes_total",
    "counter",
    "Stats pushed by linked rigs and taken into the fleet view.",
  );
  if (snap.fleetPushes !== undefined) pushes.add({}, snap.fleetPushes);
  const meshConns = new Family(
    "miner_cli_mesh_connections",
    "gauge",
    "Inbound peer connections now, by state (established, handshaking).",
  );
  const meshEvents = new Family(
    "miner_cli_mesh_connections_total",
    "counter",
    "Inbound peer connections by outcome: accepted, rejected (not authorized), refused (a limit, before the handshake), handshake_failed (garbage, timeout, the peer gave up), protocol_error, rate_limited.",
  );
  if (snap.mesh) {
    const m = snap.mesh;
    meshConns.add({ state: "established" }, m.established);
    meshConns.add({ state: "handshaking" }, m.handshaking);
    meshEvents.add({ outcome: "accepted" }, m.accepted);
    meshEvents.add({ outcome: "rejected" }, m.rejected);
    meshEvents.add({ outcome: "refused" }, m.refused);
    meshEvents.add({ outcome: "handshake_failed" }, m.handshakeFailures);
    meshEvents.add({ outcome: "protocol_error" }, m.protocolErrors);
    meshEvents.add({ outcome: "rate_limited" }, m.rateLimited);
  }
  const loopLag = new Family(
    "miner_cli_event_loop_lag_seconds",
    "gauge",
    "The longest delay of the node's event loop over the last 10-20 s (blocked or starved of CPU).",
  );
  if (snap.eventLoopLagMs !== undefined) loopLag.add({}, snap.eventLoopLagMs / 1000);
  const stratumShares = new Family(
    "miner_cli_stratum_shares_total",
    "counter",
    "Shares through the farm's stratum proxy by verdict (accepted, stale, rejected here; upstream_accepted, upstream_rejected).",
  );
  const stratumMiners = new Family(
    "miner_cli_stratum_miners",
    "gauge",
    "Miners holding a nonce range at the farm's proxy.",
  );
  const stratumHashrate = new Family(
    "miner_cli_stratum_hashrate_hashes_per_second",
    "gauge",
    "Effective hashrate from accepted shares (H/s, 10-minute window), per rig and miner.",
  );
  const upstreamUp = new Family(
    "miner_cli_stratum_upstream_up",
    "gauge",
    '1 when the upstream is up; active="true" for the one the miners work for.',
  );
  const upstreamLatency = new Family(
    "miner_cli_stratum_upstream_latency_seconds",
    "gauge",
    "Last request round trip to the upstream.",
  );
  const blocks = new Family(
    "miner_cli_stratum_blocks_total",
    "counter",
    "Blocks found by the farm and accepted by a daemon upstream.",
  );
  const st = snap.stratum;
  if (st?.enabled) {
    const t = st.totals;
    stratumShares.add({ verdict: "accepted" }, t.accepted);
    stratumShares.add({ verdict: "stale" }, t.stale);
    stratumShares.add({ verdict: "rejected" }, t.rejected);
    stratumShares.add({ verdict: "upstream_accepted" }, t.upstreamAccepted);
    stratumShares.add({ verdict: "upstream_rejected" }, t.upstreamRejected);
    stratumMiners.add({}, t.miners);
    blocks.add({}, t.blocks);
    for (const m of st.miners) {
      stratumHashrate.add({ rig: m.rigName, miner: m.login || m.miner }, m.hashrate);
    }
    for (const u of st.upstreams) {
      upstreamUp.add({ url: u.url, active: String(u.active) }, u.state === "up" ? 1 : 0);
      if (u.latencyMs !== null) upstreamLatency.add({ url: u.url }, u.latencyMs / 1000);
    }
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
    fleetExpected,
    fleetNodes,
    fleetRigs,
    rigHealth,
    minerHealth,
    devTemp,
    devFan,
    devRpm,
    devPower,
    devHash,
    alertsActive,
    heartbeat,
    pushes,
    meshConns,
    meshEvents,
    loopLag,
    stratumShares,
    stratumMiners,
    stratumHashrate,
    upstreamUp,
    upstreamLatency,
    blocks,
  ].filter((f) => f.samples.length > 0).map((f) => f.render()).join("");
}

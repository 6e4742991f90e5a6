/**
 * `node serve`: the mesh node, the miner manager (worker and dual roles), the history sampler and
 * the HTTP API, started and stopped together. On shutdown every miner is stopped (SIGTERM, then
 * SIGKILL after the grace period), so none is left behind.
 * @module
 */
import { type Capabilities, probeCapabilities } from "../capabilities/mod.ts";
import { join } from "node:path";
import {
  apiRuntimePath,
  type ApiServer,
  type ApiServerOptions,
  createApiApp,
  loadOrCreateApiToken,
  type MetricsSnapshot,
  renderMetrics,
  startApiServer,
} from "../api/mod.ts";
import { type MinerStats, SOFTWARE_VERSION } from "../protocol/mod.ts";
import { loadDashboard } from "../ui/mod.ts";
import { type Logger, silentLogger } from "../log/mod.ts";
import { recoverMinersDir } from "../bundles/mod.ts";
import {
  adapterFor,
  HistoryStore,
  installedMiners,
  MinerManager,
  minersDir,
  ProfileStore,
  type SupervisorOptions,
} from "../miners/mod.ts";
import { type NodePaths, writeJsonAtomic } from "../store/mod.ts";
import type { TransportServer } from "../transport/mod.ts";
import { AuditLog, auditLogPath } from "./audit.ts";
import { MeshNode, type MeshNodeOptions, type ServeOptions } from "./mesh.ts";
import { attachWorker } from "./worker.ts";
import { PolicyStore } from "./policy.ts";
import { Fleet } from "./fleet.ts";
import {
  DiscoveryConfigError,
  DiscoveryService,
  type DiscoveryServiceOptions,
} from "./discovery_service.ts";
import type { JoinSecret } from "./pairing.ts";
import { FleetMonitor } from "./monitor.ts";
import { createNodeOps } from "./node_ops.ts";
import { EventHub } from "../events/mod.ts";

/** Options for {@link startDaemon}. */
export interface DaemonOptions {
  /** Peer listener. */
  serve: ServeOptions;
  /** Mesh settings (limits, keepalive). */
  mesh?: MeshNodeOptions;
  /** Outbound links to keep up (`--connect`). */
  connect?: string[];
  /** API listener (null disables the API). */
  api: ApiServerOptions | null;
  /** Miner supervision defaults. */
  supervisor?: SupervisorOptions;
  /** History sampling interval (default 10 s; 0 disables history). */
  historyIntervalMs?: number;
  /** History retention (default 30 days). */
  historyRetentionMs?: number;
  /** Background fleet poll interval (default 10 s; 0: only on demand). */
  fleetPollMs?: number;
  /** Stats tick interval of the live event stream (default 2 s). */
  statsTickMs?: number;
  /** A separate metrics listener without auth (loopback only). */
  metricsListen?: { hostname: string; port: number } | null;
  /** LAN discovery (`--discover`); null or absent: off. */
  discovery?: Omit<DiscoveryServiceOptions, "p2pPort" | "audit" | "onEvent" | "logger"> | null;
  /** The farm's join secret (`--join-secret-file`). */
  joinSecret?: JoinSecret | null;
  /** Logger. */
  logger?: Logger;
}

/** A running node. */
export interface Daemon {
  /** The mesh node. */
  mesh: MeshNode;
  /** Miner manager (null on controllers). */
  miners: MinerManager | null;
  /** History (null when disabled). */
  history: HistoryStore | null;
  /** Peer listener. */
  server: TransportServer;
  /** API server (null when disabled). */
  api: ApiServer | null;
  /** Live events. */
  events: EventHub;
  /** Fleet monitor. */
  monitor: FleetMonitor;
  /** URL of the separate metrics listener, when one runs. */
  metricsUrl: string | null;
  /** LAN discovery, when on. */
  discovery: DiscoveryService | null;
  /** Stops miners, links, listeners; flushes state. */
  close(): Promise<void>;
}

/** Records one history sample per running or paused miner (names prefixed for remote ones). */
function recordSamples(
  history: HistoryStore,
  miners: MinerStats[],
  options: { prefix?: string; logger: Logger; ts?: number },
): void {
  const now = options.ts ?? Date.now();
  try {
    history.recordMany(
      miners.filter((m) => m.state === "running" || m.state === "paused").map((m) => ({
        miner: `${options.prefix ?? ""}${m.name}`,
        ts: now,
        hashrate: m.hashrate.now,
        accepted: m.shares.accepted,
        rejected: m.shares.rejected,
      })),
    );
  } catch (err) {
    options.logger.warn("history_write_failed", { reason: (err as Error).message });
  }
}

/** Starts everything `node serve` runs. */
export async function startDaemon(paths: NodePaths, options: DaemonOptions): Promise<Daemon> {
  const logger = options.logger ?? silentLogger;
  const mesh = await MeshNode.open(paths, { logger, ...options.mesh });
  mesh.joinSecret = options.joinSecret ?? null;
  const audit = new AuditLog(auditLogPath(paths));
  const role = mesh.identity.info.role;
  if (options.discovery?.autoEnroll && role === "worker") {
    await mesh.close();
    throw new DiscoveryConfigError(
      "--auto-controller is for controller and dual nodes; this node is a worker (give workers --discover and the same --join-secret-file)",
    );
  }
  if (options.discovery?.autoEnroll && !options.joinSecret) {
    logger.warn("auto_controller_manual", {
      reason:
        "no --join-secret-file: discovered workers wait for `miner-cli peer approve` on this node",
    });
  }
  const runsMiners = role === "worker" || role === "dual";
  const miners = runsMiners
    ? new MinerManager(paths, { logger, supervisor: options.supervisor })
    : null;
  const interval = options.historyIntervalMs ?? 10_000;
  // Controllers keep history too: the fleet poll records every worker's miners as `node/miner`.
  const history = interval > 0
    ? HistoryStore.open(join(paths.dataDir, "history.sqlite"), {
      retentionMs: options.historyRetentionMs,
    })
    : null;
  const startedAt = new Date();
  const events = new EventHub();
  const ownProfiles = new ProfileStore(join(paths.configDir, "mining_profiles.json"));
  const fleet = new Fleet(mesh, ownProfiles);
  const monitor = new FleetMonitor(fleet, {
    intervalMs: options.fleetPollMs ?? 10_000,
    onEvent: (e) => {
      if (e.type === "peer") {
        logger.info(`peer_${e.kind}`, { peer: e.id, name: e.name, reason: e.reason });
        audit.append({
          peer: e.id,
          peerName: e.name,
          role: mesh.registry.get(e.id)?.role ?? null,
          action: `peer_${e.kind}`,
          params: { at: e.at, ...(e.reason ? { reason: e.reason } : {}) },
          outcome: "ok",
        }).catch((err) => logger.warn("audit_write_failed", { reason: (err as Error).message }));
      }
      events.publish(e);
    },
  });
  miners?.onEvent((e) => events.publish({ type: "miner", ...e }));
  mesh.onSession((s) => {
    if (!mesh.registry.get(s.peer.id)) return;
    monitor.sawOnline(s.peer);
    mesh.registry.markSeen(s.peer.id);
    // Without a background poll (workers), the session is the only signal: its end is offline.
    s.onClose((reason) => {
      const other = mesh.session(s.peer.id);
      if (!monitor.running && (!other || other.isClosed)) monitor.sawOffline(s.peer, reason);
    });
  });
  const peersChanged = () => {
    monitor.invalidate();
    events.publish({ type: "peers", at: new Date().toISOString() });
  };
  const metricsSnapshot = (): MetricsSnapshot => ({
    node: mesh.identity.info,
    version: SOFTWARE_VERSION,
    uptimeSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
    localMiners: miners?.list() ?? [],
    fleet: monitor.latest(),
    peers: nodeOps.peers(),
  });
  let discovery: DiscoveryService | null = null;
  const nodeOps = createNodeOps(mesh, monitor, {
    onChange: peersChanged,
    discovery: () => discovery,
  });
  let metricsServer: Deno.HttpServer | null = null;
  let api: ApiServer | null = null;
  let server: TransportServer | null = null;
  const timers: ReturnType<typeof setInterval>[] = [];
  // Capabilities: the quick part (/proc, /sys) now, miners' versions and nvidia-smi in the
  // background; the quick part (free memory, huge pages) is refreshed every 30 s.
  const installed = () => installedMiners(paths, adapterFor);
  mesh.capabilities = await probeCapabilities({ skipCommands: true });
  let slow: Pick<Capabilities, "gpus" | "miners"> | null = null;
  probeCapabilities({ miners: installed }).then((c) => {
    slow = { gpus: c.gpus, miners: c.miners };
    mesh.capabilities = c;
  }).catch((err) => logger.warn("capability_probe_failed", { error: (err as Error).message }));
  timers.push(setInterval(() => {
    probeCapabilities({ skipCommands: true }).then((c) => {
      mesh.capabilities = slow ? { ...c, ...slow } : c;
    }).catch(() => {});
  }, 30_000));
  // lastSeen of connected peers follows their heartbeats (keepalive pings and pongs), persisted
  // every 30 s rather than on every frame.
  timers.push(setInterval(() => {
    for (const s of mesh.sessions()) {
      if (!s.isClosed && mesh.registry.get(s.peer.id) && Date.now() - s.lastActivity < 35_000) {
        mesh.registry.markSeen(s.peer.id);
      }
    }
  }, 30_000));
  let closeStreams = () => {};
  const close = async () => {
    for (const t of timers) clearInterval(t);
    discovery?.close();
    monitor.stop();
    await metricsServer?.shutdown().catch(() => {});
    // API first: no request may start a miner while the miners are being stopped, and open
    // event streams must end or the server would wait for them.
    closeStreams();
    await api?.close().catch(() => {});
    await miners?.stopAll();
    await Deno.remove(apiRuntimePath(paths)).catch(() => {});
    await mesh.close();
    history?.close();
  };
  if (miners) {
    for (const a of await recoverMinersDir(minersDir(paths))) {
      logger.info("miners_dir_recovered", { action: a });
    }
    attachWorker(mesh, {
      miners,
      audit,
      startedAt,
      minersDir: minersDir(paths),
      capabilities: () => mesh.capabilities,
      policy: await PolicyStore.open(paths.policyJson),
    });
  }
  try {
    server = await mesh.serve(options.serve);
    if (options.discovery) {
      discovery = await DiscoveryService.start(mesh, {
        ...options.discovery,
        p2pPort: server.port,
        audit,
        logger,
        onEvent: (e) => {
          events.publish(e);
          if (e.kind === "registered" || e.kind === "enrolled") peersChanged();
        },
      });
    }
    for (const addr of options.connect ?? []) mesh.maintain(addr);
    if (options.api) {
      const token = await loadOrCreateApiToken(paths);
      const built = createApiApp({
        allowedHosts: options.api.allowedHosts,
        beforeRequest: async () => {
          await Promise.all([mesh.registry.refresh(), mesh.auth.refresh()]);
        },
        node: () => mesh.identity.info,
        miners,
        history,
        token,
        startedAt,
        remote: {
          fleet,
          profiles: ownProfiles,
          tmpDir: join(paths.dataDir, "tmp"),
          cachedStatus: (maxAgeMs, timeoutMs) => monitor.get(maxAgeMs, timeoutMs),
          onDeployProgress: (p) =>
            events.publish({ type: "deploy", at: new Date().toISOString(), ...p }),
        },
        nodeOps,
        events,
        snapshot: () =>
          Promise.resolve({
            at: new Date().toISOString(),
            node: {
              ...mesh.identity.info,
              version: SOFTWARE_VERSION,
              uptime: Math.round((Date.now() - startedAt.getTime()) / 1000),
              runsMiners: miners !== null,
            },
            miners: miners?.list() ?? [],
            peers: nodeOps.peers(),
            auth: nodeOps.auth(),
            fleet: monitor.latest(),
          }),
        metrics: metricsSnapshot,
        dashboard: await loadDashboard(),
      });
      closeStreams = built.closeStreams;
      api = startApiServer(built.app, options.api);
      await writeJsonAtomic(apiRuntimePath(paths), {
        url: api.url,
        pid: Deno.pid,
        startedAt: startedAt.toISOString(),
      });
    }
    if (options.metricsListen) {
      metricsServer = Deno.serve(
        {
          hostname: options.metricsListen.hostname,
          port: options.metricsListen.port,
          onListen: () => {},
        },
        (req) => {
          // No auth on this listener: refuse other Host names (DNS rebinding from a web page).
          const host = req.headers.get("host") ?? "";
          if (!/^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/.test(host)) {
            return new Response("forbidden: Host must be a loopback address\n", { status: 403 });
          }
          return new URL(req.url).pathname === "/metrics"
            ? new Response(renderMetrics(metricsSnapshot()), {
              headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
            })
            : new Response("not found: GET /metrics\n", { status: 404 });
        },
      );
    }
    if (miners) {
      timers.push(setInterval(() => {
        if (events.size === 0) return;
        events.publish({ type: "stats", at: new Date().toISOString(), miners: miners.list() });
      }, options.statsTickMs ?? 2000));
    }
    if (role !== "worker") monitor.start();
    if (history) {
      // One timer stamps local miners and the workers' miners (from the last fleet poll, when
      // fresh) with the same time, so the fleet total has every miner in every bucket.
      timers.push(setInterval(() => {
        const ts = Date.now();
        if (miners) recordSamples(history, miners.list(), { logger, ts });
        const latest = monitor.latest();
        const fresh = Math.max(30_000, 3 * (options.fleetPollMs ?? 10_000));
        if (latest && ts - Date.parse(latest.cachedAt) < fresh) {
          for (const row of latest.peers) {
            if (!row.online) continue;
            recordSamples(history, row.miners, { prefix: `${row.name}/`, logger, ts });
          }
        }
      }, interval));
      timers.push(setInterval(() => history.prune(), 3_600_000));
    }
    if (miners) {
      const started = await miners.autostart();
      if (started.length) logger.info("autostarted", { miners: started.join(",") });
    }
  } catch (err) {
    await close();
    throw err;
  }
  const metricsUrl = metricsServer
    ? `http://${options.metricsListen!.hostname}:${
      (metricsServer as Deno.HttpServer<Deno.NetAddr>).addr.port
    }/metrics`
    : null;
  return {
    mesh,
    miners,
    history,
    server: server!,
    api,
    events,
    monitor,
    metricsUrl,
    discovery,
    close,
  };
}

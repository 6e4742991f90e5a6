/**
 * `node serve`, the composition root: it builds the mesh node, the miner manager (worker and dual
 * roles), the worker handlers, the fleet and its monitor, discovery, the event hub, the history
 * sampler, the API and the metrics listener, wires them together and stops them together. On
 * shutdown every miner is stopped (SIGTERM, then SIGKILL after the grace period), so none is left.
 * @module
 */
import { connectionLimitFor, FD_RESERVE, openFileLimit, WORKER_CONNECTIONS } from "./fd_limit.ts";
import { join } from "node:path";
import { MinerCliError } from "../errors/mod.ts";
// The API (Hono, zod-openapi, the routes: ~4 MB of heap) loads only when the node serves it.
import type { ApiServer, ApiServerOptions, MetricsSnapshot } from "../api/mod.ts";
import { AlertsAdmin } from "../alerts/mod.ts";
import { recoverMinersDir } from "../bundles/mod.ts";
import { EventHub } from "../events/mod.ts";
import { loadOrCreateApiToken } from "../identity/mod.ts";
import { type Logger, silentLogger } from "../log/mod.ts";
import {
  adapterFor,
  HistoryStore,
  installedMiners,
  MinerManager,
  minersDir,
  ProfileStore,
  type SupervisorOptions,
} from "../miners/mod.ts";
import {
  AssignmentStore,
  attachWorker,
  AuditLog,
  auditLogPath,
  DiscoveryConfigError,
  DiscoveryService,
  type DiscoveryServiceOptions,
  Fleet,
  FleetMonitor,
  type JoinSecret,
  MeshNode,
  type MeshNodeOptions,
  PolicyStore,
  type ServeOptions,
  startAssignments,
} from "../node/mod.ts";
import { type FleetStatus, type Snapshot, SOFTWARE_VERSION } from "../protocol/mod.ts";
import { type NodePaths, sweepTempFiles, writeJsonAtomic } from "../store/mod.ts";
import type { TransportServer } from "../transport/mod.ts";
import { loadDashboard } from "../ui/mod.ts";
import { type MetricsListener, startMetricsListener } from "./metrics_listener.ts";
import { createNodeOps } from "./node_ops.ts";
import {
  startStratumService,
  type StratumService,
  type StratumServiceOptions,
} from "./stratum_service.ts";
import {
  type HealthService,
  type HealthServiceOptions,
  startHealthService,
} from "./health_service.ts";
import {
  startCapabilityRefresh,
  startHeartbeatPersister,
  startHistorySampler,
  startLoopLagMonitor,
  type Stop,
} from "./samplers.ts";

/** A listener's address is taken (another node serve, or another program). */
export class ListenError extends MinerCliError {
  /** Creates the error for `address`, set by `flag`. */
  constructor(readonly address: string, readonly flag: string, options: { cause?: unknown } = {}) {
    super(
      `${address} is already in use (another \`node serve\` on this machine?): choose another address with ${flag} HOST:PORT${
        flag === "--api-listen" ? ", or serve no API with --no-api" : ""
      }${flag === "--listen" ? " (port 0 picks a free one)" : ""}`,
      { status: 409, code: "address_in_use", cause: options.cause },
    );
    this.name = "ListenError";
  }
}

/** Runs `listen`, turning "address in use" into a {@link ListenError} naming `flag`. */
async function listening<T>(
  address: string,
  flag: string,
  listen: () => T | Promise<T>,
): Promise<T> {
  try {
    return await listen();
  } catch (err) {
    const e = err as { code?: string };
    if (err instanceof Deno.errors.AddrInUse || e?.code === "EADDRINUSE") {
      throw new ListenError(address, flag, { cause: err });
    }
    throw err;
  }
}

const hostPort = (o: { hostname?: string; port: number }) => `${o.hostname ?? "0.0.0.0"}:${o.port}`;

/**
 * Out of file descriptors (`EMFILE`, `ENFILE`), Deno's HTTP server rejects a promise nobody holds,
 * which would end the process. A node that runs out refuses what it cannot accept and keeps
 * serving what it has: such a rejection is logged (one line per 10 s, with a count) and dropped.
 * Any other unhandled rejection still ends the process.
 */
function survivingFdExhaustion(logger: Logger, onShortage: () => void): () => void {
  let count = 0;
  let last = 0;
  const onRejection = (e: PromiseRejectionEvent) => {
    const msg = String((e.reason as Error)?.message ?? e.reason);
    if (!/Too many open files|os error 24|os error 23|EMFILE|ENFILE/.test(msg)) return;
    e.preventDefault();
    count++;
    onShortage();
    const now = Date.now();
    if (now - last >= 10_000) {
      logger.warn("out_of_file_descriptors", {
        reason:
          "new connections are refused until descriptors free up (raise `ulimit -n`, or LimitNOFILE in the service)",
        refused: count,
      });
      last = now;
      count = 0;
    }
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  return () => globalThis.removeEventListener("unhandledrejection", onRejection);
}

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
  /** How often a worker pushes stats on its links to controllers (default 10 s; 0: never). */
  statsPushMs?: number;
  /** Stats tick interval of the live event stream (default 2 s). */
  statsTickMs?: number;
  /** A separate metrics listener without auth (loopback only). */
  metricsListen?: { hostname: string; port: number } | null;
  /** LAN discovery (`--discover`); null or absent: off. */
  discovery?: Omit<DiscoveryServiceOptions, "p2pPort" | "audit" | "onEvent" | "logger"> | null;
  /** The farm's join secret (`--join-secret-file`). */
  joinSecret?: JoinSecret | null;
  /** Health evaluation, alerts and the dead man's switch. */
  health?: HealthServiceOptions;
  /** Farm stratum: the miners' endpoint (workers) and the proxy's timings (controllers). */
  stratum?: StratumServiceOptions;
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
  /** Health and alerts. */
  health: HealthService;
  /** Farm stratum (proxy and/or the miners' endpoint). */
  stratum: StratumService;
  /** Stops miners, links, listeners; flushes state. */
  close(): Promise<void>;
}

/**
 * Starts everything `node serve` runs.
 *
 * @example
 * ```ts
 * import { resolvePaths } from "../store/mod.ts";
 * import { startDaemon } from "./mod.ts";
 * const daemon = await startDaemon(resolvePaths({ home: "/tmp/n1" }), {
 *   serve: { hostname: "127.0.0.1", port: 0 },
 *   api: { hostname: "127.0.0.1", port: 0 },
 * });
 * console.log(daemon.server.url, daemon.api?.url);
 * await daemon.close();
 * ```
 */
export async function startDaemon(paths: NodePaths, options: DaemonOptions): Promise<Daemon> {
  const logger = options.logger ?? silentLogger;
  // The peer listener's accept loop can stall too when descriptors run out: after a shortage,
  // it is watched and listens again if it stalled.
  let meshRef: MeshNode | null = null;
  const unguard = survivingFdExhaustion(logger, () => meshRef?.watchListeners());
  const mesh = await MeshNode.open(paths, { logger, ...options.mesh });
  meshRef = mesh;
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
  const miners = role === "worker" || role === "dual"
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
  const uptime = () => Math.round((Date.now() - startedAt.getTime()) / 1000);
  const events = new EventHub();
  const ownProfiles = new ProfileStore(join(paths.configDir, "mining_profiles.json"));
  const fleet = new Fleet(mesh, ownProfiles);
  const monitor = new FleetMonitor(fleet, {
    intervalMs: options.fleetPollMs ?? 10_000,
    stats: role !== "worker",
    // The rows' events go to the API's event streams only: none open, none built.
    wanted: () => events.size > 0,
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
    if (role !== "worker") {
      // A rig's pushed stats (see stats_push.ts): only from a registered rig, about itself.
      s.on("stats_push", (m, s) => {
        const peer = mesh.registry.get(s.peer.id);
        if (!peer || m.payload.nodeId !== s.peer.id) return;
        monitor.pushed(peer, m.payload);
        // The ack keeps the rig's side of the link alive: neither side needs to ping it (when
        // the rig pushes often enough for that). A push right after something this node sent
        // (a link's first push, after the handshake's ack) is not acked: the rig just heard it.
        if (m.payload.seq === 0) s.relaxPings(m.payload.intervalMs);
        s.acknowledge(m);
      });
    }
    if (!mesh.registry.get(s.peer.id)) return;
    monitor.sawOnline(s.peer);
    mesh.registry.markSeen(s.peer.id);
    // A lost link (keepalive timeout, dropped socket) or a peer going away is offline now, on
    // controllers too (the next poll may bring it back); a session closed because its operation
    // was done says nothing.
    s.onClose((reason) => {
      const other = mesh.session(s.peer.id);
      const gone = s.endedBy === "lost" || s.endedBy === "peer";
      if (gone && (!other || other.isClosed)) monitor.sawOffline(s.peer, reason);
    });
  });
  // Profiles assigned to tags, rolled out by the controller (and re-checked when tags change).
  const assignmentStore = new AssignmentStore(join(paths.configDir, "assignments.json"));
  const assignments = role === "worker"
    ? null
    : startAssignments(fleet, assignmentStore, ownProfiles, {
      logger,
      onChange: () => events.publish({ type: "peers", at: new Date().toISOString() }),
    });
  const peersChanged = () => {
    monitor.invalidate();
    events.publish({ type: "peers", at: new Date().toISOString() });
    void assignments?.kick();
  };
  let discovery: DiscoveryService | null = null;
  const nodeOps = createNodeOps(mesh, monitor, {
    onChange: peersChanged,
    discovery: () => discovery,
  });
  let health: HealthService | null = null;
  let judgedAt = -1; // monitor transitions at the last health evaluation a read asked for
  let api: ApiServer | null = null;
  const loopLag = startLoopLagMonitor();
  const metricsSnapshot = (): MetricsSnapshot => ({
    node: mesh.identity.info,
    version: SOFTWARE_VERSION,
    uptimeSeconds: uptime(),
    localMiners: miners?.list() ?? [],
    fleet: monitor.latest(),
    peers: nodeOps.peers(),
    health: health?.last() ?? null,
    alerts: health?.engine.view() ?? null,
    heartbeatOk: health?.heartbeat?.status().lastOk ?? null,
    fleetPushes: monitor.pushes,
    stratum: stratumRef?.status() ?? null,
    mesh: { ...mesh.inboundCounts(), ...mesh.counters },
    eventLoopLagMs: Math.round(loopLag.maxMs()),
  });
  const snapshot = (): Snapshot => ({
    at: new Date().toISOString(),
    node: {
      ...mesh.identity.info,
      version: SOFTWARE_VERSION,
      uptime: uptime(),
      runsMiners: !!miners,
    },
    miners: miners?.list() ?? [],
    peers: nodeOps.peers(),
    auth: nodeOps.auth(),
    fleet: decorated(monitor.latest()),
  });
  const decorated = <T extends FleetStatus | null>(
    s: T,
  ): T => (s && health ? health.decorate(s) as T : s);

  const stops: Stop[] = [];
  let stratumRef: StratumService | null = null;
  let metrics: MetricsListener | null = null;
  let server: TransportServer | null = null;
  let closeStreams = () => {};
  const close = async () => {
    loopLag.stop();
    for (const stop of stops) stop();
    assignments?.stop();
    // First: a node shutting down stops its miners, which is no alert.
    await health?.close();
    discovery?.close();
    monitor.stop();
    await metrics?.close();
    // API first: no request may start a miner while the miners are being stopped, and open
    // event streams must end or the server would wait for them.
    closeStreams();
    await api?.close().catch(() => {});
    await miners?.stopAll();
    await stratumRef?.close();
    await Deno.remove(paths.apiJson).catch(() => {});
    await mesh.close();
    history?.close();
    unguard();
  };
  stops.push(
    await startCapabilityRefresh(mesh, {
      installedMiners: () => installedMiners(paths, adapterFor),
      logger,
    }),
    startHeartbeatPersister(mesh),
  );
  // What an interrupted process left: temp files of atomic writes, deploy spools.
  const swept = await sweepTempFiles([paths.configDir, paths.dataDir], {
    before: performance.timeOrigin,
  });
  if (swept.removed.length) {
    logger.info("temp_files_swept", { files: swept.removed.length, bytes: swept.bytes });
  }
  audit.onRepair = (bytes) => logger.warn("audit_torn_tail_cut", { bytes });
  const policy = await PolicyStore.open(paths.policyJson);
  if (miners) {
    for (const a of await recoverMinersDir(minersDir(paths))) {
      logger.info("miners_dir_recovered", { action: a });
    }
    // Before any miner starts: stop the ones that outlived a previous node on this home.
    await miners.recover();
    attachWorker(mesh, {
      miners,
      audit,
      startedAt,
      minersDir: minersDir(paths),
      capabilities: () => mesh.capabilities,
      policy,
      pushIntervalMs: options.statsPushMs,
    });
  }
  let stratum: StratumService;
  try {
    // Before the peer listener: a rig linking in finds the proxy, and miners started by
    // autostart find their endpoint.
    stratum = stratumRef = await startStratumService(
      { paths, mesh, miners, events, policy, logger },
      options.stratum ?? { listen: { hostname: "127.0.0.1", port: 3333 }, optional: true },
    );
    health = await startHealthService({
      paths,
      mesh,
      miners,
      monitor,
      profiles: ownProfiles,
      history,
      events,
      logger,
      url: () => api?.url ?? null,
    }, options.health);
    const healthService = health;
    let serveOptions = options.serve;
    if (serveOptions.maxConnections === undefined) {
      // A worker counts only what its default needs (it is dialed by its controllers only).
      const max = role === "worker" ? WORKER_CONNECTIONS : undefined;
      const fds = await openFileLimit(paths.nodeJson, {
        cap: max === undefined ? undefined : max + FD_RESERVE,
      });
      const limit = connectionLimitFor(fds?.limit ?? null, { max });
      serveOptions = { ...serveOptions, maxConnections: limit };
      logger.info("connection_limit", {
        maxConnections: limit,
        openFileLimit: fds?.limit ?? null,
        method: fds?.method ?? "unknown",
        reserved: fds === null ? null : FD_RESERVE,
      });
    }
    server = await listening(hostPort(serveOptions), "--listen", () => mesh.serve(serveOptions));
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
      const { createApiApp, startApiServer } = await import(
        "../api/mod.ts"
      );
      const built = createApiApp({
        allowedHosts: options.api.allowedHosts,
        beforeRequest: async () => {
          await Promise.all([mesh.registry.refresh(), mesh.auth.refresh()]);
        },
        node: () => mesh.identity.info,
        miners,
        history,
        token: await loadOrCreateApiToken(paths),
        startedAt,
        remote: {
          fleet,
          profiles: ownProfiles,
          tmpDir: join(paths.dataDir, "tmp"),
          cachedStatus: async (maxAgeMs, timeoutMs, o) => {
            const status = await monitor.get(maxAgeMs, timeoutMs, o);
            // A fresh poll is judged at once (a reader asking for fresh data gets fresh health),
            // and so is a waited read after a rig came or went since the last such judgement.
            const transitions = monitor.transitions;
            if (maxAgeMs <= 0 || (o?.wait && transitions !== judgedAt)) {
              judgedAt = transitions;
              await healthService.evaluateNow().catch(() => {});
            }
            return healthService.decorate(status);
          },
          cachedSummary: () => {
            // Without the background refresh (`--fleet-poll 0`), rows are refreshed on reads.
            if (!monitor.running) return undefined;
            // The tally (O(algorithms)) and the health counts (O(rigs the last evaluation has
            // not seen)): a dashboard polling 10,000 rigs, quiet or reconnecting, builds no rows.
            return { ...monitor.summary(), health: healthService.fleetState() };
          },
          knows: (ref) => void fleet.peer(ref),
          tagsOf: (id) => mesh.registry.get(id)?.tags ?? [],
          statusTag: () =>
            `${monitor.version}.${healthService.last()?.at ?? 0}.${mesh.registry.version}.${
              Math.floor(Date.now() / 1000)
            }`,
          onDeployProgress: (p) =>
            events.publish({ type: "deploy", at: new Date().toISOString(), ...p }),
        },
        nodeOps,
        audit: {
          tail: (o) => audit.tail(o) as Promise<import("../protocol/mod.ts").AuditRecordView[]>,
          record: (r) => audit.append(r),
        },
        ...(assignments
          ? {
            assignments: {
              list: () => assignmentStore.list(),
              assign: async (tag: string, ref: string) => {
                const p = await ownProfiles.get(ref);
                const a = await assignmentStore.assign(tag, { id: p.id, name: p.name });
                void assignments.kick();
                return a;
              },
              unassign: (tag: string) => assignmentStore.unassign(tag),
            },
          }
          : {}),
        health: {
          health: () => healthService.current(),
          admin: new AlertsAdmin(paths, { engine: healthService.engine }),
          node: () => ({ id: mesh.identity.info.id, name: mesh.identity.info.name }),
        },
        stratum: {
          status: () => stratum.status(),
          shares: (o) => stratum.proxy?.shares(o) ?? [],
          store: stratum.store,
          reload: () => stratum.reload(),
          rig: () =>
            stratum.rig ? { url: stratum.rig.server.url, miners: stratum.rig.miners() } : null,
        },
        events,
        snapshot: () => Promise.resolve(snapshot()),
        metrics: metricsSnapshot,
        dashboard: await loadDashboard(),
      });
      closeStreams = built.closeStreams;
      const apiOptions = options.api;
      api = await listening(
        hostPort({ hostname: apiOptions.hostname ?? "127.0.0.1", port: apiOptions.port }),
        "--api-listen",
        () =>
          startApiServer(built.app, {
            ...apiOptions,
            onRestart: (attempts) => {
              logger.warn("api_serving_again", { attempts });
              mesh.watchListeners();
            },
          }),
      );
      await writeJsonAtomic(paths.apiJson, {
        url: api.url,
        pid: Deno.pid,
        startedAt: startedAt.toISOString(),
      });
    }
    if (options.metricsListen) {
      const listen = options.metricsListen;
      metrics = await listening(
        hostPort(listen),
        "--metrics-listen",
        () => startMetricsListener(listen, metricsSnapshot),
      );
    }
    if (miners) {
      const tick = setInterval(() => {
        if (events.size === 0) return;
        events.publish({ type: "stats", at: new Date().toISOString(), miners: miners.list() });
      }, options.statsTickMs ?? 2000);
      stops.push(() => clearInterval(tick));
    }
    monitor.start();
    if (history) {
      stops.push(startHistorySampler(history, {
        intervalMs: interval,
        localMiners: miners ? () => miners.list() : null,
        fleet: () => monitor.latest(),
        freshMs: Math.max(30_000, 3 * (options.fleetPollMs ?? 10_000)),
        logger,
      }));
    }
    if (miners) {
      const started = await miners.autostart();
      if (started.length) logger.info("autostarted", { miners: started.join(",") });
    }
  } catch (err) {
    await close();
    throw err;
  }
  return {
    mesh,
    miners,
    history,
    server: server!,
    api,
    events,
    monitor,
    metricsUrl: metrics?.url ?? null,
    discovery,
    health: health!,
    stratum,
    close,
  };
}

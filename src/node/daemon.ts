/**
 * `node serve`: the mesh node, the miner manager (worker and dual roles), the history sampler and
 * the HTTP API, started and stopped together. On shutdown every miner is stopped (SIGTERM, then
 * SIGKILL after the grace period), so none is left behind.
 * @module
 */
import { join } from "node:path";
import {
  apiRuntimePath,
  type ApiServer,
  type ApiServerOptions,
  createApiApp,
  loadOrCreateApiToken,
  startApiServer,
} from "../api/mod.ts";
import { type Logger, silentLogger } from "../log/mod.ts";
import { recoverMinersDir } from "../bundles/mod.ts";
import {
  HistoryStore,
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
import { Fleet } from "./fleet.ts";

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
  /** Stops miners, links, listeners; flushes state. */
  close(): Promise<void>;
}

/** Starts everything `node serve` runs. */
export async function startDaemon(paths: NodePaths, options: DaemonOptions): Promise<Daemon> {
  const logger = options.logger ?? silentLogger;
  const mesh = await MeshNode.open(paths, { logger, ...options.mesh });
  const role = mesh.identity.info.role;
  const runsMiners = role === "worker" || role === "dual";
  const miners = runsMiners
    ? new MinerManager(paths, { logger, supervisor: options.supervisor })
    : null;
  const interval = options.historyIntervalMs ?? 10_000;
  const history = runsMiners && interval > 0
    ? HistoryStore.open(join(paths.dataDir, "history.sqlite"), {
      retentionMs: options.historyRetentionMs,
    })
    : null;
  const startedAt = new Date();
  let api: ApiServer | null = null;
  let server: TransportServer | null = null;
  const timers: ReturnType<typeof setInterval>[] = [];
  let closeStreams = () => {};
  const close = async () => {
    for (const t of timers) clearInterval(t);
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
      audit: new AuditLog(auditLogPath(paths)),
      startedAt,
      minersDir: minersDir(paths),
    });
  }
  try {
    server = mesh.serve(options.serve);
    for (const addr of options.connect ?? []) mesh.maintain(addr);
    if (options.api) {
      const token = await loadOrCreateApiToken(paths);
      const ownProfiles = new ProfileStore(join(paths.configDir, "mining_profiles.json"));
      const built = createApiApp({
        node: () => mesh.identity.info,
        miners,
        history,
        token,
        startedAt,
        remote: {
          fleet: new Fleet(mesh, ownProfiles),
          profiles: ownProfiles,
          tmpDir: join(paths.dataDir, "tmp"),
        },
      });
      closeStreams = built.closeStreams;
      api = startApiServer(built.app, options.api);
      await writeJsonAtomic(apiRuntimePath(paths), {
        url: api.url,
        pid: Deno.pid,
        startedAt: startedAt.toISOString(),
      });
    }
    if (history && miners) {
      timers.push(setInterval(() => {
        const now = Date.now();
        try {
          history.recordMany(
            miners.list().filter((m) => m.state === "running" || m.state === "paused").map((m) => ({
              miner: m.name,
              ts: now,
              hashrate: m.hashrate.now,
              accepted: m.shares.accepted,
              rejected: m.shares.rejected,
            })),
          );
        } catch (err) {
          logger.warn("history_write_failed", { reason: (err as Error).message });
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
  return { mesh, miners, history, server: server!, api, close };
}

/**
 * The daemon's periodic jobs, each started with one call that returns its stop function: the
 * history sampler, the capability refresher and the heartbeat persister.
 * @module
 */
import { type Capabilities, probeCapabilities } from "../capabilities/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { HistoryStore } from "../miners/mod.ts";
import type { MeshNode } from "../node/mod.ts";
import type { FleetStatus, MinerStats } from "../protocol/mod.ts";

/** Stops a periodic job. */
export type Stop = () => void;

/** Records one history sample per running or paused miner (names prefixed for remote ones). */
export function recordSamples(
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
        algorithm: m.algorithm ?? "unknown",
        devices: m.devices.map((d) => ({
          temp: d.temp,
          fan: d.fan ?? d.fanRpm ?? null,
          power: d.power ?? null,
        })),
      })),
    );
  } catch (err) {
    options.logger.warn("history_write_failed", { reason: (err as Error).message });
  }
}

/** Options for {@link startHistorySampler}. */
export interface HistorySamplerOptions {
  /** Sampling interval (ms). */
  intervalMs: number;
  /** This node's miners (null on a controller). */
  localMiners: (() => MinerStats[]) | null;
  /** The fleet monitor's last status. */
  fleet: () => FleetStatus | null;
  /** How old a fleet status may be and still be sampled (ms). */
  freshMs: number;
  /** Logger. */
  logger: Logger;
}

/**
 * One timer stamps local miners and the workers' miners (from the last fleet poll, when fresh)
 * with the same time, so the fleet total has every miner in every bucket; the rollups are pruned
 * hourly.
 */
export function startHistorySampler(history: HistoryStore, options: HistorySamplerOptions): Stop {
  const sample = setInterval(() => {
    const ts = Date.now();
    const local = options.localMiners?.();
    if (local) recordSamples(history, local, { logger: options.logger, ts });
    const latest = options.fleet();
    if (latest?.cachedAt && ts - Date.parse(latest.cachedAt) < options.freshMs) {
      for (const row of latest.peers) {
        if (!row.online) continue;
        recordSamples(history, row.miners, {
          prefix: `${row.name}/`,
          logger: options.logger,
          ts,
        });
      }
    }
  }, options.intervalMs);
  const prune = setInterval(() => history.prune(), 3_600_000);
  return () => {
    clearInterval(sample);
    clearInterval(prune);
  };
}

/**
 * Capabilities: the quick part (CPU, memory, huge pages) now and every 30 s; the slow part
 * (miners' versions, nvidia-smi) once, in the background.
 */
export async function startCapabilityRefresh(
  mesh: MeshNode,
  options: {
    installedMiners: () => Promise<{ type: string; version: string | null }[]>;
    logger: Logger;
  },
): Promise<Stop> {
  mesh.capabilities = await probeCapabilities({ skipCommands: true });
  let slow: Pick<Capabilities, "gpus" | "miners"> | null = null;
  probeCapabilities({ miners: options.installedMiners }).then((c) => {
    slow = { gpus: c.gpus, miners: c.miners };
    mesh.capabilities = c;
  }).catch((err) =>
    options.logger.warn("capability_probe_failed", { error: (err as Error).message })
  );
  const timer = setInterval(() => {
    probeCapabilities({ skipCommands: true }).then((c) => {
      mesh.capabilities = slow ? { ...c, ...slow } : c;
    }).catch(() => {});
  }, 30_000);
  return () => clearInterval(timer);
}

/**
 * `lastSeen` of connected peers follows their heartbeats (keepalive pings and pongs), persisted
 * every 30 s rather than on every frame.
 */
export function startHeartbeatPersister(mesh: MeshNode): Stop {
  const timer = setInterval(() => {
    for (const s of mesh.sessions()) {
      if (!s.isClosed && mesh.registry.get(s.peer.id) && Date.now() - s.lastActivity < 35_000) {
        mesh.registry.markSeen(s.peer.id);
      }
    }
  }, 30_000);
  return () => clearInterval(timer);
}

/** What {@link startLoopLagMonitor} returns. */
export interface LoopLagMonitor {
  /** The longest delay of the event loop (ms) over the last one to two windows. */
  maxMs(): number;
  /** Stops the monitor. */
  stop: Stop;
}

/**
 * Measures how late the event loop runs a timer due every `intervalMs` (default 250 ms): how long
 * the node was blocked or starved of CPU (a reconnect storm, a slow disk under a synchronous
 * write). The maximum is kept per window of `windowMs` (default 10 s), so a reader sees the worst
 * of the last 10–20 s.
 */
export function startLoopLagMonitor(
  options: { intervalMs?: number; windowMs?: number } = {},
): LoopLagMonitor {
  const intervalMs = options.intervalMs ?? 250;
  const windowMs = options.windowMs ?? 10_000;
  let last = performance.now();
  let windowStart = last;
  let current = 0;
  let previous = 0;
  const roll = (now: number) => {
    if (now - windowStart < windowMs) return;
    // A whole window without a tick (a stall longer than it) leaves nothing to carry over.
    previous = now - windowStart < 2 * windowMs ? current : 0;
    current = 0;
    windowStart = now;
  };
  const timer = setInterval(() => {
    const now = performance.now();
    const lag = Math.max(0, now - last - intervalMs);
    last = now;
    roll(now);
    current = Math.max(current, lag);
  }, intervalMs);
  Deno.unrefTimer(timer);
  return {
    maxMs: () => {
      const now = performance.now();
      // Still blocked past a tick right now counts too (a reader in a stall's aftermath).
      const pending = Math.max(0, now - last - intervalMs);
      return Math.max(current, previous, pending);
    },
    stop: () => clearInterval(timer),
  };
}

/**
 * Fleet operations of a controller, shared by the CLI (direct dial, no daemon) and the daemon's
 * API (which also reaches workers connected in with `--connect`): fleet status with aggregation,
 * remote start/stop/logs/follow, and deploy.
 * @module
 */
import { MinerCliError } from "../errors/mod.ts";
import type { ProfileStore } from "../miners/mod.ts";
import type { Peer } from "../peers/mod.ts";
import type {
  AuditRecordView,
  AuditScope,
  DeployAck,
  FleetNodeStatus,
  FleetOps,
  FleetStatus,
  FollowOptions,
  LogLineView,
  LogsOptions,
  LogsView,
  StartAck,
  StartOptions,
  StopAck,
  StopOptions,
} from "../protocol/mod.ts";
import { randomxWarnings } from "../capabilities/mod.ts";
import { algorithmOf, algorithmTotals } from "../health/mod.ts";
import type { AlgorithmTotal, MinerStats, StatsPayload } from "../protocol/mod.ts";
import { fanOut, REQUEST_TIMEOUTS, requestPeer, sessionFor } from "./requests.ts";
import { type DeployAnnouncement, sendDeploy } from "./deploy.ts";
import type { MeshNode } from "./mesh.ts";
import { RemoteError, RequestTimeoutError } from "./session.ts";

/** Neither this node's profiles nor the request say which miner a profile is for. */
export class UnknownProfileTypeError extends MinerCliError {
  /** Creates the error. */
  constructor(profileRef: string) {
    super(
      `profile ${profileRef} is not known here; give its miner type so the worker starts its own copy`,
      { status: 400, code: "bad_request" },
    );
    this.name = "UnknownProfileTypeError";
  }
}

const RUNNING = new Set(["running", "paused", "restarting"]);

/** A node's running miners' hashrate per algorithm. */
export function minerTotals(id: string, miners: readonly MinerStats[]): AlgorithmTotal[] {
  return algorithmTotals([{
    id,
    miners: miners.filter((m) => RUNNING.has(m.state)).map((m) => ({
      algorithm: algorithmOf(m),
      hashrate: m.state === "paused" ? 0 : m.hashrate.now,
    })),
  }]);
}

/**
 * A rig's row from the stats it sent (asked for, or pushed): O(that rig).
 *
 * @example
 * ```ts ignore
 * const row = rowFromStats(peer, payload, { ms: 3 });
 * ```
 */
export function rowFromStats(
  peer: Pick<Peer, "id" | "name" | "address">,
  stats: StatsPayload,
  options: { ms?: number } = {},
): FleetNodeStatus {
  return {
    id: peer.id,
    name: peer.name,
    address: peer.address,
    ms: Math.round(options.ms ?? 0),
    online: true,
    uptime: stats.uptime,
    role: stats.role,
    totals: minerTotals(peer.id, stats.miners),
    miners: stats.miners,
    ...(stats.capabilities ? { capabilities: stats.capabilities } : {}),
  };
}

/** The fleet's hashrate per algorithm, from the rows that are online. */
export function fleetTotals(rows: readonly FleetNodeStatus[]): AlgorithmTotal[] {
  const by = new Map<string, AlgorithmTotal>();
  for (const row of rows) {
    if (!row.online) continue;
    for (const t of row.totals ?? []) {
      const cur = by.get(t.algorithm);
      if (!cur) by.set(t.algorithm, { ...t });
      else {
        cur.hashrate += t.hashrate;
        cur.miners += t.miners;
        cur.rigs += t.rigs;
        if (t.expected !== null) cur.expected = (cur.expected ?? 0) + t.expected;
      }
    }
  }
  return [...by.values()].sort((a, b) => a.algorithm.localeCompare(b.algorithm));
}

/** The row of a rig that did not answer: offline, with why. */
export function offlineRow(
  peer: Pick<Peer, "id" | "name" | "address">,
  error: string | undefined,
  options: { ms: number },
): FleetNodeStatus {
  return {
    id: peer.id,
    name: peer.name,
    address: peer.address,
    ms: Math.round(options.ms),
    online: false,
    error,
    miners: [],
  };
}

/** Fleet operations over a mesh node (this node's own sessions and dials). */
export class Fleet implements FleetOps {
  /** Wraps a mesh node; `profiles` is this node's own profile store. */
  constructor(readonly mesh: MeshNode, readonly profiles?: ProfileStore) {}

  /** Resolves a peer by ID, ID prefix or name. */
  peer(ref: string): Peer {
    return this.mesh.registry.resolve(ref);
  }

  /** Every peer that may run miners (registered roles worker and dual). */
  workers(): Peer[] {
    return this.mesh.registry.list().filter((p) => p.role !== "controller");
  }

  /** Asks every worker (or one) for stats, in parallel, and aggregates. */
  async status(
    ref?: string,
    options: { timeoutMs?: number; concurrency?: number } = {},
  ): Promise<FleetStatus> {
    const timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUTS.stats;
    const peers = ref ? [this.peer(ref)] : this.workers();
    const results = await fanOut(
      peers,
      async (peer) =>
        (await requestPeer(this.mesh, peer, { type: "get_stats", payload: {}, timeoutMs })).payload,
      { concurrency: options.concurrency ?? 64 },
    );
    const rows: FleetNodeStatus[] = results.map((r) =>
      r.ok
        ? rowFromStats(r.peer, r.value!, { ms: r.ms })
        : offlineRow(r.peer, r.error, { ms: r.ms })
    );
    const online = rows.filter((n) => n.online).length;
    return {
      totals: fleetTotals(rows),
      nodes: rows.length,
      online,
      offline: rows.length - online,
      peers: rows,
    };
  }

  /**
   * One rig's row, asked now: its stats, or offline with why. Never rejects; O(that rig) (the
   * fleet monitor's refreshes, 10,000 of them in a forced read, take no fan-out or totals).
   */
  async row(peer: Peer, options: { timeoutMs?: number } = {}): Promise<FleetNodeStatus> {
    const timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUTS.stats;
    const t0 = performance.now();
    try {
      const res = await requestPeer(this.mesh, peer, { type: "get_stats", payload: {}, timeoutMs });
      return rowFromStats(peer, res.payload, { ms: performance.now() - t0 });
    } catch (err) {
      return offlineRow(peer, (err as Error).message, { ms: performance.now() - t0 });
    }
  }

  /** Starts a miner on a worker. */
  async start(ref: string, options: StartOptions): Promise<StartAck> {
    const peer = this.peer(ref);
    const local = await this.profiles?.get(options.profileRef).catch(() => undefined);
    const minerType = options.minerType ?? local?.minerType;
    if (!minerType) throw new UnknownProfileTypeError(options.profileRef);
    const res = await requestPeer(this.mesh, peer, {
      type: "start_miner",
      payload: {
        minerType,
        profileId: local?.id ?? options.profileRef,
        ...(local ? { config: local } : {}),
      },
      timeoutMs: options.timeoutMs ?? REQUEST_TIMEOUTS.start,
      retry: true,
    });
    const ack = res.payload;
    // RandomX (XMRig on the CPU) needs ~2.5 GB and wants huge pages: say so when the worker's
    // reported capabilities show it will struggle.
    const caps = this.mesh.registry.get(peer.id)?.capabilities;
    const algo = local?.minerType === "xmrig" ? (local.config.pools[0]?.algo ?? "rx/0") : null;
    const warnings = caps && minerType === "xmrig" && (algo === null || algo.startsWith("rx"))
      ? randomxWarnings(caps)
      : [];
    return warnings.length ? { ...ack, warnings } : ack;
  }

  /** Stops one miner, or all of a worker's miners; returns the names stopped. */
  async stop(ref: string, options: StopOptions = {}): Promise<StopAck> {
    const { minerName, timeoutMs = REQUEST_TIMEOUTS.stop } = options;
    const peer = this.peer(ref);
    let names = minerName ? [minerName] : [];
    if (!minerName) {
      const stats = (await requestPeer(this.mesh, peer, {
        type: "get_stats",
        payload: {},
        timeoutMs: REQUEST_TIMEOUTS.stats,
      })).payload;
      names = stats.miners.map((m) => m.name);
    }
    const ack: StopAck = { stopped: [], alreadyStopped: [] };
    for (const name of names) {
      const res = await requestPeer(this.mesh, peer, {
        type: "stop_miner",
        payload: { minerName: name },
        timeoutMs,
        retry: true,
      });
      (res.payload.already ? ack.alreadyStopped : ack.stopped).push(name);
    }
    return ack;
  }

  /** A worker's audit records, newest first. */
  async audit(
    ref: string,
    options: { limit?: number; scope?: AuditScope; timeoutMs?: number } = {},
  ): Promise<AuditRecordView[]> {
    const peer = this.peer(ref);
    const res = await requestPeer(this.mesh, peer, {
      type: "get_audit",
      payload: {
        ...(options.limit ? { limit: options.limit } : {}),
        ...(options.scope ? { scope: options.scope } : {}),
      },
      timeoutMs: options.timeoutMs ?? REQUEST_TIMEOUTS.logs,
    });
    return res.payload.records;
  }

  /** A worker's miner console lines. */
  async logs(ref: string, minerName: string, options: LogsOptions = {}): Promise<LogsView> {
    const peer = this.peer(ref);
    const res = await requestPeer(this.mesh, peer, {
      type: "get_logs",
      payload: {
        minerName,
        ...(options.lines ? { lines: options.lines } : {}),
        ...(options.since !== undefined ? { since: options.since } : {}),
      },
      timeoutMs: options.timeoutMs ?? REQUEST_TIMEOUTS.logs,
    });
    if (res.type !== "logs") {
      throw new RemoteError("invalid_message", `${res.type} is no answer to get_logs`);
    }
    return res.payload;
  }

  /**
   * Follows a worker's miner console: `onLines` gets the backlog, then new lines, until `signal`
   * aborts (resolves null), the miner stops (resolves "miner stopped") or the connection drops
   * (resolves the reason).
   */
  async follow(
    ref: string,
    minerName: string,
    onLines: (lines: LogLineView[]) => void,
    options: FollowOptions,
  ): Promise<string | null> {
    const peer = this.peer(ref);
    const timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUTS.logs;
    const conn = await sessionFor(this.mesh, peer, timeoutMs);
    const session = conn.session;
    try {
      const stream = session.stream(
        "get_logs",
        { minerName, lines: options.lines ?? 50, follow: true },
        timeoutMs,
        (m) => {
          if (m.type !== "log_lines") return;
          onLines(m.payload.lines);
          if (m.payload.ended) ended?.("miner stopped");
        },
      );
      let ended: ((reason: string) => void) | undefined;
      const first = await stream.first;
      if (first.type === "logs") onLines(first.payload.lines);
      const reason = await new Promise<string | null>((resolve) => {
        ended = resolve;
        if (options.signal.aborted) return resolve(null);
        options.signal.addEventListener("abort", () => resolve(null), { once: true });
        session.onClose((r) => resolve(r));
      });
      stream.stop();
      return reason;
    } finally {
      conn.release("done");
    }
  }

  /** Streams a plaintext bundle file to a worker; returns its ack (throws on failure). */
  async deploy(
    ref: string,
    file: string,
    announce: DeployAnnouncement,
    options: { onProgress?: (received: number, total: number) => void; stallMs?: number } = {},
  ): Promise<DeployAck> {
    const peer = this.peer(ref);
    const t0 = performance.now();
    try {
      const conn = await sessionFor(this.mesh, peer, REQUEST_TIMEOUTS.start);
      try {
        const ack = await sendDeploy(conn.session, announce, {
          file,
          onProgress: options.onProgress,
          stallMs: options.stallMs,
        });
        this.mesh.recordOutcome(peer.id, "success", performance.now() - t0);
        return ack;
      } finally {
        conn.release("deploy done");
      }
    } catch (err) {
      this.mesh.recordOutcome(peer.id, err instanceof RequestTimeoutError ? "timeout" : "failure");
      throw err;
    }
  }
}

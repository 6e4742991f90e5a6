/**
 * `node serve --discover`, the approval side: what the beacon socket (`beacon_socket.ts`) hears goes
 * into a bounded pending list until the operator approves (or rejects) it. A controller in auto
 * mode with a join secret enrolls the workers that prove the secret inside the Noise handshake.
 *
 * Approving a node allowlists its ID and, on a node that drives others (controller, dual), dials
 * the announced address expecting that ID: the peer is registered, its address stored and its key
 * pinned only once the handshake proves the ID. When the other side has not approved this node
 * yet, the approval waits and is retried whenever the node beacons or connects.
 * @module
 */
import { MinerCliError } from "../errors/mod.ts";
import { join } from "node:path";
import type { DiscoveryEvent } from "../events/mod.ts";
import type {
  ApproveResult,
  AwaitingView,
  DiscoveryState,
  PendingNode,
  PendingView,
} from "../protocol/mod.ts";
import { z } from "zod";
import { NodeIdSchema, type NodeRole } from "../identity/mod.ts";
import { type Logger, silentLogger } from "../log/mod.ts";
import { PROTOCOL_VERSION } from "../protocol/mod.ts";
import { readJsonFile, writeJsonAtomic } from "../store/mod.ts";
import { AuditLog } from "./audit.ts";
import { BeaconSocket } from "./beacon_socket.ts";
import {
  type Beacon,
  beaconOf,
  DISCOVERY_PORT,
  PendingList,
  type PendingListOptions,
} from "./discovery.ts";
import type { MeshNode } from "./mesh.ts";
import { addPeer } from "./peer_ops.ts";

/** The ID is not in the pending list. */
export class PendingNotFoundError extends MinerCliError {
  /** Creates the error. */
  constructor(readonly ref: string) {
    super(
      `no pending node matches ${ref}: see \`miner-cli peer pending\` (entries expire 15 s after the node's last beacon)`,
      { status: 404, code: "not_found" },
    );
    this.name = "PendingNotFoundError";
  }
}

/** Discovery is not running on this node. */
export class DiscoveryOffError extends MinerCliError {
  /** Creates the error. */
  constructor() {
    super("discovery is off on this node: run it with `miner-cli node serve --discover`", {
      status: 409,
      code: "discovery_off",
    });
    this.name = "DiscoveryOffError";
  }
}

/** Discovery flags that do not fit this node (e.g. `--auto-controller` on a worker). */
export class DiscoveryConfigError extends MinerCliError {
  /** Creates the error. */
  constructor(message: string) {
    super(message, { status: 400, code: "bad_config" });
    this.name = "DiscoveryConfigError";
  }
}

/** Options for {@link DiscoveryService.start}. */
export interface DiscoveryServiceOptions {
  /** UDP port to listen on and send to (default 10000). */
  port?: number;
  /** Interface to bind (default 0.0.0.0: a socket bound to loopback cannot broadcast). */
  hostname?: string;
  /** Beacon targets, `HOST` or `HOST:PORT` (default the limited broadcast 255.255.255.255). */
  broadcast?: string[];
  /** Beacon interval (default 3 s). */
  intervalMs?: number;
  /** P2P port to announce. */
  p2pPort: number;
  /** Enroll workers that prove the join secret (controller auto mode). */
  autoEnroll?: boolean;
  /** Pending list bounds. */
  pending?: Omit<PendingListOptions, "isKnown">;
  /** Audit log for approvals, rejections and enrollments. */
  audit?: AuditLog;
  /** Called on every change. */
  onEvent?: (e: DiscoveryEvent) => void;
  /** Logger. */
  logger?: Logger;
}

const RejectedFileSchema = z.object({
  rejected: z.array(z.object({ id: NodeIdSchema, at: z.string() })).max(4096),
}).strict();

const ENROLL_RETRY_MS = 30_000;
const AWAIT_RETRY_MS = 5_000;
const MAX_CONCURRENT_DIALS = 4;

/** The discovery service of a running node. */
export class DiscoveryService {
  readonly #mesh: MeshNode;
  readonly #socket: BeaconSocket;
  readonly #list: PendingList;
  readonly #o: DiscoveryServiceOptions & { port: number; broadcast: string[] };
  readonly #logger: Logger;
  readonly #rejected = new Map<string, string>();
  readonly #awaiting = new Map<string, AwaitingView & { lastTry: number; busy: boolean }>();
  readonly #enroll = new Map<string, { lastTry: number; busy: boolean; error?: string }>();

  readonly #rejectedPath: string;
  #dials = 0;
  #closed = false;
  /** Beacons of rejected IDs. */
  #rejectedBeacons = 0;

  private constructor(
    mesh: MeshNode,
    options: DiscoveryServiceOptions & { port: number; broadcast: string[] },
  ) {
    this.#mesh = mesh;
    this.#o = options;
    this.#logger = options.logger ?? silentLogger;
    this.#rejectedPath = join(mesh.paths.configDir, "discovery.json");
    this.#list = new PendingList(mesh.id, {
      ...options.pending,
      isKnown: (id) => mesh.registry.get(id) !== undefined || mesh.auth.isAllowed(id),
    });
    this.#socket = BeaconSocket.open({
      port: options.port,
      hostname: options.hostname,
      broadcast: options.broadcast,
      intervalMs: options.intervalMs,
      logger: this.#logger,
      beacon: () =>
        beaconOf({
          id: mesh.id,
          role: mesh.identity.info.role,
          protocol: PROTOCOL_VERSION,
          port: options.p2pPort,
        }, mesh.capabilities),
      onBeacon: (beacon, host) => this.#take(beacon, host),
    });
    mesh.onSession((s) => {
      // An approved node that connects to us (it approved us too): finish its approval now.
      if (this.#awaiting.has(s.peer.id)) queueMicrotask(() => this.#retryAwaiting(s.peer.id));
    });
  }

  /** Binds the UDP socket and starts beaconing and listening. */
  static async start(mesh: MeshNode, options: DiscoveryServiceOptions): Promise<DiscoveryService> {
    const svc = new DiscoveryService(mesh, {
      ...options,
      port: options.port ?? DISCOVERY_PORT,
      broadcast: options.broadcast?.length ? options.broadcast : ["255.255.255.255"],
    });
    await svc.#loadRejected();
    return svc;
  }

  /** The bound UDP port. */
  get port(): number {
    return this.#socket.port;
  }

  async #loadRejected(): Promise<void> {
    try {
      const file = await readJsonFile(this.#rejectedPath, RejectedFileSchema);
      for (const r of file?.rejected ?? []) this.#rejected.set(r.id, r.at);
    } catch (err) {
      // A corrupt file must not stop the node; it is rewritten at the next rejection.
      this.#logger.warn("discovery_state_unreadable", {
        path: this.#rejectedPath,
        reason: (err as Error).message,
      });
    }
  }

  async #saveRejected(): Promise<void> {
    const rejected = [...this.#rejected].slice(-4096).map(([id, at]) => ({ id, at }));
    await writeJsonAtomic(this.#rejectedPath, { rejected });
  }

  #take(beacon: Beacon, host: string): void {
    if (this.#rejected.has(beacon.id)) {
      this.#rejectedBeacons++;
      return;
    }
    const waiting = this.#awaiting.get(beacon.id);
    if (waiting) {
      // The address is only a hint: the retry's handshake must prove the ID.
      waiting.address = host.includes(":") ? `[${host}]:${beacon.port}` : `${host}:${beacon.port}`;
      this.#retryAwaiting(beacon.id);
      return;
    }
    const verdict = this.#list.offer(beacon, host);
    if (verdict === "added") {
      const entry = this.#list.get(beacon.id)!;
      this.#logger.info("node_discovered", {
        peer: beacon.id,
        address: entry.address,
        role: beacon.role,
      });
      this.#emit({ kind: "pending", id: beacon.id, address: entry.address, role: beacon.role });
    }
    if (
      (verdict === "added" || verdict === "refreshed") && this.#o.autoEnroll &&
      this.#mesh.joinSecret && beacon.role === "worker"
    ) {
      this.#tryEnroll(beacon.id);
    }
  }

  #emit(e: Omit<DiscoveryEvent, "type" | "at">): void {
    this.#o.onEvent?.({ type: "discovery", at: new Date().toISOString(), ...e });
  }

  #audit(
    action: string,
    peer: { id: string; name?: string; role?: string | null },
    extra: { params?: Record<string, unknown>; outcome?: "ok" | "refused" | "failed" } = {},
  ): void {
    this.#o.audit?.append({
      peer: peer.id,
      peerName: peer.name ?? "",
      role: peer.role ?? null,
      action,
      params: extra.params ?? {},
      outcome: extra.outcome ?? "ok",
    }).catch(() => {});
  }

  #tryEnroll(id: string): void {
    const now = Date.now();
    const state = this.#enroll.get(id);
    if (state?.busy || (state && now - state.lastTry < ENROLL_RETRY_MS)) return;
    if (this.#dials >= MAX_CONCURRENT_DIALS) return;
    const entry = this.#list.get(id);
    if (!entry) return;
    const s = { lastTry: now, busy: true, error: state?.error };
    this.#enroll.set(id, s);
    this.#dials++;
    addPeer(this.#mesh, entry.address, { expectId: id, join: true, uniqueName: true })
      .then((res) => {
        this.#list.remove(id);
        this.#enroll.delete(id);
        this.#logger.info("node_enrolled", {
          peer: id,
          name: res.peer.name,
          address: entry.address,
        });
        this.#audit("enroll", res.peer, { params: { address: entry.address } });
        this.#emit({ kind: "enrolled", id, address: entry.address, role: res.peer.role });
      })
      .catch((err) => {
        s.error = (err as Error).message;
        this.#logger.warn("enroll_failed", { peer: id, address: entry.address, reason: s.error });
        this.#audit("enroll", { id, role: entry.role }, {
          params: { address: entry.address },
          outcome: "refused",
        });
      })
      .finally(() => {
        s.busy = false;
        this.#dials--;
      });
  }

  /** Pending, awaiting and rejected nodes. */
  state(): DiscoveryState {
    const pending = this.#list.list().map((e): PendingView => {
      const s = this.#enroll.get(e.id);
      return { ...e, enrolling: s?.busy ?? false, ...(s?.error ? { lastError: s.error } : {}) };
    });
    // Enrollment state of entries that expired is dropped with them.
    const live = new Set(pending.map((p) => p.id));
    for (const id of this.#enroll.keys()) if (!live.has(id)) this.#enroll.delete(id);
    return {
      pending,
      awaiting: [...this.#awaiting.values()].map(({ lastTry: _, busy: __, ...a }) => a),
      rejected: [...this.#rejected].map(([id, at]) => ({ id, at })),
      port: this.port,
      broadcast: this.#o.broadcast,
      autoEnroll: Boolean(this.#o.autoEnroll && this.#mesh.joinSecret),
      counters: {
        ...this.#list.counters,
        invalid: this.#socket.invalid,
        rejected: this.#rejectedBeacons,
      },
    };
  }

  /** Pending entries matching refs (full ID or unique prefix) or, with `role`, every entry of it. */
  #select(refs: string[], role?: NodeRole): PendingNode[] {
    if (role) return this.#list.list().filter((e) => e.role === role);
    return refs.map((ref) => {
      const e = this.#list.get(ref);
      if (!e) throw new PendingNotFoundError(ref);
      return e;
    });
  }

  /**
   * Approves pending nodes: allowlists each ID and, on a controller or dual node, dials it
   * expecting that ID, registering it (address and key pinned) once the handshake proves it.
   * With `control` (the default on a worker: approving a controller there is its operator letting
   * it in), the approved nodes may control this one once they connect.
   */
  async approve(
    refs: string[],
    options: { role?: NodeRole; control?: boolean } = {},
  ): Promise<ApproveResult[]> {
    const entries = this.#select(refs, options.role);
    const dials = this.#mesh.identity.info.role !== "worker";
    const control = options.control ?? this.#mesh.identity.info.role === "worker";
    const results: ApproveResult[] = [];
    for (const e of entries) {
      await this.#mesh.auth.allow({
        id: e.id,
        addedAt: new Date().toISOString(),
        ...(control ? { grants: ["control" as const] } : {}),
      });
      this.#list.remove(e.id);
      this.#audit("approve", { id: e.id, role: e.role }, {
        params: { address: e.address, control },
      });
      this.#emit({ kind: "approved", id: e.id, address: e.address, role: e.role });
      if (!dials) {
        results.push({ id: e.id, address: e.address, outcome: "allowed" });
        continue;
      }
      this.#awaiting.set(e.id, {
        id: e.id,
        address: e.address,
        approvedAt: new Date().toISOString(),
        lastTry: 0,
        busy: false,
      });
      results.push(await this.#retryAwaiting(e.id, true));
    }
    return results;
  }

  async #retryAwaiting(id: string, now = false): Promise<ApproveResult> {
    const w = this.#awaiting.get(id);
    if (!w) return { id, address: "", outcome: "registered" };
    const result = (reason?: string): ApproveResult => ({
      id,
      address: w.address,
      outcome: "awaiting",
      ...(reason ? { reason } : {}),
    });
    if (w.busy || (!now && Date.now() - w.lastTry < AWAIT_RETRY_MS)) return result(w.lastError);
    w.busy = true;
    w.lastTry = Date.now();
    try {
      const res = await addPeer(this.#mesh, w.address, { expectId: id, uniqueName: true });
      this.#awaiting.delete(id);
      this.#logger.info("node_approved", { peer: id, name: res.peer.name, address: w.address });
      this.#audit("register", res.peer, { params: { address: w.address } });
      this.#emit({ kind: "registered", id, address: w.address, role: res.peer.role });
      return { id, address: w.address, outcome: "registered", name: res.peer.name };
    } catch (err) {
      w.lastError = (err as Error).message;
      return result(w.lastError);
    } finally {
      w.busy = false;
    }
  }

  /** Rejects pending nodes: they leave the list and their beacons are ignored (persisted). */
  async reject(refs: string[], options: { role?: NodeRole } = {}): Promise<string[]> {
    const entries = this.#select(refs, options.role);
    const at = new Date().toISOString();
    for (const e of entries) {
      this.#list.remove(e.id);
      this.#rejected.set(e.id, at);
      this.#audit("reject", { id: e.id, role: e.role }, { params: { address: e.address } });
      this.#emit({ kind: "rejected", id: e.id, address: e.address, role: e.role });
    }
    if (entries.length) await this.#saveRejected();
    return entries.map((e) => e.id);
  }

  /** Forgets rejections (full IDs or unique prefixes): the nodes reappear at their next beacon. */
  async unreject(refs: string[]): Promise<string[]> {
    const ids = refs.map((ref) => {
      const m = [...this.#rejected.keys()].filter((id) => id.startsWith(ref.toLowerCase()));
      if (m.length !== 1) {
        throw new PendingNotFoundError(`${ref} (among rejected nodes)`);
      }
      return m[0];
    });
    for (const id of ids) {
      this.#rejected.delete(id);
      this.#emit({ kind: "unrejected", id });
    }
    await this.#saveRejected();
    return ids;
  }

  /** Stops beaconing and listening. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.close();
  }
}

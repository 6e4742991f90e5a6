/**
 * The controller's view of its fleet, kept fresh in the background: a periodic poll asks every
 * worker for stats and pings every other peer; the last result serves cached reads
 * (`GET /remote/stats`, `/metrics`, the dashboard) and online/offline transitions become events.
 * @module
 */
import type { PeerStateEvent } from "../events/mod.ts";
import type { Peer } from "../peers/mod.ts";
import type { FleetStatus } from "../protocol/mod.ts";
import type { Fleet } from "./fleet.ts";
import { REQUEST_TIMEOUTS } from "./requests.ts";
import { probePeer } from "./peer_ops.ts";

/** A peer's reachability as last seen. */
export interface PeerLiveState {
  /** Whether it answered. */
  online: boolean;
  /** When the state last changed (ISO time). */
  since: string;
  /** Why it is offline. */
  reason?: string;
}

/** A transition, or a finished poll. */
export type MonitorEvent =
  | PeerStateEvent
  | { type: "fleet"; at: string; status: FleetStatus };

/** Options for {@link FleetMonitor}. */
export interface FleetMonitorOptions {
  /** Background poll interval (default 10 s; 0 disables the timer, polls happen on demand). */
  intervalMs?: number;
  /** Per-peer timeout of a poll (default: the stats request timeout, 10 s). */
  timeoutMs?: number;
  /** Receives transitions and poll results. */
  onEvent?: (e: MonitorEvent) => void;
}

/** A cached fleet status with the time it was taken. */
export interface CachedFleetStatus extends FleetStatus {
  /** When the poll finished (ISO time). */
  cachedAt: string;
}

/** Polls the fleet and remembers the answer. */
export class FleetMonitor {
  readonly #fleet: Fleet;
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #onEvent: (e: MonitorEvent) => void;
  readonly #state = new Map<string, PeerLiveState>();
  #latest: { at: number; status: CachedFleetStatus } | null = null;
  #inflight: { promise: Promise<CachedFleetStatus>; timeoutMs: number } | null = null;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** Watches `fleet`'s peers. */
  constructor(fleet: Fleet, options: FleetMonitorOptions = {}) {
    this.#fleet = fleet;
    this.#intervalMs = options.intervalMs ?? 10_000;
    this.#timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUTS.stats;
    this.#onEvent = options.onEvent ?? (() => {});
  }

  /** Starts the background poll (first poll right away). */
  start(): void {
    if (this.#intervalMs <= 0 || this.#timer !== undefined) return;
    this.poll().catch(() => {});
    this.#timer = setInterval(() => this.poll().catch(() => {}), this.#intervalMs);
  }

  /** Stops the background poll. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** The last poll's result, or null before the first. */
  latest(): CachedFleetStatus | null {
    return this.#latest?.status ?? null;
  }

  /** A peer's last known state (undefined: never checked). */
  state(peerId: string): PeerLiveState | undefined {
    return this.#state.get(peerId);
  }

  /** Marks a peer online now (a session with it opened). */
  sawOnline(peer: Pick<Peer, "id" | "name">): void {
    this.#set(peer, true);
  }

  /** The cached status when at most `maxAgeMs` old, else a fresh poll. */
  async get(maxAgeMs: number, timeoutMs?: number): Promise<CachedFleetStatus> {
    if (this.#latest && Date.now() - this.#latest.at <= maxAgeMs) return this.#latest.status;
    return await this.poll(timeoutMs);
  }

  /** Polls now; a caller shares a running poll whose timeout is at least its own. */
  poll(timeoutMs: number = this.#timeoutMs): Promise<CachedFleetStatus> {
    if (this.#inflight && this.#inflight.timeoutMs >= timeoutMs) return this.#inflight.promise;
    const promise = this.#poll(timeoutMs);
    const entry = { promise, timeoutMs };
    this.#inflight = entry;
    promise.finally(() => {
      if (this.#inflight === entry) this.#inflight = null;
    }).catch(() => {});
    return promise;
  }

  /** Forgets the cached status (the registry changed) and polls again when running. */
  invalidate(): void {
    this.#latest = null;
    this.#inflight = null;
    if (this.#timer !== undefined) this.poll().catch(() => {});
  }

  /** Whether the background poll runs. */
  get running(): boolean {
    return this.#timer !== undefined;
  }

  /** Marks a peer offline (its last session closed and no poll watches it). */
  sawOffline(peer: Pick<Peer, "id" | "name">, reason: string): void {
    this.#set(peer, false, reason);
  }

  async #poll(timeoutMs: number): Promise<CachedFleetStatus> {
    const others = this.#fleet.mesh.registry.list().filter((p) => p.role === "controller");
    const [status, probes] = await Promise.all([
      this.#fleet.status(undefined, { timeoutMs }),
      Promise.all(others.map((p) => probePeer(this.#fleet.mesh, p, { timeoutMs }))),
    ]);
    for (const row of status.peers) this.#set(row, row.online, row.error);
    others.forEach((p, i) => this.#set(p, probes[i].online, probes[i].error));
    const known = new Set(this.#fleet.mesh.registry.list().map((p) => p.id));
    for (const id of [...this.#state.keys()]) if (!known.has(id)) this.#state.delete(id);
    const at = new Date();
    const cached = { ...status, cachedAt: at.toISOString() };
    this.#latest = { at: at.getTime(), status: cached };
    this.#onEvent({ type: "fleet", at: cached.cachedAt, status: cached });
    return cached;
  }

  #set(peer: Pick<Peer, "id" | "name">, online: boolean, reason?: string): void {
    const prev = this.#state.get(peer.id);
    if (prev && prev.online === online) {
      if (!online) prev.reason = reason;
      return;
    }
    const at = new Date().toISOString();
    this.#state.set(peer.id, { online, since: at, ...(online ? {} : { reason }) });
    this.#onEvent({
      type: "peer",
      kind: online ? "online" : "offline",
      id: peer.id,
      name: peer.name,
      at,
      ...(online ? {} : { reason }),
    });
  }
}

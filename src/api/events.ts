/**
 * Live events of a node, fanned out to the API's Server-Sent Events stream
 * (`GET /api/v1/mining/events`): miner lifecycle, stats ticks, fleet updates, peer online/offline
 * transitions and deploy progress.
 * @module
 */

/** A miner lifecycle change on this node. */
export interface MinerLifecycleEvent {
  /** Event type. */
  type: "miner";
  /** What happened. */
  kind: "started" | "stopped" | "crashed" | "restarted" | "failed";
  /** Miner name. */
  miner: string;
  /** When (ISO time). */
  at: string;
  /** Why (exit code, hang, stall...). */
  reason?: string;
}

/** A periodic snapshot of this node's miners. */
export interface StatsTickEvent {
  /** Event type. */
  type: "stats";
  /** When (ISO time). */
  at: string;
  /** Normalized stats of every local miner. */
  miners: unknown[];
}

/** A fresh fleet status (after each background poll). */
export interface FleetEvent {
  /** Event type. */
  type: "fleet";
  /** When the poll finished (ISO time). */
  at: string;
  /** The fleet status document. */
  status: unknown;
}

/** A peer came online or went offline. */
export interface PeerStateEvent {
  /** Event type. */
  type: "peer";
  /** Transition. */
  kind: "online" | "offline";
  /** Peer ID. */
  id: string;
  /** Peer name. */
  name: string;
  /** When the transition was seen (ISO time). */
  at: string;
  /** Why it is offline. */
  reason?: string;
}

/** The peer registry or allowlist changed (added, removed, renamed, allowed, revoked). */
export interface PeersChangedEvent {
  /** Event type. */
  type: "peers";
  /** When (ISO time). */
  at: string;
}

/** Progress of a deploy sent by this node. */
export interface DeployProgressEvent {
  /** Event type. */
  type: "deploy";
  /** Target peer ID. */
  peer: string;
  /** Bundle name. */
  name: string;
  /** Bytes the worker has received. */
  received: number;
  /** Bundle size. */
  total: number;
  /** Phase. */
  phase: "progress" | "done" | "error";
  /** Error message when it failed. */
  error?: string;
  /** When (ISO time). */
  at: string;
}

/** A discovery change: a node appeared, was approved, registered, enrolled or rejected. */
export interface DiscoveryEvent {
  /** Event type. */
  type: "discovery";
  /** What happened. */
  kind: "pending" | "approved" | "registered" | "enrolled" | "rejected" | "unrejected";
  /** Node ID. */
  id: string;
  /** Its announced address. */
  address?: string;
  /** Its announced role. */
  role?: "controller" | "worker" | "dual";
  /** When (ISO time). */
  at: string;
  /** Detail. */
  reason?: string;
}

/** Any live event. */
export type NodeEvent =
  | MinerLifecycleEvent
  | StatsTickEvent
  | FleetEvent
  | PeerStateEvent
  | PeersChangedEvent
  | DeployProgressEvent
  | DiscoveryEvent;

/** A small synchronous publish/subscribe hub; a throwing subscriber never affects the others. */
export class EventHub {
  readonly #subscribers = new Set<(e: NodeEvent) => void>();

  /** Delivers `event` to every subscriber. */
  publish(event: NodeEvent): void {
    for (const fn of [...this.#subscribers]) {
      try {
        fn(event);
      } catch {
        // a broken stream must not stop the others
      }
    }
  }

  /** Subscribes; returns the unsubscribe function. */
  subscribe(fn: (e: NodeEvent) => void): () => void {
    this.#subscribers.add(fn);
    return () => this.#subscribers.delete(fn);
  }

  /** Number of subscribers (the daemon ticks only while someone listens). */
  get size(): number {
    return this.#subscribers.size;
  }
}

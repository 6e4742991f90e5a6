/**
 * Live events of a node, and the hub that fans them out. Producers (the miner manager, the fleet
 * monitor, discovery, deploys) publish; consumers (the API's Server-Sent Events stream
 * `GET /api/v1/mining/events`, the audit log, the dashboard) subscribe. A leaf: it depends only on
 * the shared view shapes.
 *
 * @example
 * ```ts
 * import { EventHub } from "./mod.ts";
 * const hub = new EventHub();
 * const off = hub.subscribe((e) => console.log(e.type));
 * hub.publish({ type: "peers", at: new Date().toISOString() }); // logs "peers"
 * off();
 * ```
 * @module
 */
import { z } from "zod";
import {
  AlertSchema,
  DeployProgressSchema,
  FleetHealthSchema,
  FleetStatusSchema,
  MinerEventSchema,
  MinerStatsSchema,
  StratumStatusSchema,
} from "../protocol/mod.ts";

/** A miner lifecycle change on this node. */
export const MinerLifecycleEventSchema = MinerEventSchema.extend({ type: z.literal("miner") });
/** A miner lifecycle event. */
export type MinerLifecycleEvent = z.infer<typeof MinerLifecycleEventSchema>;

/** A periodic snapshot of this node's miners. */
export const StatsTickEventSchema = z.object({
  type: z.literal("stats"),
  at: z.string(),
  miners: z.array(MinerStatsSchema),
});
/** A stats tick. */
export type StatsTickEvent = z.infer<typeof StatsTickEventSchema>;

/**
 * Fleet rows that changed (a push, an answer, a rig lost), at most every 250 ms, with the
 * fleet's counts and totals: a reader keeps its fleet view by replacing these rows, never
 * receiving the whole fleet again.
 */
export const FleetRowsEventSchema = z.object({
  type: z.literal("fleet_rows"),
  at: z.string(),
  rows: FleetStatusSchema.shape.peers,
  removed: z.array(z.string()),
  nodes: z.number().int().nonnegative(),
  online: z.number().int().nonnegative(),
  offline: z.number().int().nonnegative(),
  totals: FleetStatusSchema.shape.totals,
});
/** A fleet rows event. */
export type FleetRowsEvent = z.infer<typeof FleetRowsEventSchema>;

/** A peer came online or went offline. */
export const PeerStateEventSchema = z.object({
  type: z.literal("peer"),
  kind: z.enum(["online", "offline"]),
  /** Peer ID. */
  id: z.string(),
  /** Peer name. */
  name: z.string(),
  /** When the transition was seen (ISO time). */
  at: z.string(),
  /** Why it is offline. */
  reason: z.string().optional(),
});
/** A peer state event. */
export type PeerStateEvent = z.infer<typeof PeerStateEventSchema>;

/** The peer registry or allowlist changed (added, removed, renamed, allowed, revoked). */
export const PeersChangedEventSchema = z.object({ type: z.literal("peers"), at: z.string() });
/** A peers-changed event. */
export type PeersChangedEvent = z.infer<typeof PeersChangedEventSchema>;

/** Progress of a deploy sent by this node. */
export const DeployProgressEventSchema = DeployProgressSchema.extend({
  type: z.literal("deploy"),
  at: z.string(),
});
/** A deploy progress event. */
export type DeployProgressEvent = z.infer<typeof DeployProgressEventSchema>;

/** A discovery change: a node appeared, was approved, registered, enrolled or rejected. */
export const DiscoveryEventSchema = z.object({
  type: z.literal("discovery"),
  kind: z.enum(["pending", "approved", "registered", "enrolled", "rejected", "unrejected"]),
  /** Node ID. */
  id: z.string(),
  /** Its announced address. */
  address: z.string().optional(),
  /** Its announced role. */
  role: z.enum(["controller", "worker", "dual"]).optional(),
  /** When (ISO time). */
  at: z.string(),
  /** Detail. */
  reason: z.string().optional(),
});
/** A discovery event. */
export type DiscoveryEvent = z.infer<typeof DiscoveryEventSchema>;

/**
 * The fleet's health changed (a state or a reason of a rig or miner): the fleet's state, counts
 * and totals, with only the rigs whose health changed (`rigs`) and the IDs of rigs no longer
 * reported (`removed`). A client merges them into the last `GET /health` (the first event after
 * a node starts carries every rig).
 */
export const HealthEventSchema = z.object({
  type: z.literal("health"),
  at: z.string(),
  health: FleetHealthSchema.extend({ removed: z.array(z.string()) }),
});
/** A health event. */
export type HealthEvent = z.infer<typeof HealthEventSchema>;

/** An alert changed: pending, firing, resolved, acknowledged, or its message went out. */
export const AlertEventSchema = z.object({
  type: z.literal("alert"),
  at: z.string(),
  kind: z.enum(["pending", "firing", "resolved", "acked", "notified"]),
  alert: AlertSchema,
});
/** An alert event. */
export type AlertEvent = z.infer<typeof AlertEventSchema>;

/**
 * Farm stratum changed: an upstream went up or down (or another became active), a new job, a
 * block, or shares were counted (at most once a second); with the proxy's totals and upstreams.
 */
export const StratumEventSchema = z.object({
  type: z.literal("stratum"),
  at: z.string(),
  kind: z.enum(["upstream", "job", "block", "shares"]),
  totals: StratumStatusSchema.shape.totals,
  upstreams: StratumStatusSchema.shape.upstreams,
  /** For a job: which, to how many miners, when the proxy started sending it and for how long. */
  job: z.object({
    id: z.string().max(64),
    height: z.number().int(),
    miners: z.number().int(),
    issuedAt: z.string().max(40),
    ms: z.number(),
  }).strict().optional(),
  /** For a block: its height and who found it. */
  block: z.object({ height: z.number().int(), rig: z.string().max(64), miner: z.string().max(64) })
    .strict().optional(),
});
/** A stratum event. */
export type StratumEvent = z.infer<typeof StratumEventSchema>;

/** Any live event. */
export const NodeEventSchema = z.discriminatedUnion("type", [
  StratumEventSchema,
  HealthEventSchema,
  AlertEventSchema,
  MinerLifecycleEventSchema,
  StatsTickEventSchema,
  FleetRowsEventSchema,
  PeerStateEventSchema,
  PeersChangedEventSchema,
  DeployProgressEventSchema,
  DiscoveryEventSchema,
]);
/** Any live event. */
export type NodeEvent = z.infer<typeof NodeEventSchema>;

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

/**
 * The shared shapes of what a node shows: miner stats, fleet status, peer views, discovery state,
 * deploy progress, fleet operation answers and the event-stream snapshot. One zod schema each,
 * with its `z.infer` type: the node builds them, the API validates and documents them, the CLI
 * prints them and the dashboard (`import type`) renders them, so a renamed field is a compile
 * error everywhere. Everything a remote worker sends is bounded here.
 * @module
 */
import { z } from "zod";
import { CapabilitiesSchema } from "../capabilities/mod.ts";
import { NodeIdSchema, NodeRoleSchema } from "../identity/mod.ts";
import { AllowEntrySchema, AuthModeSchema, PeerSchema, TagSchema } from "../peers/mod.ts";
import { AlgorithmTotalSchema, HealthStateSchema, RigHealthSchema } from "./health.ts";

/** Miner types miner-cli knows. */
export const MinerTypeSchema = z.enum(["xmrig", "tt-miner", "custom"]);
/** A miner type. */
export type MinerType = z.infer<typeof MinerTypeSchema>;

/** Lifecycle states of a supervised miner. */
export const MinerStateSchema = z.enum([
  "starting",
  "running",
  "paused",
  "restarting",
  "stopping",
  "stopped",
  "failed",
]);
/** A miner state. */
export type MinerState = z.infer<typeof MinerStateSchema>;

const Rate = z.number().nonnegative().nullable();

/** One restart, with its reason. */
export const RestartSchema = z.object({ at: z.string().max(40), reason: z.string().max(500) });
/** A restart record. */
export type Restart = z.infer<typeof RestartSchema>;

/** Normalized stats of one miner (hashrates in H/s; null where not measured yet). */
export const MinerStatsSchema = z.object({
  name: z.string().max(64),
  type: MinerTypeSchema,
  profileId: z.string().max(64).nullable(),
  state: MinerStateSchema,
  pid: z.number().int().nullable(),
  hashrate: z.object({ now: Rate, avg60: Rate, avg15m: Rate }),
  shares: z.object({
    accepted: z.number().int().nonnegative(),
    rejected: z.number().int().nonnegative(),
  }),
  pool: z.string().max(300).nullable(),
  algorithm: z.string().max(64).nullable(),
  difficulty: z.number().nonnegative().nullable(),
  /** Seconds since the current process started. */
  uptime: z.number().nonnegative(),
  paused: z.boolean(),
  version: z.string().max(64).nullable(),
  threads: z.array(z.object({ hashrate: Rate })).max(1024),
  devices: z.array(z.object({
    name: z.string().max(128).nullable(),
    /** GPU (default) or CPU package. */
    kind: z.enum(["gpu", "cpu"]).optional(),
    hashrate: Rate,
    /** °C. */
    temp: z.number().min(-100).max(500).nullable(),
    /** Fan speed in percent. */
    fan: z.number().min(0).max(1000).nullable(),
    /** Fan speed in RPM (XMRig's OpenCL backend reports RPM, not percent). */
    fanRpm: z.number().min(0).max(1e6).nullable().optional(),
    /** Board power (W). */
    power: z.number().min(0).max(1e5).nullable().optional(),
  })).max(64),
  restarts: z.number().int().nonnegative(),
  restartLog: z.array(RestartSchema).max(50),
  startedAt: z.string().max(40).nullable(),
  lastError: z.string().max(2000).nullable(),
});
/** Normalized stats. */
export type MinerStats = z.infer<typeof MinerStatsSchema>;

/** Something that happened to a miner. */
export const MinerEventSchema = z.object({
  kind: z.enum(["started", "stopped", "crashed", "restarted", "failed"]),
  miner: z.string().max(64),
  at: z.string(),
  reason: z.string().max(500).optional(),
});
/** A miner lifecycle event. */
export type MinerEvent = z.infer<typeof MinerEventSchema>;

/** One console line as shown (sequence number, time, text). */
export const LogLineSchema = z.object({
  seq: z.number().int(),
  ts: z.string().max(40),
  text: z.string().max(2000),
});
/** A console line. */
export type LogLineView = z.infer<typeof LogLineSchema>;

/** One node's row in a fleet status. */
export const FleetNodeStatusSchema = z.object({
  /** Node ID. */
  id: z.string(),
  /** Name. */
  name: z.string(),
  /** Registered address (null for nodes that connect in). */
  address: z.string().nullable(),
  /** Whether it answered. */
  online: z.boolean(),
  /** Seconds since the node started. */
  uptime: z.number().optional(),
  /** The role it announced. */
  role: z.string().optional(),
  /** Its miners' current hashrate per algorithm (never summed across algorithms). */
  totals: z.array(AlgorithmTotalSchema).optional(),
  /** Its miners. */
  miners: z.array(MinerStatsSchema),
  /** Capabilities it reported. */
  capabilities: CapabilitiesSchema.optional(),
  /** Why it did not answer. */
  error: z.string().optional(),
  /** Round trip in ms. */
  ms: z.number(),
  /** When this row was taken (cached statuses). */
  updatedAt: z.string().optional(),
  /** How: pushed by the rig over its link (`node serve --connect`), or asked for. */
  source: z.enum(["push", "poll"]).optional(),
  /** Older than the reader asked for, or never taken: the last known state, being refreshed. */
  stale: z.boolean().optional(),
  /** Its health: state and reasons for the rig and each miner. */
  health: RigHealthSchema.optional(),
});
/** One node's row in a fleet status. */
export type FleetNodeStatus = z.infer<typeof FleetNodeStatusSchema>;

/** A fleet status document (`remote status --json`, `GET /remote/stats`). */
export const FleetStatusSchema = z.object({
  /** Current hashrate of the nodes that answered, one entry per algorithm. */
  totals: z.array(AlgorithmTotalSchema),
  /** Nodes asked. */
  nodes: z.number(),
  /** Nodes that answered. */
  online: z.number(),
  /** Nodes that did not. */
  offline: z.number(),
  /** Per node. */
  peers: z.array(FleetNodeStatusSchema),
  /** When the status was taken, for a cached one (ISO time). */
  cachedAt: z.string().optional(),
  /** The fleet's health: its worst state and rigs per state. */
  health: z.object({
    state: HealthStateSchema,
    counts: z.record(HealthStateSchema, z.number().int()),
  }).optional(),
  /** For a filtered or paged read: rows that matched, and the page returned. */
  page: z.object({
    matched: z.number().int(),
    offset: z.number().int(),
    limit: z.number().int(),
  }).optional(),
});
/** A fleet status. */
export type FleetStatus = z.infer<typeof FleetStatusSchema>;

/** A registered peer as the API shows it: the record plus live state. */
export const PeerViewSchema = PeerSchema.extend({
  /** Last known reachability (null: not checked yet). */
  online: z.boolean().nullable(),
  /** Why it was offline at the last check. */
  offlineReason: z.string().optional(),
  /** When the online state last changed (ISO time). */
  since: z.string().nullable(),
  /** Whether a session with it is open now. */
  connected: z.boolean(),
  /** Open sessions with it (a persistent link is one; a second one is a duplicate link). */
  sessions: z.number().int().nonnegative(),
  /** Whether it is on the allowlist. */
  allowed: z.boolean(),
});
/** A peer view. */
export type PeerView = z.infer<typeof PeerViewSchema>;

/** Auth mode and allowlist. */
export const AuthViewSchema = z.object({ mode: AuthModeSchema, allow: z.array(AllowEntrySchema) });
/** The auth view. */
export type AuthView = z.infer<typeof AuthViewSchema>;

/** A discovered node awaiting approval (what its beacon said, and where it came from). */
export const PendingNodeSchema = z.object({
  id: NodeIdSchema,
  role: NodeRoleSchema,
  protocol: z.number(),
  port: z.number(),
  threads: z.number(),
  memTotalMB: z.number(),
  aes: z.boolean().nullable(),
  avx2: z.boolean().nullable(),
  hugePages: z.boolean().nullable(),
  gpus: z.number(),
  /** `host:port` to dial (the beacon's source address and announced port). */
  address: z.string(),
  /** First and last beacon (ISO times). */
  firstSeen: z.string(),
  lastSeen: z.string(),
});
/** A pending node. */
export type PendingNode = z.infer<typeof PendingNodeSchema>;

/** A pending node as `peer pending` shows it. */
export const PendingViewSchema = PendingNodeSchema.extend({
  /** Whether an enrollment handshake (join secret) is running now. */
  enrolling: z.boolean(),
  /** Why the last automatic enrollment failed. */
  lastError: z.string().optional(),
});
/** A pending view. */
export type PendingView = z.infer<typeof PendingViewSchema>;

/** An approved node whose handshake has not succeeded yet. */
export const AwaitingViewSchema = z.object({
  id: z.string(),
  address: z.string(),
  approvedAt: z.string(),
  lastError: z.string().optional(),
});
/** An awaiting view. */
export type AwaitingView = z.infer<typeof AwaitingViewSchema>;

/** `GET /peers/pending`. */
export const DiscoveryStateSchema = z.object({
  /** Discovered, not trusted. */
  pending: z.array(PendingViewSchema),
  /** Approved, waiting for a handshake that proves the ID. */
  awaiting: z.array(AwaitingViewSchema),
  /** Rejected IDs (their beacons are ignored). */
  rejected: z.array(z.object({ id: z.string(), at: z.string() })),
  /** UDP port. */
  port: z.number(),
  /** Where beacons are sent. */
  broadcast: z.array(z.string()),
  /** Whether this node enrolls workers that prove the join secret. */
  autoEnroll: z.boolean(),
  /** Beacon counters by verdict (plus `invalid` datagrams and `rejected` IDs). */
  counters: z.record(z.string(), z.number()),
});
/** The discovery state. */
export type DiscoveryState = z.infer<typeof DiscoveryStateSchema>;

/** Outcome of approving one node. */
export const ApproveResultSchema = z.object({
  id: z.string(),
  address: z.string(),
  /**
   * `registered`: the handshake proved the ID, the peer is stored with its key pinned;
   * `awaiting`: allowlisted, the handshake failed (see `reason`) and is retried;
   * `allowed`: allowlisted (a worker does not dial: the controller connects to it).
   */
  outcome: z.enum(["registered", "awaiting", "allowed"]),
  /** Registered name. */
  name: z.string().optional(),
  /** Why the handshake failed. */
  reason: z.string().optional(),
});
/** An approve result. */
export type ApproveResult = z.infer<typeof ApproveResultSchema>;

/** Progress of a deploy sent by this node. */
export const DeployProgressSchema = z.object({
  /** Target peer ID. */
  peer: z.string(),
  /** Bundle name. */
  name: z.string(),
  /** Bytes the worker has received. */
  received: z.number(),
  /** Bundle size. */
  total: z.number(),
  /** Phase. */
  phase: z.enum(["progress", "done", "error"]),
  /** Error message when it failed. */
  error: z.string().optional(),
});
/** A deploy's progress. */
export type DeployProgress = z.infer<typeof DeployProgressSchema>;

/** A worker's answer to a start. */
export const StartAckSchema = z.object({
  success: z.boolean(),
  minerName: z.string().optional(),
  error: z.string().optional(),
  /** It was already running: nothing was started. */
  already: z.boolean().optional(),
  /** Since when it runs (with `already`). */
  since: z.string().optional(),
  /** Capability warnings (e.g. RandomX on a node without huge pages or with < 2.5 GB free). */
  warnings: z.array(z.string()).optional(),
});
/** A start answer. */
export type StartAck = z.infer<typeof StartAckSchema>;

/** A worker's answer to a stop: what this call stopped, and what was not running anyway. */
export const StopAckSchema = z.object({
  /** Miners this call stopped. */
  stopped: z.array(z.string()),
  /** Miners that were already stopped (nothing was done; the intent says stopped). */
  alreadyStopped: z.array(z.string()),
});
/** A stop answer. */
export type StopAck = z.infer<typeof StopAckSchema>;

/** A worker's answer to a deploy. */
export const DeployAckSchema = z.object({
  success: z.boolean(),
  name: z.string().optional(),
  error: z.string().optional(),
  minerType: z.string().nullable().optional(),
  version: z.string().optional(),
  profileIds: z.array(z.string()).optional(),
});
/** A deploy answer. */
export type DeployAck = z.infer<typeof DeployAckSchema>;

/** A miner's console lines from a worker. */
export const LogsViewSchema = z.object({
  minerName: z.string(),
  lines: z.array(LogLineSchema),
  hasMore: z.boolean(),
});
/** A logs view. */
export type LogsView = z.infer<typeof LogsViewSchema>;

/** This node as the dashboard shows it. */
export const NodeViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  publicKey: z.string(),
  role: NodeRoleSchema,
  createdAt: z.string(),
  lat: z.number().optional(),
  lon: z.number().optional(),
  version: z.string(),
  uptime: z.number(),
  runsMiners: z.boolean(),
});
/** A node view. */
export type NodeView = z.infer<typeof NodeViewSchema>;

/** The first event of `/events`: everything the dashboard needs to draw. */
export const SnapshotSchema = z.object({
  at: z.string(),
  node: NodeViewSchema,
  miners: z.array(MinerStatsSchema),
  peers: z.array(PeerViewSchema),
  auth: AuthViewSchema,
  fleet: FleetStatusSchema.nullable(),
});
/** The snapshot. */
export type Snapshot = z.infer<typeof SnapshotSchema>;

/** One audit record as shown (bounded: records from a worker are untrusted). */
export const AuditRecordSchema = z.object({
  ts: z.string().max(40),
  peer: z.string().max(64),
  peerName: z.string().max(128),
  role: z.string().max(16).nullable(),
  action: z.string().max(128),
  params: z.record(z.string().max(64), z.unknown()),
  outcome: z.enum(["attempt", "ok", "refused", "failed"]),
  reason: z.string().max(2000).optional(),
  policy: z.string().max(200).optional(),
  request: z.string().max(64).optional(),
  /** Who acted: the operator through the dashboard (`ui`), a script (`api`), the CLI (`cli`); absent for a peer's request. */
  source: z.enum(["ui", "api", "cli"]).optional(),
});
/** An audit record. */
export type AuditRecordView = z.infer<typeof AuditRecordSchema>;

/** Which audit records: commands (and operator actions), presence (online/offline), or all. */
export const AuditScopeSchema = z.enum(["commands", "presence", "all"]);
/** An audit scope. */
export type AuditScope = z.infer<typeof AuditScopeSchema>;

const RolloutSchema = z.object({
  /** started: the start was acknowledged; failed: see error (retried with backoff). */
  outcome: z.enum(["pending", "started", "failed"]),
  at: z.string(),
  error: z.string().max(500).optional(),
  attempts: z.number().int().min(0).default(0),
});

/** One assignment: rigs with `tag` run `profileId`. */
export const AssignmentSchema = z.object({
  tag: TagSchema,
  profileId: z.string().max(64),
  profileName: z.string().max(64),
  createdAt: z.string(),
  /** Per rig ID: what the rollout did. */
  rollout: z.record(z.string().max(64), RolloutSchema).default({}),
  /** The profile this assignment replaced, and the rigs it had been started on (stopped first). */
  replaces: z.object({ profileId: z.string().max(64), rigs: z.array(z.string().max(64)) })
    .optional(),
});
/** An assignment. */
export type Assignment = z.infer<typeof AssignmentSchema>;

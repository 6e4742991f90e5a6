/**
 * The wire and the views: protocol v2's envelope and one schema per message type, and the shared
 * shapes every layer shows (miner stats, fleet status, peer and discovery views, deploy progress,
 * fleet operations).
 *
 * @example
 * ```ts
 * import { createMessage, parseMessage } from "./mod.ts";
 * const ping = createMessage("ping", { seq: 1 }, { from: "a".repeat(32), to: "b".repeat(32) });
 * parseMessage(JSON.stringify(ping)).ok; // true
 * ```
 * @module
 */
export {
  type AnyMessage,
  BODY_TYPES,
  createMessage,
  type CreateMessageOptions,
  EnvelopeSchema,
  type ErrorCode,
  ErrorCodeSchema,
  type HandshakePayload,
  HandshakePayloadSchema,
  type Message,
  type MessageOf,
  type MessageType,
  type NodeAnnouncement,
  NodeAnnouncementSchema,
  parseMessage,
  type ParseResult,
  type PayloadOf,
  PayloadSchemas,
  PROLOGUE,
  PROTOCOL_VERSION,
  REPLIES,
  type ReplyOf,
  type RequestType,
  type ResponderHello,
  ResponderHelloSchema,
  SOFTWARE_VERSION,
  type StatsPayload,
  StatsPayloadSchema,
} from "./messages.ts";
export * from "./health.ts";
export * from "./stratum.ts";
export {
  type ApproveResult,
  ApproveResultSchema,
  type Assignment,
  AssignmentSchema,
  AuditRecordSchema,
  type AuditRecordView,
  type AuditScope,
  AuditScopeSchema,
  type AuthView,
  AuthViewSchema,
  type AwaitingView,
  AwaitingViewSchema,
  type DeployAck,
  DeployAckSchema,
  type DeployProgress,
  DeployProgressSchema,
  type DiscoveryState,
  DiscoveryStateSchema,
  type FleetNodeStatus,
  FleetNodeStatusSchema,
  type FleetStatus,
  FleetStatusSchema,
  LogLineSchema,
  type LogLineView,
  type LogsView,
  LogsViewSchema,
  type MinerEvent,
  MinerEventSchema,
  type MinerState,
  MinerStateSchema,
  type MinerStats,
  MinerStatsSchema,
  type MinerType,
  MinerTypeSchema,
  type NodeView,
  NodeViewSchema,
  type PeerView,
  PeerViewSchema,
  type PendingNode,
  PendingNodeSchema,
  type PendingView,
  PendingViewSchema,
  type Restart,
  RestartSchema,
  type Snapshot,
  SnapshotSchema,
  type StartAck,
  StartAckSchema,
  type StopAck,
  StopAckSchema,
} from "./views.ts";
export type {
  FleetOps,
  FollowOptions,
  LogsOptions,
  StartOptions,
  StopOptions,
} from "./fleet_ops.ts";

/**
 * The shapes the dashboard reads, derived from the schemas the node and its API use
 * (`src/protocol/views.ts`, `src/events/mod.ts`): `import type` only, so nothing of the node is
 * bundled, and a field renamed there is a type error here.
 * @module
 */
export type { Capabilities } from "../../capabilities/mod.ts";
export type {
  Alert,
  AlertRule,
  AlertsView,
  AlgorithmTotal,
  Assignment,
  AuditRecordView as AuditRecord,
  AuthView,
  ChannelView,
  DeployProgress as DeployState,
  DiscoveryState as DiscoveryView,
  FleetHealth,
  FleetNodeStatus as FleetNode,
  FleetStatus,
  HealthState,
  MinerHealth,
  MinerStats,
  NodeView as NodeInfo,
  PeerView,
  PendingView as PendingNode,
  RigHealth,
  ShareRecord,
  Snapshot,
  StratumMinerView,
  StratumStatus,
  UpstreamView,
} from "../../protocol/mod.ts";
export type { HealthEvent, NodeEvent } from "../../events/mod.ts";
export type { Profile } from "../../miners/mod.ts";

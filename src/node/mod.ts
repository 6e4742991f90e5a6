/**
 * Running nodes: the mesh (connections, authorization, pairing) and peer sessions.
 * @module
 */
export {
  type DialPeerOptions,
  type MaintainedLink,
  type MeshCounters,
  MeshNode,
  type MeshNodeOptions,
  PeerIdentityError,
  PeerRefusedError,
  type ServeOptions,
} from "./mesh.ts";
export {
  type KeepaliveOptions,
  type MessageHandlerFn,
  type PeerIdentityInfo,
  PeerSession,
  RemoteError,
  RequestTimeoutError,
  SessionClosedError,
  type SessionOptions,
} from "./session.ts";
export {
  codeIdOf,
  createPairCode,
  type CreatePairCodeOptions,
  formatPairCode,
  joinProof,
  type JoinProofOptions,
  type JoinSecret,
  JoinSecretError,
  joinSecretFromText,
  loadJoinSecret,
  MIN_JOIN_SECRET_LENGTH,
  type PairCode,
  PairCodeError,
  pairProof,
  parsePairCode,
  REDEEM_MESSAGES,
  redeemPairCode,
  type RedeemResult,
  verifyJoinProof,
} from "./pairing.ts";
export { type Daemon, type DaemonOptions, startDaemon } from "./daemon.ts";
export { AuditLog, auditLogPath, type AuditRecord } from "./audit.ts";
export { attachWorker, type WorkerOptions } from "./worker.ts";
export {
  fanOut,
  type FanOutResult,
  PeerOfflineError,
  REQUEST_TIMEOUTS,
  requestPeer,
  sessionFor,
  type SessionLease,
} from "./controller.ts";
export {
  DEPLOY_CHUNK_BYTES,
  DEPLOY_WINDOW_BYTES,
  type DeployAnnouncement,
  DeployFailedError,
  MAX_DEPLOY_BYTES,
  receiveDeploy,
  type ReceiveDeployOptions,
  sendDeploy,
  type SendDeployOptions,
} from "./deploy.ts";
export { Fleet, type FleetNodeStatus, type FleetStartOptions, type FleetStatus } from "./fleet.ts";
export {
  addPeer,
  type AddPeerOptions,
  type AddPeerResult,
  PeerNameTakenError,
  type PingOptions,
  pingPeer,
  type PingSummary,
  probePeer,
  type ProbeResult,
} from "./peer_ops.ts";
export {
  type CachedFleetStatus,
  FleetMonitor,
  type FleetMonitorOptions,
  type MonitorEvent,
  type PeerLiveState,
} from "./monitor.ts";
export { createNodeOps, type NodeOpsOptions, PeerRequestError } from "./node_ops.ts";
export {
  autoThreadCount,
  parseCpuinfo,
  parseMeminfo,
  probeCapabilities,
  type ProbeOptions,
  randomxWarnings,
  summarizeCapabilities,
} from "./capabilities.ts";
export {
  type Beacon,
  BEACON_FORMAT,
  BEACON_MAGIC,
  BEACON_SIZE,
  beaconOf,
  type BeaconVerdict,
  decodeBeacon,
  DISCOVERY_PORT,
  encodeBeacon,
  PendingList,
  type PendingListOptions,
  type PendingNode,
} from "./discovery.ts";
export {
  type ApproveResult,
  type AwaitingView,
  DiscoveryConfigError,
  DiscoveryOffError,
  DiscoveryService,
  type DiscoveryServiceOptions,
  type DiscoveryState,
  PendingNotFoundError,
  type PendingView,
} from "./discovery_service.ts";

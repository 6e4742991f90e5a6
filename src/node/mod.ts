/**
 * Running nodes: the mesh (connections, authorization, pairing) and peer sessions.
 * @module
 */
export {
  type DialPeerOptions,
  type MeshCounters,
  MeshNode,
  type MeshNodeOptions,
  type ServeOptions,
} from "./mesh.ts";
export { PeerIdentityError, PeerRefusedError } from "./handshake.ts";
export { admitInbound, type InboundFacts, uniquePeerName } from "./admission.ts";
export type { MaintainedLink } from "./links.ts";
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
  applyPolicySetting,
  DEFAULT_POLICY,
  POLICY_KEYS,
  type PolicyKey,
  PolicyStore,
  PolicyValueError,
  type WorkerPolicy,
  WorkerPolicySchema,
} from "./policy.ts";
export { type Admission, admitRequest, type PeerRequest } from "./authorize.ts";
export {
  codeIdOf,
  createPairCode,
  type CreatePairCodeOptions,
  formatPairCode,
  grantsOfPairCode,
  joinProof,
  type JoinProofOptions,
  type JoinSecret,
  JoinSecretError,
  joinSecretFromText,
  loadJoinSecret,
  MIN_JOIN_SECRET_LENGTH,
  type PairCode,
  PairCodeError,
  type PairFor,
  PairForSchema,
  pairProof,
  parsePairCode,
  REDEEM_MESSAGES,
  type Redeemed,
  redeemPairCode,
  type RedeemResult,
  verifyJoinProof,
} from "./pairing.ts";
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
} from "./requests.ts";
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
export { Fleet, UnknownProfileTypeError } from "./fleet.ts";
export {
  addPeer,
  type AddPeerOptions,
  type AddPeerResult,
  allowNodes,
  AllowTargetError,
  type GrantsChange,
  PeerNameTakenError,
  type PeerStores,
  type PingOptions,
  pingPeer,
  type PingSummary,
  probePeer,
  type ProbeResult,
  revokeNode,
  setPeerGrants,
} from "./peer_ops.ts";
export {
  type CachedFleetStatus,
  FleetMonitor,
  type FleetMonitorOptions,
  type MonitorEvent,
  type PeerLiveState,
} from "./fleet_monitor.ts";
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
} from "./discovery.ts";
export {
  DiscoveryConfigError,
  DiscoveryOffError,
  DiscoveryService,
  type DiscoveryServiceOptions,
  PendingNotFoundError,
} from "./discovery_service.ts";

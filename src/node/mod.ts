/**
 * A running node's domain: the mesh (Noise-authenticated connections, the connection gate,
 * pairing codes and join proofs, persistent links), peer sessions, the worker's request handlers
 * with their admission rule and policy, the controller's fleet operations and fleet monitor,
 * deploys, the audit log, peer operations and LAN discovery. It knows nothing of HTTP: the
 * daemon (`src/daemon`) wires it to the API.
 *
 * @example
 * ```ts
 * import { resolvePaths } from "../store/mod.ts";
 * import { MeshNode } from "./mod.ts";
 * const node = await MeshNode.open(resolvePaths({ home: "/tmp/n1" }));
 * const server = await node.serve({ hostname: "127.0.0.1", port: 0 });
 * const session = await node.dial(`127.0.0.1:${server.port}`); // itself, if allowed
 * console.log(await session.ping());
 * await node.close();
 * ```
 * @module
 */
export { MeshNode, type MeshNodeOptions, type ServeOptions } from "./mesh.ts";
export { PeerIdentityError } from "./handshake.ts";
export { PeerSession, RemoteError } from "./session.ts";
export { POLICY_KEYS, PolicyStore, PolicyValueError, type WorkerPolicy } from "./policy.ts";
export {
  createPairCode,
  formatPairCode,
  joinProof,
  type JoinSecret,
  joinSecretFromText,
  loadJoinSecret,
  PairForSchema,
  parsePairCode,
  verifyJoinProof,
} from "./pairing.ts";
export { AuditLog, auditLogPath } from "./audit.ts";
export { attachWorker } from "./worker.ts";
export { REQUEST_TIMEOUTS, sessionFor } from "./requests.ts";
export { Fleet } from "./fleet.ts";
export {
  addPeer,
  allowNodes,
  AllowTargetError,
  PeerNameTakenError,
  type PeerStores,
  pingPeer,
  probePeer,
  revokeNode,
  setPeerGrants,
} from "./peer_ops.ts";
export { FleetMonitor } from "./fleet_monitor.ts";
export {
  type Beacon,
  BEACON_SIZE,
  decodeBeacon,
  DISCOVERY_PORT,
  encodeBeacon,
  PendingList,
} from "./discovery.ts";
export {
  DiscoveryConfigError,
  DiscoveryOffError,
  DiscoveryService,
  type DiscoveryServiceOptions,
} from "./discovery_service.ts";

/**
 * A running node's domain: the mesh (Noise-authenticated connections, the connection gate,
 * pairing codes and join proofs, persistent links), peer sessions, the worker's request handlers
 * with their admission rule and policy, the controller's fleet operations and fleet monitor,
 * deploys, the audit log, peer operations and LAN discovery. It knows nothing of HTTP: the
 * daemon (`src/daemon`) wires it to the API.
 *
 * @example
 * ```ts
 * import { initIdentity } from "../identity/mod.ts";
 * import { resolvePaths } from "../store/mod.ts";
 * import { MeshNode } from "./mod.ts";
 * const [a, b] = [resolvePaths({ home: await Deno.makeTempDir() }), resolvePaths({ home: await Deno.makeTempDir() })];
 * const rig = await initIdentity(a, { name: "rig-01", role: "worker" });
 * await initIdentity(b, { name: "desk", role: "controller" });
 * const worker = await MeshNode.open(a, { keepalive: false });
 * const controller = await MeshNode.open(b, { keepalive: false });
 * await worker.auth.setMode("open"); // or allow the controller's ID
 * const server = await worker.serve({ hostname: "127.0.0.1", port: 0 });
 * const session = await controller.dial(`127.0.0.1:${server.port}`, { expectId: rig.info.id });
 * console.log(`${await session.ping()} ms`); // over Noise XX, the worker's key pinned
 * await controller.close();
 * await worker.close();
 * ```
 * @module
 */
export { MeshNode, type MeshNodeOptions, type ServeOptions } from "./mesh.ts";
export { PeerIdentityError } from "./handshake.ts";
export {
  DEFAULT_KEEPALIVE,
  keepaliveTickMs,
  PeerSession,
  RemoteError,
  type SessionEnd,
} from "./session.ts";
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
export { AuditLog, auditLogPath, type AuditRecord, isPresence } from "./audit.ts";
export { attachWorker } from "./worker.ts";
export { fanOut, REQUEST_TIMEOUTS, sessionFor } from "./requests.ts";
export { Fleet, fleetTotals, minerTotals } from "./fleet.ts";
export {
  AssignmentError,
  type Assignments,
  AssignmentStore,
  startAssignments,
} from "./assignments.ts";
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
export { linkRetryDelay } from "./links.ts";
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
export { startStratumRig, type StratumRig, type StratumRigOptions } from "./stratum_rig.ts";
export { attachStratumFarm } from "./stratum_farm.ts";

/**
 * What a node knows about other nodes: the peer registry with each peer's grants, the allowlist
 * and the auth mode (all in `registry.sqlite`, one row per peer or entry; `peers.json` and
 * `auth.json` of earlier versions are imported once), request scores, geo distance, and optimal-peer
 * ranking over normalized axes with a k-d tree.
 *
 * @example
 * ```ts
 * import { optimalPeers } from "./mod.ts";
 * const best = optimalPeers([
 *   { id: "a".repeat(32), pingMs: 180, hops: 1, geoKm: 5, score: 60 },
 *   { id: "b".repeat(32), pingMs: 4, hops: 1, geoKm: 900, score: 95 },
 * ]);
 * if (best[0].peer.id !== "b".repeat(32)) throw new Error("the fast, reliable peer ranks first");
 * ```
 * @module
 */
export {
  addressToUrl,
  newPeer,
  parseAddressOrNull,
  type ParsedAddress,
  type Peer,
  PeerAddressSchema,
  type PeerInput,
  PEERS_FILE_VERSION,
  PeerSchema,
  PeersFileSchema,
  PeersFileV1Schema,
  TagSchema,
} from "./schema.ts";
export {
  type Access,
  describeGrants,
  type Grant,
  GrantSchema,
  GrantsSchema,
  normalizeGrants,
  peerMay,
} from "./grants.ts";
export { DEFAULT_SCORE, nextScore, type RequestOutcome, SCORE_DELTA } from "./score.ts";
export { geoKmBetween, haversineKm, type LatLon, type MaybeLocated } from "./geo.ts";
export { compareNeighbours, type KdNeighbour, type KdPoint, KdTree } from "./kdtree.ts";
export {
  DEFAULT_WEIGHTS,
  type OptimalOptions,
  optimalPeers,
  type OptimalWeights,
  peerCoordinates,
  type RankablePeer,
  type RankedPeer,
} from "./optimal.ts";
export {
  AmbiguousPeerError,
  type OutcomeOptions,
  PeerNotFoundError,
  PeerRegistry,
  type RegistryOptions,
  resolvePeer,
} from "./registry.ts";
export { importLegacyFiles, migratePeersV1, type PeersMigration } from "./legacy.ts";
export { RegistryDbError, type WriteCounters } from "./db.ts";
export {
  type AllowEntry,
  AllowEntrySchema,
  AuthFileSchema,
  type AuthMode,
  AuthModeSchema,
  type AuthSettings,
  AuthStore,
  type AuthStoreOptions,
  parseAllowTarget,
} from "./auth.ts";

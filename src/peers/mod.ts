/**
 * Peer registry, allowlist, scoring and optimal-peer selection.
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
export { haversineKm, type LatLon } from "./geo.ts";
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
  migratePeersV1,
  type OutcomeOptions,
  PeerNotFoundError,
  PeerRegistry,
  type PeersMigration,
  type RegistryOptions,
  resolvePeer,
} from "./registry.ts";
export {
  type AllowEntry,
  AllowEntrySchema,
  AuthFileSchema,
  type AuthMode,
  AuthModeSchema,
  type AuthSettings,
  AuthStore,
  parseAllowTarget,
} from "./auth.ts";

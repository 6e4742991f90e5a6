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
  PeerSchema,
  PeersFileSchema,
} from "./schema.ts";
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
  type OutcomeOptions,
  PeerNotFoundError,
  PeerRegistry,
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

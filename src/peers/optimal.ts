/**
 * Optimal-peer selection: peers are points on four axes (ping, hops, geo distance, 100 − score),
 * each scaled to [0, 1] before weighting, and the best peers are the nearest to the ideal origin,
 * found with a k-d tree.
 * @module
 */
import { type KdNeighbour, KdTree } from "./kdtree.ts";
import type { Peer } from "./schema.ts";

/** Weights of each axis after normalization. */
export interface OptimalWeights {
  /** Round-trip time. */
  ping: number;
  /** Network hops. */
  hops: number;
  /** Geographic distance. */
  geo: number;
  /** Unreliability (100 − score). */
  score: number;
}

/** Default axis weights. */
export const DEFAULT_WEIGHTS: Readonly<OptimalWeights> = { ping: 1, hops: 0.5, geo: 0.5, score: 1 };

/** The metrics an optimal-peer ranking needs. */
export type RankablePeer = Pick<Peer, "id" | "pingMs" | "hops" | "geoKm" | "score">;

/** A ranked peer. */
export interface RankedPeer<P extends RankablePeer> {
  /** The peer. */
  peer: P;
  /** Distance from the ideal point (lower is better). */
  distance: number;
  /** The normalized, weighted coordinates [ping, hops, geo, score]. */
  coords: number[];
}

/** Options for {@link optimalPeers}. */
export interface OptimalOptions {
  /** How many peers to return (default 1). */
  count?: number;
  /** Axis weights (default {@link DEFAULT_WEIGHTS}). */
  weights?: Partial<OptimalWeights>;
}

function range(values: (number | null)[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v === null) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo === Infinity ? [0, 0] : [lo, hi];
}

/**
 * Computes each peer's weighted, normalized coordinates. Ping, hops and distance are min–max
 * scaled over the given peers (unknown values count as the worst, 1); the score axis is
 * (100 − score) / 100.
 */
export function peerCoordinates<P extends RankablePeer>(
  peers: readonly P[],
  weights: Partial<OptimalWeights> = {},
): number[][] {
  const w = { ...DEFAULT_WEIGHTS, ...weights };
  const scale = (v: number | null, [lo, hi]: [number, number]) =>
    v === null ? 1 : hi === lo ? 0 : (v - lo) / (hi - lo);
  const pingR = range(peers.map((p) => p.pingMs));
  const hopsR = range(peers.map((p) => p.hops));
  const geoR = range(peers.map((p) => p.geoKm));
  return peers.map((p) => [
    w.ping * scale(p.pingMs, pingR),
    w.hops * scale(p.hops, hopsR),
    w.geo * scale(p.geoKm, geoR),
    w.score * (100 - p.score) / 100,
  ]);
}

/** Returns the best `count` peers, best first, using a k-d tree nearest-neighbour query. */
export function optimalPeers<P extends RankablePeer>(
  peers: readonly P[],
  options: OptimalOptions = {},
): RankedPeer<P>[] {
  const coords = peerCoordinates(peers, options.weights);
  const tree = new KdTree(peers.map((peer, i) => ({ coords: coords[i], value: i, key: peer.id })));
  const found: KdNeighbour<number>[] = tree.nearest([0, 0, 0, 0], options.count ?? 1);
  return found.map((n) => ({
    peer: peers[n.value],
    distance: n.distance,
    coords: coords[n.value],
  }));
}

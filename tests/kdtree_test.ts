/**
 * Acceptance: KD-tree `peer optimal` matches a brute-force ranking on 10,000 random peers.
 * Also: the k-d tree alone against brute force, and the axis normalization of peerCoordinates.
 */
import assert from "node:assert/strict";
import { mulberry32 } from "./helpers.ts";
import {
  compareNeighbours,
  DEFAULT_WEIGHTS,
  KdTree,
  optimalPeers,
  type OptimalWeights,
  peerCoordinates,
  type RankablePeer,
} from "../src/peers/mod.ts";

function randomHexId(rand: () => number): string {
  let s = "";
  for (let i = 0; i < 32; i++) s += Math.floor(rand() * 16).toString(16);
  return s;
}

/** Euclidean norm, summed in axis order exactly as the tree does (so ties stay exact). */
function norm(c: readonly number[], target: readonly number[] = c.map(() => 0)): number {
  let sq = 0;
  for (let d = 0; d < c.length; d++) sq += (c[d] - target[d]) ** 2;
  return Math.sqrt(sq);
}

/** 10,000 peers with nulls, repeated values (ties) and some exact duplicates (distance ties). */
function randomPeers(n: number, seed: number): RankablePeer[] {
  const rand = mulberry32(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  const ids = new Set<string>();
  const peers: RankablePeer[] = [];
  while (peers.length < n) {
    const id = randomHexId(rand);
    if (ids.has(id)) continue;
    ids.add(id);
    if (peers.length > 0 && rand() < 0.05) {
      // an exact metric duplicate of an earlier peer: equal distance, tie broken by ID
      const twin = peers[Math.floor(rand() * peers.length)];
      peers.push({ ...twin, id });
      continue;
    }
    const r = rand();
    peers.push({
      id,
      pingMs: r < 0.1
        ? null
        : r < 0.4
        ? pick([1, 5, 20, 50, 250])
        : Math.round(rand() * 500_000) / 1000,
      hops: rand() < 0.5 ? pick([0, 1, 2, 3]) : Math.floor(rand() * 256),
      geoKm: rand() < 0.15
        ? null
        : rand() < 0.3
        ? pick([0, 100, 5000])
        : Math.round(rand() * 200_000) / 10,
      score: rand() < 0.5 ? pick([0, 50, 100]) : Math.round(rand() * 1000) / 10,
    });
  }
  return peers;
}

function bruteForce(peers: readonly RankablePeer[], weights: Partial<OptimalWeights>) {
  const coords = peerCoordinates(peers, weights);
  return peers
    .map((p, i) => ({ id: p.id, key: p.id, distance: norm(coords[i]), coords: coords[i] }))
    .sort(compareNeighbours);
}

const PEERS = randomPeers(10_000, 0xC0FFEE);
const WEIGHT_SETS: Partial<OptimalWeights>[] = [
  {}, // the defaults
  { ping: 3, hops: 0, geo: 2, score: 0.25 },
  { ping: 0.1, hops: 4, geo: 0, score: 1.5 },
];

Deno.test("the random peer set really has nulls, ties and duplicate points", () => {
  assert.equal(PEERS.length, 10_000);
  assert.equal(new Set(PEERS.map((p) => p.id)).size, 10_000);
  assert.ok(PEERS.filter((p) => p.pingMs === null).length > 100);
  assert.ok(PEERS.filter((p) => p.geoKm === null).length > 100);
  const ranked = bruteForce(PEERS, {});
  let equalNeighbours = 0;
  for (let i = 1; i < ranked.length; i++) {
    if (ranked[i].distance === ranked[i - 1].distance) equalNeighbours++;
  }
  assert.ok(equalNeighbours > 100, `only ${equalNeighbours} distance ties`);
});

for (const [w, weights] of WEIGHT_SETS.entries()) {
  Deno.test(`optimalPeers matches brute force on 10,000 random peers (weight set ${w}: ${JSON.stringify(weights)})`, () => {
    const expected = bruteForce(PEERS, weights);
    // Tie-breaking matters: among equal distances, IDs ascend.
    for (let i = 1; i < expected.length; i++) {
      if (expected[i].distance === expected[i - 1].distance) {
        assert.ok(expected[i - 1].id < expected[i].id);
      }
    }
    for (const count of [1, 10, 100, 10_000]) {
      const got = optimalPeers(PEERS, { count, weights });
      assert.equal(got.length, count);
      assert.deepEqual(
        got.map((r) => r.peer.id),
        expected.slice(0, count).map((e) => e.id),
        `ids differ for count ${count}`,
      );
      assert.deepEqual(
        got.map((r) => r.distance),
        expected.slice(0, count).map((e) => e.distance),
        `distances differ for count ${count}`,
      );
      for (let i = 0; i < got.length; i++) {
        assert.deepEqual(got[i].coords, expected[i].coords);
        assert.equal(got[i].distance, norm(got[i].coords));
      }
    }
    // count beyond the number of peers returns them all; the default count is 1
    assert.equal(optimalPeers(PEERS, { count: 10_001, weights }).length, 10_000);
    assert.deepEqual(optimalPeers(PEERS, { weights }).map((r) => r.peer.id), [expected[0].id]);
  });
}

Deno.test("different weights really produce different rankings (the comparison is not vacuous)", () => {
  const a = optimalPeers(PEERS, { count: 100, weights: WEIGHT_SETS[1] }).map((r) => r.peer.id);
  const b = optimalPeers(PEERS, { count: 100, weights: WEIGHT_SETS[2] }).map((r) => r.peer.id);
  assert.notDeepEqual(a, b);
});

Deno.test("optimalPeers handles no peers and count 0", () => {
  assert.deepEqual(optimalPeers([], { count: 5 }), []);
  assert.deepEqual(optimalPeers(PEERS.slice(0, 10), { count: 0 }), []);
});

for (const dims of [2, 3]) {
  Deno.test(`KdTree.nearest matches brute force on random ${dims}-D points`, () => {
    const rand = mulberry32(1000 + dims);
    for (
      const [n, grid] of [[1, false], [2, true], [7, false], [500, true], [3000, false], [
        3000,
        true,
      ]] as const
    ) {
      // grid points: small integer coordinates, so many duplicates and equal distances
      const coord = () => grid ? Math.floor(rand() * 6) : rand() * 200 - 100;
      const points = Array.from({ length: n }, (_, i) => ({
        coords: Array.from({ length: dims }, coord),
        value: i,
        key: `k${Math.floor(rand() * 1e9).toString(36)}-${i}`,
      }));
      const tree = new KdTree(points);
      assert.equal(tree.size, n);
      for (let q = 0; q < 40; q++) {
        const target = Array.from(
          { length: dims },
          () => grid && q % 2 ? Math.floor(rand() * 6) : rand() * 240 - 120,
        );
        const brute = points
          .map((p) => ({ value: p.value, key: p.key, distance: norm(p.coords, target) }))
          .sort(compareNeighbours);
        for (const k of [0, 1, 2, 5, 17, n, n + 3]) {
          const got = tree.nearest(target, k);
          assert.deepEqual(got, brute.slice(0, k), `n=${n} grid=${grid} k=${k} target=${target}`);
        }
      }
    }
  });
}

Deno.test("KdTree rejects mixed or mismatched dimensions and handles an empty tree", () => {
  assert.throws(
    () => new KdTree([{ coords: [1, 2], value: 0, key: "a" }, { coords: [1], value: 1, key: "b" }]),
    RangeError,
  );
  const tree = new KdTree([{ coords: [1, 2], value: 0, key: "a" }]);
  assert.throws(() => tree.nearest([1, 2, 3], 1), RangeError);
  assert.deepEqual(tree.nearest([0, 0], 1).map((n) => n.value), [0]);
  const empty = new KdTree<number>([]);
  assert.equal(empty.size, 0);
  assert.deepEqual(empty.nearest([0, 0], 3), []);
});

Deno.test("normalization: every coordinate lies in [0, weight], min-max scaled, nulls worst", () => {
  for (const weights of WEIGHT_SETS) {
    const w = { ...DEFAULT_WEIGHTS, ...weights };
    const axes = [w.ping, w.hops, w.geo, w.score];
    const coords = peerCoordinates(PEERS, weights);
    assert.equal(coords.length, PEERS.length);
    for (const [i, c] of coords.entries()) {
      assert.equal(c.length, 4);
      for (let a = 0; a < 4; a++) {
        assert.ok(
          c[a] >= 0 && c[a] <= axes[a],
          `peer ${i} axis ${a}: ${c[a]} not in [0, ${axes[a]}]`,
        );
      }
      if (PEERS[i].pingMs === null) assert.equal(c[0], w.ping, "unknown ping counts as the worst");
      if (PEERS[i].geoKm === null) {
        assert.equal(c[2], w.geo, "unknown distance counts as the worst");
      }
      assert.equal(c[3], w.score * (100 - PEERS[i].score) / 100);
    }
    // min-max: each scaled axis reaches both ends of its range
    for (const a of [0, 1, 2]) {
      if (axes[a] === 0) continue;
      assert.ok(coords.some((c) => c[a] === 0), `axis ${a} never reaches 0`);
      assert.ok(coords.some((c) => c[a] === axes[a]), `axis ${a} never reaches its weight`);
    }
  }
  // a single known value (no spread) scales to 0; null still to the weight
  const flat = peerCoordinates([
    { id: "a", pingMs: 40, hops: 2, geoKm: 300, score: 50 },
    { id: "b", pingMs: null, hops: 2, geoKm: null, score: 50 },
  ]);
  assert.deepEqual(flat, [[0, 0, 0, 0.5], [1, 0, 0.5, 0.5]]);
});

Deno.test("normalization: a huge geo distance does not dominate ping and score (default weights)", () => {
  assert.deepEqual({ ...DEFAULT_WEIGHTS }, { ping: 1, hops: 0.5, geo: 0.5, score: 1 });
  // fast: 2 ms, reliable, but on the other side of the planet; near: 5 km away, slow, flaky
  const fast = { id: "f".repeat(32), pingMs: 2, hops: 1, geoKm: 19_000, score: 95 };
  const near = { id: "0".repeat(32), pingMs: 180, hops: 1, geoKm: 5, score: 60 };
  const mid = { id: "8".repeat(32), pingMs: 90, hops: 1, geoKm: 9_000, score: 70 };
  const peers = [near, mid, fast];
  // Without axis scaling, kilometres swamp milliseconds and the near peer would win:
  const raw = (p: typeof fast) => norm([p.pingMs, p.hops, p.geoKm, 100 - p.score]);
  assert.ok(
    raw(near) < raw(fast) && raw(near) < raw(mid),
    "the case must be one where raw units pick the near peer",
  );
  const ranked = optimalPeers(peers, { count: 3 });
  assert.deepEqual(ranked.map((r) => r.peer.id), [fast.id, mid.id, near.id]);
  assert.deepEqual(ranked[0].coords, [0, 0, 0.5, 0.05]);
  // Units do not matter: metres instead of kilometres, seconds instead of ms give the same coordinates.
  const rescaled = peers.map((p) => ({ ...p, geoKm: p.geoKm * 1000, pingMs: p.pingMs / 1000 }));
  assert.deepEqual(peerCoordinates(rescaled), peerCoordinates(peers));
  // The geo axis still counts, by its weight: weighting it heavily makes the near peer win.
  assert.equal(optimalPeers(peers, { weights: { geo: 3 } })[0].peer.id, near.id);
});

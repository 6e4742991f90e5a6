/**
 * A small k-d tree for k-nearest-neighbour queries (used for optimal-peer selection).
 * @module
 */

/** One point stored in the tree, carrying an arbitrary value. */
export interface KdPoint<T> {
  /** Coordinates; every point of a tree has the same dimension. */
  coords: readonly number[];
  /** Payload returned by queries. */
  value: T;
  /** Tie-breaker for equal distances (lower first). */
  key: string;
}

/** A query result. */
export interface KdNeighbour<T> {
  /** The stored value. */
  value: T;
  /** Euclidean distance to the query point. */
  distance: number;
  /** The point's tie-break key. */
  key: string;
}

interface KdNode<T> {
  point: KdPoint<T>;
  axis: number;
  left: KdNode<T> | null;
  right: KdNode<T> | null;
}

/** Orders two neighbours: by distance, then by key. */
export function compareNeighbours(
  a: { distance: number; key: string },
  b: { distance: number; key: string },
): number {
  if (a.distance !== b.distance) return a.distance - b.distance;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/** A static k-d tree built once from a set of points. */
export class KdTree<T> {
  readonly #root: KdNode<T> | null;
  readonly #dims: number;
  /** Number of points in the tree. */
  readonly size: number;

  /** Builds a balanced tree (median split on the axis of largest spread). */
  constructor(points: readonly KdPoint<T>[]) {
    this.size = points.length;
    this.#dims = points[0]?.coords.length ?? 0;
    for (const p of points) {
      if (p.coords.length !== this.#dims) {
        throw new RangeError("all points must have the same dimension");
      }
    }
    this.#root = this.#build(points.slice());
  }

  #build(points: KdPoint<T>[]): KdNode<T> | null {
    if (points.length === 0) return null;
    let axis = 0;
    let bestSpread = -1;
    for (let d = 0; d < this.#dims; d++) {
      let lo = Infinity;
      let hi = -Infinity;
      for (const p of points) {
        const v = p.coords[d];
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      if (hi - lo > bestSpread) {
        bestSpread = hi - lo;
        axis = d;
      }
    }
    points.sort((a, b) => a.coords[axis] - b.coords[axis]);
    const mid = points.length >> 1;
    return {
      point: points[mid],
      axis,
      left: this.#build(points.slice(0, mid)),
      right: this.#build(points.slice(mid + 1)),
    };
  }

  /** Returns the `k` points nearest to `target`, nearest first (ties broken by key). */
  nearest(target: readonly number[], k: number): KdNeighbour<T>[] {
    if (target.length !== this.#dims && this.size > 0) {
      throw new RangeError("query dimension mismatch");
    }
    const best: KdNeighbour<T>[] = []; // kept sorted, at most k long
    const consider = (n: KdNeighbour<T>) => {
      if (best.length === k && compareNeighbours(n, best[k - 1]) >= 0) return;
      let i = best.length;
      while (i > 0 && compareNeighbours(n, best[i - 1]) < 0) i--;
      best.splice(i, 0, n);
      if (best.length > k) best.pop();
    };
    const visit = (node: KdNode<T> | null) => {
      if (!node) return;
      const c = node.point.coords;
      let sq = 0;
      for (let d = 0; d < this.#dims; d++) sq += (c[d] - target[d]) ** 2;
      consider({ value: node.point.value, distance: Math.sqrt(sq), key: node.point.key });
      const diff = target[node.axis] - c[node.axis];
      const [near, far] = diff < 0 ? [node.left, node.right] : [node.right, node.left];
      visit(near);
      // Only cross the splitting plane when it is not farther than the current k-th best.
      if (best.length < k || Math.abs(diff) <= best[best.length - 1].distance) visit(far);
    };
    if (k > 0) visit(this.#root);
    return best;
  }
}

/**
 * Grants: what this node's operator lets a peer do here. The one rule of who may do what lives in
 * {@link peerMay}: a peer reads this node's stats and logs only with `read` or `control`, and
 * changes its miners (start, stop, deploy) only with `control`. The role a peer announces is shown,
 * never trusted: grants come only from this node's operator (`peer allow --control`,
 * `peer grant`, a pairing code made for a controller, join-secret enrollment, LAN approval).
 * @module
 */
import { z } from "zod";

/** One grant: `control` (start, stop, deploy; implies read) or `read` (stats and logs). */
export const GrantSchema = z.enum(["control", "read"]);
/** A grant. */
export type Grant = z.infer<typeof GrantSchema>;

/** A set of grants, stored sorted and without repeats. */
export const GrantsSchema = z.array(GrantSchema).max(4).transform((g) => normalizeGrants(g));

/** What a request needs: `read` (stats, logs) or `control` (start, stop, deploy). */
export type Access = "read" | "control";

/** Sorted, without repeats. */
export function normalizeGrants(grants: readonly Grant[]): Grant[] {
  return [...new Set(grants)].sort();
}

/**
 * Whether a peer holding `grants` may do what `access` needs here: `control` allows everything,
 * `read` allows reads. A peer without a record (unregistered, open auth mode) may do neither.
 *
 * @example
 * ```ts
 * import { peerMay } from "./grants.ts";
 * peerMay({ grants: ["control"] }, "read"); // true
 * peerMay({ grants: ["read"] }, "control"); // false
 * peerMay(undefined, "read"); // false
 * ```
 */
export function peerMay(peer: { grants?: readonly Grant[] } | undefined, access: Access): boolean {
  const g = peer?.grants ?? [];
  return g.includes("control") || (access === "read" && g.includes("read"));
}

/** A short human description of a grant set (`control`, `read`, or `none`). */
export function describeGrants(grants: readonly Grant[] | undefined): string {
  return grants?.length ? normalizeGrants(grants).join(",") : "none";
}

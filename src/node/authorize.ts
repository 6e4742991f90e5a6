/**
 * Who may do what on this node: the one admission function for every request a peer sends. A
 * request is allowed when the peer holds the grant it needs ({@link peerMay}: `read` for stats
 * and logs, `control` for start, stop and deploy) and, for control, when the worker policy allows
 * what it would do (custom miners, miner binaries). The announced role plays no part.
 * @module
 */
import type { Peer } from "../peers/mod.ts";
import { peerMay } from "../peers/mod.ts";
import type { WorkerPolicy } from "./policy.ts";

/** What a peer asks for, with what is known of it so far. */
export type PeerRequest =
  | { kind: "stats" | "logs" }
  | { kind: "stop_miner" }
  /** Farm stratum: this rig's miners take work from the peer and send it their shares. */
  | { kind: "stratum" }
  | { kind: "start_miner"; minerType: string }
  | {
    kind: "deploy";
    /** Bundle type (known at the announcement). */
    bundleType: "profile" | "miner" | "full";
    /** SHA-256 of each executable the bundle installs (known once its manifest is read). */
    executables?: readonly string[];
    /** Miner types of the profiles it carries (known once they are read). */
    profileTypes?: readonly string[];
  };

/** The verdict: allowed, or refused with the reason and the policy setting that refused it. */
export type Admission =
  | { ok: true }
  | { ok: false; reason: string; policy?: string };

const READS = new Set(["stats", "logs"]);

/**
 * Decides one request from `peer` (its record here, undefined when it has none) under `policy`.
 *
 * @example
 * ```ts
 * import { admitRequest } from "./authorize.ts";
 * import { DEFAULT_POLICY } from "./policy.ts";
 * const peer = { id: "ab".repeat(16), name: "ctl", grants: ["control" as const] };
 * admitRequest({ peer, policy: DEFAULT_POLICY }, { kind: "start_miner", minerType: "xmrig" }).ok; // true
 * admitRequest({ peer, policy: DEFAULT_POLICY }, { kind: "start_miner", minerType: "custom" }).ok; // false
 * ```
 */
export function admitRequest(
  ctx: { peer: Pick<Peer, "id" | "name" | "grants"> | undefined; policy: WorkerPolicy },
  request: PeerRequest,
): Admission {
  const { peer, policy } = ctx;
  const access = READS.has(request.kind) ? "read" : "control";
  if (!peer) {
    return { ok: false, reason: "this node is not registered here" };
  }
  if (!peerMay(peer, access)) {
    return {
      ok: false,
      reason: access === "read"
        ? `${peer.name} may not read this node's stats or logs: its operator has not granted it (on that node: miner-cli peer grant ${peer.id} read)`
        : `${peer.name} may not control this node: its operator has not granted control (on that node: miner-cli peer grant ${peer.id} control)`,
    };
  }
  const refuse = (setting: string, why: string, fix: string): Admission => ({
    ok: false,
    policy: setting,
    reason: `refused by this worker's policy ${setting}: ${why} (on the worker: ${fix})`,
  });
  if (request.kind === "start_miner" && request.minerType === "custom") {
    if (policy.remoteCustom !== "allow") {
      return refuse(
        "remote-custom=deny",
        "controllers may not start custom miners here, since a custom profile runs any program",
        "miner-cli node policy set remote-custom allow",
      );
    }
  }
  if (request.kind === "deploy") {
    if (request.bundleType !== "profile" && policy.deployMiners !== "allow") {
      return refuse(
        "deploy-miners=deny",
        "controllers may not deploy miner binaries here",
        "miner-cli node policy set deploy-miners allow",
      );
    }
    const allowed = policy.allowedBinaries;
    const stranger = allowed ? request.executables?.find((h) => !allowed.includes(h)) : undefined;
    if (stranger !== undefined) {
      return refuse(
        "allowed-binaries",
        `the bundle's executable with SHA-256 ${stranger} is not on the list of allowed binaries`,
        `miner-cli node policy set allowed-binaries ${[...allowed!, stranger].join(",")}`,
      );
    }
    if (request.profileTypes?.includes("custom") && policy.remoteCustom !== "allow") {
      return refuse(
        "remote-custom=deny",
        "the bundle carries a custom profile, and controllers may not install custom miners here",
        "miner-cli node policy set remote-custom allow",
      );
    }
  }
  return { ok: true };
}

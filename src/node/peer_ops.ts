/**
 * Peer operations shared by the CLI (one-shot mesh node) and the daemon's API: add a peer after a
 * handshake that proves its key, probe it, and ping it.
 * @module
 */
import { MinerCliError } from "../errors/mod.ts";
import {
  type AuthStore,
  DEFAULT_SCORE,
  type Grant,
  normalizeGrants,
  parseAllowTarget,
  type Peer,
  PeerNotFoundError,
  type PeerRegistry,
  PeerSchema,
} from "../peers/mod.ts";
import { sessionFor, type SessionLease } from "./requests.ts";
import type { MeshNode } from "./mesh.ts";
import type { PairCode } from "./pairing.ts";
import { RequestTimeoutError } from "./session.ts";

/** A peer name is already taken by another peer. */
export class PeerNameTakenError extends MinerCliError {
  /** Creates the error. */
  constructor(readonly peerName: string, readonly holder: string) {
    super(`the name ${peerName} is already used by peer ${holder}; choose another name`, {
      status: 409,
      code: "conflict",
    });
    this.name = "PeerNameTakenError";
  }
}

/** Options for {@link addPeer}. */
export interface AddPeerOptions {
  /** Local name (default: the name the peer announces). */
  name?: string;
  /** One-time pairing code issued by the peer. */
  pairCode?: PairCode;
  /** Latitude and longitude of the peer. */
  lat?: number;
  /** Longitude (with `lat`). */
  lon?: number;
  /** Network hops (default 1). */
  hops?: number;
  /** Dial timeout (default 10 s). */
  timeoutMs?: number;
  /** CA certificate (PEM) for `wss://` peers. */
  ca?: string;
  /** Refuse unless the handshake proves this node ID (approving a discovered node). */
  expectId?: string;
  /** Enroll with the farm's join secret (the dial option `join`). */
  join?: boolean;
  /** On a name clash, register as `<name>-<first 6 ID chars>` instead of failing. */
  uniqueName?: boolean;
}

/** Result of {@link addPeer}. */
export interface AddPeerResult {
  /** False when the peer was already registered (its record was updated). */
  added: boolean;
  /** The stored record. */
  peer: Peer;
}

/**
 * Dials `address`, completes the Noise handshake (which proves the peer's key and, with a pairing
 * code, authorizes us on it) and registers the peer with its key pinned.
 */
export async function addPeer(
  mesh: MeshNode,
  address: string,
  options: AddPeerOptions = {},
): Promise<AddPeerResult> {
  const session = await mesh.dial(address, {
    pairCode: options.pairCode,
    timeoutMs: options.timeoutMs ?? 10_000,
    ca: options.ca,
    expectId: options.expectId,
    join: options.join,
  });
  const remote = session.peer;
  session.close("peer added");
  const existing = mesh.registry.get(remote.id);
  const taken = (n: string) =>
    mesh.registry.list().find((x) =>
      x.name.toLowerCase() === n.toLowerCase() && x.id !== remote.id
    );
  let name = options.name ?? existing?.name ?? remote.name;
  if (taken(name) && options.uniqueName) name = `${name.slice(0, 57)}-${remote.id.slice(0, 6)}`;
  const clash = taken(name);
  if (clash) throw new PeerNameTakenError(name, clash.id);
  const lat = options.lat ?? existing?.lat;
  const lon = options.lon ?? existing?.lon;
  const peer: Peer = PeerSchema.parse({
    ...(existing ?? {
      addedAt: new Date().toISOString(),
      pingMs: null,
      score: DEFAULT_SCORE,
      stats: { success: 0, failure: 0, timeout: 0 },
    }),
    id: remote.id,
    name,
    publicKey: remote.publicKey,
    address,
    role: remote.role,
    // `peer add` never grants: what the peer may do here stays what it was, plus what this
    // node's operator put on its allowlist entry (`peer allow --control`).
    grants: normalizeGrants([
      ...(existing?.grants ?? []),
      ...(mesh.auth.entry(remote.id)?.grants ?? []),
    ]),
    lastSeen: new Date().toISOString(),
    hops: options.hops ?? existing?.hops ?? 1,
    ...(lat !== undefined ? { lat, lon } : {}),
    geoKm: mesh.geoKmTo(lat, lon),
  });
  mesh.registry.upsert(peer);
  await mesh.registry.flush();
  return { added: !existing, peer };
}

/** Result of {@link probePeer}. */
export interface ProbeResult {
  /** Whether the peer answered a ping. */
  online: boolean;
  /** Round trip of the ping, ms. */
  rttMs?: number;
  /** Why it is offline. */
  error?: string;
}

/** One ping over the open session, or over a fresh dial that is closed afterwards. */
export async function probePeer(
  mesh: MeshNode,
  peer: Peer,
  options: { timeoutMs?: number } = {},
): Promise<ProbeResult> {
  const timeoutMs = options.timeoutMs ?? 3000;
  let conn: SessionLease | undefined;
  try {
    conn = await sessionFor(mesh, peer, timeoutMs);
    const rtt = await conn.session.ping(timeoutMs);
    mesh.registry.markSeen(peer.id);
    return { online: true, rttMs: Math.round(rtt * 1000) / 1000 };
  } catch (err) {
    return { online: false, error: (err as Error).message };
  } finally {
    conn?.release("probe done");
  }
}

/** Options for {@link pingPeer}. */
export interface PingOptions {
  /** Pings to send (default 4). */
  count?: number;
  /** Per-ping and dial timeout (default 5 s). */
  timeoutMs?: number;
  /** Pause between pings (default 200 ms). */
  intervalMs?: number;
  /** CA certificate (PEM) for `wss://` peers. */
  ca?: string;
  /** Called after each ping (`rttMs` null when it failed). */
  onReply?: (seq: number, rttMs: number | null, error?: string) => void;
}

/** Summary of {@link pingPeer}. */
export interface PingSummary {
  /** Peer name. */
  peer: string;
  /** Peer ID. */
  id: string;
  /** Pings sent. */
  sent: number;
  /** Replies received. */
  received: number;
  /** Each reply's round trip, ms. */
  rttMs: number[];
  /** Average, ms. */
  avgMs: number | null;
  /** Minimum, ms. */
  minMs: number | null;
  /** Maximum, ms. */
  maxMs: number | null;
  /** Score after the pings. */
  score: number | undefined;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/**
 * Pings a peer `count` times over the open session (or a fresh dial), recording each outcome in
 * its score and the average as its `pingMs`. A failed dial records a failure and throws.
 */
export async function pingPeer(
  mesh: MeshNode,
  peer: Peer,
  options: PingOptions = {},
): Promise<PingSummary> {
  const count = options.count ?? 4;
  const timeoutMs = options.timeoutMs ?? 5000;
  const intervalMs = options.intervalMs ?? 200;
  let conn: SessionLease;
  try {
    conn = await sessionFor(mesh, peer, timeoutMs, { ca: options.ca });
  } catch (err) {
    mesh.recordFailure(peer.id, err);
    throw err;
  }
  const session = conn.session;
  const rtts: number[] = [];
  let failures = 0;
  try {
    for (let seq = 1; seq <= count; seq++) {
      try {
        const rtt = await session.ping(timeoutMs);
        rtts.push(rtt);
        mesh.recordOutcome(peer.id, "success", rtt);
        options.onReply?.(seq, rtt);
      } catch (err) {
        failures++;
        mesh.recordOutcome(peer.id, err instanceof RequestTimeoutError ? "timeout" : "failure");
        options.onReply?.(seq, null, (err as Error).message);
        if (session.isClosed) break;
      }
      if (seq < count && intervalMs > 0) await new Promise((r) => setTimeout(r, intervalMs));
    }
  } finally {
    conn.release("ping done");
  }
  const avg = rtts.length ? rtts.reduce((a, b) => a + b, 0) / rtts.length : null;
  if (avg !== null) mesh.registry.update(peer.id, (cur) => ({ ...cur, pingMs: round3(avg) }));
  await mesh.registry.flush();
  return {
    peer: peer.name,
    id: peer.id,
    sent: rtts.length + failures,
    received: rtts.length,
    rttMs: rtts.map(round3),
    avgMs: avg === null ? null : round3(avg),
    minMs: rtts.length ? round3(Math.min(...rtts)) : null,
    maxMs: rtts.length ? round3(Math.max(...rtts)) : null,
    score: mesh.registry.get(peer.id)?.score,
  };
}

/** The registry and allowlist a peer operation changes (a daemon's, or a CLI command's own). */
export interface PeerStores {
  /** The registry. */
  registry: PeerRegistry;
  /** The allowlist. */
  auth: AuthStore;
}

/** A node ID or key given to `peer allow` that is neither. */
export class AllowTargetError extends MinerCliError {
  /** Creates the error. */
  constructor(message: string) {
    super(message, { status: 400, code: "bad_request" });
    this.name = "AllowTargetError";
  }
}

/**
 * `peer allow`: puts node IDs or public keys on the allowlist, with `grants` for when they
 * register (and for any already registered). All targets are checked before anything changes.
 */
export async function allowNodes(
  stores: PeerStores,
  targets: readonly string[],
  options: { grants?: readonly Grant[] } = {},
): Promise<{ id: string; added: boolean }[]> {
  const grants = normalizeGrants(options.grants ?? []);
  const entries = targets.map((t) => {
    try {
      return parseAllowTarget(t);
    } catch (err) {
      throw new AllowTargetError((err as Error).message);
    }
  });
  // One transaction for the whole list: allowing 5,000 IDs is O(n), not 5,000 rewrites.
  const added = await stores.auth.allowMany(
    entries.map((e) => grants.length ? { ...e, grants } : e),
  );
  if (grants.length) {
    for (const e of entries) {
      if (!stores.registry.get(e.id)) continue;
      stores.registry.update(e.id, (cur) => ({
        ...cur,
        grants: normalizeGrants([...cur.grants, ...grants]),
      }));
    }
  }
  await stores.registry.flush();
  return entries.map((e, i) => ({ id: e.id, added: added[i] }));
}

/** Result of {@link setPeerGrants}. */
export interface GrantsChange {
  /** Node ID. */
  id: string;
  /** Name when registered. */
  name: string | null;
  /** Grants before the change. */
  before: Grant[];
  /** Grants after it. */
  grants: Grant[];
}

/**
 * `peer grant` / `peer ungrant`: sets what a registered or allowlisted node may do here, in its
 * registry record and its allowlist entry (so a node that registers again keeps it).
 */
export async function setPeerGrants(
  stores: PeerStores,
  ref: string,
  change: { add?: readonly Grant[]; remove?: readonly Grant[] },
): Promise<GrantsChange> {
  await Promise.all([stores.registry.refresh(), stores.auth.refresh()]);
  let id: string;
  try {
    id = parseAllowTarget(ref).id;
  } catch {
    id = stores.registry.resolve(ref).id;
  }
  const peer = stores.registry.get(id);
  const entry = stores.auth.entry(id);
  if (!peer && !entry) throw new PeerNotFoundError(ref);
  const before = normalizeGrants([...(peer?.grants ?? entry?.grants ?? [])]);
  const next = normalizeGrants(
    [...before, ...(change.add ?? [])].filter((g) => !(change.remove ?? []).includes(g)),
  );
  if (peer) stores.registry.update(id, (cur) => ({ ...cur, grants: next }));
  if (entry) await stores.auth.setGrants(id, next);
  await stores.registry.flush();
  return { id, name: peer?.name ?? null, before, grants: next };
}

/** `peer revoke`: off the allowlist and out of the registry (both false: it was neither). */
export async function revokeNode(
  stores: PeerStores,
  ref: string,
): Promise<{ id: string; revoked: boolean; removedFromRegistry: boolean }> {
  await stores.registry.refresh();
  let id: string;
  try {
    id = parseAllowTarget(ref).id;
  } catch {
    id = stores.registry.resolve(ref).id;
  }
  const revoked = await stores.auth.revoke(id);
  const removedFromRegistry = stores.registry.remove(id);
  await stores.registry.flush();
  return { id, revoked, removedFromRegistry };
}

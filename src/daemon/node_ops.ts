/**
 * The daemon's peer, allowlist and pairing operations as the API calls them (`/peers/*`,
 * `/auth/*`, `/node/pair-code`), on the daemon's own registry so its sessions see changes at once.
 * @module
 */
import { MinerCliError } from "../errors/mod.ts";
import type { NodeOps } from "../api/mod.ts";
import type { PeerView } from "../protocol/mod.ts";
import { GrantSchema, type Peer, PeerNotFoundError } from "../peers/mod.ts";
import {
  addPeer,
  allowNodes,
  AllowTargetError,
  createPairCode,
  DiscoveryOffError,
  type DiscoveryService,
  type FleetMonitor,
  type MeshNode,
  parsePairCode,
  pingPeer,
  revokeNode,
  setPeerGrants,
} from "../node/mod.ts";

/** A request the API turns into a 400. */
export class PeerRequestError extends MinerCliError {
  /** Creates the error. */
  constructor(message: string) {
    super(message, { status: 400, code: "bad_request" });
    this.name = "PeerRequestError";
  }
}

/** Options for {@link createNodeOps}. */
export interface NodeOpsOptions {
  /** Called after the registry or the allowlist changed. */
  onChange?: () => void;
  /** CA certificate (PEM) for `wss://` peers. */
  ca?: string;
  /** The discovery service, when `--discover` runs. */
  discovery?: () => DiscoveryService | null;
}

/** Builds the API's node operations over a running mesh node. */
export function createNodeOps(
  mesh: MeshNode,
  monitor: FleetMonitor,
  options: NodeOpsOptions = {},
): NodeOps {
  const changed = () => options.onChange?.();
  const discovery = (): DiscoveryService => {
    const svc = options.discovery?.();
    if (!svc) throw new DiscoveryOffError();
    return svc;
  };
  const view = (p: Peer): PeerView => {
    const live = monitor.state(p.id);
    const open = mesh.sessionsOf(p.id).filter((s) => !s.isClosed);
    const connected = open.length > 0;
    return {
      ...p,
      online: live?.online ?? (connected ? true : null),
      ...(live?.reason ? { offlineReason: live.reason } : {}),
      since: live?.since ?? null,
      connected,
      sessions: open.length,
      allowed: mesh.auth.isAllowed(p.id),
    };
  };
  return {
    peers: () => mesh.registry.list().map(view),
    peer: (ref) => view(mesh.registry.resolve(ref)),
    addPeer: async (body) => {
      let pairCode;
      if (body.code !== undefined) {
        try {
          pairCode = parsePairCode(body.code);
        } catch (err) {
          throw new PeerRequestError(`code: ${(err as Error).message}`);
        }
      }
      const res = await addPeer(mesh, body.address, {
        name: body.name,
        pairCode,
        lat: body.lat,
        lon: body.lon,
        hops: body.hops,
        ca: options.ca,
      });
      monitor.sawOnline(res.peer);
      changed();
      return res;
    },
    removePeer: async (ref) => {
      const peer = mesh.registry.resolve(ref);
      mesh.registry.remove(peer.id);
      await mesh.registry.flush();
      await mesh.sweepAuthorizations();
      changed();
      return peer;
    },
    pingPeer: async (ref, count) => {
      const summary = await pingPeer(mesh, mesh.registry.resolve(ref), {
        count,
        timeoutMs: 3000,
        intervalMs: 100,
        ca: options.ca,
      });
      changed();
      return summary;
    },
    auth: () => ({ mode: mesh.auth.mode, allow: [...mesh.auth.settings.allow] }),
    allow: async (targets, options) => {
      let results;
      try {
        results = await allowNodes(mesh, targets, options);
      } catch (err) {
        if (err instanceof AllowTargetError) throw new PeerRequestError(err.message);
        throw err;
      }
      changed();
      return results;
    },
    setTags: async (ref, tags) => {
      const peer = mesh.registry.resolve(ref);
      mesh.registry.update(peer.id, (cur) => ({ ...cur, tags: [...new Set(tags)] }));
      await mesh.registry.flush();
      changed();
      return view(mesh.registry.get(peer.id)!);
    },
    setGrants: async (ref, grants) => {
      const res = await setPeerGrants(mesh, ref, {
        add: grants,
        remove: GrantSchema.options.filter((g) => !grants.includes(g)),
      });
      changed();
      return res;
    },
    revoke: async (ref) => {
      const res = await revokeNode(mesh, ref);
      if (!res.revoked && !res.removedFromRegistry) throw new PeerNotFoundError(ref);
      await mesh.sweepAuthorizations();
      changed();
      return res;
    },
    setAuthMode: async (mode) => {
      await mesh.auth.setMode(mode);
      await mesh.sweepAuthorizations();
      changed();
    },
    discovery: () => discovery().state(),
    approve: async (sel) => {
      const results = await discovery().approve(sel.ids ?? [], {
        role: sel.role,
        control: sel.control,
      });
      for (const r of results) {
        const peer = r.outcome === "registered" ? mesh.registry.get(r.id) : undefined;
        if (peer) monitor.sawOnline(peer);
      }
      changed();
      return results;
    },
    reject: (sel) => discovery().reject(sel.ids ?? [], { role: sel.role }),
    unreject: (ids) => discovery().unreject(ids),
    pairCode: async (ttlMs, forWhom) => {
      const { code, expiresAt } = await createPairCode(mesh.paths, mesh.id, {
        ttlMs,
        for: forWhom,
      });
      return { code, nodeId: mesh.id, expiresAt };
    },
  };
}

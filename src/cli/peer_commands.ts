/**
 * `miner-cli peer ...` commands. Commands that need a peer dial it directly with this node's
 * identity, so they work without a running daemon (from cron, for example).
 * @module
 */
import { loadIdentity, NodeNameSchema, type NodeRole, NodeRoleSchema } from "../identity/mod.ts";
import {
  AuthModeSchema,
  AuthStore,
  describeGrants,
  geoKmBetween,
  type Grant,
  GrantSchema,
  optimalPeers,
  parseAddressOrNull,
  type Peer,
  PeerRegistry,
  TagSchema,
} from "../peers/mod.ts";
import {
  addPeer,
  allowNodes,
  AllowTargetError,
  fanOut,
  MeshNode,
  parsePairCode,
  PeerNameTakenError,
  type PeerStores,
  pingPeer,
  probePeer,
  revokeNode,
  setPeerGrants,
} from "../node/mod.ts";
import { ApiClient } from "./api_client.ts";
import { bool, duration, int, num, type Parsed, requireStr, str, UsageError } from "./args.ts";
import type { CliContext } from "./context.ts";
import { ago, ms, table } from "./format.ts";
import { type ApproveResult, type DiscoveryState } from "../protocol/mod.ts";

function openRegistry(ctx: CliContext): Promise<PeerRegistry> {
  return PeerRegistry.open(ctx.paths.registryDb, {
    debounceMs: 0,
    onWarning: (m) => ctx.io.err(`warning: ${m}`),
  });
}

async function openStores(ctx: CliContext): Promise<PeerStores> {
  const [registry, auth] = await Promise.all([
    openRegistry(ctx),
    AuthStore.open(ctx.paths.registryDb, { onWarning: (m) => ctx.io.err(`warning: ${m}`) }),
  ]);
  return { registry, auth };
}

function openMesh(ctx: CliContext): Promise<MeshNode> {
  return MeshNode.open(ctx.paths, {
    keepalive: false,
    registryDebounceMs: 0,
    onWarning: (m) => ctx.io.err(`warning: ${m}`),
  });
}

function nameOrThrow(name: string, cmd: string): string {
  const r = NodeNameSchema.safeParse(name);
  if (!r.success) {
    throw new UsageError(`invalid name ${JSON.stringify(name)}: ${r.error.issues[0].message}`, cmd);
  }
  return r.data;
}

/** A peer address as given (trimmed), or a usage error naming the forms it may take. */
export function addressOrThrow(address: string, cmd: string): string {
  if (!parseAddressOrNull(address)) {
    throw new UsageError(
      `invalid address ${
        JSON.stringify(address)
      }: use HOST:PORT, [IPv6]:PORT or ws(s)://HOST:PORT/path`,
      cmd,
    );
  }
  return address.trim();
}

async function caFromEnv(): Promise<string | undefined> {
  const f = Deno.env.get("MINER_CLI_TLS_CA");
  return f ? await Deno.readTextFile(f) : undefined;
}

/** `peer add`. */
export async function peerAdd(ctx: CliContext, p: Parsed): Promise<number> {
  const cmd = "peer add";
  const address = addressOrThrow(requireStr(p, "address", cmd), cmd);
  const wantName = str(p, "name") !== undefined ? nameOrThrow(str(p, "name")!, cmd) : undefined;
  const code = str(p, "code") !== undefined ? parsePairCode(str(p, "code")!) : undefined;
  const lat = num(p, "lat", { min: -90, max: 90 });
  const lon = num(p, "lon", { min: -180, max: 180 });
  if ((lat === undefined) !== (lon === undefined)) {
    throw new UsageError("give both --lat and --lon, or neither", cmd);
  }
  const hops = int(p, "hops", { min: 0, max: 255, fallback: 1 });
  const timeoutMs = duration(p, "timeout", { min: 100, max: 120_000, fallback: 10_000 });
  const mesh = await openMesh(ctx);
  try {
    let result;
    try {
      result = await addPeer(mesh, address, {
        name: wantName,
        pairCode: code,
        lat,
        lon,
        hops,
        timeoutMs,
        ca: await caFromEnv(),
      });
    } catch (err) {
      if (err instanceof PeerNameTakenError) throw new UsageError(err.message, cmd);
      throw err;
    }
    const { added, peer } = result;
    if (bool(p, "json")) ctx.io.out(JSON.stringify({ added, peer }, null, 2));
    else {
      ctx.io.out(
        `${added ? "added" : "updated"} peer ${peer.name} (${peer.id}, ${peer.role}) at ${address}${
          code ? ", paired with code" : ""
        }`,
      );
    }
    return 0;
  } finally {
    await mesh.close();
  }
}

/** The running node's view of its peers (null when no node answers, or with `--direct`). */
async function liveView(
  ctx: CliContext,
  p: Parsed,
): Promise<Map<string, { online: boolean | null; offlineReason?: string }> | null> {
  const api = await ApiClient.running(ctx.paths, str(p, "api"));
  if (!api) return null;
  const doc = await api.request<
    { peers: { id: string; online: boolean | null; offlineReason?: string }[] }
  >(
    "GET",
    "/api/v1/mining/peers",
  );
  return new Map(doc.peers.map((v) => [v.id, v]));
}

/** `peer list`. */
export async function peerList(ctx: CliContext, p: Parsed): Promise<number> {
  const timeoutMs = duration(p, "timeout", { min: 100, max: 60_000, fallback: 3000 });
  const concurrency = int(p, "concurrency", { min: 1, max: 1024, fallback: 64 });
  // A running node knows who is online from its live links and its monitor: ask it rather than
  // dialing every peer from here (rigs linked in have no address to dial).
  const live = bool(p, "no-probe") || bool(p, "direct") ? null : await liveView(ctx, p);
  const mesh = await openMesh(ctx);
  try {
    const peers = mesh.registry.list();
    // A bounded number of probes at once, each with its own timeout from when it starts: probing
    // thousands at once made most of them time out while waiting for the others.
    const probes = bool(p, "no-probe") ? peers.map(() => null) : live
      ? peers.map((peer) => {
        const v = live.get(peer.id);
        return v
          ? { online: v.online === true, ...(v.offlineReason ? { error: v.offlineReason } : {}) }
          : { online: false, error: "not known to the running node yet" };
      })
      : (await fanOut(peers, (peer) => probePeer(mesh, peer, { timeoutMs }), { concurrency }))
        .map((r) => (r.ok ? r.value! : { online: false, error: r.error }));
    const rows = mesh.registry.list().map((peer, i) => ({
      ...peer,
      online: probes[i]?.online ?? null,
      ...(probes[i]?.error ? { probeError: probes[i]!.error } : {}),
    }));
    if (bool(p, "json")) {
      ctx.io.out(JSON.stringify(rows, null, 2));
      return 0;
    }
    if (rows.length === 0) {
      ctx.io.out("no peers yet: add one with `miner-cli peer add --address HOST:PORT --name NAME`");
      return 0;
    }
    ctx.io.out(table(
      ["", "NAME", "ID", "ROLE (ANNOUNCED)", "MAY HERE", "ADDRESS", "PING", "SCORE", "LAST SEEN"],
      rows.map((r) => [
        r.online === null ? "?" : r.online ? "●" : "○",
        r.name,
        r.id.slice(0, 12),
        r.role,
        describeGrants(r.grants),
        r.address ?? "(inbound)",
        ms(r.pingMs),
        r.score,
        ago(r.lastSeen),
      ]),
    ));
    return 0;
  } finally {
    await mesh.close();
  }
}

/** `peer remove`. */
export async function peerRemove(ctx: CliContext, p: Parsed): Promise<number> {
  const cmd = "peer remove";
  if (p.positionals.length !== 1) throw new UsageError("usage: miner-cli peer remove <peer>", cmd);
  const reg = await openRegistry(ctx);
  const peer = reg.resolve(p.positionals[0]);
  reg.remove(peer.id);
  await reg.close();
  if (bool(p, "json")) ctx.io.out(JSON.stringify({ removed: peer.id }));
  else ctx.io.out(`removed peer ${peer.name} (${peer.id})`);
  return 0;
}

/** `peer tag <peer> <tags>`: replaces a rig's tags (comma-separated; "" clears them). */
export async function peerTag(ctx: CliContext, p: Parsed): Promise<number> {
  const cmd = "peer tag";
  const [ref, raw] = p.positionals;
  const tags = [...new Set((raw ?? "").split(",").map((t) => t.trim()).filter(Boolean))];
  for (const t of tags) {
    if (!TagSchema.safeParse(t).success) {
      throw new UsageError(
        `bad tag ${JSON.stringify(t)}: 1-32 lowercase letters, digits, . _ -`,
        cmd,
      );
    }
  }
  if (tags.length > 16) throw new UsageError("at most 16 tags", cmd);
  const reg = await openRegistry(ctx);
  const peer = reg.resolve(ref);
  const updated = reg.update(peer.id, (cur) => ({ ...cur, tags }))!;
  await reg.close();
  if (bool(p, "json")) {
    ctx.io.out(JSON.stringify({ id: updated.id, name: updated.name, tags: updated.tags }));
  } else {
    ctx.io.out(
      tags.length
        ? `${updated.name} is tagged ${tags.join(", ")}`
        : `${updated.name} has no tags now`,
    );
  }
  return 0;
}

/** `peer set`. */
export async function peerSet(ctx: CliContext, p: Parsed): Promise<number> {
  const cmd = "peer set";
  if (p.positionals.length !== 1) {
    throw new UsageError(
      "usage: miner-cli peer set <peer> [--name N] [--address A] [--lat L --lon L] [--hops N] [--tags T,T]",
      cmd,
    );
  }
  const lat = num(p, "lat", { min: -90, max: 90 });
  const lon = num(p, "lon", { min: -180, max: 180 });
  if ((lat === undefined) !== (lon === undefined)) {
    throw new UsageError("give both --lat and --lon, or neither", cmd);
  }
  const name = str(p, "name") !== undefined ? nameOrThrow(str(p, "name")!, cmd) : undefined;
  const address = str(p, "address") !== undefined
    ? addressOrThrow(str(p, "address")!, cmd)
    : undefined;
  const hops = str(p, "hops") !== undefined
    ? int(p, "hops", { min: 0, max: 255, fallback: 1 })
    : undefined;
  const tagsRaw = str(p, "tags");
  let tags: string[] | undefined;
  if (tagsRaw !== undefined) {
    tags = [...new Set(tagsRaw.split(",").map((t) => t.trim()).filter(Boolean))];
    for (const t of tags) {
      if (!TagSchema.safeParse(t).success) {
        throw new UsageError(
          `bad tag ${JSON.stringify(t)}: 1-32 lowercase letters, digits, . _ -`,
          cmd,
        );
      }
    }
    if (tags.length > 16) throw new UsageError("at most 16 tags", cmd);
  }
  if (
    name === undefined && address === undefined && lat === undefined && hops === undefined &&
    tags === undefined
  ) {
    throw new UsageError("nothing to change", cmd);
  }
  const me = await loadIdentity(ctx.paths);
  const reg = await openRegistry(ctx);
  const peer = reg.resolve(p.positionals[0]);
  if (name) {
    const clash = reg.list().find((x) =>
      x.name.toLowerCase() === name.toLowerCase() && x.id !== peer.id
    );
    if (clash) throw new UsageError(`the name ${name} is already used by peer ${clash.id}`, cmd);
  }
  const updated = reg.update(peer.id, (cur) => {
    const next: Peer = {
      ...cur,
      ...(name ? { name } : {}),
      ...(address ? { address } : {}),
      ...(hops !== undefined ? { hops } : {}),
      ...(tags !== undefined ? { tags } : {}),
      ...(lat !== undefined ? { lat, lon } : {}),
    };
    next.geoKm = geoKmBetween(me.info, next);
    return next;
  })!;
  await reg.close();
  if (bool(p, "json")) ctx.io.out(JSON.stringify(updated, null, 2));
  else ctx.io.out(`updated peer ${updated.name} (${updated.id})`);
  return 0;
}

/** `peer ping`. */
export async function peerPing(ctx: CliContext, p: Parsed): Promise<number> {
  const cmd = "peer ping";
  if (p.positionals.length !== 1) {
    throw new UsageError("usage: miner-cli peer ping <peer> [--count N]", cmd);
  }
  const count = int(p, "count", { min: 1, max: 10_000, fallback: 4 });
  const timeoutMs = duration(p, "timeout", { min: 100, max: 60_000, fallback: 5000 });
  const intervalMs = duration(p, "interval", { min: 0, max: 60_000, fallback: 200 });
  const json = bool(p, "json");
  const mesh = await openMesh(ctx);
  try {
    const peer = mesh.registry.resolve(p.positionals[0]);
    if (!json) ctx.io.out(`PING ${peer.name} (${peer.id.slice(0, 12)}) at ${peer.address}`);
    const summary = await pingPeer(mesh, peer, {
      count,
      timeoutMs,
      intervalMs,
      ca: await caFromEnv(),
      onReply: (seq, rtt, error) => {
        if (json) return;
        ctx.io.out(
          rtt === null
            ? `no reply from ${peer.name}: seq=${seq} (${error})`
            : `reply from ${peer.name}: seq=${seq} time=${ms(rtt)}`,
        );
      },
    });
    if (json) ctx.io.out(JSON.stringify(summary, null, 2));
    else {
      ctx.io.out(
        `${summary.sent} sent, ${summary.received} received, avg ${ms(summary.avgMs)}, min ${
          ms(summary.minMs)
        }, max ${ms(summary.maxMs)}; score ${summary.score}`,
      );
    }
    return summary.received === count ? 0 : 1;
  } finally {
    await mesh.close();
  }
}

/** `peer allow`. */
export async function peerAllow(ctx: CliContext, p: Parsed): Promise<number> {
  const cmd = "peer allow";
  if (p.positionals.length === 0) {
    throw new UsageError("usage: miner-cli peer allow <node-id|public-key>... [--control]", cmd);
  }
  const stores = await openStores(ctx);
  let results;
  try {
    results = await allowNodes(stores, p.positionals, {
      grants: bool(p, "control") ? ["control"] : [],
    });
  } catch (err) {
    if (err instanceof AllowTargetError) throw new UsageError(err.message, cmd);
    throw err;
  } finally {
    await stores.registry.close();
  }
  if (bool(p, "json")) ctx.io.out(JSON.stringify(results));
  else {
    for (const r of results) {
      ctx.io.out(r.added ? `allowed ${r.id}` : `${r.id} was already allowed`);
    }
    if (bool(p, "control")) {
      ctx.io.out("they may control this node (start and stop miners, deploy) once they connect");
    }
  }
  return 0;
}

/** The grant named on the command line. */
function grantArg(text: string | undefined, cmd: string): Grant {
  const g = GrantSchema.safeParse(text);
  if (!g.success) {
    throw new UsageError(
      `usage: miner-cli ${cmd} <peer> control|read (control: start, stop, deploy and read; read: stats and logs)`,
      cmd,
    );
  }
  return g.data;
}

/** `peer grant <peer> control|read` and `peer ungrant <peer> control|read`. */
export function peerGrant(remove: boolean): (ctx: CliContext, p: Parsed) => Promise<number> {
  return async (ctx: CliContext, p: Parsed): Promise<number> => {
    const cmd = remove ? "peer ungrant" : "peer grant";
    if (p.positionals.length !== 2) grantArg(undefined, cmd);
    const grant = grantArg(p.positionals[1], cmd);
    const stores = await openStores(ctx);
    try {
      const res = await setPeerGrants(
        stores,
        p.positionals[0],
        remove ? { remove: [grant] } : { add: [grant] },
      );
      if (bool(p, "json")) ctx.io.out(JSON.stringify(res));
      else {
        ctx.io.out(
          `${res.name ?? res.id} may now do here: ${describeGrants(res.grants)} (was ${
            describeGrants(res.before)
          })`,
        );
      }
      return 0;
    } finally {
      await stores.registry.close();
    }
  };
}

/** `peer revoke`. */
export async function peerRevoke(ctx: CliContext, p: Parsed): Promise<number> {
  const cmd = "peer revoke";
  if (p.positionals.length !== 1) {
    throw new UsageError("usage: miner-cli peer revoke <node-id|public-key|peer>", cmd);
  }
  const stores = await openStores(ctx);
  let res;
  try {
    res = await revokeNode(stores, p.positionals[0]);
  } finally {
    await stores.registry.close();
  }
  if (!res.revoked && !res.removedFromRegistry) {
    throw new UsageError(`${res.id} is neither allowed nor registered`, cmd);
  }
  if (bool(p, "json")) ctx.io.out(JSON.stringify(res));
  else {
    ctx.io.out(
      `revoked ${res.id}${res.revoked ? " (removed from allowlist)" : ""}${
        res.removedFromRegistry ? " (removed from registry)" : ""
      }`,
    );
    ctx.io.out("a running node drops its live connection within 2 seconds");
  }
  return 0;
}

/** `peer auth-mode`. */
export async function peerAuthMode(ctx: CliContext, p: Parsed): Promise<number> {
  const cmd = "peer auth-mode";
  const auth = await AuthStore.open(ctx.paths.registryDb, {
    onWarning: (m) => ctx.io.err(`warning: ${m}`),
  });
  if (p.positionals.length > 1) {
    throw new UsageError("usage: miner-cli peer auth-mode [open|allowlist]", cmd);
  }
  if (p.positionals.length === 1) {
    const mode = AuthModeSchema.safeParse(p.positionals[0]);
    if (!mode.success) {
      throw new UsageError(
        `auth mode must be open or allowlist, got ${JSON.stringify(p.positionals[0])}`,
        cmd,
      );
    }
    await auth.setMode(mode.data);
  }
  const mode = auth.mode;
  if (bool(p, "json")) ctx.io.out(JSON.stringify({ mode }));
  else {
    ctx.io.out(`auth mode: ${mode}`);
    if (mode === "open") ctx.io.out("warning: any node that completes the handshake may connect");
  }
  return 0;
}

/** `peer optimal`. */
export async function peerOptimal(ctx: CliContext, p: Parsed): Promise<number> {
  const count = int(p, "count", { min: 1, max: 100_000, fallback: 1 });
  const me = await loadIdentity(ctx.paths);
  const reg = await openRegistry(ctx);
  // Distances from where this node is now (node set --lat/--lon may have moved it).
  const peers = reg.list().map((peer) => ({ ...peer, geoKm: geoKmBetween(me.info, peer) }));
  const ranked = optimalPeers(peers, { count });
  if (bool(p, "json")) {
    ctx.io.out(
      JSON.stringify(
        ranked.map((r, i) => ({ rank: i + 1, distance: r.distance, ...r.peer })),
        null,
        2,
      ),
    );
    return 0;
  }
  if (ranked.length === 0) {
    ctx.io.out("no peers to rank");
    return 0;
  }
  ctx.io.out(table(
    ["#", "NAME", "ID", "PING", "HOPS", "GEO KM", "SCORE", "DISTANCE"],
    ranked.map((r, i) => [
      i + 1,
      r.peer.name,
      r.peer.id.slice(0, 12),
      ms(r.peer.pingMs),
      r.peer.hops,
      r.peer.geoKm === null ? "-" : r.peer.geoKm.toFixed(0),
      r.peer.score,
      r.distance.toFixed(3),
    ]),
  ));
  return 0;
}

function pendingSelection(
  p: { positionals: string[]; values: Record<string, unknown> },
  cmd: string,
): { ids?: string[]; role?: NodeRole } {
  const role = str(p as Parsed, "all-matching");
  if (role !== undefined) {
    if (p.positionals.length) {
      throw new UsageError("give node IDs or --all-matching ROLE, not both", cmd);
    }
    const r = NodeRoleSchema.safeParse(role);
    if (!r.success) {
      throw new UsageError(
        `--all-matching must be controller, worker or dual, got ${JSON.stringify(role)}`,
        cmd,
      );
    }
    return { role: r.data };
  }
  if (!p.positionals.length) {
    throw new UsageError(`usage: miner-cli ${cmd} <node-id>... | --all-matching ROLE`, cmd);
  }
  for (const id of p.positionals) {
    if (!/^[0-9a-f]{4,32}$/i.test(id)) {
      throw new UsageError(
        `${JSON.stringify(id)} is not a node ID (32 hex chars, or a unique prefix of 4+)`,
        cmd,
      );
    }
  }
  return { ids: p.positionals };
}

/** `peer pending`: nodes discovered on the LAN, awaiting approval (asks the running node). */
export async function peerPending(ctx: CliContext, p: Parsed): Promise<number> {
  if (p.positionals.length) {
    throw new UsageError(`unexpected argument ${p.positionals[0]}`, "peer pending");
  }
  const api = await ApiClient.locate(ctx.paths, str(p, "api"));
  const s = await api.request<DiscoveryState>("GET", "/api/v1/mining/peers/pending");
  if (bool(p, "json")) {
    ctx.io.out(JSON.stringify(s, null, 2));
    return 0;
  }
  if (!s.pending.length) {
    ctx.io.out(
      `no pending nodes (listening on UDP ${s.port}; ${
        s.counters.known ?? 0
      } beacons from known nodes)`,
    );
  } else {
    ctx.io.out(table(
      ["ID", "ROLE", "ADDRESS", "CPU", "RAM", "GPUS", "SEEN", "NOTE"],
      s.pending.map((e) => [
        e.id,
        e.role,
        e.address,
        `${e.threads}t${e.aes ? " aes" : e.aes === null ? " ?flags" : ""}${e.avx2 ? " avx2" : ""}${
          e.hugePages ? " hp" : ""
        }`,
        `${(e.memTotalMB / 1024).toFixed(1)} GB`,
        String(e.gpus),
        ago(e.lastSeen),
        e.enrolling ? "enrolling…" : e.lastError ? `enroll failed: ${e.lastError}` : "",
      ]),
    ));
    ctx.io.out("approve with `miner-cli peer approve <id>` (or --all-matching ROLE)");
  }
  for (const a of s.awaiting) {
    ctx.io.out(
      `approved, waiting for a handshake: ${a.id} at ${a.address}${
        a.lastError ? ` (${a.lastError})` : ""
      }`,
    );
  }
  if (s.rejected.length) ctx.io.out(`${s.rejected.length} rejected (ignored) node(s)`);
  return 0;
}

/** `peer approve <id>... | --all-matching ROLE`. */
export async function peerApprove(ctx: CliContext, p: Parsed): Promise<number> {
  const cmd = "peer approve";
  const sel = pendingSelection(p, cmd);
  if (bool(p, "control") && bool(p, "no-control")) {
    throw new UsageError("give --control or --no-control, not both", cmd);
  }
  const control = bool(p, "control") ? true : bool(p, "no-control") ? false : undefined;
  const api = await ApiClient.locate(ctx.paths, str(p, "api"));
  const { results } = await api.request<{ results: ApproveResult[] }>(
    "POST",
    "/api/v1/mining/peers/pending/approve",
    { ...sel, ...(control === undefined ? {} : { control }) },
  );
  if (bool(p, "json")) {
    ctx.io.out(JSON.stringify({ results }, null, 2));
  } else if (!results.length) {
    ctx.io.out(`no pending ${sel.role} nodes`);
  } else {
    for (const r of results) {
      if (r.outcome === "registered") {
        ctx.io.out(`approved ${r.id}: registered as ${r.name} (${r.address}), key pinned`);
      } else if (r.outcome === "allowed") {
        ctx.io.out(`approved ${r.id} (${r.address}): allowed to connect to this node`);
      } else {
        ctx.io.out(
          `approved ${r.id} (${r.address}), not registered yet: ${r.reason}; retried while it beacons (on that node, run \`miner-cli peer approve\` for this one)`,
        );
      }
    }
  }
  return results.some((r) => r.outcome === "awaiting") ? 2 : 0;
}

/** `peer reject <id>... | --all-matching ROLE [--undo]`. */
export async function peerReject(ctx: CliContext, p: Parsed): Promise<number> {
  const cmd = "peer reject";
  const api = await ApiClient.locate(ctx.paths, str(p, "api"));
  if (bool(p, "undo")) {
    const sel = pendingSelection(p, cmd);
    if (!sel.ids) throw new UsageError("--undo takes node IDs", cmd);
    const { unrejected } = await api.request<{ unrejected: string[] }>(
      "POST",
      "/api/v1/mining/peers/pending/unreject",
      { ids: sel.ids },
    );
    if (bool(p, "json")) ctx.io.out(JSON.stringify({ unrejected }));
    else for (const id of unrejected) ctx.io.out(`${id}: no longer rejected`);
    return 0;
  }
  const sel = pendingSelection(p, cmd);
  const { rejected } = await api.request<{ rejected: string[] }>(
    "POST",
    "/api/v1/mining/peers/pending/reject",
    sel,
  );
  if (bool(p, "json")) ctx.io.out(JSON.stringify({ rejected }));
  else if (!rejected.length) ctx.io.out(`no pending ${sel.role} nodes`);
  else for (const id of rejected) ctx.io.out(`rejected ${id}: its beacons are ignored`);
  return 0;
}

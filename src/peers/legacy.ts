/**
 * Importing the JSON files of earlier versions (`peers.json`, `auth.json`) into the registry
 * database, once, including the version-1 `peers.json` that predates grants.
 * @module
 */
import { z } from "zod";
import { AuthFileSchema } from "./auth_schema.ts";
import type { LegacyImport } from "./db.ts";
import { type Peer, PeersFileSchema, PeersFileV1Schema } from "./schema.ts";

/** What {@link migratePeersV1} decided. */
export interface PeersMigration {
  /** The peers with their grants. */
  peers: Peer[];
  /** Peers recorded as controller or dual that do not keep control (dialed with `peer add`). */
  lostControl: Peer[];
}

/**
 * Grants for a registry written before grants existed, when a peer recorded as controller or dual
 * had control by its announced role alone: it keeps control when this node's operator let it in
 * (it registered by contacting this node: by pairing code, join secret or allowlist, so it has no
 * address, or it is on the allowlist); a peer this node dialed with `peer add` loses it.
 */
export function migratePeersV1(
  peers: readonly Peer[],
  isAllowlisted: (id: string) => boolean,
): PeersMigration {
  const lostControl: Peer[] = [];
  const out = peers.map((p) => {
    if (p.role === "worker") return { ...p, grants: [] };
    if (p.address === null || isAllowlisted(p.id)) return { ...p, grants: ["control" as const] };
    lostControl.push(p);
    return { ...p, grants: [] };
  });
  return { peers: out, lostControl };
}

const AnyPeersFileSchema = z.union([PeersFileSchema, PeersFileV1Schema]);

function readJsonSync(
  path: string,
  onWarning: (message: string) => void,
): { text: string; doc: unknown } | null {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
  try {
    return { text, doc: JSON.parse(text) };
  } catch (err) {
    moveAside(path, `not JSON (${(err as Error).message})`, onWarning);
    return null;
  }
}

function moveAside(path: string, why: string, onWarning: (message: string) => void): void {
  const aside = `${path}.corrupt-${new Date().toISOString().replaceAll(":", "-")}`;
  Deno.renameSync(path, aside);
  onWarning(`${path} is corrupt (${why}); moved it to ${aside}, nothing imported from it`);
}

/**
 * Reads `peers.json` and `auth.json` in `dir` (either may be absent) as rows for the database. A
 * version-1 `peers.json` gets its grants by {@link migratePeersV1}, with a warning per peer that
 * loses control. An unreadable file is moved aside with a warning.
 */
export function importLegacyFiles(
  dir: string,
  onWarning: (message: string) => void,
): LegacyImport {
  const files: string[] = [];
  const out: { peers?: { id: string; doc: unknown }[]; allow?: { id: string; doc: unknown }[] } =
    {};
  let authMode: string | undefined;
  const authPath = `${dir}/auth.json`;
  const auth = readJsonSync(authPath, onWarning);
  let allowed = new Set<string>();
  if (auth) {
    const parsed = AuthFileSchema.safeParse(auth.doc);
    if (!parsed.success) moveAside(authPath, "not an auth file", onWarning);
    else {
      files.push(authPath);
      authMode = parsed.data.mode;
      out.allow = parsed.data.allow.map((e) => ({ id: e.id, doc: e }));
      allowed = new Set(parsed.data.allow.map((e) => e.id));
    }
  }
  const peersPath = `${dir}/peers.json`;
  const peers = readJsonSync(peersPath, onWarning);
  if (peers) {
    const parsed = AnyPeersFileSchema.safeParse(peers.doc);
    if (!parsed.success) moveAside(peersPath, "not a peer registry", onWarning);
    else {
      files.push(peersPath);
      let list: Peer[] = parsed.data.peers;
      if (parsed.data.version === 1) {
        const m = migratePeersV1(list, (id) => allowed.has(id));
        list = m.peers;
        for (const p of m.lostControl) {
          onWarning(
            `peer ${p.name} (${p.id}) no longer controls this node: it was added with \`peer add\`, and only this node's operator grants control now; to keep it, run \`miner-cli peer grant ${p.id} control\``,
          );
        }
      }
      out.peers = list.map((p) => ({ id: p.id, doc: p }));
    }
  }
  return { ...out, ...(authMode ? { authMode } : {}), files };
}

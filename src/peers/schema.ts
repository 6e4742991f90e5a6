/**
 * Peer records and their validation.
 * @module
 */
import { z } from "zod";
import { DEFAULT_SCORE } from "./score.ts";
import { type Grant, GrantsSchema } from "./grants.ts";
import {
  LatitudeSchema,
  LongitudeSchema,
  NodeIdSchema,
  NodeNameSchema,
  NodeRoleSchema,
  PublicKeySchema,
} from "../identity/mod.ts";
import { CapabilitiesSchema } from "../capabilities/mod.ts";

/** A dialable address: `host:port`, `[v6]:port` or a `ws://` / `wss://` URL. */
export const PeerAddressSchema = z.string().min(3).max(300).refine(
  (s) => parseAddressOrNull(s) !== null,
  "address must be HOST:PORT, [IPv6]:PORT, ws://HOST:PORT[/path] or wss://HOST:PORT[/path]",
);

/** A tag: lowercase letters, digits, `.`, `_`, `-`, at most 32. */
export const TagSchema = z.string().regex(
  /^[a-z0-9][a-z0-9._-]{0,31}$/,
  "a tag is 1-32 lowercase letters, digits, . _ -, starting with a letter or digit",
);

/** One entry of `peers.json`. */
export const PeerSchema = z.object({
  id: NodeIdSchema,
  name: NodeNameSchema,
  publicKey: PublicKeySchema,
  /** Where to dial the peer; `null` for peers that only connect in. */
  address: PeerAddressSchema.nullable(),
  /** The role the peer announced (shown, never trusted: see {@link GrantsSchema}). */
  role: NodeRoleSchema,
  /** What this node's operator lets the peer do here (see `grants.ts`). */
  grants: GrantsSchema.default([]),
  /** The operator's labels for the rig (`row-3`, `gpu`): alert rules and views filter by them. */
  tags: z.array(TagSchema).max(16).default([]),
  addedAt: z.string(),
  lastSeen: z.string().nullable(),
  /** Average round-trip time of the last ping, in ms. */
  pingMs: z.number().nonnegative().nullable(),
  /** Network hops to the peer (1 = direct connection). */
  hops: z.number().int().min(0).max(255),
  /** Great-circle distance to the peer, when both locations are known. */
  geoKm: z.number().nonnegative().nullable(),
  /** Reliability score, 0–100 (default 50). */
  score: z.number().min(0).max(100),
  lat: LatitudeSchema.optional(),
  lon: LongitudeSchema.optional(),
  /** Capabilities the peer reported in its last handshake. */
  capabilities: CapabilitiesSchema.nullable().optional(),
  /** Counters of request outcomes. */
  stats: z.object({
    success: z.number().int().nonnegative(),
    failure: z.number().int().nonnegative(),
    timeout: z.number().int().nonnegative(),
  }).default({ success: 0, failure: 0, timeout: 0 }),
});
/** A registered peer. */
export type Peer = z.infer<typeof PeerSchema>;
/** A peer record as given to the registry (fields with defaults may be left out). */
export type PeerInput = z.input<typeof PeerSchema>;

/** Current version of `peers.json` (2 added `grants`). */
export const PEERS_FILE_VERSION = 2;

/** The whole `peers.json` document. */
export const PeersFileSchema = z.object({
  version: z.literal(PEERS_FILE_VERSION),
  peers: z.array(PeerSchema),
});

/** `peers.json` as written before grants existed (read once, then migrated). */
export const PeersFileV1Schema = z.object({
  version: z.literal(1),
  peers: z.array(PeerSchema),
});

/** A parsed dial address. */
export interface ParsedAddress {
  /** `ws:` or `wss:`. */
  scheme: "ws" | "wss";
  /** Host name or IP (IPv6 without brackets). */
  host: string;
  /** TCP port. */
  port: number;
  /** WebSocket path (default `/ws`). */
  path: string;
}

/** Parses an address, returning `null` when it is not valid. */
export function parseAddressOrNull(text: string): ParsedAddress | null {
  let scheme: "ws" | "wss" = "ws";
  let rest = text.trim();
  let path = "/ws";
  const m = /^(wss?):\/\/(.*)$/.exec(rest);
  if (m) {
    scheme = m[1] as "ws" | "wss";
    rest = m[2];
    const slash = rest.indexOf("/");
    if (slash >= 0) {
      path = rest.slice(slash) || "/ws";
      rest = rest.slice(0, slash);
    }
  }
  let host: string;
  let portText: string;
  const v6 = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(rest);
  if (v6) {
    host = v6[1];
    portText = v6[2];
  } else {
    const i = rest.lastIndexOf(":");
    if (i <= 0) return null;
    host = rest.slice(0, i);
    portText = rest.slice(i + 1);
    if (!/^[A-Za-z0-9.-]{1,253}$/.test(host)) return null;
  }
  if (!/^\d{1,5}$/.test(portText)) return null;
  const port = Number(portText);
  if (port < 1 || port > 65535) return null;
  if (!/^\/[A-Za-z0-9._~\/-]*$/.test(path)) return null;
  return { scheme, host, port, path };
}

/** Builds the WebSocket URL for an address. */
export function addressToUrl(address: string): string {
  const p = parseAddressOrNull(address);
  if (!p) throw new Error(`invalid address ${JSON.stringify(address)}`);
  const host = p.host.includes(":") ? `[${p.host}]` : p.host;
  return `${p.scheme}://${host}:${p.port}${p.path}`;
}

/** A freshly registered peer: default score, no measurements yet. */
export function newPeer(
  fields: Pick<Peer, "id" | "name" | "publicKey" | "address" | "role">,
  options: { seen?: boolean; grants?: readonly Grant[] } = {},
): Peer {
  const now = new Date().toISOString();
  return {
    ...fields,
    grants: [...new Set(options.grants ?? [])].sort(),
    tags: [],
    addedAt: now,
    lastSeen: options.seen ? now : null,
    pingMs: null,
    hops: 1,
    geoKm: null,
    score: DEFAULT_SCORE,
    stats: { success: 0, failure: 0, timeout: 0 },
  };
}

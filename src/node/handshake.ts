/**
 * What the mesh checks of a handshake, in both directions: the remote's authenticated key against
 * the pinned and allowlisted ones, and the payloads (JSON, schema, protocol version). See
 * `docs/protocol.md` for what each message carries.
 * @module
 */
import { MinerCliError } from "../errors/mod.ts";
import { nodeIdFromPublicKey, toBase64 } from "../identity/mod.ts";
import type { AuthStore, PeerRegistry } from "../peers/mod.ts";
import { type NodeAnnouncement, PROTOCOL_VERSION } from "../protocol/mod.ts";

/** The remote node refused our connection (handshake_ack accepted:false). */
export class PeerRefusedError extends MinerCliError {
  /** Creates the error. */
  constructor(readonly address: string, readonly reason: string) {
    super(`the node at ${address} refused the connection: ${reason}`, {
      status: 502,
      code: "peer_refused",
    });
    this.name = "PeerRefusedError";
  }
}

/** The remote node's authenticated identity is not the one expected. */
export class PeerIdentityError extends MinerCliError {
  /** Creates the error. */
  constructor(message: string) {
    super(message, { status: 502, code: "peer_identity" });
    this.name = "PeerIdentityError";
  }
}

/** What this node learned of the remote side in the handshake. */
export interface RemoteInfo extends NodeAnnouncement {
  /** Authenticated node ID (the hash of its key). */
  id: string;
  /** Its static key, base64. */
  publicKey: string;
}

/** The remote's authenticated ID and key, checked against the pinned and allowlisted keys. */
export function checkRemoteKey(
  remoteStatic: Uint8Array,
  stores: { registry: PeerRegistry; auth: AuthStore },
): { id: string; publicKey: string } {
  const id = nodeIdFromPublicKey(remoteStatic);
  const publicKey = toBase64(remoteStatic);
  const pinned = stores.registry.get(id);
  if (pinned && pinned.publicKey !== publicKey) {
    throw new PeerIdentityError(
      `key mismatch for registered peer ${id} (${pinned.name}): refusing`,
    );
  }
  const allowed = stores.auth.entry(id);
  if (allowed?.publicKey && allowed.publicKey !== publicKey) {
    throw new PeerIdentityError(`key mismatch for allowlisted node ${id}: refusing`);
  }
  return { id, publicKey };
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** A schema that parses a handshake payload. */
interface PayloadSchema<T> {
  safeParse(
    v: unknown,
  ): { success: true; data: T } | { success: false; error: { issues: { message: string }[] } };
}

/** Parses a handshake payload with `schema`, checking its protocol version. */
export function parseHandshakePayload<T extends { protocol: number }>(
  bytes: Uint8Array,
  schema: PayloadSchema<T>,
): T {
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(bytes));
  } catch {
    throw new PeerIdentityError("handshake payload is not JSON");
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new PeerIdentityError(`invalid handshake payload: ${parsed.error.issues[0].message}`);
  }
  if (parsed.data.protocol !== PROTOCOL_VERSION) {
    throw new PeerIdentityError(
      `peer speaks protocol v${parsed.data.protocol}, this node v${PROTOCOL_VERSION}`,
    );
  }
  return parsed.data;
}

/** A payload as handshake bytes. */
export function encodePayload(payload: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(payload));
}

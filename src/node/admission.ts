/**
 * The connection gate: whether a node that authenticated may hold a session here at all (what it
 * may do once in is {@link admitRequest}'s question, in `authorize.ts`), and the name it is
 * registered under on first contact.
 * @module
 */
import type { PeerRegistry } from "../peers/mod.ts";

/** What a node that contacts this one brings. */
export interface InboundFacts {
  /** It is in the registry. */
  registered: boolean;
  /** It is on the allowlist. */
  allowlisted: boolean;
  /** It redeemed a pairing code or proved the join secret in this handshake. */
  vouched: boolean;
  /** The auth mode is `open`. */
  open: boolean;
}

/**
 * Whether a node that authenticated may hold a session here: registered, allowlisted, vouched for
 * by a pairing code or the join secret in this handshake, or open mode.
 */
export function admitInbound(
  id: string,
  facts: InboundFacts,
): { ok: true } | { ok: false; reason: string } {
  if (facts.registered || facts.allowlisted || facts.vouched || facts.open) return { ok: true };
  return {
    ok: false,
    reason:
      `node ${id} is not authorized here: on this node run \`miner-cli peer allow ${id}\`, or pair with a code from \`miner-cli node pair-code\``,
  };
}

/** `name`, or `name-<first 6 ID chars>` when another peer already has it (case-insensitive). */
export function uniquePeerName(
  registry: Pick<PeerRegistry, "named">,
  name: string,
  id: string,
): string {
  const taken = (n: string) => registry.named(n).some((p) => p.id !== id);
  return taken(name) ? `${name.slice(0, 57)}-${id.slice(0, 6)}` : name;
}

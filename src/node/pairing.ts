/**
 * One-time pairing codes for first contact.
 *
 * A code is `MC1-<worker node ID>-<secret>` (secret: 16 random bytes, base64url). The worker
 * keeps the secret in `pairing/<codeId>.json` (0600, codeId = first 8 bytes of SHA-256(secret)).
 * The controller proves knowledge of the secret inside the Noise handshake with
 * HMAC-SHA256(secret, "miner-cli pair v1" || h), h being the handshake hash when message 3 is
 * written (channel binding: the proof is useless in any other session), and checks that the
 * responder's authenticated ID is the one in the code. Using a code renames its file to
 * `<codeId>.used`, which succeeds once.
 * @module
 */
import { MinerCliError } from "../errors/mod.ts";
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { join } from "node:path";
import { z } from "zod";
import type { Grant } from "../peers/mod.ts";
import type { NodePaths } from "../store/mod.ts";
import { readJsonFile, writeJsonAtomic } from "../store/mod.ts";

const CODE_RE = /^MC1-([0-9a-f]{32})-([A-Za-z0-9_-]{22})$/;
const PROOF_LABEL = new TextEncoder().encode("miner-cli pair v1");

/** A parsed pairing code. */
export interface PairCode {
  /** The ID of the node that issued the code. */
  nodeId: string;
  /** The 16-byte secret. */
  secret: Uint8Array;
}

/** The code text is malformed. */
export class PairCodeError extends MinerCliError {
  /** Creates the error. */
  constructor(message: string) {
    super(message, { status: 400, code: "bad_pair_code" });
    this.name = "PairCodeError";
  }
}

/**
 * Who a code is for: `controller` (default: whoever redeems it may control this node, its
 * miners and deploys) or `peer` (it registers, with no grant).
 */
export const PairForSchema = z.enum(["controller", "peer"]);
/** Who a pairing code is for. */
export type PairFor = z.infer<typeof PairForSchema>;

const StoredCodeSchema = z.object({
  codeId: z.string().regex(/^[0-9a-f]{16}$/),
  secret: z.string().regex(/^[A-Za-z0-9_-]{22}$/),
  /** Absent in codes made before grants existed: those were for controllers. */
  for: PairForSchema.default("controller"),
  createdAt: z.string(),
  expiresAt: z.string(),
});

/** The grants a code made for `who` gives its redeemer. */
export function grantsOfPairCode(who: PairFor): Grant[] {
  return who === "controller" ? ["control"] : [];
}

function b64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_").replace(
    /=+$/,
    "",
  );
}

function fromB64url(text: string): Uint8Array {
  const s = text.replaceAll("-", "+").replaceAll("_", "/");
  return Uint8Array.from(atob(s + "=".repeat((4 - s.length % 4) % 4)), (c) => c.charCodeAt(0));
}

/** Formats a code for display. */
export function formatPairCode(code: PairCode): string {
  return `MC1-${code.nodeId}-${b64url(code.secret)}`;
}

/** Parses a code typed by the operator. */
export function parsePairCode(text: string): PairCode {
  const m = CODE_RE.exec(text.trim());
  if (!m) {
    throw new PairCodeError(
      "invalid pairing code: expected MC1-<32 hex node ID>-<22 characters>, as printed by `miner-cli node pair-code`",
    );
  }
  return { nodeId: m[1], secret: fromB64url(m[2]) };
}

/** The lookup ID of a secret. */
export function codeIdOf(secret: Uint8Array): string {
  return createHash("sha256").update(secret).digest("hex").slice(0, 16);
}

/** The proof an initiator sends: HMAC-SHA256(secret, label || handshake hash), base64url. */
export function pairProof(secret: Uint8Array, handshakeHash: Uint8Array): string {
  return b64url(
    new Uint8Array(createHmac("sha256", secret).update(PROOF_LABEL).update(handshakeHash).digest()),
  );
}

/** Options for {@link createPairCode}. */
export interface CreatePairCodeOptions {
  /** Lifetime in ms (default 10 minutes). */
  ttlMs?: number;
  /** Who it is for (default `controller`: the redeemer may control this node). */
  for?: PairFor;
}

/** Creates and stores a new one-time code for `nodeId`. */
export async function createPairCode(
  paths: NodePaths,
  nodeId: string,
  options: CreatePairCodeOptions = {},
): Promise<{ code: string; expiresAt: string }> {
  const ttl = options.ttlMs ?? 10 * 60_000;
  const secret = crypto.getRandomValues(new Uint8Array(16));
  const codeId = codeIdOf(secret);
  const now = Date.now();
  const expiresAt = new Date(now + ttl).toISOString();
  await Deno.mkdir(paths.pairingDir, { recursive: true, mode: 0o700 });
  await writeJsonAtomic(join(paths.pairingDir, `${codeId}.json`), {
    codeId,
    secret: b64url(secret),
    for: options.for ?? "controller",
    createdAt: new Date(now).toISOString(),
    expiresAt,
  }, { mode: 0o600 });
  await pruneCodes(paths);
  return { code: formatPairCode({ nodeId, secret }), expiresAt };
}

/** Outcome of {@link redeemPairCode}. */
export type RedeemResult = "ok" | "unknown" | "used" | "expired" | "bad_proof";

/** Human explanation of a failed redemption. */
export const REDEEM_MESSAGES: Record<Exclude<RedeemResult, "ok">, string> = {
  unknown: "unknown pairing code (wrong code, or issued by another node)",
  used: "pairing code already used; create a new one with `miner-cli node pair-code`",
  expired: "pairing code expired; create a new one with `miner-cli node pair-code`",
  bad_proof: "pairing proof invalid (wrong code)",
};

/** A redeemed code: what it was made for. */
export interface Redeemed {
  /** Who the code was for. */
  for: PairFor;
}

/**
 * Verifies a proof and consumes the code (succeeds at most once per code): the code's purpose,
 * or why it failed.
 */
export async function redeemPairCode(
  paths: NodePaths,
  proof: { codeId: string; proof: string },
  handshakeHash: Uint8Array,
): Promise<Redeemed | Exclude<RedeemResult, "ok">> {
  if (!/^[0-9a-f]{16}$/.test(proof.codeId)) return "unknown";
  const file = join(paths.pairingDir, `${proof.codeId}.json`);
  const used = join(paths.pairingDir, `${proof.codeId}.used`);
  let stored;
  try {
    stored = await readJsonFile(file, StoredCodeSchema);
  } catch {
    return "unknown";
  }
  if (!stored) {
    try {
      await Deno.lstat(used);
      return "used";
    } catch {
      return "unknown";
    }
  }
  const expected = new TextEncoder().encode(pairProof(fromB64url(stored.secret), handshakeHash));
  const given = new TextEncoder().encode(proof.proof);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return "bad_proof";
  if (Date.parse(stored.expiresAt) < Date.now()) {
    await Deno.remove(file).catch(() => {});
    return "expired";
  }
  try {
    await Deno.rename(file, used);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return "used";
    throw err;
  }
  return { for: stored.for };
}

async function pruneCodes(paths: NodePaths): Promise<void> {
  const dayAgo = Date.now() - 24 * 3600_000;
  for await (const e of Deno.readDir(paths.pairingDir)) {
    if (!e.isFile || !e.name.endsWith(".used")) continue;
    const p = join(paths.pairingDir, e.name);
    const st = await Deno.stat(p).catch(() => null);
    if (st?.mtime && st.mtime.getTime() < dayAgo) await Deno.remove(p).catch(() => {});
  }
}

/**
 * A farm's join secret (`--join-secret-file`): controllers in auto mode enroll workers that share
 * it. Each side proves it inside the Noise handshake with
 * HMAC-SHA256(SHA-256("miner-cli join v1" || secret), side || h), h being the handshake hash the
 * proof's message payload is bound to: the worker (responder) proves it in message 2 over a hash
 * that covers both ephemerals and its static key, the controller (initiator) in message 3. A proof
 * is useless in any other session, and a relayed one fails because the hash covers the keys.
 */
export interface JoinSecret {
  /** The derived HMAC key (the secret itself is not kept). */
  readonly key: Uint8Array;
  /** Where it was read from. */
  readonly source: string;
}

/** The join secret file is missing, too short or readable by others. */
export class JoinSecretError extends MinerCliError {
  /** Creates the error. */
  constructor(message: string) {
    super(message, { status: 400, code: "bad_config" });
    this.name = "JoinSecretError";
  }
}

/** Shortest accepted secret (characters after trimming): about 128 bits when random. */
export const MIN_JOIN_SECRET_LENGTH = 22;
const JOIN_LABEL = "miner-cli join v1";

/** Derives the join key from secret text (trimmed). */
export function joinSecretFromText(text: string, source = "(inline)"): JoinSecret {
  const secret = text.trim();
  if (secret.length < MIN_JOIN_SECRET_LENGTH) {
    throw new JoinSecretError(
      `join secret ${source} is too short (${secret.length} characters; at least ${MIN_JOIN_SECRET_LENGTH}): create one with \`openssl rand -base64 32 > ${
        source === "(inline)" ? "farm.secret" : source
      }\``,
    );
  }
  const key = createHash("sha256").update(JOIN_LABEL).update(secret).digest();
  return { key: new Uint8Array(key), source };
}

/** Reads a join secret file; it must be readable by its owner only (like an SSH key). */
export async function loadJoinSecret(path: string): Promise<JoinSecret> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new JoinSecretError(`cannot read join secret file ${path}: ${(err as Error).message}`);
  }
  if (Deno.build.os !== "windows") {
    const mode = (await Deno.stat(path)).mode;
    if (mode !== null && (mode & 0o077) !== 0) {
      throw new JoinSecretError(
        `join secret file ${path} has mode ${
          (mode & 0o777).toString(8)
        }: it must not be readable by others; run \`chmod 600 ${path}\``,
      );
    }
  }
  return joinSecretFromText(text, path);
}

/** Options for {@link joinProof}. */
export interface JoinProofOptions {
  /** Which handshake role writes the proof. */
  side: "initiator" | "responder";
}

/** The join proof of one side over a handshake hash, base64url (43 chars). */
export function joinProof(
  secret: JoinSecret,
  handshakeHash: Uint8Array,
  options: JoinProofOptions,
): string {
  return b64url(
    new Uint8Array(
      createHmac("sha256", secret.key).update(`${options.side}\0`).update(handshakeHash).digest(),
    ),
  );
}

/** Checks a join proof in constant time. */
export function verifyJoinProof(
  secret: JoinSecret,
  proof: { proof: string; handshakeHash: Uint8Array },
  options: JoinProofOptions,
): boolean {
  const expected = new TextEncoder().encode(joinProof(secret, proof.handshakeHash, options));
  const given = new TextEncoder().encode(proof.proof);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

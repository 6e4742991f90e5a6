/**
 * Node identity: an X25519 keypair (generated with `@noble/curves`), a human name and a role.
 * @module
 */
import { type ErrorKind, MinerCliError } from "../errors/mod.ts";
import { Buffer } from "node:buffer";
import { createHash, createPrivateKey, createPublicKey } from "node:crypto";
import { z } from "zod";
import {
  CorruptFileError,
  type NodePaths,
  readJsonFile,
  writeFileAtomic,
  writeJsonAtomic,
} from "../store/mod.ts";

/** Roles a node can take. A dual node is both controller and worker. */
export const NodeRoleSchema = z.enum(["controller", "worker", "dual"]);
/** A node role. */
export type NodeRole = z.infer<typeof NodeRoleSchema>;

const NAME_RE = /^[A-Za-z0-9](?:[A-Za-z0-9 _-]{0,62}[A-Za-z0-9])?$/;

/** Node and peer names: 1–64 chars, alphanumeric at both ends, letters/digits/space/-/_ inside. */
export const NodeNameSchema = z.string().regex(
  NAME_RE,
  "name must be 1-64 characters: letters, digits, space, '-' or '_', starting and ending with a letter or digit",
);

/** A node ID: 32 lowercase hex characters. */
export const NodeIdSchema = z.string().regex(
  /^[0-9a-f]{32}$/,
  "node ID must be 32 lowercase hex characters",
);

/** A public key in standard base64 (44 characters, 32 bytes). */
export const PublicKeySchema = z.string().regex(
  /^[A-Za-z0-9+/]{43}=$/,
  "public key must be 44 characters of standard base64 (32 bytes)",
);

/** Latitude in degrees. */
export const LatitudeSchema = z.number().min(-90).max(90);
/** Longitude in degrees. */
export const LongitudeSchema = z.number().min(-180).max(180);

/** The public identity stored in `node.json`. */
export const NodeInfoSchema = z.object({
  id: NodeIdSchema,
  name: NodeNameSchema,
  publicKey: PublicKeySchema,
  role: NodeRoleSchema,
  createdAt: z.string(),
  lat: LatitudeSchema.optional(),
  lon: LongitudeSchema.optional(),
});
/** Public identity of a node. */
export type NodeInfo = z.infer<typeof NodeInfoSchema>;

/** A loaded identity: the public info plus the private key bytes (never serialized). */
export interface NodeIdentity {
  /** Public part, as in `node.json`. */
  info: NodeInfo;
  /** Raw 32-byte X25519 private key. */
  privateKey: Uint8Array;
  /** Raw 32-byte X25519 public key. */
  publicKey: Uint8Array;
}

/** Base class of identity errors (400 unless said otherwise). */
export class IdentityError extends MinerCliError {
  /** Creates the error. */
  constructor(message: string, kind: ErrorKind = { status: 400, code: "bad_request" }) {
    super(message, kind);
    this.name = "IdentityError";
  }
}

/** No identity exists yet. */
export class IdentityNotFoundError extends IdentityError {
  /** Creates the error. */
  constructor(path: string) {
    super(`no node identity at ${path}: run \`miner-cli node init --name NAME\` first`, {
      status: 409,
      code: "no_identity",
    });
    this.name = "IdentityNotFoundError";
  }
}

/** An identity exists and `--force` was not given. */
export class IdentityExistsError extends IdentityError {
  /** Creates the error. */
  constructor(id: string) {
    super(
      `a node identity already exists (${id}); pass --force to replace it (its peers will no longer recognise this node)`,
      { status: 409, code: "conflict" },
    );
    this.name = "IdentityExistsError";
  }
}

/** The private key file is missing, malformed, has a bad mode or does not match `node.json`. */
export class KeyFileError extends IdentityError {
  /** Creates the error. */
  constructor(message: string) {
    super(message, { status: 500, code: "bad_key_file" });
    this.name = "KeyFileError";
  }
}

/** Encodes bytes as standard base64 with padding. */
export function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** Decodes standard base64. */
export function fromBase64(text: string): Uint8Array {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Node ID = lowercase hex of the first 16 bytes of SHA-256(public key). */
export function nodeIdFromPublicKey(publicKey: Uint8Array): string {
  if (publicKey.length !== 32) throw new IdentityError("public key must be 32 bytes");
  return createHash("sha256").update(publicKey).digest("hex").slice(0, 32);
}

/** Options for {@link initIdentity}. */
export interface InitIdentityOptions {
  /** Node name. */
  name: string;
  /** Node role (default `dual`). */
  role?: NodeRole;
  /** Replace an existing identity. */
  force?: boolean;
  /** Optional latitude for geo distance. */
  lat?: number;
  /** Optional longitude for geo distance. */
  lon?: number;
  /** Deterministic private key (tests only). */
  privateKey?: Uint8Array;
}

/** Creates a new identity and stores it (`node.json` + `private.key` 0600). */
export async function initIdentity(
  paths: NodePaths,
  options: InitIdentityOptions,
): Promise<NodeIdentity> {
  const name = NodeNameSchema.safeParse(options.name);
  if (!name.success) {
    throw new IdentityError(
      `invalid node name ${JSON.stringify(options.name)}: ${name.error.issues[0].message}`,
    );
  }
  const role = NodeRoleSchema.safeParse(options.role ?? "dual");
  if (!role.success) {
    throw new IdentityError(
      `invalid role ${JSON.stringify(options.role)}: use controller, worker or dual`,
    );
  }
  if ((options.lat === undefined) !== (options.lon === undefined)) {
    throw new IdentityError("give both --lat and --lon, or neither");
  }
  if (options.lat !== undefined && !LatitudeSchema.safeParse(options.lat).success) {
    throw new IdentityError("--lat must be a number between -90 and 90");
  }
  if (options.lon !== undefined && !LongitudeSchema.safeParse(options.lon).success) {
    throw new IdentityError("--lon must be a number between -180 and 180");
  }
  if (!options.force) {
    const existing = await readNodeInfo(paths).catch((err) => {
      if (err instanceof CorruptFileError) return { id: "unreadable node.json" };
      throw err;
    });
    if (existing) throw new IdentityExistsError(existing.id);
    if (await exists(paths.privateKey)) throw new IdentityExistsError("private key present");
  }
  // `@noble/curves` loads only here: a node that just loads its key never needs it (~2 MB).
  const { x25519 } = await import("@noble/curves/ed25519.js");
  const privateKey = options.privateKey ?? x25519.utils.randomSecretKey();
  const publicKey = x25519.getPublicKey(privateKey);
  const info: NodeInfo = {
    id: nodeIdFromPublicKey(publicKey),
    name: name.data,
    publicKey: toBase64(publicKey),
    role: role.data,
    createdAt: new Date().toISOString(),
    ...(options.lat !== undefined ? { lat: options.lat, lon: options.lon } : {}),
  };
  // Key first: a node.json without its key would be an unusable identity.
  await writeFileAtomic(paths.privateKey, privateKey, { mode: 0o600 });
  await writeJsonAtomic(paths.nodeJson, info);
  return { info, privateKey, publicKey };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

async function readNodeInfo(paths: NodePaths): Promise<NodeInfo | undefined> {
  return await readJsonFile(paths.nodeJson, NodeInfoSchema);
}

/** Loads the identity, checking the key file's size, mode and match with `node.json`. */
export async function loadIdentity(paths: NodePaths): Promise<NodeIdentity> {
  const info = await readNodeInfo(paths);
  if (!info) throw new IdentityNotFoundError(paths.nodeJson);
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.lstat(paths.privateKey);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new KeyFileError(
        `private key ${paths.privateKey} is missing; restore it from a backup or run \`miner-cli node init --force\` to create a new identity`,
      );
    }
    throw err;
  }
  if (!stat.isFile) throw new KeyFileError(`private key ${paths.privateKey} is not a regular file`);
  if (Deno.build.os !== "windows" && stat.mode !== null && (stat.mode & 0o077) !== 0) {
    throw new KeyFileError(
      `private key ${paths.privateKey} has mode ${
        (stat.mode & 0o777).toString(8)
      }, readable by others; ` +
        `run \`chmod 600 ${paths.privateKey}\` (and consider the key compromised if others had access)`,
    );
  }
  const privateKey = await Deno.readFile(paths.privateKey);
  if (privateKey.length !== 32) {
    throw new KeyFileError(
      `private key ${paths.privateKey} is corrupt: expected 32 bytes, found ${privateKey.length}`,
    );
  }
  const publicKey = x25519PublicKey(privateKey);
  if (toBase64(publicKey) !== info.publicKey) {
    throw new KeyFileError(
      `private key ${paths.privateKey} does not match the public key in ${paths.nodeJson}; the files belong to different identities`,
    );
  }
  if (nodeIdFromPublicKey(publicKey) !== info.id) {
    throw new KeyFileError(
      `${paths.nodeJson} claims ID ${info.id} but its key hashes to ${
        nodeIdFromPublicKey(publicKey)
      }`,
    );
  }
  return { info, privateKey, publicKey };
}

/** Deletes the identity files (`node.json` and `private.key`). Returns whether anything existed. */
export async function resetIdentity(paths: NodePaths): Promise<boolean> {
  let removed = false;
  for (const p of [paths.nodeJson, paths.privateKey]) {
    try {
      await Deno.remove(p);
      removed = true;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return removed;
}

/** Updates mutable public fields of the identity (name, location). */
export async function updateIdentity(
  paths: NodePaths,
  patch: Partial<Pick<NodeInfo, "name" | "lat" | "lon">>,
): Promise<NodeInfo> {
  const id = await loadIdentity(paths);
  const next = NodeInfoSchema.parse({ ...id.info, ...patch });
  await writeJsonAtomic(paths.nodeJson, next);
  return next;
}

/** PKCS #8 DER prefix of a raw X25519 private key (RFC 8410). */
export const X25519_PKCS8_PREFIX = Uint8Array.from([
  0x30,
  0x2e,
  0x02,
  0x01,
  0x00,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x6e,
  0x04,
  0x22,
  0x04,
  0x20,
]);

/**
 * The X25519 public key of a raw private key, with Deno's built-in crypto (`node:crypto`), which a
 * running node has loaded for the Noise handshake anyway.
 */
export function x25519PublicKey(privateKey: Uint8Array): Uint8Array {
  const der = new Uint8Array(X25519_PKCS8_PREFIX.length + privateKey.length);
  der.set(X25519_PKCS8_PREFIX);
  der.set(privateKey, X25519_PKCS8_PREFIX.length);
  const key = createPrivateKey({ key: Buffer.from(der), format: "der", type: "pkcs8" });
  const spki = createPublicKey(key).export({ format: "der", type: "spki" });
  return new Uint8Array(spki.subarray(spki.length - 32));
}

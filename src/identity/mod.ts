/**
 * Node identity: keypair, node ID, name, role, and their storage; and the API bearer token that
 * `node init` creates beside them.
 *
 * @example
 * ```ts
 * import { initIdentity, loadIdentity } from "./mod.ts";
 * import { resolvePaths } from "../store/mod.ts";
 * const paths = resolvePaths({ home: await Deno.makeTempDir() });
 * const created = await initIdentity(paths, { name: "rig-01", role: "worker" });
 * const loaded = await loadIdentity(paths);
 * // loaded.info.id === created.info.id: 32 hex characters, SHA-256 of the public key
 * ```
 * @module
 */
export { apiTokenPath, createApiToken, loadOrCreateApiToken, readApiToken } from "./api_token.ts";
export {
  fromBase64,
  IdentityError,
  IdentityExistsError,
  IdentityNotFoundError,
  initIdentity,
  type InitIdentityOptions,
  KeyFileError,
  LatitudeSchema,
  loadIdentity,
  LongitudeSchema,
  type NodeIdentity,
  nodeIdFromPublicKey,
  NodeIdSchema,
  type NodeInfo,
  NodeInfoSchema,
  NodeNameSchema,
  type NodeRole,
  NodeRoleSchema,
  PublicKeySchema,
  resetIdentity,
  toBase64,
  updateIdentity,
  X25519_PKCS8_PREFIX,
  x25519PublicKey,
} from "./identity.ts";

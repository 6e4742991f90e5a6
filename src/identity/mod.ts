/**
 * Node identity: keypair, node ID, name, role, and their storage.
 * @module
 */
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
  NodeIdSchema,
  type NodeIdentity,
  nodeIdFromPublicKey,
  type NodeInfo,
  NodeInfoSchema,
  NodeNameSchema,
  type NodeRole,
  NodeRoleSchema,
  PublicKeySchema,
  resetIdentity,
  toBase64,
  updateIdentity,
} from "./identity.ts";

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
} from "./identity.ts";
